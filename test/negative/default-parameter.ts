// error: DSL1013
// A default parameter.
import { i32, print } from "dsl";

function scale(x: i32, factor: i32 = 2): i32 { return x * factor; }

export function main(): i32 {
  print(scale(4, 3));
  return 0;
}
