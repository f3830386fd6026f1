// error: DSL1003
// A function expression is a closure.
import { i32, print } from "dsl";

export function main(): i32 {
  const square = function (x: i32): i32 { return x * x; };
  print(square(3));
  return 0;
}
