// error: DSL1010
// A template literal.
import { i32, print } from "dsl";

export function main(): i32 {
  const x: i32 = 5;
  print(`x = ${x}`);
  return 0;
}
