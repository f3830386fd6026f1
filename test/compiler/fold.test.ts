// Contract: constant folding's evaluateBinary (compiler/passes/fold.ts), the arithmetic that folding,
// strength reduction and magic division are checked with, agrees with the independent BigInt model of
// test/harness/ir-model.ts for every binary op on the edge values and on 20,000 seeded random pairs;
// a division or remainder by zero is never folded (undefined: the trap stays in the code).
import test from 'ava';
import { evaluateBinary } from '../../compiler/passes/fold.ts';
import { BINARY_OPS } from '../../compiler/bytecode/format.ts';
import { binaryModel } from '../harness/ir-model.ts';
import { OPS } from '../../compiler/ir.ts';

const INT_MIN = -0x80000000;
const EDGES = [0, 1, -1, 2, -2, 3, 7, -7, 31, 32, 33, 63, 255, 256, 0xffff, 0x10000, 0x55555555, -0x12345679,
  INT_MIN, INT_MIN + 1, 0x7fffffff, 0x7ffffffe, 0x40000000, -0x40000000];

/** xorshift32 from a fixed seed: the same pairs on every run. */
function randomPairs(count: number): [number, number][] {
  let x = 0x2545f491;
  const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x | 0; };
  const pairs: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const a = next(), b = next();
    // Small magnitudes too: shifts, divisions by small numbers, comparisons of near values.
    pairs.push(i % 4 === 0 ? [a, b & 63] : i % 4 === 1 ? [a >> 16, b >> 24] : [a, b]);
  }
  return pairs;
}
const PAIRS: [number, number][] = [
  ...EDGES.flatMap(a => EDGES.map(b => [a, b] as [number, number])), ...randomPairs(20_000)];

for (const kind of BINARY_OPS) {
  test(`evaluateBinary ${kind} agrees with the BigInt model`, t => {
    let checked = 0;
    for (const [a, b] of PAIRS) {
      const folded = evaluateBinary(kind, a, b);
      if (OPS[kind].mayTrap && b === 0) { t.is(folded, undefined, `${kind}(${a}, 0) must not fold`); continue; }
      const expected = binaryModel(kind, a, b);
      if (folded !== expected) { t.is(folded, expected, `${kind}(${a}, ${b})`); return; }
      checked++;
    }
    t.true(checked > 20_000, `${checked} pairs`);
  });
}
