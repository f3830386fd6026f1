// error: DSL1003
// A function declared inside another function (it could capture the outer locals).
import { i32, print } from "dsl";

export function main(): i32 {
  function helper(x: i32): i32 { return x * 2; }
  print(helper(21));
  return 0;
}
