// expect: 3430462277
// Bit manipulation on 20,000 xorshift32 words: SWAR population count, bit reversal by mask-and-shift,
// count of leading zeros by binary search, rotate, and isolate/clear the lowest set bit.
// C twin: bit-ops.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

function popcount(x: u32): u32 {
  x = (x - ((x >>> 1) & 0x55555555)) >>> 0;
  x = ((x & 0x33333333) + ((x >>> 2) & 0x33333333)) >>> 0;
  x = ((x + (x >>> 4)) & 0x0f0f0f0f) >>> 0;
  return Math.imul(x, 0x01010101) >>> 24;
}

function reverse(x: u32): u32 {
  x = (((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1)) >>> 0;
  x = (((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2)) >>> 0;
  x = (((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4)) >>> 0;
  x = (((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8)) >>> 0;
  return ((x >>> 16) | (x << 16)) >>> 0;
}

function leadingZeros(x: u32): u32 {
  if (x === 0) return 32;
  let n: u32 = 0;
  if ((x & 0xffff0000) === 0) { n += 16; x = (x << 16) >>> 0; }
  if ((x & 0xff000000) === 0) { n += 8; x = (x << 8) >>> 0; }
  if ((x & 0xf0000000) === 0) { n += 4; x = (x << 4) >>> 0; }
  if ((x & 0xc0000000) === 0) { n += 2; x = (x << 2) >>> 0; }
  if ((x & 0x80000000) === 0) n += 1;
  return n;
}

function rotateLeft(x: u32, r: u32): u32 {
  return ((x << (r & 31)) | (x >>> ((32 - r) & 31))) >>> 0;
}

function bench(): u32 {
  let x: u32 = 2463534242;
  let acc: u32 = 0;
  for (let i = 0; i < 20000; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    const low: u32 = (x & (0 - x)) >>> 0;
    const cleared: u32 = (x & (x - 1)) >>> 0;
    acc = (acc + popcount(x) + leadingZeros(x >>> (i & 31))) >>> 0;
    acc = (acc ^ reverse(low) ^ rotateLeft(cleared, i)) >>> 0;
  }
  return acc;
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
