// expect: 2840592063
// Pseudo-random number generators: 50,000 draws each from xorshift32, a 32-bit LCG and a
// multiply-with-carry generator (16-bit halves), binned into a 256-bucket histogram, then a
// weighted sum of the histogram. C twin: prng.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const histogram = new Uint32Array(256);

function bench(): u32 {
  for (let i = 0; i < 256; i++) histogram[i] = 0;
  let x: u32 = 2463534242;
  let lcg: u32 = 1;
  let z: u32 = 362436069;
  let w: u32 = 521288629;
  for (let i = 0; i < 50000; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    lcg = (Math.imul(lcg, 22695477) + 1) >>> 0;
    z = (Math.imul(36969, z & 65535) + (z >>> 16)) >>> 0;
    w = (Math.imul(18000, w & 65535) + (w >>> 16)) >>> 0;
    const mwc: u32 = ((z << 16) + w) >>> 0;
    histogram[x >>> 24]++;
    histogram[(lcg >>> 16) & 255]++;
    histogram[mwc & 255]++;
  }
  let sum: u32 = 0;
  for (let i = 0; i < 256; i++) sum = (sum + Math.imul(histogram[i], i + 1) + (histogram[i] >>> 3)) >>> 0;
  return (sum ^ x ^ lcg) >>> 0;
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
