// Calls: of top-level functions (call), through function values and struct fields holding them
// (callIndirect), of the runtime's functions, and the dispatch to the built-ins (builtins.ts: what "dsl"
// exports, Math's integer methods) and to a string's charCodeAt. Arguments are lowered left to right,
// each converted to its parameter's type by the implicit rules. Guarantees: the argument count matches
// (DSL2007); a void call's value is never used (expressions.ts checks that).
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import { type DType, type Signature, I32, typeName } from '../types.ts';
import { type LowerContext, type Value, ARRAY_HEADER } from './context.ts';
import { lowerBuiltin, lowerMath } from './builtins.ts';
import { withLaterWrites } from './evaluation-order.ts';
import { lowerExpression, intOperand, lowerConverted } from './expressions.ts';
import { loadMemory, fieldOf } from './memory.ts';

/** A call: of a function, a function value, a built-in, Math's integer methods, or a string's charCodeAt. */
export function lowerCall(cx: LowerContext, call: ts.CallExpression, expected?: DType): Value {
  const fb = cx.fb;
  const callee = call.expression;
  // Math.imul and string methods
  if (ts.isPropertyAccessExpression(callee)) {
    if (callee.expression.getText() === 'Math') {
      const method = callee.name.text;
      if (method === 'max' || method === 'min' || method === 'abs') return lowerMath(cx, method, call, expected);
      if (method !== 'imul')
        cx.error(callee, 'DSL1002', `Math.${method} is not supported (floating point); `
          + 'only Math.imul, Math.max, Math.min, Math.abs on integers');
      arity(cx, call, 2);
      const a = withLaterWrites(cx, [call.arguments[1]], () => intOperand(cx, call.arguments[0], 'Math.imul'));
      const b = intOperand(cx, call.arguments[1], 'Math.imul');
      return { type: I32, reg: fb.binary('mul', a.reg, b.reg) };
    }
    const e = cx.entityOf(callee);
    if (!e) {
      const object = withLaterWrites(cx, call.arguments, () => lowerExpression(cx, callee.expression));
      if (object.type.kind === 'string' && callee.name.text === 'charCodeAt') {
        arity(cx, call, 1);
        const index = intOperand(cx, call.arguments[0], 'charCodeAt', I32);
        const length = loadMemory(cx, I32, object.reg, -ARRAY_HEADER);
        const ok = fb.newBlock(), bad = fb.newBlock();
        fb.terminate({ op: 'branch', cond: fb.binary('ltu', index.reg, length), ifTrue: ok.id, ifFalse: bad.id });
        fb.switchTo(bad); fb.emit({ op: 'trap', kind: ir.TRAP_BOUNDS }); fb.terminate({ op: 'unreachable' });
        fb.switchTo(ok);
        const dst = fb.newReg();
        const address = fb.binary('add', object.reg, index.reg);
        fb.emit({ op: 'load', width: 1, signed: false, dst, address, offset: 0 });
        return { type: I32, reg: dst };
      }
      if (object.type.kind === 'struct') {
        const f = fieldOf(cx, object.type.def, callee);
        if (f.type.kind === 'function')
          return callIndirect(cx, call, f.type.signature, loadMemory(cx, f.type, object.reg, f.offset));
      }
      if (object.type.kind === 'string')
        cx.error(callee.name, 'DSL1010',
          `string method '${callee.name.text}' is not supported: strings have only length and charCodeAt`);
      cx.error(callee.name, 'DSL1007', `'${callee.name.text}' is not a method of ${typeName(object.type)}`);
    }
  }
  const e = ts.isIdentifier(callee) || ts.isPropertyAccessExpression(callee) ? cx.entityOf(callee) : undefined;
  if (e?.kind === 'builtin') return lowerBuiltin(cx, e.name, call);
  if (e?.kind === 'function') {
    arity(cx, call, e.signature.params.length);
    const args = call.arguments.map((a, i) => withLaterWrites(cx, call.arguments.slice(i + 1),
      () => lowerConverted(cx, a, e.signature.params[i], `argument ${i + 1} of '${e.name}'`)));
    const dst = e.signature.result.kind === 'void' ? null : fb.newReg();
    fb.emit({ op: 'call', dst, func: e.irName, args });
    return { type: e.signature.result, reg: dst ?? fb.constant(0) };
  }
  if (e && e.kind !== 'local' && e.kind !== 'global')
    cx.error(callee, 'DSL2006', `'${callee.getText()}' is not a function`);
  const target = withLaterWrites(cx, call.arguments, () => lowerExpression(cx, callee));
  if (target.type.kind !== 'function')
    cx.error(callee, 'DSL2006', `'${callee.getText()}' is not a function (it is ${typeName(target.type)})`);
  return callIndirect(cx, call, target.type.signature, target.reg);
}

/** A call through a function value (a function reference, a struct field holding one). */
function callIndirect(cx: LowerContext, call: ts.CallExpression, signature: Signature, target: ir.VReg): Value {
  arity(cx, call, signature.params.length);
  const args = call.arguments.map((a, i) => withLaterWrites(cx, call.arguments.slice(i + 1),
    () => lowerConverted(cx, a, signature.params[i], `argument ${i + 1}`)));
  const dst = signature.result.kind === 'void' ? null : cx.fb.newReg();
  cx.fb.emit({ op: 'callIndirect', dst, target, args });
  return { type: signature.result, reg: dst ?? cx.fb.constant(0) };
}

/** DSL2007 unless the call has n arguments. */
export function arity(cx: LowerContext, call: ts.CallExpression, n: number): void {
  if (call.arguments.length !== n)
    cx.error(call, 'DSL2007',
      `'${call.expression.getText()}' takes ${n} argument${n === 1 ? '' : 's'}, got ${call.arguments.length}`);
}

/** A call of one of the runtime's functions (cx.options.runtimeFile), for its effect. */
export function callRuntime(cx: LowerContext, name: string, at: ts.Node, args: ir.VReg[]): void {
  cx.fb.emit({ op: 'call', dst: null, func: cx.runtimeFunction(name, at).irName, args });
}
