// error: DSL1009
// undefined.
import { i32, print } from "dsl";

export function main(): i32 {
  const x: i32 = 5;
  if (x !== undefined) print(x);
  return 0;
}
