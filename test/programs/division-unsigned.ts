// expect: 2147483647
// expect: 1
// expect: 65535
// expect: 65535
// expect: 715827883
// expect: 0
// expect: 1
// expect: 0
// expect: 7
// expect: 5927694924
// expect: 0987654321
// expect: 0
// Unsigned division and remainder of large u32 values, written portably (u32(a / b) truncates);
// decimal digits of a u32 computed with / and %.
import { i32, u32, print, write } from "dsl";

function printDigitsReversed(x: u32): void {
  let v: u32 = x;
  do {
    write(v % 10);
    v = u32(v / 10);
  } while (v !== 0);
  print("");
}

export function main(): i32 {
  const big: u32 = 4294967295;
  print(u32(big / 2));
  print(big % 2);
  print(u32(big / 65536));
  print(big % 65536);
  const x: u32 = 0x80000001;
  print(u32(x / 3));
  print(x % 3);
  print(u32(x / x));
  print(u32(7 / x));
  print(7 % x);
  printDigitsReversed(big);
  printDigitsReversed(1234567890);
  printDigitsReversed(0);
  return 0;
}
