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
      const kill = (d: number) => {
        canon.delete(d);
        for (const [r, c] of canon) if (c === d) canon.delete(r);
        for (const [k, r] of available) if (r === d || k.split(' ').slice(1).includes(String(d))) available.delete(k);
      };
      b.instrs = b.instrs.map(i => {
        const key = keyOf(i);
        const d = ir.definedRegister(i);
        const hit = key !== null ? available.get(key) : undefined;
        const out: ir.Instr = hit !== undefined && d !== null && hit !== d ? { op: 'copy', dst: d, src: hit } : i;
        if (d !== null) {
          kill(d);
          if (out.op === 'copy' && value(out.src) !== d) canon.set(d, value(out.src));
          else if (key !== null && !ir.usedRegisters(i).includes(d)) available.set(key, d);
        }
        return out;
      });
    }
  }
  return m;
}
