// expect: 21
// expect: 6
// expect: 5
// expect: 12
// expect: 42
// expect: 232792560
// expect: 168
// expect: 1
// A program split over files: imports functions and a constant from ./lib/math.ts.
import { i32, print } from "dsl";
import { gcd, lcm, isPrime, INT_MAX } from "./lib/math.ts";

export function main(): i32 {
  print(gcd(462, 1071));
  print(gcd(-48, 18));
  print(gcd(0, 5));
  print(lcm(4, 6));
  print(lcm(21, 6));
  let l: i32 = 1;
  for (let k = 1; k <= 20; k++) l = lcm(l, k);
  print(l);
  let primes: i32 = 0;
  for (let n = 0; n < 1000; n++) if (isPrime(n)) primes++;
  print(primes);
  print(i32(isPrime(INT_MAX)));
  return 0;
}
