// error: DSL1012
// var.
import { i32, print } from "dsl";

export function main(): i32 {
  var count: i32 = 3;
  print(count);
  return 0;
}
