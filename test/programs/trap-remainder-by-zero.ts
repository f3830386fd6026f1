// expect: 4294967295
// exit: 101
// stderr: trap: integer division by zero
// targets: interp qemu node
// Not for node --plain: `%` by zero gives NaN in JavaScript instead of trapping. Unsigned remainder.
import { i32, u32, print } from "dsl";

function bucket(hash: u32, buckets: u32): u32 { return hash % buckets; }

export function main(): i32 {
  const hash: u32 = 4294967295;
  print(hash);
  let buckets: u32 = 0;
  print(bucket(hash, buckets));
  return 0;
}
