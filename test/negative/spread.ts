// error: DSL1008
// Spread in a module-level array initializer.
import { i32, print } from "dsl";

const small: i32[] = [1, 2, 3];
const large: i32[] = [...small, 4];

export function main(): i32 {
  print(large[3]);
  return 0;
}
