// Tail duplication: a jump to a small block that ends in a branch or a return is replaced by a copy of
// that block (a loop's latch then tests the condition itself instead of jumping back to the header:
// one jump less per iteration; an early return does not jump to a shared return block). Requires: a
// verified Module. Guarantees: the same behaviour (running the copy is running the block); values that
// live only inside the copied block get fresh registers in the copy, so every register defined once
// stays defined once (constants stay immediates, a comparison read by one branch still fuses with it).
import * as ir from '../ir.ts';

/** Blocks of at most this many instructions are copied. */
const MAX_DUPLICATED_INSTRUCTIONS = 4;

export function duplicateTails(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const defs = new Int32Array(f.vregCount);
    for (let p = 0; p < f.params; p++) defs[p]++;
    for (const b of f.blocks) for (const i of b.instrs) { const d = ir.definedRegister(i); if (d !== null) defs[d]++; }
    // where each register is read: block ids
    const readIn: Set<number>[] = Array.from({ length: f.vregCount }, () => new Set());
    for (const b of f.blocks) {
      for (const i of b.instrs) for (const u of ir.usedRegisters(i)) readIn[u].add(b.id);
      for (const u of ir.terminatorUses(b.term)) readIn[u].add(b.id);
    }
    let next = f.vregCount;
    for (const b of f.blocks) {
      if (b.term.op !== 'jump') continue;
      const target = f.blocks[b.term.target];
      if (target.id === b.id || target.instrs.length > MAX_DUPLICATED_INSTRUCTIONS) continue;
      if (target.term.op !== 'branch' && target.term.op !== 'return') continue;
      if (target.instrs.some(i => ir.propertiesOf(i).cost === 'call')) continue; // calls, intrinsics, traps
      // registers defined once, inside the target, and read nowhere else are renamed in the copy;
      // any other register the target defines must not be a single definition we would duplicate
      // (and never read before their definition: that would read the previous pass through the block)
      const local = new Map<number, number>();
      const readBeforeDefinition = new Set<number>();
      let copyable = true;
      for (const i of target.instrs) {
        for (const u of ir.usedRegisters(i)) if (!local.has(u)) readBeforeDefinition.add(u);
        const d = ir.definedRegister(i);
        if (d === null) continue;
        const onlyHere = defs[d] === 1 && !readBeforeDefinition.has(d) && [...readIn[d]].every(id => id === target.id);
        if (onlyHere) local.set(d, -1);
        else if (defs[d] === 1) { copyable = false; break; }
      }
      if (!copyable) continue;
      for (const d of local.keys()) local.set(d, next++);
      const rename = (r: number) => local.get(r) ?? r;
      const copies = target.instrs.map(i => ir.mapDefs(ir.mapUses(i, rename), rename));
      b.instrs = [...b.instrs, ...copies];
      b.term = ir.mapTerminatorUses(target.term, rename);
    }
    f.vregCount = next;
  }
  return m;
}
