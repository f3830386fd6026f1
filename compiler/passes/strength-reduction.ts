// Strength reduction: multiplication by a power of two becomes a shift, unsigned division and remainder
// by a power of two become a shift and a mask, signed ones a biased arithmetic shift, multiplication by 0/1 and
// additions of 0 become constants and copies. Requires: a verified Module where constants are visible (after fold).
// Guarantees: the same values (signed division by 2^k adds a bias to negative dividends, so it still rounds toward
// zero).
import * as ir from '../ir.ts';

const log2 = (x: number): number => (x > 0 && (x & (x - 1)) === 0 ? 31 - Math.clz32(x) : -1);

export function reduceStrength(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const value = ir.singleDefinitionConstants(f);   // registers defined once, by a const
    let next = f.vregCount;
    const constant = (v: number, out: ir.Instr[]): number => { const r = next++; out.push({ op: 'const', dst: r, value: v }); return r; };
    for (const b of f.blocks) {
      const out: ir.Instr[] = [];
      for (const i of b.instrs) {
        if (i.op !== 'binary') { out.push(i); continue; }
        const kb = value.get(i.b), ka = value.get(i.a);
        const shift = kb !== undefined ? log2(kb >>> 0) : -1;
        if (i.kind === 'mul' && kb === 0) out.push({ op: 'const', dst: i.dst, value: 0 });
        else if (i.kind === 'mul' && kb === 1) out.push({ op: 'copy', dst: i.dst, src: i.a });
        else if (i.kind === 'mul' && ka === 1) out.push({ op: 'copy', dst: i.dst, src: i.b });
        else if (i.kind === 'mul' && shift > 0) out.push({ ...i, kind: 'shl', b: constant(shift, out) });
        else if ((i.kind === 'add' || i.kind === 'sub' || i.kind === 'or' || i.kind === 'xor' || i.kind === 'shl' || i.kind === 'shrs' || i.kind === 'shru') && kb === 0) out.push({ op: 'copy', dst: i.dst, src: i.a });
        else if (i.kind === 'divu' && shift >= 0) out.push(shift === 0 ? { op: 'copy', dst: i.dst, src: i.a } : { ...i, kind: 'shru', b: constant(shift, out) });
        else if (i.kind === 'remu' && shift >= 0) out.push({ ...i, kind: 'and', b: constant(((kb! >>> 0) - 1) | 0, out) });
        else if ((i.kind === 'divs' || i.kind === 'rems') && kb !== undefined && kb > 1 && shift > 0 && shift < 31) {
          // Signed division by 2^k rounds toward zero: add 2^k - 1 to a negative dividend before the
          // arithmetic shift. bias = (x >> 31) >>> (32 - k) is 2^k - 1 for x < 0 and 0 otherwise.
          const sign = next++, bias = next++, biased = next++, quotient = i.kind === 'divs' ? i.dst : next++;
          out.push({ op: 'binary', kind: 'shrs', dst: sign, a: i.a, b: constant(31, out) });
          out.push({ op: 'binary', kind: 'shru', dst: bias, a: sign, b: constant(32 - shift, out) });
          out.push({ op: 'binary', kind: 'add', dst: biased, a: i.a, b: bias });
          out.push({ op: 'binary', kind: 'shrs', dst: quotient, a: biased, b: constant(shift, out) });
          if (i.kind === 'rems') {
            // x rem 2^k = x - (x / 2^k) * 2^k
            const product = next++;
            out.push({ op: 'binary', kind: 'shl', dst: product, a: quotient, b: constant(shift, out) });
            out.push({ op: 'binary', kind: 'sub', dst: i.dst, a: i.a, b: product });
          }
        }
        else out.push(i);
      }
      b.instrs = out;
    }
    f.vregCount = next;
  }
  return m;
}
