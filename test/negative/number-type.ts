// error: DSL1002
// `number` as a type: it would mean a double.
import { i32, print } from "dsl";

export function main(): i32 {
  const count: number = 3;
  print(count);
  return 0;
}
