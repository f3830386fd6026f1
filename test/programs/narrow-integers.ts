// expect: 0
// expect: 44
// expect: 200
// expect: 12
// expect: 44
// expect: 255
// expect: -128
// expect: 1
// expect: 300
// The one rule for narrow integers (dsl/README.md, issue 12, item 5): a u8/i8/u16/i16 variable or
// `T[]` element takes a wider value only through an explicit conversion (`k = u8(k + 1)`; `k++` and
// `k += e` are rejected with DSL2003 like `k = k + 1`), while a typed-array element wraps on store,
// as in JavaScript. Every line below is what Node prints.
import { i32, u8, i8, print } from "dsl";

const table: u8[] = [250, 251, 252];

export function main(): i32 {
  let k: u8 = 255;
  k = u8(k + 1);
  print(k);
  const buffer = new Uint8Array(4);
  const big: i32 = 300;
  buffer[0] = big;
  print(buffer[0]);
  buffer[1] = 100;
  buffer[1] += 100;
  print(buffer[1]);
  buffer[2] = 255;
  buffer[2] += 13;
  print(buffer[2]);
  buffer[3] = 43;
  buffer[3]++;
  print(buffer[3]);
  buffer[3] = 0;
  buffer[3]--;
  print(buffer[3]);
  const signed = new Int8Array(1);
  signed[0] = 127;
  signed[0]++;
  print(signed[0]);
  let s: i8 = -1;
  s = i8(s + 2);
  print(s);
  table[0] = u8(big);
  print(big + table[0] - 44);
  return 0;
}
