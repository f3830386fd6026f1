// expect: 2262
// expect: 19997
// expect: 342
// expect: 25
// Sieve of Eratosthenes over a module-level byte array: count, largest, twin primes.
import { i32, print } from "dsl";

const LIMIT: i32 = 20000;
const composite = new Uint8Array(20000);

export function main(): i32 {
  composite[0] = 1;
  composite[1] = 1;
  for (let i = 2; i * i < LIMIT; i++) {
    if (composite[i]) continue;
    for (let j = i * i; j < LIMIT; j += i) composite[j] = 1;
  }
  let count: i32 = 0;
  let largest: i32 = 0;
  let twins: i32 = 0;
  for (let n = 2; n < LIMIT; n++) {
    if (composite[n] === 0) {
      count++;
      largest = n;
      if (n >= 5 && composite[n - 2] === 0) twins++;
    }
  }
  print(count);
  print(largest);
  print(twins);
  let below100: i32 = 0;
  for (let n = 0; n < 100; n++) if (!composite[n]) below100++;
  print(below100);
  return 0;
}
