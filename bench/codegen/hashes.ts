// expect: 721599184
// Checksums and hashes over a 16 KiB buffer: Adler-32 (with the modulo taken every 4,096 bytes) and
// 32-bit FNV-1a, then combined. C twin: hashes.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const SIZE = 16384;
const buffer = new Uint8Array(16384);

function fill(): void {
  let state: u32 = 42;
  for (let i = 0; i < SIZE; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    buffer[i] = state >>> 24;
  }
}

function adler32(length: i32): u32 {
  let a: u32 = 1;
  let b: u32 = 0;
  let i: i32 = 0;
  while (i < length) {
    const chunkEnd: i32 = Math.min(length, i + 4096);
    while (i < chunkEnd) {
      a = a + buffer[i];
      b = b + a;
      i++;
    }
    a = a % 65521;
    b = b % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function fnv1a(length: i32): u32 {
  let hash: u32 = 2166136261;
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ buffer[i], 16777619) >>> 0;
  return hash;
}

function bench(): u32 {
  return (adler32(SIZE) ^ fnv1a(SIZE)) >>> 0;
}

export function main(): i32 {
  fill();
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
