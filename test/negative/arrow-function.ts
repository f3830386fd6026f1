// error: DSL1003
// An arrow function is a closure.
import { i32, print } from "dsl";

export function main(): i32 {
  const increment = (x: i32): i32 => x + 1;
  print(increment(1));
  return 0;
}
