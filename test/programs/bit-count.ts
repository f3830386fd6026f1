// expect: 3232
// expect: 13100
// expect: 82400
// expect: 10031
// expect: 320000
// expect: 240000
// expect: 120801
// expect: 80808
// expect: 8
// expect: 0
// expect: 2147483648
// expect: 4152210811
// expect: 12345678
// expect: 8
// expect: 1024
// expect: 2147483648
// expect: 5120
// Bit manipulation: population count (Kernighan and SWAR), leading and trailing zeros, parity,
// bit reversal, next power of two.
import { i32, u32, print } from "dsl";

function popcountLoop(x: u32): i32 {
  let v: u32 = x;
  let n: i32 = 0;
  while (v !== 0) {
    v = (v & (v - 1)) >>> 0;
    n++;
  }
  return n;
}

function popcountSwar(x: u32): i32 {
  let v: u32 = (x - ((x >>> 1) & 0x55555555)) >>> 0;
  v = ((v & 0x33333333) + ((v >>> 2) & 0x33333333)) >>> 0;
  v = ((v + (v >>> 4)) & 0x0f0f0f0f) >>> 0;
  return Math.imul(v, 0x01010101) >>> 24;
}

function leadingZeros(x: u32): i32 {
  if (x === 0) return 32;
  let n: i32 = 0;
  let v: u32 = x;
  while ((v & 0x80000000) === 0) {
    v = (v << 1) >>> 0;
    n++;
  }
  return n;
}

function trailingZeros(x: u32): i32 {
  if (x === 0) return 32;
  let n: i32 = 0;
  while (((x >>> n) & 1) === 0) n++;
  return n;
}

function reverseBits(x: u32): u32 {
  let v: u32 = x;
  v = (((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1)) >>> 0;
  v = (((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2)) >>> 0;
  v = (((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4)) >>> 0;
  v = (((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8)) >>> 0;
  return ((v >>> 16) | (v << 16)) >>> 0;
}

function nextPowerOfTwo(x: u32): u32 {
  let v: u32 = (x - 1) >>> 0;
  v = (v | (v >>> 1)) >>> 0;
  v = (v | (v >>> 2)) >>> 0;
  v = (v | (v >>> 4)) >>> 0;
  v = (v | (v >>> 8)) >>> 0;
  v = (v | (v >>> 16)) >>> 0;
  return (v + 1) >>> 0;
}

const samples: u32[] = [0, 1, 0xff, 0x80000000, 0xffffffff, 0xdeadbeef, 12345678, 0x00f00f00];

export function main(): i32 {
  let agree: i32 = 0;
  for (let i = 0; i < samples.length; i++) {
    const x: u32 = samples[i];
    if (popcountLoop(x) === popcountSwar(x)) agree++;
    print(popcountSwar(x) * 10000 + leadingZeros(x) * 100 + trailingZeros(x));
  }
  print(agree);
  print(popcountLoop(0xdeadbeef) & 1);
  print(reverseBits(1));
  print(reverseBits(0xdeadbeef));
  print(reverseBits(reverseBits(12345678)));
  print(nextPowerOfTwo(5));
  print(nextPowerOfTwo(1024));
  print(nextPowerOfTwo(0x40000001));
  let total: i32 = 0;
  for (let x: u32 = 0; x < 1024; x++) total += popcountSwar(x);
  print(total);
  return 0;
}
