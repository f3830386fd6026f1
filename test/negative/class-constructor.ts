// error: DSL1004
// A struct with a constructor.
import { i32, print } from "dsl";

class Counter {
  value: i32 = 0;
  constructor() {}
}

export function main(): i32 {
  const c = new Counter();
  print(c.value);
  return 0;
}
