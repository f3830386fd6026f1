// error: DSL1006
// for...of.
import { i32, print } from "dsl";

const primes: i32[] = [2, 3, 5];

export function main(): i32 {
  let sum: i32 = 0;
  for (const p of primes) sum += p;
  print(sum);
  return 0;
}
