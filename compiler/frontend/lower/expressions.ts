// Expressions: each lowered to a register holding its value and its DSL type (Value). Literals and
// untyped constants take the type the context expects; names, fields and elements are read through
// memory.ts, operators through operators.ts, calls through calls.ts; conditions branch without
// materializing bools (&&, ||, ! short-circuit); conversions follow the implicit rules (widening only,
// a constant that fits) or wrap explicitly (u8(x): as a C cast). Requires: declarations and globals.
// Guarantees: a Value of a DSL type for every expression the subset allows, or a DSL error at it.
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import {
  type DType, type IntType, I32, U32, BOOL, STRING, typeName, sameType, fits, promote, arithmeticResult,
  implicitlyConvertible,
} from '../types.ts';
import type { LowerContext, IntValue, Value, LValue } from './context.ts';
import { lowerCall } from './calls.ts';
import { tryConstant, isLiteral } from './constants.ts';
import { checkSignature } from './declarations.ts';
import { stringAddress, lowerRead, lvalue } from './memory.ts';
import { lowerBinary } from './operators.ts';

const K = ts.SyntaxKind;

/** How an expression is lowered. */
export interface ExpressionOptions {
  /** The type the context wants: an integer literal or untyped constant takes it. */
  expected?: DType;
  /** The value is not used (an expression statement, the left of `,`): a void call is fine there. */
  discard?: boolean;
}

/** Lowers an expression to a register holding its value; the observer is told its type. */
export function lowerExpression(cx: LowerContext, node: ts.Expression, options: ExpressionOptions = {}): Value {
  const v = lowerExpressionUnobserved(cx, node, options);
  cx.options.observer?.typed(node, v.type);
  return v;
}

function lowerExpressionUnobserved(cx: LowerContext, node: ts.Expression, options: ExpressionOptions): Value {
  const { expected, discard = false } = options;
  const fb = cx.fb;
  if ((ts.isBinaryExpression(node) || ts.isPrefixUnaryExpression(node)) && isLiteral(cx, node)) {
    const c = tryConstant(cx, node)!;
    const type = expected?.kind === 'int' && fits(c.value, expected) ? promote(expected) : c.type;
    return { type, reg: fb.constant(c.value) };
  }
  switch (node.kind) {
    case K.ParenthesizedExpression:
      return lowerExpression(cx, (node as ts.ParenthesizedExpression).expression, { expected, discard });
    case K.NumericLiteral: {
      const value = Number((node as ts.NumericLiteral).text);
      let type: IntType;
      if (expected?.kind === 'int' && fits(value, expected)) type = promote(expected);
      else if (fits(value, I32)) type = I32;
      else if (fits(value, U32)) type = U32;
      else cx.error(node, 'DSL2002', `integer literal ${node.getText()} does not fit in 32 bits`);
      return { type, reg: fb.constant(value) };
    }
    case K.TrueKeyword: return { type: BOOL, reg: fb.constant(1) };
    case K.FalseKeyword: return { type: BOOL, reg: fb.constant(0) };
    case K.StringLiteral: return { type: STRING, reg: stringAddress(cx, (node as ts.StringLiteral).text) };
    case K.Identifier: case K.PropertyAccessExpression: case K.ElementAccessExpression:
      return lowerRead(cx, node, expected);
    case K.PrefixUnaryExpression: return lowerPrefix(cx, node as ts.PrefixUnaryExpression, expected);
    case K.PostfixUnaryExpression: return lowerPostfix(cx, node as ts.PostfixUnaryExpression);
    case K.BinaryExpression: return lowerBinary(cx, node as ts.BinaryExpression, { expected, discard });
    case K.ConditionalExpression: return lowerConditional(cx, node as ts.ConditionalExpression, expected);
    case K.CallExpression: {
      const v = lowerCall(cx, node as ts.CallExpression, expected);
      if (v.type.kind === 'void' && !discard)
        cx.error(node, 'DSL2001',
          `'${(node as ts.CallExpression).expression.getText()}' returns nothing; its value cannot be used`);
      return v;
    }
    case K.NewExpression:
      cx.error(node, 'DSL1009',
        "'new' is only supported as the initializer of a variable (new TypedArray(N), new Struct())");
  }
  cx.error(node, 'DSL1012', `expression '${K[node.kind]}' is not supported`);
}

/** `k++` and `k--`: the value before the step. */
function lowerPostfix(cx: LowerContext, u: ts.PostfixUnaryExpression): Value {
  const fb = cx.fb;
  const lv = lvalue(cx, u.operand);
  if (lv.type.kind !== 'int') cx.error(u, 'DSL2001', `'${ts.tokenToString(u.operator)}' needs an integer`);
  const old = fb.newReg();
  fb.copy(old, lv.load());
  checkStepWidth(cx, u, lv);
  const next = fb.binary(u.operator === K.PlusPlusToken ? 'add' : 'sub', old, fb.constant(1));
  lv.store(next);
  return { type: lv.type, reg: old };
}

/** `c ? a : b`: the type of the arm that is not a literal (two literals: the expected type). */
function lowerConditional(cx: LowerContext, c: ts.ConditionalExpression, expected?: DType): Value {
  const fb = cx.fb;
  const then = fb.newBlock(cx.loc(c.whenTrue)), otherwise = fb.newBlock(cx.loc(c.whenFalse));
  const done = fb.newBlock();
  const result = fb.newReg();
  lowerCondition(cx, c.condition, then, otherwise);
  const literalLike = (e: ts.Expression) => isLiteral(cx, e);
  // The type: the non-literal arm decides; two literals take the expected type.
  let type: DType;
  fb.switchTo(then);
  if (literalLike(c.whenTrue) && !literalLike(c.whenFalse)) {
    // lower the false arm first to learn the type
    fb.switchTo(otherwise);
    const b = lowerExpression(cx, c.whenFalse, { expected });
    type = b.type.kind === 'int' ? promote(b.type) : b.type;
    fb.copy(result, b.reg); fb.terminate({ op: 'jump', target: done.id });
    fb.switchTo(then);
    const a = lowerExpression(cx, c.whenTrue, { expected: type });
    fb.copy(result, convertImplicit(cx, a, type, c.whenTrue, 'conditional'));
    fb.terminate({ op: 'jump', target: done.id });
  } else {
    const a = lowerExpression(cx, c.whenTrue, { expected });
    type = a.type.kind === 'int' ? promote(a.type) : a.type;
    fb.copy(result, a.reg); fb.terminate({ op: 'jump', target: done.id });
    fb.switchTo(otherwise);
    const b = lowerExpression(cx, c.whenFalse, { expected: type });
    if (type.kind === 'int' && b.type.kind === 'int' && !sameType(type, promote(b.type))
      && !literalLike(c.whenFalse)) {
      // The value is one arm's, unchanged (JavaScript): no 32-bit type holds every i32 and u32
      // value. `u32(c ? a : b)` is fine: the conversion goes into the arms (lowerConvertedConditional).
      if (type.signed !== promote(b.type).signed) {
        cx.error(c, 'DSL2003', `the arms of '?:' are ${typeName(type)} and ${typeName(b.type)}: no 32-bit `
          + `type holds both; convert one arm or the whole (i32(...) or u32(...))`);
      }
      type = arithmeticResult(type, b.type);
    }
    fb.copy(result, convertImplicit(cx, b, type, c.whenFalse, 'conditional'));
    fb.terminate({ op: 'jump', target: done.id });
  }
  fb.switchTo(done);
  return { type, reg: result };
}

/** `++k`, `--k` (the value after the step), `!`, `-`, `+`, `~`. */
function lowerPrefix(cx: LowerContext, u: ts.PrefixUnaryExpression, expected?: DType): Value {
  const fb = cx.fb;
  switch (u.operator) {
    case K.PlusPlusToken: case K.MinusMinusToken: {
      const lv = lvalue(cx, u.operand);
      if (lv.type.kind !== 'int') cx.error(u, 'DSL2001', `'${ts.tokenToString(u.operator)}' needs an integer`);
      checkStepWidth(cx, u, lv);
      const next = fb.binary(u.operator === K.PlusPlusToken ? 'add' : 'sub', lv.load(), fb.constant(1));
      lv.store(next);
      // on a place that wraps, the value is the unwrapped sum (256 for a u8 element holding 255): an i32
      return { type: lv.wraps && lv.type.kind === 'int' ? promote(lv.type) : lv.type, reg: next };
    }
    case K.ExclamationToken: return { type: BOOL, reg: fb.binary('eq', truth(cx, u.operand), fb.constant(0)) };
    case K.MinusToken: {
      if (u.operand.kind === K.NumericLiteral) {
        const value = -Number((u.operand as ts.NumericLiteral).text);
        if (!fits(value, I32)) cx.error(u, 'DSL2002', `integer literal ${u.getText()} does not fit in i32`);
        return { type: I32, reg: fb.constant(value) };
      }
      const v = intOperand(cx, u.operand, '-', expected);
      return { type: promote(v.type), reg: fb.unary('neg', v.reg) };
    }
    case K.PlusToken: {
      const v = intOperand(cx, u.operand, '+', expected);
      return { type: promote(v.type), reg: v.reg };
    }
    case K.TildeToken: {
      const v = intOperand(cx, u.operand, '~');
      return { type: I32, reg: fb.unary('not', v.reg) };
    }
  }
  cx.error(u, 'DSL1012', 'unsupported prefix operator');
}

/** An operand of the integer operator `op` (DSL1010 for a string, DSL2001 for anything else not an integer). */
export function intOperand(cx: LowerContext, node: ts.Expression, op: string, expected?: DType): IntValue {
  const v = lowerExpression(cx, node, { expected });
  if (v.type.kind === 'string')
    cx.error(node, 'DSL1010', op === '+' ? 'strings cannot be concatenated: print the parts one by one'
      : `operator '${op}' does not apply to strings`);
  if (v.type.kind !== 'int') cx.error(node, 'DSL2001', `operator '${op}' needs integers, got ${typeName(v.type)}`);
  return v as IntValue;
}

/**
 * `k++` and `k--` are `k = k + 1` and `k = k - 1`: on a u8/i8/u16/i16 variable or plain-array element
 * the i32 sum is narrowed, which needs an explicit conversion (DSL2003) as for the assignment; Node
 * would not wrap it. Typed-array elements and struct fields wrap on store.
 */
function checkStepWidth(cx: LowerContext, u: ts.PrefixUnaryExpression | ts.PostfixUnaryExpression, lv: LValue): void {
  if (lv.type.kind !== 'int' || lv.type.bits === 32 || lv.wraps) return;
  const op = ts.tokenToString(u.operator), step = u.operator === K.PlusPlusToken ? '+' : '-';
  cx.error(u, 'DSL2003', `'${op}' on ${typeName(lv.type)} '${lv.name}' narrows i32 to ${typeName(lv.type)}: `
    + `write ${lv.name} = ${typeName(lv.type)}(${lv.name} ${step} 1), or declare it i32`);
}

// ==== conditions =================================================================================

/** Branches to ifTrue/ifFalse on a condition, short-circuiting && || ! without materializing bools. */
export function lowerCondition(cx: LowerContext, node: ts.Expression, ifTrue: ir.Block, ifFalse: ir.Block): void {
  if (ts.isParenthesizedExpression(node)) return lowerCondition(cx, node.expression, ifTrue, ifFalse);
  if (ts.isPrefixUnaryExpression(node) && node.operator === K.ExclamationToken)
    return lowerCondition(cx, node.operand, ifFalse, ifTrue);
  if (ts.isBinaryExpression(node)) {
    const op = node.operatorToken.kind;
    if (op === K.AmpersandAmpersandToken) {
      const right = cx.fb.newBlock(cx.loc(node.right));
      lowerCondition(cx, node.left, right, ifFalse);
      cx.fb.switchTo(right);
      return lowerCondition(cx, node.right, ifTrue, ifFalse);
    }
    if (op === K.BarBarToken) {
      const right = cx.fb.newBlock(cx.loc(node.right));
      lowerCondition(cx, node.left, ifTrue, right);
      cx.fb.switchTo(right);
      return lowerCondition(cx, node.right, ifTrue, ifFalse);
    }
  }
  if (node.kind === K.TrueKeyword) { cx.fb.terminate({ op: 'jump', target: ifTrue.id }); return; }
  if (node.kind === K.FalseKeyword) { cx.fb.terminate({ op: 'jump', target: ifFalse.id }); return; }
  const v = lowerExpression(cx, node);
  if (v.type.kind !== 'bool' && v.type.kind !== 'int')
    cx.error(node, 'DSL2001', `a condition must be bool or an integer, got ${typeName(v.type)}`);
  cx.fb.terminate({ op: 'branch', cond: v.reg, ifTrue: ifTrue.id, ifFalse: ifFalse.id });
}

/** A condition's value as a bool (an integer: != 0). */
function truth(cx: LowerContext, node: ts.Expression): ir.VReg {
  const v = lowerExpression(cx, node);
  if (v.type.kind === 'bool') return v.reg;
  if (v.type.kind === 'int') return cx.fb.binary('ne', v.reg, cx.fb.constant(0));
  cx.error(node, 'DSL2001', `a condition must be bool or an integer, got ${typeName(v.type)}`);
}

// ==== conversions ================================================================================

/**
 * How a value converts to a type. `wraps`: a narrower integer type wraps it, as a typed-array element,
 * a struct field or a built-in's argument does (elsewhere narrowing needs an explicit conversion).
 */
interface ConversionOptions { wraps?: boolean }

/** Lowers `node` and converts it to `target` by the implicit rules (a literal takes the target type). */
export function lowerConverted(cx: LowerContext, node: ts.Expression, target: DType, what: string,
  options: ConversionOptions = {}): ir.VReg {
  const v = lowerExpression(cx, node, { expected: target });
  return convertImplicit(cx, v, target, node, what, options);
}

/**
 * v converted to `target` by the implicit rules: an integer widens; a constant that fits takes the type;
 * anything else narrower needs an explicit conversion (DSL2003) unless it `wraps`. Other types must
 * match (DSL2001). `what` names the value in the message.
 */
export function convertImplicit(cx: LowerContext, v: Value, target: DType, node: ts.Expression, what: string,
  { wraps = false }: ConversionOptions = {}): ir.VReg {
  cx.options.observer?.converted(node, target);
  if (target.kind === 'int' && v.type.kind === 'int') {
    if (implicitlyConvertible(v.type, target)) return v.reg;
    const c = tryConstant(cx, node);
    if (c && fits(c.value, target)) return v.reg;
    if (c && !wraps)
      cx.error(node, 'DSL2002', `constant ${c.value} is out of range for ${typeName(target)} (${what})`);
    if (wraps) return convertExplicit(cx, v, target);
    cx.error(node, 'DSL2003', `narrowing ${typeName(v.type)} to ${typeName(target)} needs an explicit conversion: `
      + `${typeName(target)}(...) (${what})`);
  }
  if (target.kind === 'function' && v.type.kind === 'function') {
    checkSignature(cx, node, v.type.signature, target.signature);
    return v.reg;
  }
  if (target.kind === 'array' && v.type.kind === 'array' && v.type.staticLength !== undefined
    && sameType(target, v.type))
    cx.error(node, 'DSL2001',
      'an array field inside a struct cannot be passed as a value: index it, or pass the struct');
  if (!sameType(v.type, target))
    cx.error(node, 'DSL2001', `type mismatch: ${what} expects ${typeName(target)}, got ${typeName(v.type)}`);
  return v.reg;
}

/**
 * `u32(c ? a : b)` as `c ? u32(a) : u32(b)`: the same value in JavaScript, and the arms may then differ
 * in sign (each is converted from its own type).
 */
export function lowerConvertedConditional(cx: LowerContext, c: ts.ConditionalExpression, target: IntType): Value {
  const fb = cx.fb;
  const then = fb.newBlock(cx.loc(c.whenTrue)), otherwise = fb.newBlock(cx.loc(c.whenFalse));
  const done = fb.newBlock();
  const result = fb.newReg();
  lowerCondition(cx, c.condition, then, otherwise);
  for (const [block, arm] of [[then, c.whenTrue], [otherwise, c.whenFalse]] as const) {
    fb.switchTo(block);
    const v = lowerExpression(cx, arm, { expected: target });
    if (v.type.kind !== 'int' && v.type.kind !== 'bool')
      cx.error(arm, 'DSL2001', `expected an integer, got ${typeName(v.type)}`);
    fb.copy(result, v.type.kind === 'bool' ? v.reg : convertExplicit(cx, v, target));
    fb.terminate({ op: 'jump', target: done.id });
  }
  fb.switchTo(done);
  cx.options.observer?.typed(c, target);
  return { type: target, reg: result };
}

/** u8(x) and friends: wrap to the width, like a C cast. */
export function convertExplicit(cx: LowerContext, v: Value, target: IntType): ir.VReg {
  const fb = cx.fb;
  if (target.bits === 32) return v.reg;
  // already in range: as wide or narrower with the same signedness, or unsigned and narrower
  if (v.type.kind === 'int' && v.type.bits <= target.bits
    && (v.type.signed === target.signed || (!v.type.signed && v.type.bits < target.bits))) return v.reg;
  if (!target.signed) return fb.binary('and', v.reg, fb.constant(target.bits === 8 ? 0xff : 0xffff));
  const shift = fb.constant(32 - target.bits);
  return fb.binary('shrs', fb.binary('shl', v.reg, shift), shift);
}
