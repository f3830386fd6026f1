// error: DSL1013
// An optional parameter.
import { i32, print } from "dsl";

function first(x: i32, y?: i32): i32 { return x; }

export function main(): i32 {
  print(first(4));
  return 0;
}
