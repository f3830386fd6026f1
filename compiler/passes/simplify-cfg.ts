// CFG simplification: jumps through empty blocks are threaded, a block with a single predecessor that
// jumps to it is merged into it, unreachable blocks are removed and the rest renumbered.
// Requires: a verified Module. Guarantees: the same behaviour with no unreachable or empty jump-only blocks
// (except the entry), block ids equal to their index.
import * as ir from '../ir.ts';

export function simplifyCfg(m: ir.Module): ir.Module {
  for (const f of m.functions) simplifyFunction(f);
  return m;
}

function retarget(t: ir.Terminator, map: (id: number) => number): ir.Terminator {
  if (t.op === 'jump') return { op: 'jump', target: map(t.target) };
  if (t.op === 'branch') {
    const ifTrue = map(t.ifTrue), ifFalse = map(t.ifFalse);
    return ifTrue === ifFalse ? { op: 'jump', target: ifTrue } : { ...t, ifTrue, ifFalse };
  }
  return t;
}

export function simplifyFunction(f: ir.Function): void {
  // 1. Thread jumps: a block that is empty and just jumps elsewhere is skipped by its predecessors.
  const forward = (id: number): number => {
    const seen = new Set<number>();
    while (!seen.has(id)) {
      seen.add(id);
      const b = f.blocks[id];
      if (b.instrs.length || b.term.op !== 'jump' || id === 0) break;
      id = b.term.target;
    }
    return id;
  };
  for (const b of f.blocks) b.term = retarget(b.term, forward);

  // 2. Merge a block into its predecessor when that predecessor is its only one and jumps to it.
  let changed = true;
  while (changed) {
    changed = false;
    const predecessors = countPredecessors(f);
    for (const b of f.blocks) {
      if (b.term.op !== 'jump') continue;
      const t = b.term.target;
      if (t === b.id || t === 0 || predecessors[t] !== 1) continue;
      const next = f.blocks[t];
      b.instrs.push(...next.instrs);
      b.term = next.term;
      next.instrs = [];
      next.term = { op: 'unreachable' };
      predecessors[t] = 0;
      changed = true;
    }
  }

  // 3. Drop unreachable blocks; renumber.
  const reachable = new Set<number>([0]);
  const work = [0];
  while (work.length) for (const s of ir.successors(f.blocks[work.pop()!].term)) if (!reachable.has(s)) { reachable.add(s); work.push(s); }
  const kept = f.blocks.filter(b => reachable.has(b.id));
  const renumber = new Map(kept.map((b, i) => [b.id, i]));
  for (const b of kept) { b.term = retarget(b.term, id => renumber.get(id)!); b.id = renumber.get(b.id)!; }
  f.blocks = kept;
}

function countPredecessors(f: ir.Function): number[] {
  const counts = new Array(f.blocks.length).fill(0);
  for (const b of f.blocks) for (const s of new Set(ir.successors(b.term))) counts[s]++;
  return counts;
}
