// error: DSL1011
// A generator function.
import { i32, print } from "dsl";

function* counter(): Generator<i32> {
  yield 1;
}

export function main(): i32 {
  counter();
  print(0);
  return 0;
}
