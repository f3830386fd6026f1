// Common subexpression elimination within each block (local value numbering): a pure operation — a
// constant, a binary/unary operation, a select, the address of a symbol, function or slot — computed again from
// the same values becomes a copy of the first result. Operands are compared by value number: registers
// holding the same constant, or copies of one another, count as the same. Requires: a verified Module.
// Guarantees: the same values; a division that may trap is only reused (the first already trapped or
// did not). Non-SSA safe: facts about a register die when it is redefined, and never cross blocks.
import * as ir from '../ir.ts';

export function eliminateCommonSubexpressions(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    for (const b of f.blocks) {
      const canon = new Map<number, number>();                 // register -> register first holding its value
      const available = new Map<string, number>();            // expression key -> register holding it
      const value = (r: number) => canon.get(r) ?? r;
      // a pure op's value: its opcode, its other operands, its registers' value numbers (copies are
      // followed through `canon` instead)
      const keyOf = (i: ir.Instr): string | null => {
        if (!ir.propertiesOf(i).pure || i.op === 'copy') return null;
        const immediates = i.op === 'binary' || i.op === 'unary' ? [] : ir.immediatesOf(i); // the kind is the opcode
        return [ir.opcodeOf(i), ...immediates, ...ir.usedRegisters(i).map(value)].join(' ');
      };
      // Reverse indexes, so a redefinition costs what it kills, not the block's size (a 5,000-term
      // expression is one block): the registers whose canon is c, the keys held by d, the keys naming a
      // token. Entries may be stale (the fact died another way); each is checked before it acts.
      const copiesOf = new Map<number, number[]>(), heldBy = new Map<number, string[]>();
      const naming = new Map<string, string[]>();
      const index = <K, V>(map: Map<K, V[]>, k: K, v: V) => {
        const l = map.get(k);
        if (l) l.push(v); else map.set(k, [v]);
      };
      const kill = (d: number) => {
        canon.delete(d);
        for (const r of copiesOf.get(d) ?? []) if (canon.get(r) === d) canon.delete(r);
        copiesOf.delete(d);
        for (const k of heldBy.get(d) ?? []) if (available.get(k) === d) available.delete(k);
        heldBy.delete(d);
        for (const k of naming.get(String(d)) ?? []) available.delete(k);
        naming.delete(String(d));
      };
      const makeAvailable = (key: string, d: number) => {
        available.set(key, d);
        index(heldBy, d, key);
        for (const token of key.split(' ').slice(1)) index(naming, token, key);
      };
      b.instrs = b.instrs.map(i => {
        const key = keyOf(i);
        const d = ir.definedRegister(i);
        const hit = key !== null ? available.get(key) : undefined;
        const out: ir.Instr = hit !== undefined && d !== null && hit !== d ? { op: 'copy', dst: d, src: hit } : i;
        if (d !== null) {
          kill(d);
          if (out.op === 'copy' && value(out.src) !== d) {
            canon.set(d, value(out.src));
            index(copiesOf, value(out.src), d);
          }
          else if (key !== null && !ir.usedRegisters(i).includes(d)) makeAvailable(key, d);
        }
        return out;
      });
    }
  }
  return m;
}
