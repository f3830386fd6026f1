// Copy propagation within each block: after `d = copy s`, later reads of d read s instead, until d or s
// is redefined; and across the function when both d and s have a single definition (then s already
// holds its only value wherever d is read, e.g. the duplicates cse leaves among hoisted invariants).
// Requires: a verified Module. Guarantees: the same values flow; the copies themselves stay (dce removes
// those no longer read); a debug variable held in d is held in s. Non-SSA safe: the block-local facts die
// at redefinitions and block boundaries.
import * as ir from '../ir.ts';

export function propagateCopies(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    for (const b of f.blocks) {
      const copyOf = new Map<number, number>(); // d -> s
      const forget = (r: number) => {
        copyOf.delete(r);
        for (const [d, s] of copyOf) if (s === r) copyOf.delete(d);
      };
      const read = (r: number) => copyOf.get(r) ?? r;
      b.instrs = b.instrs.map(i => {
        const out = ir.mapUses(i, read);
        const d = ir.definedRegister(out);
        if (d !== null) {
          forget(d);
          if (out.op === 'copy' && out.src !== d) copyOf.set(d, out.src);
        }
        return out;
      });
      b.term = ir.mapTerminatorUses(b.term, read);
    }
    propagateSingleDefinitionCopies(f);
  }
  return m;
}

/** d = copy s with d and s each defined once (a parameter counts its arrival): every read of d reads s. */
function propagateSingleDefinitionCopies(f: ir.Function): void {
  const defs = new Int32Array(f.vregCount);
  for (let p = 0; p < f.params; p++) defs[p] = 1;
  for (const b of f.blocks) for (const i of b.instrs) { const d = ir.definedRegister(i); if (d !== null) defs[d]++; }
  const alias = new Map<number, number>();
  for (const b of f.blocks) for (const i of b.instrs) {
    if (i.op === 'copy' && i.src !== i.dst && defs[i.dst] === 1 && defs[i.src] === 1) alias.set(i.dst, i.src);
  }
  if (alias.size === 0) return;
  const read = (r: number) => { let x = r; for (let n = 0; alias.has(x) && n < alias.size; n++) x = alias.get(x)!; return x; };
  for (const b of f.blocks) {
    b.instrs = b.instrs.map(i => ir.mapUses(i, read));
    b.term = ir.mapTerminatorUses(b.term, read);
  }
  for (const v of f.variables ?? []) v.vreg = read(v.vreg); // the debugger finds d's value in s
}
