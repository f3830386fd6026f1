// Built-ins: the functions "dsl" exports (dsl/index.ts), lowered inline. Conversions (u8(x) ... bool(x)),
// print/write (the runtime's printI32, printString, ...), panic and exit, sizeOf, overlay (an address as
// a struct), addressOf, load8..store32, linker addresses, interrupt entries and their tables (the x86
// back end makes the stubs), and the intrinsics (compiler/ir.ts: INTRINSICS) with their operand widths;
// also Math.max, Math.min and Math.abs on integers. Guarantees: each built-in's arity (DSL2007) and
// operand types are checked, and its integer arguments wrap to the width it takes, as a C cast would.
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import { SYSENTER_FRAME_VECTOR } from '../../../abi/hypercalls.ts';
import {
  type DType, type IntType, I32, U32, BOOL, VOID, STRING, INT_TYPES, isInt, typeName, promote, arithmeticResult,
} from '../types.ts';
import type { LowerContext, Value } from './context.ts';
import { arity, callRuntime } from './calls.ts';
import { tryConstant, isLiteral } from './constants.ts';
import { structOfExpression } from './declarations.ts';
import { withLaterWrites } from './evaluation-order.ts';
import {
  lowerExpression, intOperand, lowerConverted, convertExplicit, lowerConvertedConditional,
} from './expressions.ts';
import { globalAddress, stringAddress } from './memory.ts';
import { compareIntegers } from './operators.ts';

const K = ts.SyntaxKind;

/** A call of a built-in from "dsl" (its name as "dsl" exports it). */
export function lowerBuiltin(cx: LowerContext, name: string, call: ts.CallExpression): Value {
  cx.options.observer?.builtin(call, name);
  const target = INT_TYPES[name];
  if (target || name === 'bool') return lowerConversion(cx, name, call, target);
  if (Object.hasOwn(BUILTINS, name)) return BUILTINS[name](cx, call, name);
  const intrinsic = (ir.INTRINSICS as Record<string, { args: number; result: boolean }>)[name];
  if (intrinsic) return lowerIntrinsic(cx, name as ir.IntrinsicName, call, intrinsic);
  cx.error(call.expression, 'DSL2006', `'${name}' from "dsl" cannot be called here`);
}

type BuiltinRule = (cx: LowerContext, call: ts.CallExpression, name: string) => Value;

/** A built-in's result when it has none. */
const none = (cx: LowerContext): Value => ({ type: VOID, reg: cx.fb.constant(0) });

/** Argument i converted to t, wrapping as a C cast would, while the later arguments count as written later. */
function intArgument(cx: LowerContext, call: ts.CallExpression, name: string, i: number, t: IntType): ir.VReg {
  return withLaterWrites(cx, call.arguments.slice(i + 1),
    () => lowerConverted(cx, call.arguments[i], t, `argument ${i + 1} of '${name}'`, { wraps: true }));
}

/** u8(x) ... u32(x), i8(x) ... i32(x): wrap to the width; bool(x): x != 0. */
function lowerConversion(cx: LowerContext, name: string, call: ts.CallExpression, target: IntType | undefined): Value {
  const fb = cx.fb;
  arity(cx, call, 1);
  let inner = call.arguments[0];
  while (inner && ts.isParenthesizedExpression(inner)) inner = inner.expression;
  if (target && ts.isConditionalExpression(inner)) return lowerConvertedConditional(cx, inner, target);
  const v = lowerExpression(cx, call.arguments[0], { expected: target });
  if (name === 'bool') {
    if (v.type.kind === 'bool') return v;
    if (v.type.kind !== 'int') cx.error(call, 'DSL2001', `bool() needs an integer, got ${typeName(v.type)}`);
    return { type: BOOL, reg: fb.binary('ne', v.reg, fb.constant(0)) };
  }
  if (v.type.kind === 'bool') return { type: target!, reg: v.reg };
  if (v.type.kind !== 'int') cx.error(call, 'DSL2001', `${name}() needs an integer or bool, got ${typeName(v.type)}`);
  return { type: target!, reg: convertExplicit(cx, v, target!) };
}

// ==== output, panic, exit =========================================================================

/** print(x) and write(x): the runtime's printI32/printU32/printString (writeI32, ...) by x's type. */
function lowerPrint(cx: LowerContext, call: ts.CallExpression, name: string): Value {
  arity(cx, call, 1);
  const v = lowerExpression(cx, call.arguments[0]);
  const suffix = v.type.kind === 'string' ? 'String'
    : v.type.kind === 'int' ? (promote(v.type).signed ? 'I32' : 'U32')
      : v.type.kind === 'bool' ? 'I32'
        : cx.error(call.arguments[0], 'DSL2001', `${name}() takes an integer or a string, got ${typeName(v.type)}`);
  callRuntime(cx, `${name}${suffix}`, call, [v.reg]);
  return none(cx);
}

/** The runtime's panicAt(message, function name) or exit(status); neither returns. */
function lowerPanicOrExit(cx: LowerContext, call: ts.CallExpression, name: string): Value {
  const fb = cx.fb;
  arity(cx, call, 1);
  if (name === 'panic') {
    const message = lowerExpression(cx, call.arguments[0]);
    if (message.type.kind !== 'string') cx.error(call.arguments[0], 'DSL2001', 'panic() takes a string');
    callRuntime(cx, 'panicAt', call, [message.reg, stringAddress(cx, cx.currentFunction.name)]);
  } else callRuntime(cx, 'exit', call, [intArgument(cx, call, name, 0, I32)]);
  fb.emit({ op: 'trap', kind: ir.TRAP_UNREACHABLE });
  fb.terminate({ op: 'unreachable' });
  return none(cx);
}

// ==== addresses and memory ========================================================================

/** The symbols the linker defines (compiler/link) that linkerAddress() names. */
const LINKER_SYMBOLS: Record<string, string> = {
  imageStart: '__image_start', imageEnd: '__image_end', stackBottom: '__stack_bottom', stackTop: '__stack_top',
  symbolTable: '__symbol_table',
};

/** addressOf(x) of a struct, array or string; functionAddress(f) of a function value. */
function lowerAddressOf(cx: LowerContext, call: ts.CallExpression, name: string): Value {
  arity(cx, call, 1);
  const v = lowerExpression(cx, call.arguments[0]);
  if (name === 'functionAddress') {
    if (v.type.kind !== 'function') cx.error(call.arguments[0], 'DSL2001', 'functionAddress() takes a function');
  } else if (v.type.kind !== 'struct' && v.type.kind !== 'array' && v.type.kind !== 'string')
    cx.error(call.arguments[0], 'DSL2001', `addressOf() takes a struct, array or string, got ${typeName(v.type)}`);
  return { type: U32, reg: v.reg };
}

/** linkerAddress("imageStart"), ...: the address of a symbol the linker defines. */
function lowerLinkerAddress(cx: LowerContext, call: ts.CallExpression): Value {
  arity(cx, call, 1);
  const arg = call.arguments[0];
  if (!ts.isStringLiteral(arg) || !LINKER_SYMBOLS[arg.text]) {
    const names = Object.keys(LINKER_SYMBOLS).map(n => `"${n}"`).join(', ');
    cx.error(arg, 'DSL2001', `linkerAddress() takes one of ${names}`);
  }
  return { type: U32, reg: globalAddress(cx, LINKER_SYMBOLS[arg.text]) };
}

/** load8/16/32(address): zero-extended; store8/16/32(address, value): the low bytes of value. */
const WIDTHS: Record<string, ir.Width> = { load8: 1, load16: 2, load32: 4, store8: 1, store16: 2, store32: 4 };

function lowerLoad(cx: LowerContext, call: ts.CallExpression, name: string): Value {
  arity(cx, call, 1);
  const width = WIDTHS[name], dst = cx.fb.newReg();
  cx.fb.emit({ op: 'load', width, signed: false, dst, address: intArgument(cx, call, name, 0, U32), offset: 0 });
  return { type: width === 1 ? INT_TYPES.u8 : width === 2 ? INT_TYPES.u16 : U32, reg: dst };
}

function lowerStore(cx: LowerContext, call: ts.CallExpression, name: string): Value {
  arity(cx, call, 2);
  const address = intArgument(cx, call, name, 0, U32), value = intArgument(cx, call, name, 1, U32);
  cx.fb.emit({ op: 'store', width: WIDTHS[name], address, offset: 0, value });
  return none(cx);
}

// ==== interrupt entries ==========================================================================

/** interruptEntry(handler, vector): the address of the entry stub of one vector. */
function lowerInterruptEntry(cx: LowerContext, call: ts.CallExpression): Value {
  arity(cx, call, 2);
  const handler = interruptHandler(cx, call.arguments[0]);
  const vector = tryConstant(cx, call.arguments[1]);
  if (!vector || vector.value < 0 || vector.value > 255)
    cx.error(call.arguments[1], 'DSL2011',
      'interruptEntry() needs a constant vector 0..255 (the stub depends on whether the CPU pushes an error code)');
  const dst = cx.fb.newReg();
  cx.fb.emit({ op: 'functionAddress', dst, func: interruptStub(cx, handler, vector.value) });
  return { type: U32, reg: dst };
}

/** sysenterEntry(handler): the address of the `sysenter` entry stub (compiler/x86/lower.ts). */
function lowerSysenterEntry(cx: LowerContext, call: ts.CallExpression): Value {
  arity(cx, call, 1);
  const handler = interruptHandler(cx, call.arguments[0]);
  const dst = cx.fb.newReg();
  cx.fb.emit({ op: 'functionAddress', dst, func: interruptStub(cx, handler, SYSENTER_FRAME_VECTOR) });
  return { type: U32, reg: dst };
}

/** interruptEntryTable(handler): a read-only table of the 256 stubs' addresses, one per handler. */
function lowerInterruptEntryTable(cx: LowerContext, call: ts.CallExpression): Value {
  arity(cx, call, 1);
  const handler = interruptHandler(cx, call.arguments[0]);
  let symbol = cx.interruptTables.get(handler);
  if (!symbol) {
    symbol = cx.uniqueName(`__interrupt_table_${handler}`);
    const relocations = Array.from({ length: 256 },
      (_, v) => ({ offset: 4 * v, symbol: interruptStub(cx, handler, v), kind: 'function' as const }));
    cx.data.push({ name: symbol, section: 'rodata', align: 4, size: 1024, bytes: new Uint8Array(1024), relocations });
    cx.interruptTables.set(handler, symbol);
  }
  return { type: U32, reg: globalAddress(cx, symbol) };
}

const BUILTINS: Record<string, BuiltinRule> = {
  print: lowerPrint, write: lowerPrint,
  writeHex: (cx, call, name) => {
    arity(cx, call, 1);
    callRuntime(cx, 'writeHex', call, [intArgument(cx, call, name, 0, U32)]);
    return none(cx);
  },
  panic: lowerPanicOrExit, exit: lowerPanicOrExit,
  // mulHigh(a, b): the high 32 bits of the unsigned 64-bit product (the IR's mulhu: one `mul`)
  mulHigh: (cx, call, name) => {
    arity(cx, call, 2);
    const a = intArgument(cx, call, name, 0, U32);
    return { type: U32, reg: cx.fb.binary('mulhu', a, intArgument(cx, call, name, 1, U32)) };
  },
  sizeOf: (cx, call) => {
    arity(cx, call, 1);
    const size = structOfExpression(cx, call.arguments[0]).size;
    cx.options.observer?.folded(call, size);
    return { type: U32, reg: cx.fb.constant(size) };
  },
  // overlay(S, address): the struct S at that address (a struct value is its address)
  overlay: (cx, call, name) => {
    arity(cx, call, 2);
    const def = structOfExpression(cx, call.arguments[0]);
    return { type: { kind: 'struct', def }, reg: intArgument(cx, call, name, 1, U32) };
  },
  addressOf: lowerAddressOf, functionAddress: lowerAddressOf,
  structArray: (cx, call) =>
    cx.error(call, 'DSL1009', 'structArray() is only supported as the initializer of a variable'),
  linkerAddress: lowerLinkerAddress,
  // stringAt(address): the string whose characters start at address (its length word before them)
  stringAt: (cx, call, name) => {
    arity(cx, call, 1);
    return { type: STRING, reg: intArgument(cx, call, name, 0, U32) };
  },
  interruptEntry: lowerInterruptEntry, interruptEntryTable: lowerInterruptEntryTable, sysenterEntry: lowerSysenterEntry,
  load8: lowerLoad, load16: lowerLoad, load32: lowerLoad,
  store8: lowerStore, store16: lowerStore, store32: lowerStore,
};

// ==== intrinsics =================================================================================

/** The operand widths of the intrinsics that take narrow ones (port numbers, selectors); others take u32. */
const INTRINSIC_PARAMETERS: Record<string, IntType[]> = {
  outb: [INT_TYPES.u16, INT_TYPES.u8], outw: [INT_TYPES.u16, INT_TYPES.u16], outl: [INT_TYPES.u16, U32],
  inb: [INT_TYPES.u16], inw: [INT_TYPES.u16], inl: [INT_TYPES.u16], ltr: [INT_TYPES.u16], lldt: [INT_TYPES.u16],
};

/** An intrinsic (compiler/ir.ts: INTRINSICS): one IR instruction, its arguments wrapped to their widths. */
function lowerIntrinsic(cx: LowerContext, name: ir.IntrinsicName, call: ts.CallExpression,
  intrinsic: { args: number; result: boolean }): Value {
  const fb = cx.fb;
  arity(cx, call, intrinsic.args);
  const args = call.arguments.map((_, i) => intArgument(cx, call, name, i, INTRINSIC_PARAMETERS[name]?.[i] ?? U32));
  const dst = intrinsic.result ? fb.newReg() : null;
  fb.emit({ op: 'intrinsic', dst, name, args });
  const resultType = name === 'inb' ? INT_TYPES.u8 : name === 'inw' ? INT_TYPES.u16 : name === 'hypercall' ? I32 : U32;
  return intrinsic.result ? { type: resultType, reg: dst! } : none(cx);
}

// ==== Math =======================================================================================

/** Math.max(a, b), Math.min(a, b), Math.abs(a) on integers: exact, as in JavaScript (abs(INT_MIN) wraps). */
export function lowerMath(cx: LowerContext, method: 'max' | 'min' | 'abs', call: ts.CallExpression,
  expected?: DType): Value {
  const fb = cx.fb;
  const result = fb.newReg();
  const take = fb.newBlock(), keep = fb.newBlock(), done = fb.newBlock();
  if (method === 'abs') {
    arity(cx, call, 1);
    const a = intOperand(cx, call.arguments[0], 'Math.abs', expected);
    const t = promote(a.type);
    fb.copy(result, a.reg);
    if (!t.signed) return { type: t, reg: result };
    fb.terminate({ op: 'branch', cond: fb.binary('lts', a.reg, fb.constant(0)), ifTrue: take.id, ifFalse: done.id });
    fb.switchTo(take); fb.emit({ op: 'unary', kind: 'neg', dst: result, a: a.reg }); fb.jumpTo(done);
    fb.switchTo(keep); fb.terminate({ op: 'unreachable' });
    fb.switchTo(done);
    return { type: t, reg: result };
  }
  arity(cx, call, 2);
  const l = withLaterWrites(cx, [call.arguments[1]],
    () => intOperand(cx, call.arguments[0], `Math.${method}`,
      isLiteral(cx, call.arguments[0]) ? undefined : expected));
  const r = intOperand(cx, call.arguments[1], `Math.${method}`,
    isLiteral(cx, call.arguments[1]) ? promote(l.type) : undefined);
  // Mathematical values, as in JavaScript: of an i32 and a u32 the max is >= 0 (a u32), the min is
  // below 2^31 (an i32); Math.max(-1, 0x80000000) is 2147483648.
  const mixed = promote(l.type).signed !== promote(r.type).signed;
  const t = mixed ? (method === 'max' ? U32 : I32) : arithmeticResult(l.type, r.type);
  const cond = compareIntegers(cx, method === 'max' ? K.GreaterThanToken : K.LessThanToken, l, r);
  fb.terminate({ op: 'branch', cond, ifTrue: take.id, ifFalse: keep.id });
  fb.switchTo(take); fb.copy(result, l.reg); fb.jumpTo(done);
  fb.switchTo(keep); fb.copy(result, r.reg); fb.jumpTo(done);
  return { type: t, reg: result };
}

// ==== interrupt entries: handlers and stubs =======================================================

/** An interrupt entry's handler: a top-level function (frame: u32): void, or (frame: u32): u32 to switch frames. */
function interruptHandler(cx: LowerContext, node: ts.Expression): string {
  const e = cx.entityOf(node);
  if (e?.kind !== 'function') cx.error(node, 'DSL2001', 'an interrupt handler must be a top-level function');
  const sig = e.signature;
  const word = (t: DType) => isInt(t) && t.bits === 32;
  if (sig.params.length !== 1 || !word(sig.params[0]) || !(sig.result.kind === 'void' || word(sig.result)))
    cx.error(node, 'DSL2001', `interrupt handler '${e.name}' must be declared (frame: u32): void, `
      + 'or (frame: u32): u32 to resume another frame');
  return e.irName;
}

/** The entry stub of (handler, vector), made once (the x86 back end emits the stubs: compiler/x86/lower.ts). */
function interruptStub(cx: LowerContext, handler: string, vector: number): string {
  const name = vector === SYSENTER_FRAME_VECTOR ? `__sysenter_${handler}` : `__interrupt_${vector}_${handler}`;
  if (!cx.interruptEntries.has(name)) cx.interruptEntries.set(name, { name, vector, handler });
  return name;
}
