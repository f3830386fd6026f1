// Integer helpers shared by the multi-file programs (not a program itself: no main).
import { bool, i32, u32 } from "dsl";

export const INT_MAX: i32 = 2147483647;

export function gcd(a: i32, b: i32): i32 {
  let x: i32 = a < 0 ? -a : a;
  let y: i32 = b < 0 ? -b : b;
  while (y !== 0) {
    const t: i32 = x % y;
    x = y;
    y = t;
  }
  return x;
}

export function lcm(a: i32, b: i32): i32 {
  if (a === 0 || b === 0) return 0;
  return Math.imul((a / gcd(a, b)) | 0, b);
}

export function isPrime(n: i32): bool {
  if (n < 2) return false;
  // d <= n / d rather than d * d <= n: d * d would overflow i32 near INT_MAX
  for (let d = 2; d <= ((n / d) | 0); d++) if (n % d === 0) return false;
  return true;
}

export function rotateLeft(x: u32, count: i32): u32 {
  return ((x << count) | (x >>> (32 - count))) >>> 0;
}
