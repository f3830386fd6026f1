// Block order: the blocks of each function in reverse postorder of a depth-first walk from the entry,
// then the cold blocks (those ending `unreachable`: a trap's block) last. The walk visits a branch's
// ifFalse before its ifTrue, so ifTrue comes right after the branch: the body of an `if`, the taken
// side of a bounds check (whose trap, ifFalse, goes last), an inlined callee's blocks right after its
// call site (inline.ts appends them at the end of the caller). Unreachable blocks keep their relative
// order after the reachable ones, before the cold ones. Run before loop-layout, which then makes each
// loop contiguous again. Requires: a verified Module whose block ids equal indices. Guarantees: the same
// control flow (blocks renumbered, every target renamed; block 0 stays the entry); more branches fall
// through, so fewer `jmp`s are emitted (compiler/x86/lower.ts lowerTerminator).
import * as ir from '../ir.ts';

/** Successors in visiting order: the one to lay out right after the block is visited last. */
function visitingOrder(t: ir.Terminator): number[] {
  if (t.op === 'jump') return [t.target];
  if (t.op === 'branch') return [t.ifFalse, t.ifTrue];
  return [];
}

const cold = (b: ir.Block) => b.term.op === 'unreachable';

export function orderBlocks(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const reached = ir.reversePostorder(f, visitingOrder);
    const inOrder = new Set(reached);
    const rest = f.blocks.map(b => b.id).filter(id => !inOrder.has(id));
    const all = [...reached, ...rest];
    const order = [
      ...all.filter(id => id === 0 || !cold(f.blocks[id])), ...all.filter(id => id !== 0 && cold(f.blocks[id])),
    ];
    ir.reorderBlocks(f, order);
  }
  return m;
}
