// expect: 75025
// Recursion-heavy: the naive Fibonacci recursion, fib(25) (242,785 calls). C twin: fib.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

function fib(n: i32): i32 {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

function bench(): u32 {
  return fib(25);
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
