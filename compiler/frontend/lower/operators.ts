// Operators: assignments (plain and compound), && and || with JavaScript's values, arithmetic chains
// (`a + b - ... + z`, lowered bottom-up without host recursion), comparisons (an i32 against a u32
// compares mathematical values). Requires: operands lowered left to right (evaluation-order.ts).
// Guarantees: the DSL's integer semantics (dsl/README.md): 32-bit wrapping arithmetic, a result type
// from the operand types (types.ts: arithmeticResult), narrowing only where the place wraps or by an
// explicit conversion (DSL2003).
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import { type DType, I32, U32, BOOL, typeName, sameType, promote, arithmeticResult } from '../types.ts';
import type { LowerContext, IntValue, Value } from './context.ts';
import { tryConstant, isLiteral } from './constants.ts';
import { withLaterWrites, markLaterWrites } from './evaluation-order.ts';
import {
  type ExpressionOptions, lowerExpression, intOperand, lowerConverted, convertImplicit,
} from './expressions.ts';
import { lvalue } from './memory.ts';

const K = ts.SyntaxKind;

type Arith = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>' | '>>>';

/** The arithmetic operators by token. */
export const ARITHMETIC: Record<number, Arith> = {
  [K.PlusToken]: '+', [K.MinusToken]: '-', [K.AsteriskToken]: '*', [K.SlashToken]: '/', [K.PercentToken]: '%',
  [K.AmpersandToken]: '&', [K.BarToken]: '|', [K.CaretToken]: '^',
  [K.LessThanLessThanToken]: '<<', [K.GreaterThanGreaterThanToken]: '>>',
  [K.GreaterThanGreaterThanGreaterThanToken]: '>>>',
};

/** The compound assignments by token: `k op= e` is `k = k op e`. */
const COMPOUND: Record<number, Arith> = {
  [K.PlusEqualsToken]: '+', [K.MinusEqualsToken]: '-', [K.AsteriskEqualsToken]: '*', [K.SlashEqualsToken]: '/',
  [K.PercentEqualsToken]: '%', [K.AmpersandEqualsToken]: '&', [K.BarEqualsToken]: '|', [K.CaretEqualsToken]: '^',
  [K.LessThanLessThanEqualsToken]: '<<', [K.GreaterThanGreaterThanEqualsToken]: '>>',
  [K.GreaterThanGreaterThanGreaterThanEqualsToken]: '>>>',
};

/** A binary operator: `,`, assignments, && and ||, comparisons, arithmetic. */
export function lowerBinary(cx: LowerContext, b: ts.BinaryExpression, options: ExpressionOptions): Value {
  const op = b.operatorToken.kind, { expected, discard } = options;
  switch (op) {
    case K.CommaToken: {
      lowerExpression(cx, b.left, { discard: true });
      return lowerExpression(cx, b.right, { expected, discard });
    }
    case K.EqualsToken: return lowerAssignment(cx, b);
    case K.AmpersandAmpersandToken: case K.BarBarToken: return lowerLogical(cx, b);
    case K.EqualsEqualsEqualsToken: case K.EqualsEqualsToken: case K.ExclamationEqualsEqualsToken:
    case K.ExclamationEqualsToken: case K.LessThanToken: case K.LessThanEqualsToken: case K.GreaterThanToken:
    case K.GreaterThanEqualsToken:
      return lowerComparison(cx, b);
  }
  const compound = COMPOUND[op];
  if (compound !== undefined) return lowerCompoundAssignment(cx, b, compound);
  if (ARITHMETIC[op] === undefined)
    cx.error(b, 'DSL1012', `operator '${b.operatorToken.getText()}' is not supported`);
  return lowerArithmeticChain(cx, b, expected);
}

// ==== assignments ================================================================================

/** `place = e`: e converted to the place's type (wrapped where the place wraps); the value is e's. */
function lowerAssignment(cx: LowerContext, b: ts.BinaryExpression): Value {
  const lv = lvalue(cx, b.left);
  if (lv.wraps && lv.type.kind === 'int') {
    // A place that wraps (typed-array element, struct field) stores the value wrapped, but the
    // assignment's value is the right side's, unwrapped, as in JavaScript: `(bytes[0] = 300)` is 300.
    const r = lowerExpression(cx, b.right, { expected: promote(lv.type) });
    lv.store(convertImplicit(cx, r, lv.type, b.right, `assignment to '${lv.name}'`, { wraps: true }));
    return r;
  }
  const v = lowerConverted(cx, b.right, lv.type, `assignment to '${lv.name}'`, { wraps: lv.wraps });
  lv.store(v);
  return { type: lv.type, reg: v };
}

/**
 * `place op= e` is `place = place op e`: the assignment's narrowing rule (DSL2003 unless the place wraps).
 * A place that wraps (typed-array element, struct field) stores the result wrapped, and the value is the
 * result itself, as in JavaScript and as for `=`: `words[0] += -1` is -1 on a Uint32Array.
 */
function lowerCompoundAssignment(cx: LowerContext, b: ts.BinaryExpression, compound: Arith): Value {
  const lv = lvalue(cx, b.left);
  const text = b.operatorToken.getText();
  if (lv.type.kind !== 'int') cx.error(b, 'DSL2001', `'${text}' needs an integer target, got ${typeName(lv.type)}`);
  const left: Value = { type: lv.type, reg: withLaterWrites(cx, [b.right], () => lv.load()) };
  const right = intOperand(cx, b.right, text, isLiteral(cx, b.right) ? promote(lv.type) : undefined);
  const r = arithmetic(cx, compound, left as IntValue, right);
  if (lv.wraps) { lv.store(r.reg); return r; }
  const stored = convertImplicit(cx, r, lv.type, b, `'${text}' on '${lv.name}'`);
  lv.store(stored);
  return { type: lv.type, reg: stored };
}

// ==== && and || ==================================================================================

/**
 * As in JavaScript, the value is the operand that decided: `a || b` is a when a is truthy, else b.
 * With bool operands that is a bool; with integers an integer (conditions use lowerCondition).
 */
function lowerLogical(cx: LowerContext, b: ts.BinaryExpression): Value {
  const fb = cx.fb;
  const isAnd = b.operatorToken.kind === K.AmpersandAmpersandToken, text = b.operatorToken.getText();
  const result = fb.newReg();
  const right = fb.newBlock(cx.loc(b.right)), done = fb.newBlock();
  const l = lowerExpression(cx, b.left);
  if (l.type.kind !== 'bool' && l.type.kind !== 'int')
    cx.error(b.left, 'DSL2001', `'${text}' needs bool or integer operands, got ${typeName(l.type)}`);
  fb.copy(result, l.reg);
  const truthy = l.type.kind === 'bool' ? l.reg : fb.binary('ne', l.reg, fb.constant(0));
  fb.terminate({ op: 'branch', cond: truthy, ifTrue: (isAnd ? right : done).id, ifFalse: (isAnd ? done : right).id });
  fb.switchTo(right);
  const r = lowerExpression(cx, b.right, { expected: l.type.kind === 'int' ? promote(l.type) : undefined });
  if ((r.type.kind === 'bool') !== (l.type.kind === 'bool') || (r.type.kind !== 'bool' && r.type.kind !== 'int'))
    cx.error(b, 'DSL2001',
      `'${text}' needs two bools or two integers, got ${typeName(l.type)} and ${typeName(r.type)}`);
  fb.copy(result, r.reg);
  fb.jumpTo(done);
  const type = l.type.kind === 'int' && r.type.kind === 'int' ? arithmeticResult(l.type, r.type) : BOOL;
  return { type, reg: result };
}

// ==== arithmetic =================================================================================

/** Lowers the two operands of a binary integer operator; a literal side takes the other side's type. */
function operands(cx: LowerContext, b: ts.BinaryExpression, op: string, expected?: DType): [IntValue, IntValue] {
  if (isLiteral(cx, b.left) && !isLiteral(cx, b.right)) {
    const r = intOperand(cx, b.right, op, expected);
    const l = intOperand(cx, b.left, op, promote(r.type));
    return [l, r];
  }
  const l = withLaterWrites(cx, [b.right], () => intOperand(cx, b.left, op, expected));
  const r = intOperand(cx, b.right, op, isLiteral(cx, b.right) ? promote(l.type) : undefined);
  return [l, r];
}

/**
 * An arithmetic operator and the operators down its left spine (`x + y - ... + z` nests to the left),
 * lowered bottom-up in a loop: a chain of thousands of operands costs no host recursion. Each right
 * operand is lowered while the right operands above it count as later operands (evaluation order).
 */
function lowerArithmeticChain(cx: LowerContext, top: ts.BinaryExpression, expected?: DType): Value {
  const spine = [top], expectations = [expected];
  for (;;) {
    const b = spine[spine.length - 1], left = b.left;
    if (!ts.isBinaryExpression(left) || ARITHMETIC[left.operatorToken.kind] === undefined
      || isLiteral(cx, left)) break;
    spine.push(left);
    expectations.push(isFreeConversion(cx, b) ? undefined : expectations[expectations.length - 1]);
  }
  const rightsAbove = (i: number) => spine.slice(0, i).map(b => b.right);
  const last = spine.length - 1;
  markLaterWrites(cx, rightsAbove(last), 1);
  let marked = last;
  try {
    let value = lowerArithmetic(cx, spine[last], expectations[last]);
    for (let i = last - 1; i >= 0; i--) {
      markLaterWrites(cx, [spine[i].right], -1);
      marked = i;
      value = lowerArithmetic(cx, spine[i], expectations[i], value);
    }
    return value;
  } finally {
    markLaterWrites(cx, rightsAbove(marked), -1);
  }
}

/** `x | 0` and `x >>> 0`: conversions that cost nothing. */
function isFreeConversion(cx: LowerContext, b: ts.BinaryExpression): boolean {
  const op = b.operatorToken.kind;
  return (op === K.BarToken || op === K.GreaterThanGreaterThanGreaterThanToken)
    && tryConstant(cx, b.right)?.value === 0 && !isLiteral(cx, b.left);
}

/** One arithmetic operator; `left` is its left operand when already lowered (inside a chain). */
function lowerArithmetic(cx: LowerContext, b: ts.BinaryExpression, expected?: DType, left?: Value): Value {
  const op = b.operatorToken.kind, text = b.operatorToken.getText();
  if (isFreeConversion(cx, b)) {
    const v = left ?? intOperand(cx, b.left, text);
    cx.options.observer?.typed(b, op === K.BarToken ? I32 : U32);
    return { type: op === K.BarToken ? I32 : U32, reg: v.reg };
  }
  let l: IntValue, r: IntValue;
  if (left) {
    l = left as IntValue;
    r = intOperand(cx, b.right, text, isLiteral(cx, b.right) ? promote(l.type) : undefined);
  } else [l, r] = operands(cx, b, text, expected);
  const v = arithmetic(cx, ARITHMETIC[op], l, r);
  cx.options.observer?.typed(b, v.type);
  return v;
}

/** `l op r` of two integers, wrapping: + - * / % in the operands' arithmetic type, bitwise ops i32, >>> u32. */
function arithmetic(cx: LowerContext, kind: Arith, l: IntValue, r: IntValue): Value {
  const fb = cx.fb;
  const t = arithmeticResult(l.type, r.type);
  switch (kind) {
    case '+': return { type: t, reg: fb.binary('add', l.reg, r.reg) };
    case '-': return { type: t, reg: fb.binary('sub', l.reg, r.reg) };
    case '*': return { type: t, reg: fb.binary('mul', l.reg, r.reg) };
    case '/': return { type: t, reg: fb.binary(t.signed ? 'divs' : 'divu', l.reg, r.reg) };
    case '%': return { type: t, reg: fb.binary(t.signed ? 'rems' : 'remu', l.reg, r.reg) };
    case '&': return { type: I32, reg: fb.binary('and', l.reg, r.reg) };
    case '|': return { type: I32, reg: fb.binary('or', l.reg, r.reg) };
    case '^': return { type: I32, reg: fb.binary('xor', l.reg, r.reg) };
    case '<<': return { type: I32, reg: fb.binary('shl', l.reg, r.reg) };
    case '>>': return { type: I32, reg: fb.binary('shrs', l.reg, r.reg) };
    case '>>>': return { type: U32, reg: fb.binary('shru', l.reg, r.reg) };
  }
}

// ==== comparisons ================================================================================

/** `==` and `!=` of bools, functions and references; `<` ... `!==` of integers (compareIntegers). */
function lowerComparison(cx: LowerContext, b: ts.BinaryExpression): Value {
  const fb = cx.fb;
  const op = b.operatorToken.kind, text = b.operatorToken.getText();
  const equality = op === K.EqualsEqualsEqualsToken || op === K.EqualsEqualsToken
    || op === K.ExclamationEqualsEqualsToken || op === K.ExclamationEqualsToken;
  const negate = op === K.ExclamationEqualsEqualsToken || op === K.ExclamationEqualsToken;
  // bool, function and reference equality
  const peekBool = (e: ts.Expression) => e.kind === K.TrueKeyword || e.kind === K.FalseKeyword;
  if (equality && (peekBool(b.left) || peekBool(b.right))) {
    const l = withLaterWrites(cx, [b.right], () => lowerExpression(cx, b.left)), r = lowerExpression(cx, b.right);
    if (l.type.kind !== 'bool' || r.type.kind !== 'bool')
      cx.error(b, 'DSL2001', `cannot compare ${typeName(l.type)} with ${typeName(r.type)}`);
    return { type: BOOL, reg: fb.binary(negate ? 'ne' : 'eq', l.reg, r.reg) };
  }
  const lraw = isLiteral(cx, b.left) && !isLiteral(cx, b.right) ? undefined
    : withLaterWrites(cx, [b.right], () => lowerExpression(cx, b.left));
  if (lraw && lraw.type.kind !== 'int') {
    const r = lowerExpression(cx, b.right);
    if (!equality || !sameType(lraw.type, r.type))
      cx.error(b, 'DSL2001', `cannot compare ${typeName(lraw.type)} with ${typeName(r.type)} using '${text}'`);
    return { type: BOOL, reg: fb.binary(negate ? 'ne' : 'eq', lraw.reg, r.reg) };
  }
  let l: IntValue, r: IntValue;
  if (!lraw) {
    r = intOperand(cx, b.right, text);
    l = intOperand(cx, b.left, text, promote(r.type));
  } else {
    l = lraw as IntValue;
    r = intOperand(cx, b.right, text, isLiteral(cx, b.right) ? promote(l.type) : undefined);
  }
  return { type: BOOL, reg: compareIntegers(cx, op, l, r) };
}

/** `l op r` for a comparison operator on integers: mathematical values, also for an i32 against a u32. */
export function compareIntegers(cx: LowerContext, op: ts.SyntaxKind, l: IntValue, r: IntValue): ir.VReg {
  const fb = cx.fb;
  const negate = op === K.ExclamationEqualsEqualsToken || op === K.ExclamationEqualsToken;
  const lt = promote(l.type), rt = promote(r.type);
  const kinds: Record<number, [ir.BinaryOp, ir.BinaryOp]> = {
    [K.LessThanToken]: ['lts', 'ltu'], [K.LessThanEqualsToken]: ['les', 'leu'],
    [K.GreaterThanToken]: ['gts', 'gtu'], [K.GreaterThanEqualsToken]: ['ges', 'geu'],
    [K.EqualsEqualsEqualsToken]: ['eq', 'eq'], [K.EqualsEqualsToken]: ['eq', 'eq'],
    [K.ExclamationEqualsEqualsToken]: ['ne', 'ne'], [K.ExclamationEqualsToken]: ['ne', 'ne'],
  };
  const [signedOp, unsignedOp] = kinds[op];
  if (lt.signed === rt.signed) return fb.binary(lt.signed ? signedOp : unsignedOp, l.reg, r.reg);
  // Mixed i32/u32: compare mathematical values. A negative i32 is below every u32.
  const signedIsLeft = lt.signed;
  const s = signedIsLeft ? l.reg : r.reg;
  const negative = fb.binary('lts', s, fb.constant(0));
  const unsignedResult = fb.binary(unsignedOp, l.reg, r.reg);
  // With s negative: s < u, s <= u, s != u are true; s > u, s >= u, s == u false (mirrored when s is on
  // the right).
  const lessLike = op === K.LessThanToken || op === K.LessThanEqualsToken;
  const greaterLike = op === K.GreaterThanToken || op === K.GreaterThanEqualsToken;
  const trueWhenNegative = negate || (signedIsLeft ? lessLike : greaterLike);
  if (trueWhenNegative) return fb.binary('or', negative, unsignedResult);
  const notNegative = fb.binary('eq', negative, fb.constant(0));
  return fb.binary('and', notNegative, unsignedResult);
}
