// error: DSL1008
// Array destructuring.
import { i32, print } from "dsl";

const pair: i32[] = [7, 9];

export function main(): i32 {
  const [first, second] = pair;
  print(first + second);
  return 0;
}
