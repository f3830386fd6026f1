// Evaluation order of locals (JavaScript's: operands left to right). A local lives in one register, so
// reading it as an operand hands out that register; when a later operand of the same expression may
// assign that local (`x + x++`, `f(i, i = 3)`), the read takes a copy first. Requires: the locals a
// node may assign (computed here once per node, without host recursion). Guarantees: an operand's
// value is the local's value at the moment JavaScript would read it.
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import type { LowerContext, Entity } from './context.ts';

const K = ts.SyntaxKind;

/** The local a node assigns by name (`x = e`, `x += e`, `x++`, `--x`), or undefined. */
function assignedIdentifier(node: ts.Node): ts.Identifier | undefined {
  let target: ts.Expression | undefined;
  if (ts.isBinaryExpression(node)
    && node.operatorToken.kind >= K.FirstAssignment && node.operatorToken.kind <= K.LastAssignment) target = node.left;
  else if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node))
    && (node.operator === K.PlusPlusToken || node.operator === K.MinusMinusToken)) target = node.operand;
  while (target && ts.isParenthesizedExpression(target)) target = target.expression;
  return target && ts.isIdentifier(target) ? target : undefined;
}

/** The value of local `e` at this moment: its register, or a copy when a later operand may assign it. */
export function readLocal(cx: LowerContext, e: Entity & { kind: 'local' }): ir.VReg {
  if (!cx.writtenLater.has(e)) return e.reg;
  const copy = cx.fb.newReg();
  cx.fb.copy(copy, e.reg);
  return copy;
}

/** Runs `lowerOperand` while the locals that the `later` operands may assign are marked written later. */
export function withLaterWrites<T>(cx: LowerContext, later: readonly ts.Node[], lowerOperand: () => T): T {
  markLaterWrites(cx, later, 1);
  try {
    return lowerOperand();
  } finally {
    markLaterWrites(cx, later, -1);
  }
}

/** Adds (+1) or removes (-1) the locals the `later` operands may assign to writtenLater. */
export function markLaterWrites(cx: LowerContext, later: readonly ts.Node[], delta: 1 | -1): void {
  for (const node of later) {
    for (const e of localsWritten(cx, node) ?? []) {
      const n = (cx.writtenLater.get(e) ?? 0) + delta;
      if (n === 0) cx.writtenLater.delete(e); else cx.writtenLater.set(e, n);
    }
  }
}

/**
 * The locals an expression may assign (`=`, compound assignments, `++`, `--`; a call cannot assign
 * its caller's locals), or null. Post-order with an explicit stack and memoized per node, so deep
 * expressions cost linear time and no host recursion.
 */
function localsWritten(cx: LowerContext, root: ts.Node): ReadonlySet<Entity> | null {
  const memo = cx.localsWrittenMemo;
  const stack: { node: ts.Node; childrenDone: boolean }[] = [{ node: root, childrenDone: false }];
  while (stack.length) {
    const { node, childrenDone } = stack.pop()!;
    if (memo.has(node)) continue;
    if (!childrenDone) {
      stack.push({ node, childrenDone: true });
      node.forEachChild(child => { if (!memo.has(child)) stack.push({ node: child, childrenDone: false }); });
      continue;
    }
    const parts: ReadonlySet<Entity>[] = [];
    node.forEachChild(child => { const s = memo.get(child); if (s) parts.push(s); });
    const target = assignedIdentifier(node);
    const own = target ? cx.entityOf(target) : undefined;
    if (own?.kind === 'local') parts.push(new Set([own]));
    memo.set(node, parts.length === 0 ? null : parts.length === 1 ? parts[0] : new Set(parts.flatMap(p => [...p])));
  }
  return memo.get(root)!;
}
