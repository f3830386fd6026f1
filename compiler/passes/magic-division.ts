// Magic division: divu/remu/divs/rems by a constant that is not a power of two become a high-half
// multiply (mulhu/mulhs) by a "magic" reciprocal, shifts and adds (Granlund & Montgomery 1994; Hacker's
// Delight, 2nd ed., chapter 10). Requires: a verified Module where constants are visible (after fold and
// strength-reduction, which handles powers of two). Guarantees: the same values for every dividend
// (the divisor is a non-zero constant, so nothing traps before or after).
import * as ir from '../ir.ts';

const TWO32 = 1n << 32n;

/**
 * Unsigned: the smallest s with M = ceil(2^(32+s) / d) and M*d - 2^(32+s) <= 2^s; then for every
 * n < 2^32, floor(n / d) = floor(n * M / 2^(32+s)). M has 32 or 33 bits ("add": the 33rd bit is 1).
 */
export function unsignedMagic(d: number): { multiplier: number; shift: number; add: boolean } {
  const divisor = BigInt(d >>> 0);
  for (let s = 0n; s <= 32n; s++) {
    const power = 1n << (32n + s);
    const m = (power + divisor - 1n) / divisor;
    if (m * divisor - power <= 1n << s) {
      return m < TWO32 ? { multiplier: Number(m) | 0, shift: Number(s), add: false } : { multiplier: Number(m - TWO32) | 0, shift: Number(s), add: true };
    }
  }
  throw new Error(`magic-division: no multiplier for ${d >>> 0}`);
}

/**
 * Signed, for d >= 2: the smallest s with M = ceil(2^(32+s) / d) and e = M*d - 2^(32+s) <= 2^(s+1); then for
 * every -2^31 <= n < 2^31, floor(n * M / 2^(32+s)) + (n < 0 ? 1 : 0) = n / d rounded toward zero (the
 * error n*e / (d*2^(32+s)) stays below 1/d for n >= 0 and at most 1/d, on the other side, for n < 0).
 * M < 2^32; when M >= 2^31 the multiply is by M - 2^32 (a negative int32) and n is added back.
 */
export function signedMagic(d: number): { multiplier: number; shift: number; add: boolean } {
  const divisor = BigInt(d);
  for (let s = 0n; s <= 31n; s++) {
    const power = 1n << (32n + s);
    const m = (power + divisor - 1n) / divisor;
    if (m * divisor - power <= 1n << (s + 1n)) {
      if (m >= TWO32) break;
      return { multiplier: Number(m & 0xffffffffn) | 0, shift: Number(s), add: m >= 1n << 31n };
    }
  }
  throw new Error(`magic-division: no multiplier for ${d}`);
}

const isPowerOfTwo = (x: number): boolean => x !== 0 && (x & (x - 1)) === 0;

export function divideByMagic(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const value = ir.singleDefinitionConstants(f);   // registers defined once, by a const
    let next = f.vregCount;
    for (const b of f.blocks) {
      const out: ir.Instr[] = [];
      const constant = (v: number): number => { const r = next++; out.push({ op: 'const', dst: r, value: v | 0 }); return r; };
      const binary = (kind: ir.BinaryOp, a: number, c: number, dst = next++): number => { out.push({ op: 'binary', kind, dst, a, b: c }); return dst; };
      for (const i of b.instrs) {
        const k = i.op === 'binary' ? value.get(i.b) : undefined;
        if (i.op !== 'binary' || k === undefined) { out.push(i); continue; }
        const unsigned = (i.kind === 'divu' || i.kind === 'remu') && (k >>> 0) > 1 && !isPowerOfTwo(k);
        const signed = (i.kind === 'divs' || i.kind === 'rems') && k !== (1 << 31) && Math.abs(k) > 1 && !isPowerOfTwo(Math.abs(k));
        if (!unsigned && !signed) { out.push(i); continue; }
        const wantsQuotient = i.kind === 'divu' || i.kind === 'divs';
        let quotient: number;
        if (unsigned) {
          const magic = unsignedMagic(k);
          const high = binary('mulhu', i.a, constant(magic.multiplier));
          if (!magic.add) quotient = magic.shift === 0 ? high : binary('shru', high, constant(magic.shift));
          else {
            // floor((n + t) / 2^s) without overflowing 32 bits: ((n - t) >>> 1) + t, then >>> (s - 1)
            const half = binary('shru', binary('sub', i.a, high), constant(1));
            const sum = binary('add', half, high);
            quotient = magic.shift === 1 ? sum : binary('shru', sum, constant(magic.shift - 1));
          }
        } else {
          const magic = signedMagic(Math.abs(k));
          let high = binary('mulhs', i.a, constant(magic.multiplier));
          if (magic.add) high = binary('add', high, i.a);
          const shifted = magic.shift === 0 ? high : binary('shrs', high, constant(magic.shift));
          // + 1 for a negative dividend: rounds toward zero
          const positive = binary('add', shifted, binary('shru', i.a, constant(31)));
          quotient = k < 0 ? (() => { const r = next++; out.push({ op: 'unary', kind: 'neg', dst: r, a: positive }); return r; })() : positive;
        }
        const last = out[out.length - 1];
        if (wantsQuotient && (last.op === 'binary' || last.op === 'unary') && last.dst === quotient) last.dst = i.dst; // quotient is always fresh
        else if (wantsQuotient) out.push({ op: 'copy', dst: i.dst, src: quotient });
        else binary('sub', i.a, binary('mul', quotient, i.b), i.dst); // n - q * d
      }
      b.instrs = out;
    }
    f.vregCount = next;
  }
  return m;
}
