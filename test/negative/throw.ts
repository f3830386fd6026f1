// error: DSL1005
// throw (use panic).
import { i32, print } from "dsl";

function check(x: i32): i32 {
  if (x < 0) throw 1;
  return x;
}

export function main(): i32 {
  print(check(3));
  return 0;
}
