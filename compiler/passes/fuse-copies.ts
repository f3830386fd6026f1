// Copy fusion: a value computed only to be copied into another register is computed there directly:
// `t = op ...; d = copy t`, adjacent, with t defined and read nowhere else, becomes `d = op ...` (the
// loop update `t = add i, 1; i = copy t` becomes `i = add i, 1`: one `add` on i's register). Requires:
// a verified Module (non-SSA: d may have other definitions; op may read d, which it does before writing).
// Guarantees: the same values; t disappears.
import * as ir from '../ir.ts';

export function fuseCopies(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const defs = new Int32Array(f.vregCount), uses = new Int32Array(f.vregCount);
    for (let p = 0; p < f.params; p++) defs[p]++;
    for (const b of f.blocks) {
      for (const i of b.instrs) {
        const d = ir.definedRegister(i);
        if (d !== null) defs[d]++;
        for (const u of ir.usedRegisters(i)) uses[u]++;
      }
      for (const u of ir.terminatorUses(b.term)) uses[u]++;
    }
    for (const b of f.blocks) {
      const out: ir.Instr[] = [];
      for (const i of b.instrs) {
        const previous = out[out.length - 1];
        if (i.op === 'copy' && previous !== undefined && i.src !== i.dst && defs[i.src] === 1 && uses[i.src] === 1 &&
            ir.definedRegister(previous) === i.src) {
          out[out.length - 1] = { ...previous, dst: i.dst } as ir.Instr;
          continue;
        }
        out.push(i);
      }
      b.instrs = out;
    }
  }
  return m;
}
