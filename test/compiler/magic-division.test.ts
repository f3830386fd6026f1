// compiler/passes/magic-division.ts: division and remainder by constants become mulhu/mulhs, shifts and
// adds; the result equals the division for dividends at the edges and random ones, for many divisors.
// Expected values and the evaluation of the rewritten code both come from the BigInt model
// (test/harness/ir-model.ts), never from the compiler's own arithmetic.
import test from 'ava';
import type * as ir from '../../compiler/ir.ts';
import { divideByMagic, unsignedMagic, signedMagic } from '../../compiler/passes/magic-division.ts';
import { binaryModel, unaryModel } from '../harness/ir-model.ts';
import { verifyModule } from '../../compiler/verify.ts';

/** f(x) = x kind d as a one-block function, put through the pass. */
function lowered(kind: 'divu' | 'remu' | 'divs' | 'rems', d: number): ir.Function {
  const f: ir.Function = {
    name: 'f', params: 1, returnsValue: true, vregCount: 3, slots: [],
    blocks: [{ id: 0, instrs: [{ op: 'const', dst: 1, value: d | 0 }, { op: 'binary', kind, dst: 2, a: 0, b: 1 }], term: { op: 'return', value: 2 } }],
  };
  const m: ir.Module = { functions: [f], data: [], entry: 'f', trapHandler: 'f' } as unknown as ir.Module;
  divideByMagic(m);
  verifyModule(m);
  return f;
}

/** Runs a straight-line function on one argument. */
function run(f: ir.Function, x: number): number {
  const r = new Int32Array(f.vregCount);
  r[0] = x;
  for (const i of f.blocks[0].instrs) {
    if (i.op === 'const') r[i.dst] = i.value;
    else if (i.op === 'copy') r[i.dst] = r[i.src];
    else if (i.op === 'unary') r[i.dst] = unaryModel(i.kind, r[i.a]);
    else if (i.op === 'binary') r[i.dst] = binaryModel(i.kind, r[i.a], r[i.b]);   // the independent model
    else throw new Error(`unexpected ${i.op}`);
  }
  const t = f.blocks[0].term;
  return t.op === 'return' && t.value !== null ? r[t.value] : NaN;
}

let seed = 12345;
const random = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed | 0; };
const EDGES = [0, 1, 2, 3, 5, 6, 7, 9, 10, 100, 1000, 65535, 65536, 0x7ffffffe, 0x7fffffff, -0x80000000, -0x7fffffff, -1, -2, -3, -7, -10, -1000];
const dividends = [...EDGES, ...Array.from({ length: 2000 }, random)];
const DIVISORS = [3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 25, 60, 100, 125, 641, 1000, 1001, 65521, 65537, 1000000007, 0x7fffffff,
  -3, -5, -7, -10, -1000, -0x7fffffff, 0x80000001 | 0, 0xfffffffe | 0, 0xfffffffd | 0, ...Array.from({ length: 40 }, random)];

test('the magic numbers of Hacker\'s Delight\'s examples', t => {
  t.deepEqual(unsignedMagic(7), { multiplier: 0x24924925, shift: 3, add: true });
  t.deepEqual(unsignedMagic(10), { multiplier: 0xcccccccd | 0, shift: 3, add: false });
  t.deepEqual(signedMagic(7), { multiplier: 0x92492493 | 0, shift: 2, add: true });
  t.deepEqual(signedMagic(3), { multiplier: 0x55555556, shift: 0, add: false });
});

for (const kind of ['divu', 'remu', 'divs', 'rems'] as const) {
  test(`${kind} by constants: no division left, the same value as the division`, t => {
    let compared = 0;
    for (const d of DIVISORS) {
      const f = lowered(kind, d);
      const signed = kind === 'divs' || kind === 'rems';
      const reducible = signed ? d !== -0x80000000 && Math.abs(d) > 1 && (Math.abs(d) & (Math.abs(d) - 1)) !== 0 : (d >>> 0) > 1 && (d & (d - 1)) !== 0;
      const divisions = f.blocks[0].instrs.filter(i => i.op === 'binary' && i.kind === kind).length;
      t.is(divisions, reducible ? 0 : 1, `${kind} ${d}`);
      for (const x of dividends) {
        const want = binaryModel(kind, x, d);
        if (run(f, x) !== want) return t.fail(`${x} ${kind} ${d}: got ${run(f, x)}, want ${want}`);
        compared++;
      }
    }
    t.is(compared, DIVISORS.length * dividends.length);
  });
}
