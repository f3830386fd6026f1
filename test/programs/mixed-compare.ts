// expect: 35
// expect: 35
// expect: 26
// expect: 44
// expect: 35
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 8
// Comparisons compare mathematical values: an i32 and a u32 compare correctly even when the i32 is
// negative or the u32 is above 2^31.
import { i32, u32, i8, u8, print } from "dsl";

function compare(a: i32, b: u32): i32 {
  let r: i32 = 0;
  if (a < b) r = r | 1;
  if (a <= b) r = r | 2;
  if (a > b) r = r | 4;
  if (a >= b) r = r | 8;
  if (a == b) r = r | 16;
  if (a != b) r = r | 32;
  return r;
}

export function main(): i32 {
  const big: u32 = 4294967295;
  const minusOne: i32 = -1;
  print(compare(minusOne, big));
  print(compare(-2147483648, 2147483648));
  print(compare(5, 5));
  print(compare(7, 3));
  print(compare(0, 0x80000000));
  print(i32(big > 0));
  print(i32(big > minusOne));
  print(i32(minusOne < big));
  const u: u32 = 2147483648;
  const s: i32 = 2147483647;
  print(i32(u > s));
  print(i32(s < u));
  const small: i8 = -1;
  const byte: u8 = 255;
  print(i32(small < byte));
  print(i32(small === -1));
  print(i32(byte === 255));
  let countBelow: i32 = 0;
  for (let x: i32 = -5; x <= 5; x++) {
    const limit: u32 = 3;
    if (x < limit) countBelow++;
  }
  print(countBelow);
  return 0;
}
