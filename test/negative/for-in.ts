// error: DSL1006
// for...in.
import { i32, print } from "dsl";

const primes: i32[] = [2, 3, 5];

export function main(): i32 {
  let n: i32 = 0;
  for (const index in primes) n++;
  print(n);
  return 0;
}
