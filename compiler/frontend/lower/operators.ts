// Operators: assignments (plain and compound), && and || with JavaScript's values, arithmetic chains
// (`a + b - ... + z`, lowered bottom-up without host recursion), comparisons (an i32 against a u32
// compares mathematical values). Requires: operands lowered left to right (evaluation-order.ts).
// Guarantees: the DSL's integer semantics (dsl/README.md): 32-bit wrapping arithmetic, a result type
// from the operand types (types.ts: arithmeticResult), narrowing only where the place wraps or by an
// explicit conversion (DSL2003).
import { ts } from 'ts-morph';

const K = ts.SyntaxKind;

export type Arith = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>' | '>>>';

/** The arithmetic operators by token. */
export const ARITHMETIC: Record<number, Arith> = {
  [K.PlusToken]: '+', [K.MinusToken]: '-', [K.AsteriskToken]: '*', [K.SlashToken]: '/', [K.PercentToken]: '%',
  [K.AmpersandToken]: '&', [K.BarToken]: '|', [K.CaretToken]: '^',
  [K.LessThanLessThanToken]: '<<', [K.GreaterThanGreaterThanToken]: '>>',
  [K.GreaterThanGreaterThanGreaterThanToken]: '>>>',
};

/** The compound assignments by token: `k op= e` is `k = k op e`. */
export const COMPOUND: Record<number, Arith> = {
  [K.PlusEqualsToken]: '+', [K.MinusEqualsToken]: '-', [K.AsteriskEqualsToken]: '*', [K.SlashEqualsToken]: '/',
  [K.PercentEqualsToken]: '%', [K.AmpersandEqualsToken]: '&', [K.BarEqualsToken]: '|', [K.CaretEqualsToken]: '^',
  [K.LessThanLessThanEqualsToken]: '<<', [K.GreaterThanGreaterThanEqualsToken]: '>>',
  [K.GreaterThanGreaterThanGreaterThanEqualsToken]: '>>>',
};
