// error: DSL1008
// An array literal used as a value (array literals only initialize array variables).
import { i32, print } from "dsl";
export function main(): i32 {
  print([1, 2, 3][1]);
  return 0;
}
