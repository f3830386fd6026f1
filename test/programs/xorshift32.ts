// expect: 723471715
// expect: 2497366906
// expect: 2064144800
// expect: 2008045182
// expect: 3532304609
// expect: 1033
// expect: 971
// expect: 982
// expect: 1008
// expect: 1014
// expect: 992
// expect: 6000
// expect: 0
// expect: 524
// Marsaglia's xorshift32 PRNG (13, 17, 5) with `>>> 0` keeping the state unsigned; dice rolls
// from the generator and a histogram of 6000 rolls.
import { i32, u32, print } from "dsl";

let state: u32 = 2463534242;

function next(): u32 {
  let x: u32 = state;
  x = (x ^ (x << 13)) >>> 0;
  x = (x ^ (x >>> 17)) >>> 0;
  x = (x ^ (x << 5)) >>> 0;
  state = x;
  return x;
}

function rollDie(): i32 { return i32(next() % 6) + 1; }

export function main(): i32 {
  for (let i = 0; i < 5; i++) print(next());
  const histogram = new Int32Array(7);
  for (let i = 0; i < 6000; i++) histogram[rollDie()]++;
  let total: i32 = 0;
  for (let face = 1; face <= 6; face++) {
    print(histogram[face]);
    total += histogram[face];
  }
  print(total);
  print(histogram[0]);
  let highBit: i32 = 0;
  for (let i = 0; i < 1000; i++) if (next() >= 0x80000000) highBit++;
  print(highBit);
  return 0;
}
