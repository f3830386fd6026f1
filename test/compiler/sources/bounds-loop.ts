// Input for test/compiler/fuse-copies.test.ts and address-constants.test.ts: counting loops over an
// array (bounds checks, i++): a global one (its length known, its address a constant) and one passed
// in (its length read from its length word).
import { i32, print } from "dsl";

const values = new Int32Array(16);

function total(a: Int32Array, n: i32): i32 {
  let sum: i32 = 0;
  for (let i = 0; i < n; i++) sum = (sum + a[i]) | 0;
  return sum;
}

export function main(): i32 {
  let sum: i32 = 0;
  for (let i = 0; i < 16; i++) values[i] = i * 3;
  for (let i = 0; i < 16; i++) sum = (sum + values[i]) | 0;
  print(sum);
  print(total(values, 16));
  print(total(values, 8)); // called twice: a function called once is inlined (the tests look at total)
  return 0;
}
