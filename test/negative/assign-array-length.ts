// error: DSL2005
// Assignment to a non-lvalue: an array's length is fixed (tsc allows writing Array.length).
import { i32, print } from "dsl";

const primes: i32[] = [2, 3, 5, 7];

export function main(): i32 {
  primes.length = 2;
  print(primes[0]);
  return 0;
}
