// expect: 6765
// expect: 1
// expect: 3628800
// expect: 1932053504
// expect: 9
// expect: 61
// expect: 1594323
// expect: -2147483648
// expect: 1
// expect: 500500
// expect: 2000
// Recursion: fib, factorial, Ackermann (small), power by squaring, sum of a range by halving.
import { i32, print } from "dsl";

function fib(n: i32): i32 { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

function factorial(n: i32): i32 { return n <= 1 ? 1 : Math.imul(n, factorial(n - 1)); }

function ackermann(m: i32, n: i32): i32 {
  if (m === 0) return n + 1;
  if (n === 0) return ackermann(m - 1, 1);
  return ackermann(m - 1, ackermann(m, n - 1));
}

function power(base: i32, exponent: i32): i32 {
  if (exponent === 0) return 1;
  const half: i32 = power(base, exponent >> 1);
  const square: i32 = Math.imul(half, half);
  return (exponent & 1) !== 0 ? Math.imul(square, base) : square;
}

function rangeSum(low: i32, high: i32): i32 {
  if (low === high) return low;
  const middle: i32 = (low + high) >> 1;
  return rangeSum(low, middle) + rangeSum(middle + 1, high);
}

function depth(n: i32): i32 { return n === 0 ? 0 : 1 + depth(n - 1); }

export function main(): i32 {
  print(fib(20));
  print(fib(1));
  print(factorial(10));
  print(factorial(13));
  print(ackermann(2, 3));
  print(ackermann(3, 3));
  print(power(3, 13));
  print(power(2, 31));
  print(power(7, 0));
  print(rangeSum(1, 1000));
  print(depth(2000));
  return 0;
}
