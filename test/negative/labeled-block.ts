// error: DSL1012
// A label on a block that is not a loop.
import { i32, print } from "dsl";

export function main(): i32 {
  const x: i32 = 3;
  check: {
    if (x > 2) break check;
    print(x);
  }
  return 0;
}
