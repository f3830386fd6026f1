// expect: 1284868729
// Sieve of Eratosthenes below 100,000: the count of primes times 2^20 plus the low bits of their sum.
// C twin: sieve.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const LIMIT = 100000;
const composite = new Uint8Array(100000);

function sieve(): u32 {
  for (let i = 0; i < LIMIT; i++) composite[i] = 0;
  let count: u32 = 0;
  let sum: u32 = 0;
  for (let i = 2; i < LIMIT; i++) {
    if (composite[i] !== 0) continue;
    count++;
    sum = (sum + i) >>> 0;
    for (let j = i * 2; j < LIMIT; j += i) composite[j] = 1;
  }
  return ((count << 20) ^ sum) >>> 0;
}

function bench(): u32 {
  return sieve();
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
