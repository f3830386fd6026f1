// error: DSL1014
// A bigint literal.
import { i32, print } from "dsl";

export function main(): i32 {
  const big = 1n;
  print(0);
  return 0;
}
