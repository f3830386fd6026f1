// error: DSL1015
// An enum that is not const.
import { i32, print } from "dsl";

enum Color { Red, Green, Blue }

export function main(): i32 {
  print(Color.Blue);
  return 0;
}
