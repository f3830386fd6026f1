// error: DSL1004
// `this` in a field initializer.
import { i32, print } from "dsl";

class Range {
  low: i32 = 0;
  high: i32 = this.low;
}

export function main(): i32 {
  const r = new Range();
  print(r.high);
  return 0;
}
