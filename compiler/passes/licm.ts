// Loop-invariant code motion: in each natural loop (found from the back edges of a depth-first walk),
// a pure instruction that cannot trap, whose operands are defined nowhere in the loop and whose result
// register is defined nowhere else in the function, moves to a preheader created before the loop; a
// preheader belongs to the loops around its loop, which are hoisted later.
// Requires: a verified Module. Guarantees: the same values (the moved instruction is pure, so running it
// once before the loop, even when the loop body would not have run, changes nothing observable).
import * as ir from '../ir.ts';

/** Pure and cannot trap, but not a copy: licm leaves copies in the loop, as it always has (free once allocated). */
const hoistable = (i: ir.Instr): boolean => ir.isSpeculatable(i) && i.op !== 'copy';

interface Loop { header: number; body: Set<number> }

/**
 * Natural loops: for each back edge t -> h (h an ancestor of t in the DFS), the blocks reaching t without
 * h. Only blocks the entry reaches count: an unreachable block that jumps into a loop is not part of it
 * (hoisting its instructions would use values defined in other unreachable blocks; fuzz seed 219355).
 */
export function naturalLoops(f: ir.Function): Loop[] {
  const state = new Uint8Array(f.blocks.length); // 0 new, 1 on the stack, 2 done
  const backEdges: [number, number][] = [];
  const stack: [number, number][] = [[0, 0]];
  state[0] = 1;
  while (stack.length) {
    const top = stack[stack.length - 1];
    const succ = ir.successors(f.blocks[top[0]].term);
    if (top[1] < succ.length) {
      const s = succ[top[1]++];
      if (state[s] === 1) backEdges.push([top[0], s]);
      else if (state[s] === 0) { state[s] = 1; stack.push([s, 0]); }
    } else { state[top[0]] = 2; stack.pop(); }
  }
  const predecessors: number[][] = f.blocks.map(() => []);
  for (const b of f.blocks) for (const s of ir.successors(b.term)) predecessors[s].push(b.id);
  const loops = new Map<number, Set<number>>();
  for (const [tail, header] of backEdges) {
    const body = loops.get(header) ?? new Set([header]);
    const work = [tail];
    while (work.length) {
      const n = work.pop()!;
      if (body.has(n)) continue;
      body.add(n);
      for (const p of predecessors[n]) if (state[p] !== 0) work.push(p);
    }
    loops.set(header, body);
  }
  return [...loops].map(([header, body]) => ({ header, body }));
}

export function hoistLoopInvariants(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const defCount = new Map<number, number>();
    for (const b of f.blocks) for (const i of b.instrs) {
      const d = ir.definedRegister(i);
      if (d !== null) defCount.set(d, (defCount.get(d) ?? 0) + 1);
    }
    const loops = naturalLoops(f);
    for (const loop of loops) {
      if (loop.header === 0) continue; // the entry has no room for a preheader before it
      const definedInLoop = new Set<number>();
      for (const id of loop.body) for (const i of f.blocks[id].instrs) { const d = ir.definedRegister(i); if (d !== null) definedInLoop.add(d); }
      const moved: ir.Instr[] = [];
      let changed = true;
      while (changed) {
        changed = false;
        for (const id of [...loop.body].sort((a, b) => a - b)) {
          const b = f.blocks[id];
          b.instrs = b.instrs.filter(i => {
            const d = ir.definedRegister(i);
            if (d === null || !hoistable(i) || defCount.get(d) !== 1 || d < f.params) return true;
            if (ir.usedRegisters(i).some(u => definedInLoop.has(u))) return true;
            moved.push(i);
            definedInLoop.delete(d);
            changed = true;
            return false;
          });
        }
      }
      if (!moved.length) continue;
      // The preheader: every edge into the header from outside the loop now goes through it.
      const preheader: ir.Block = { id: f.blocks.length, instrs: moved, term: { op: 'jump', target: loop.header }, loc: f.blocks[loop.header].loc };
      for (const b of f.blocks) {
        if (loop.body.has(b.id)) continue;
        const t = b.term;
        if (t.op === 'jump' && t.target === loop.header) t.target = preheader.id;
        if (t.op === 'branch') { if (t.ifTrue === loop.header) t.ifTrue = preheader.id; if (t.ifFalse === loop.header) t.ifFalse = preheader.id; }
      }
      f.blocks.push(preheader);
      // It lies in every loop around this one (inner loops come first): their hoisting must see what it
      // defines (fuzz: an outer invariant reading an inner one was hoisted above it, test/ir/licm-nested.ir).
      for (const outer of loops) if (outer !== loop && outer.body.has(loop.header)) outer.body.add(preheader.id);
    }
  }
  return m;
}
