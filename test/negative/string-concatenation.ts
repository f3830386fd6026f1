// error: DSL1010
// String concatenation.
import { i32, print } from "dsl";

export function main(): i32 {
  print("hello, " + "world");
  return 0;
}
