// error: DSL1002
// The ** operator (floating-point in JavaScript).
import { i32, print } from "dsl";

export function main(): i32 {
  const kilo: i32 = 2 ** 10;
  print(kilo);
  return 0;
}
