// Dead code elimination: removes instructions without side effects whose result no instruction or
// terminator reads; removes functions that nothing can reach from the entry and the trap handler.
// Requires: a verified Module. Guarantees: the same observable behaviour (loads, calls, stores,
// intrinsics and divisions that may trap are kept).
import * as ir from '../ir.ts';

/** Removable once unread: pure and cannot trap, or a division by a known non-zero constant (its only trap). */
function removable(i: ir.Instr, constants: Map<number, number>): boolean {
  if (ir.isSpeculatable(i)) return true;
  if (i.op !== 'binary' || ir.OPS[i.kind].cost !== 'divide') return false;
  const divisor = constants.get(i.b);
  return divisor !== undefined && divisor !== 0;
}

export function eliminateDeadCode(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    // Registers defined exactly once by a const (safe to treat as known divisors).
    const constants = ir.singleDefinitionConstants(f);
    let changed = true;
    while (changed) {
      changed = false;
      const used = new Set<number>();
      for (const b of f.blocks) {
        for (const i of b.instrs) for (const u of ir.usedRegisters(i)) used.add(u);
        for (const u of ir.terminatorUses(b.term)) used.add(u);
      }
      for (const b of f.blocks) {
        const before = b.instrs.length;
        b.instrs = b.instrs.filter(i => {
          const d = ir.definedRegister(i);
          return !(d !== null && !used.has(d) && removable(i, constants));
        });
        if (b.instrs.length !== before) changed = true;
      }
    }
  }
  return m;
}

export function removeUnusedFunctions(m: ir.Module): ir.Module {
  const byName = new Map(m.functions.map(f => [f.name, f]));
  const live = new Set<string>();
  const work = [m.entry, m.trapHandler, ...(m.interruptEntries ?? []).map(e => e.handler)];
  for (const d of m.data) for (const r of d.relocations) if (r.kind === 'function') work.push(r.symbol);
  while (work.length) {
    const name = work.pop()!;
    if (live.has(name)) continue;
    live.add(name);
    const f = byName.get(name);
    if (!f) continue;
    for (const b of f.blocks) for (const i of b.instrs) {
      if (i.op === 'call') work.push(i.func);
      if (i.op === 'functionAddress') work.push(i.func);
    }
  }
  m.functions = m.functions.filter(f => live.has(f.name));
  return m;
}
