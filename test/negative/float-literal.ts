// error: DSL1002
// A fractional literal.
import { i32, print } from "dsl";

export function main(): i32 {
  const half: i32 = 1.5;
  print(half);
  return 0;
}
