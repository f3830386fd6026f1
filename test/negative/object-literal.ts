// error: DSL1008
// An object literal.
import { i32, print } from "dsl";

export function main(): i32 {
  const point = { x: 1, y: 2 };
  print(0);
  return 0;
}
