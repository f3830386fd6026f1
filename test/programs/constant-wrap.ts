// expect: -2147483648
// expect: -1073741824
// expect: 1
// expect: -134217728
// expect: 645
// expect: 2147483645
// expect: -2147483648
// expect: 4294967295
// expect: 8
// targets: interp qemu node
// Constant expressions wrap at build time as at run time: module constants and static initializers
// folded by the front end (compiler/frontend/types.ts wrapTo), 32-bit two's complement for i32,
// modulo 2^32 for u32. Not for node --plain: `MAX + 1` does not wrap there without `| 0`.
import { i32, u32, print } from "dsl";

const MAX: i32 = 0x7fffffff;
const WRAPPED: i32 = MAX + 1;
const HALF: i32 = WRAPPED / 2;
const PRODUCT: i32 = MAX * 3;
const MIN_NEGATED: i32 = -WRAPPED;
const ZERO: u32 = 0;
const UNDER: u32 = ZERO - 1;
const table = new Int32Array(WRAPPED >>> 28);

export function main(): i32 {
  print(WRAPPED);
  print(HALF);
  print(WRAPPED < 0 ? 1 : 0);
  print((MAX + 1) >> 4);
  print(PRODUCT % 1000);
  print(PRODUCT);
  print(MIN_NEGATED);
  print(UNDER);
  print(table.length);
  return 0;
}
