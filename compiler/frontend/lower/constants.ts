// Constant expressions, evaluated at compile time with the DSL's 32-bit semantics (dsl/README.md):
// initializers of static storage, case labels, array lengths, enum members, interrupt vectors. An
// untyped constant (a literal, `const N = 8`, an enum member) takes the type of the other operand, as
// Go's untyped constants do. Guarantees: a value wrapped to its type, or DSL2002 (out of range) or
// DSL2011 (not constant) at the expression.
import { ts } from 'ts-morph';
import {
  type DType, type IntType, I32, U32, INT_TYPES, isInt, typeName, fits, wrapTo, promote, arithmeticResult,
} from '../types.ts';
import type { LowerContext } from './context.ts';
import { structOfExpression, checkSignature } from './declarations.ts';
import { ARITHMETIC } from './operators.ts';

const K = ts.SyntaxKind;

/** Evaluates a constant expression with 32-bit semantics; undefined when it is not constant. */
export function tryConstant(cx: LowerContext, node: ts.Expression): { value: number; type: IntType } | undefined {
  switch (node.kind) {
    case K.ParenthesizedExpression: return tryConstant(cx, (node as ts.ParenthesizedExpression).expression);
    case K.NumericLiteral: {
      const value = Number((node as ts.NumericLiteral).text);
      if (!Number.isInteger(value)) return undefined;
      if (fits(value, I32)) return { value, type: I32 };
      if (fits(value, U32)) return { value, type: U32 };
      cx.error(node, 'DSL2002', `integer literal ${node.getText()} does not fit in 32 bits`);
    }
    case K.TrueKeyword: return undefined;
    case K.Identifier: case K.PropertyAccessExpression: {
      const e = cx.entityOf(node);
      if (e?.kind === 'constant' && isInt(e.type)) return { value: e.value, type: e.type };
      return undefined;
    }
    case K.PrefixUnaryExpression: {
      const u = node as ts.PrefixUnaryExpression;
      const inner = tryConstant(cx, u.operand);
      if (!inner) return undefined;
      if (u.operator === K.MinusToken) {
        if (u.operand.kind === K.NumericLiteral) {
          if (!fits(-inner.value, I32))
            cx.error(node, 'DSL2002', `integer literal ${node.getText()} does not fit in 32 bits`);
          return { value: -inner.value, type: I32 };
        }
        cx.options.observer?.typed(u, promote(inner.type));
        return { value: wrapTo(-inner.value, promote(inner.type)), type: promote(inner.type) };
      }
      if (u.operator === K.PlusToken) return inner;
      if (u.operator === K.TildeToken) return { value: ~inner.value, type: I32 };
      return undefined;
    }
    case K.BinaryExpression: {
      // The left spine bottom-up, without recursion: a chain `1 + 2 + ... + n` may be thousands long.
      const spine: ts.BinaryExpression[] = [];
      let bottom: ts.Expression = node;
      for (; ts.isBinaryExpression(bottom); bottom = bottom.left) spine.push(bottom);
      let value = tryConstant(cx, bottom);
      for (let i = spine.length - 1; i >= 0; i--) {
        const right = tryConstant(cx, spine[i].right);
        value = value && right && binaryConstant(spine[i], value, right);
        if (value) cx.options.observer?.typed(spine[i], value.type);
      }
      return value;
    }
    case K.CallExpression: {
      const call = node as ts.CallExpression;
      const e = cx.entityOf(call.expression);
      if (e?.kind !== 'builtin' || call.arguments.length !== 1) return undefined;
      if (e.name === 'sizeOf') {
        const size = structOfExpression(cx, call.arguments[0]).size;
        cx.options.observer?.folded(call, size);
        return { value: size, type: U32 };
      }
      const target = INT_TYPES[e.name];
      if (!target) return undefined;
      const inner = tryConstant(cx, call.arguments[0]);
      return inner && { value: wrapTo(inner.value, target), type: target };
    }
  }
  return undefined;
}

/** `l op r` of two constants (the operands of `b`), or undefined when `op` is not arithmetic or divides by 0. */
function binaryConstant(b: ts.BinaryExpression, l: { value: number; type: IntType },
  r: { value: number; type: IntType }): { value: number; type: IntType } | undefined {
  const op = b.operatorToken.kind;
  const at = arithmeticResult(l.type, r.type);
  const lit = (x: ts.Expression) =>
    x.kind === K.NumericLiteral || (ts.isPrefixUnaryExpression(x) && x.operand.kind === K.NumericLiteral);
  const t = lit(b.left) && !lit(b.right) ? promote(r.type) : lit(b.right) && !lit(b.left) ? promote(l.type) : at;
  const a = l.value, c = r.value;
  switch (op) {
    case K.PlusToken: return { value: wrapTo(a + c, t), type: t };
    case K.MinusToken: return { value: wrapTo(a - c, t), type: t };
    case K.AsteriskToken: return { value: wrapTo(Math.imul(a, c), t), type: t };
    case K.SlashToken:
      if (c === 0) return undefined;
      return { value: wrapTo(Math.trunc(wrapTo(a, t) / wrapTo(c, t)), t), type: t };
    case K.PercentToken:
      if (c === 0) return undefined;
      return { value: wrapTo(wrapTo(a, t) % wrapTo(c, t), t), type: t };
    case K.AmpersandToken: return { value: a & c, type: I32 };
    case K.BarToken: return { value: a | c, type: I32 };
    case K.CaretToken: return { value: a ^ c, type: I32 };
    case K.LessThanLessThanToken: return { value: a << c, type: I32 };
    case K.GreaterThanGreaterThanToken: return { value: a >> c, type: I32 };
    case K.GreaterThanGreaterThanGreaterThanToken: return { value: a >>> c, type: U32 };
  }
  return undefined;
}

/** The value of a constant initializer of static storage, checked against its type and wrapped to it. */
export function constantValue(cx: LowerContext, node: ts.Expression, type: DType): number {
  if (type.kind === 'bool') {
    if (node.kind === K.TrueKeyword) return 1;
    if (node.kind === K.FalseKeyword) return 0;
    cx.error(node, 'DSL2011', 'a bool initializer here must be true or false');
  }
  const c = tryConstant(cx, node);
  if (!c)
    cx.error(node, 'DSL2011',
      'this initializer must be a constant expression (static storage is laid out at build time)');
  if (type.kind !== 'int') cx.error(node, 'DSL2001', `expected ${typeName(type)}, got an integer constant`);
  if (!fits(c.value, type) && !(type.bits === 32 && fits(c.value, c.type)))
    cx.error(node, 'DSL2002', `constant ${c.value} is out of range for ${typeName(type)}`);
  cx.options.observer?.typed(node, c.type);
  cx.options.observer?.converted(node, type);
  return wrapTo(c.value, type);
}

/** The IR name of the function a function-reference initializer names (its signature checked). */
export function functionConstant(cx: LowerContext, node: ts.Expression, type: DType & { kind: 'function' }): string {
  const e = cx.entityOf(node);
  if (e?.kind !== 'function')
    cx.error(node, 'DSL2011', 'a function-reference initializer must name a top-level function');
  checkSignature(cx, node, e.signature, type.signature);
  return e.irName;
}

/** The length of `new TypedArray(N)`: a positive constant. */
export function arrayLength(cx: LowerContext, n: ts.NewExpression): number {
  if (n.arguments?.length !== 1)
    cx.error(n, 'DSL2004', 'a typed array needs exactly one argument: its constant length');
  const c = tryConstant(cx, n.arguments[0]);
  if (!c || c.value <= 0 || c.value > 0x10000000)
    cx.error(n.arguments[0], 'DSL2004', 'a typed array length must be a positive constant');
  return c.value;
}

/**
 * An untyped constant expression: numeric literals and untyped named constants (const N = 8, enum
 * members) combined by operators, e.g. `-1`, `N - 2`, `1 << SHIFT`. Like a literal, it takes the type
 * of the other operand (Go's untyped constants); a conversion such as u32(5) makes it typed.
 */
export function isLiteral(cx: LowerContext, node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node)) return isLiteral(cx, node.expression);
  if (node.kind === K.NumericLiteral) return true;
  if (ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) {
    const e = cx.entityOf(node);
    return e?.kind === 'constant' && e.untyped === true;
  }
  if (ts.isPrefixUnaryExpression(node)
    && (node.operator === K.MinusToken || node.operator === K.PlusToken || node.operator === K.TildeToken))
    return isLiteral(cx, node.operand);
  if (ts.isBinaryExpression(node) && ARITHMETIC[node.operatorToken.kind] !== undefined) {
    // down the left spine without recursion (a chain may be thousands of operands long)
    let n: ts.Expression = node;
    for (; ts.isBinaryExpression(n) && ARITHMETIC[n.operatorToken.kind] !== undefined; n = n.left)
      if (!isLiteral(cx, n.right)) return false;
    return isLiteral(cx, n) && tryConstant(cx, node) !== undefined;
  }
  return false;
}
