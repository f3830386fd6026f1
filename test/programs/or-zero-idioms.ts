// expect: -2147483648
// expect: 0
// expect: 1410065408
// expect: -42
// expect: -5
// expect: 689956897
// expect: 1820529360
// expect: 4294967295
// expect: 1705032704
// expect: 410065408
// expect: 410065408
// expect: 3826002220
// expect: -2147483648
// expect: 2147483647
// The JavaScript idioms `x | 0`, `x >>> 0` and Math.imul give the 32-bit results on every target,
// Node included: the portable form of wrapping arithmetic.
import { i32, u32, print } from "dsl";

function hashStep(h: u32, byte: i32): u32 {
  return Math.imul(h ^ byte, 16777619) >>> 0;
}

export function main(): i32 {
  const big: i32 = 2147483647;
  print((big + 1) | 0);
  const m: i32 = 65536;
  print(Math.imul(m, m));
  const a: i32 = 100000;
  print(Math.imul(a, a));
  print(Math.imul(-7, 6));
  print(Math.imul(0xffffffff, 5));
  let p: i32 = 1;
  for (let i = 0; i < 40; i++) p = Math.imul(p, 3);
  print(p);
  let x: i32 = 0;
  let y: i32 = 1;
  for (let i = 0; i < 60; i++) {
    const t: i32 = (x + y) | 0;
    x = y;
    y = t;
  }
  print(x);
  const z: u32 = 0;
  print((z - 1) >>> 0);
  const k: u32 = 3000000000;
  print((k + k) >>> 0);
  print(Math.imul(k, 3) >>> 0);
  print(Math.imul(k, 3));
  let h: u32 = 2166136261;
  h = hashStep(h, 97);
  print(h);
  let counter: i32 = 2147483647;
  counter = (counter + 1) | 0;
  print(counter);
  counter = (counter - 1) | 0;
  print(counter);
  return 0;
}
