// error: DSL1009
// null.
import { i32, print } from "dsl";

export function main(): i32 {
  const x: i32 = 5;
  if (x === null) print(0);
  return 0;
}
