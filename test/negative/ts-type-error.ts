// error: TS2322
// A tsc type error: a string assigned to an integer variable.
import { i32, print } from "dsl";

export function main(): i32 {
  const n: i32 = "five";
  print(n);
  return 0;
}
