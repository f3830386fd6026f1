// A self-recursive tail call runs in constant stack at -O2 (test/compiler/tail-call.test.ts): a million
// levels would need ~30 MiB of stack as calls, far beyond the program's 1 MiB.
import { i32, print } from "dsl";
function count(n: i32, acc: i32): i32 {
  if (n === 0) return acc;
  return count(n - 1, (acc + n) | 0);
}
export function main(): i32 { print(count(1000000, 0)); return 0; }
