// error: DSL1009
// typeof as an expression.
import { i32, print } from "dsl";

export function main(): i32 {
  const x: i32 = 5;
  print(typeof x);
  return 0;
}
