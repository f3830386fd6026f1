// Input for test/compiler/fuse-copies.test.ts: a counting loop over an array (bounds checks, i++).
import { i32, print } from "dsl";

const values = new Int32Array(16);

export function main(): i32 {
  let sum: i32 = 0;
  for (let i = 0; i < 16; i++) values[i] = i * 3;
  for (let i = 0; i < 16; i++) sum = (sum + values[i]) | 0;
  print(sum);
  return 0;
}
