// Constant folding and propagation within each block.
// Requires: a verified Module. Guarantees: binary/unary ops on known constants become `const`, an add or
// sub of a constant to a register the block computed as x plus a constant (x not redefined since) adds
// the sum of the constants to x itself (`(row - col + 8) - 1` is `t + 7`: one operation; the inner one
// is dead when nothing else reads it; a sum of 0 is a copy of x), a select
// on a known condition or between one register twice becomes a copy (or const), branches on known
// conditions become jumps; semantics are unchanged (division by zero is never folded,
// so it still traps at run time).
import * as ir from '../ir.ts';

export function evaluateBinary(kind: ir.BinaryOp, a: number, b: number): number | undefined {
  switch (kind) {
    case 'add': return (a + b) | 0;
    case 'sub': return (a - b) | 0;
    case 'mul': return Math.imul(a, b);
    case 'mulhs': return ir.mulHighSigned(a, b);
    case 'mulhu': return ir.mulHighUnsigned(a, b);
    case 'divs': return b === 0 ? undefined : b === -1 ? -a | 0 : (a / b) | 0;
    case 'rems': return b === 0 ? undefined : b === -1 ? 0 : (a % b) | 0;
    case 'divu': return b === 0 ? undefined : ((a >>> 0) / (b >>> 0)) | 0;
    case 'remu': return b === 0 ? undefined : ((a >>> 0) % (b >>> 0)) | 0;
    case 'and': return a & b;
    case 'or': return a | b;
    case 'xor': return a ^ b;
    case 'shl': return a << b;
    case 'shrs': return a >> b;
    case 'shru': return (a >>> b) | 0;
    case 'eq': return +(a === b);
    case 'ne': return +(a !== b);
    case 'lts': return +(a < b);
    case 'les': return +(a <= b);
    case 'gts': return +(a > b);
    case 'ges': return +(a >= b);
    case 'ltu': return +((a >>> 0) < (b >>> 0));
    case 'leu': return +((a >>> 0) <= (b >>> 0));
    case 'gtu': return +((a >>> 0) > (b >>> 0));
    case 'geu': return +((a >>> 0) >= (b >>> 0));
  }
}

export function foldConstants(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const single = ir.singleDefinitionConstants(f);
    for (const b of f.blocks) {
      const known = new Map<number, number>();
      const constantOf = (v: ir.VReg): number | undefined => known.get(v) ?? single.get(v);
      // registers defined in this block as another register plus a constant, not redefined since
      const offsets = new Map<ir.VReg, { base: ir.VReg; k: number }>();
      const offsetOf = (i: ir.Instr): { base: ir.VReg; k: number } | undefined => {
        if (i.op !== 'binary' || (i.kind !== 'add' && i.kind !== 'sub')) return undefined;
        const ka = constantOf(i.a), kb = constantOf(i.b);
        if (kb !== undefined && ka === undefined) return { base: i.a, k: i.kind === 'add' ? kb : -kb | 0 };
        if (ka !== undefined && kb === undefined && i.kind === 'add') return { base: i.b, k: ka };
        return undefined;
      };
      const instrs: ir.Instr[] = [];
      for (const i of b.instrs) {
        let out: ir.Instr = i;
        // (x + c1) + c2 and the like: x + (c1 + c2), one operation; the inner one dies if nothing else reads it
        const offset = offsetOf(i);
        const inner = offset && offsets.get(offset.base);
        if (offset && inner && i.op === "binary" && !(known.has(i.a) && known.has(i.b))) {
          const k = (inner.k + offset.k) | 0;
          if (k === 0) out = { op: 'copy', dst: i.dst, src: inner.base };
          else {
            const c = f.vregCount++;
            instrs.push({ op: 'const', dst: c, value: k });
            known.set(c, k);
            out = { op: 'binary', kind: 'add', dst: i.dst, a: inner.base, b: c };
          }
        }
        const d0 = ir.definedRegister(out);
        if (d0 !== null) {
          for (const [r, o] of offsets) if (r === d0 || o.base === d0) offsets.delete(r);
          const o = offsetOf(out);
          if (o && o.base !== d0) offsets.set(d0, o);
        }
        instrs.push(foldOne(out));
      }
      b.instrs = instrs;
      function foldOne(i: ir.Instr): ir.Instr {
        let out: ir.Instr = i;
        if (i.op === 'copy' && known.has(i.src)) out = { op: 'const', dst: i.dst, value: known.get(i.src)! };
        else if (i.op === 'binary' && known.has(i.a) && known.has(i.b)) {
          const value = evaluateBinary(i.kind, known.get(i.a)!, known.get(i.b)!);
          if (value !== undefined) out = { op: 'const', dst: i.dst, value };
        } else if (i.op === 'unary' && known.has(i.a)) {
          const a = known.get(i.a)!;
          out = { op: 'const', dst: i.dst, value: i.kind === 'neg' ? -a | 0 : ~a };
        } else if (i.op === 'select') {
          const chosen = known.has(i.cond) ? (known.get(i.cond) !== 0 ? i.ifTrue : i.ifFalse) : i.ifTrue === i.ifFalse ? i.ifTrue : undefined;
          if (chosen !== undefined) out = known.has(chosen) ? { op: 'const', dst: i.dst, value: known.get(chosen)! } : { op: 'copy', dst: i.dst, src: chosen };
          else if (known.has(i.ifTrue) && known.get(i.ifTrue) === known.get(i.ifFalse)) out = { op: 'const', dst: i.dst, value: known.get(i.ifTrue)! };
        }
        const d = ir.definedRegister(out);
        if (d !== null) { if (out.op === 'const') known.set(d, out.value); else known.delete(d); }
        return out;
      }
      if (b.term.op === 'branch' && known.has(b.term.cond)) {
        b.term = { op: 'jump', target: known.get(b.term.cond) !== 0 ? b.term.ifTrue : b.term.ifFalse };
      }
    }
  }
  return m;
}
