// expect: 2147483648
// expect: -1
// expect: 2147483648
// expect: -1
// expect: 4294967295
// expect: -2147483648
// expect: 7
// expect: 0
// expect: 3000000000
// expect: -5
// expect: 2147483648
// expect: 1
// expect: 1
// Math.max and Math.min of an i32 and a u32 compare mathematical values, as in JavaScript (issue 12,
// item 3): the max of the two is a u32 (never negative), the min an i32 (always below 2^31).
import { i32, u32, u8, print } from "dsl";

function biggest(a: i32, b: u32): u32 { return Math.max(a, b); }

export function main(): i32 {
  const a: i32 = -1;
  const b: u32 = 0x80000000;
  print(Math.max(a, b));
  print(Math.min(a, b));
  print(Math.max(b, a));
  print(Math.min(b, a));
  const big: u32 = 0xffffffff;
  const low: i32 = -2147483648;
  print(Math.max(low, big));
  print(Math.min(big, low));
  const seven: u32 = 7;
  print(Math.max(seven, -3));
  const zero: u8 = 0;
  print(Math.max(zero, -9));
  print(Math.max(a, 3000000000));
  print(Math.min(-5, b));
  print(biggest(-7, b));
  // the comparison operators agree
  print(i32(u32(a > b ? a : b) === Math.max(a, b)));
  print(i32(Math.min(a, b) < Math.max(a, b)));
  return 0;
}
