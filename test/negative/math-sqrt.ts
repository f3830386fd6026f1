// error: DSL1002
// Math other than Math.imul.
import { i32, print } from "dsl";

export function main(): i32 {
  const side: i32 = Math.sqrt(49);
  print(side);
  return 0;
}
