// Copy fusion: a value computed only to be copied into another register is computed there directly:
// `t = op ...; d = copy t`, adjacent, with t defined once and read nowhere else but later in the same
// block while d still holds it (those reads then read d), becomes `d = op ...` (the loop update
// `t = add i, 1; i = copy t` becomes `i = add i, 1`: one `add` on i's register). Requires:
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
      b.instrs.forEach((i, k) => {
        const previous = out[out.length - 1];
        if (i.op === 'copy' && previous !== undefined && i.src !== i.dst && i.src >= f.params && defs[i.src] === 1 &&
            ir.definedRegister(previous) === i.src && readsFollowCopy(b, k, i.src, i.dst, uses[i.src] - 1)) {
          out[out.length - 1] = { ...previous, dst: i.dst } as ir.Instr;
          renameAfter(b, k, i.src, i.dst);
          uses[i.dst] += uses[i.src] - 1; // t's other reads are d's now (a later fusion counts them)
          uses[i.src] = 0;
          return;
        }
        out.push(i);
      });
      b.instrs = out;
    }
  }
  return m;
}

/**
 * Whether t's `count` reads other than the copy `d = copy t` at index k all come after it in block b,
 * where d still holds t's value (d is not redefined before the last of them).
 */
function readsFollowCopy(b: ir.Block, k: number, t: ir.VReg, d: ir.VReg, count: number): boolean {
  let seen = 0, redefined = false;
  for (const i of b.instrs.slice(k + 1)) {
    const reads = ir.usedRegisters(i).filter(u => u === t).length;
    if (reads > 0 && redefined) return false;
    seen += reads;
    if (ir.definedRegister(i) === d) redefined = true;
  }
  const last = ir.terminatorUses(b.term).filter(u => u === t).length;
  if (last > 0 && redefined) return false;
  return seen + last === count;
}

/** Renames t to d in the reads of block b after index k (the copy, which the caller drops). */
function renameAfter(b: ir.Block, k: number, t: ir.VReg, d: ir.VReg): void {
  const rename = (u: ir.VReg) => (u === t ? d : u);
  for (let j = k + 1; j < b.instrs.length; j++) b.instrs[j] = ir.mapUses(b.instrs[j], rename);
  b.term = ir.mapTerminatorUses(b.term, rename);
}
