// error: DSL1008
// An array literal inside a function (only module-level array initializers are allowed).
import { i32, print } from "dsl";

export function main(): i32 {
  const values: i32[] = [1, 2, 3];
  print(values[1]);
  return 0;
}
