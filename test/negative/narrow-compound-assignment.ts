// error: DSL2003
// `k += 10` on an i8 variable is `k = k + 10`: the same narrowing rule as the assignment (issue 12, item 5).
import { i32, i8, print } from "dsl";

let k: i8 = 120;

export function main(): i32 {
  k += 10;
  print(k);
  return 0;
}
