// Loop layout: the blocks of each loop are made contiguous in the block order, the blocks laid out
// between a loop's header and its latch that are not part of the loop (its exits, the traps of its
// bounds checks) moved after the latch. Requires: a verified Module whose block ids equal indices.
// Guarantees: the same control flow (blocks are renumbered, every target renamed; block 0 stays the
// entry); a loop's values then live over a shorter stretch of the order, which is what the register
// allocator's single intervals see (compiler/x86/regalloc.ts), and cold code leaves the loop.
import * as ir from '../ir.ts';

export function layoutLoops(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    let order = f.blocks.map(b => b.id);
    const predecessors: number[][] = f.blocks.map(() => []);
    for (const b of f.blocks) for (const s of ir.successors(b.term)) predecessors[s].push(b.id);
    // back edges t -> h (h at or before t in the original order), the shortest spans first (inner loops)
    const backEdges: [number, number][] = [];
    for (const b of f.blocks) for (const s of ir.successors(b.term)) if (s <= b.id) backEdges.push([b.id, s]);
    backEdges.sort((x, y) => (x[0] - x[1]) - (y[0] - y[1]));
    for (const [latch, header] of backEdges) {
      if (header === 0 && latch === 0) continue;
      // the natural loop: the header and every block that reaches the latch without passing the header
      const body = new Set([header, latch]);
      const work = [latch];
      while (work.length) {
        const b = work.pop()!;
        if (b === header) continue;
        for (const p of predecessors[b]) if (!body.has(p)) { body.add(p); work.push(p); }
      }
      const from = order.indexOf(header), to = order.indexOf(latch);
      if (from < 0 || to < 0 || from > to) continue;
      const span = order.slice(from, to + 1);
      const inside = span.filter(b => body.has(b)), outside = span.filter(b => !body.has(b));
      if (outside.length === 0) continue;
      order = [...order.slice(0, from), ...inside, ...outside, ...order.slice(to + 1)];
    }
    ir.reorderBlocks(f, order);
  }
  return m;
}
