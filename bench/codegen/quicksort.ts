// expect: 2195208894
// Recursive quicksort (Hoare partition, middle pivot) of 10,000 LCG values, then a position-weighted
// sum that also checks the order. C twin: quicksort.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const N = 10000;
const values = new Int32Array(10000);

function fill(): void {
  let state: u32 = 12345;
  for (let i = 0; i < N; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = (state >>> 8) & 0xfffff;
  }
}

function quicksort(lo: i32, hi: i32): void {
  if (lo >= hi) return;
  const pivot: i32 = values[(lo + hi) >> 1];
  let i: i32 = lo - 1;
  let j: i32 = hi + 1;
  while (true) {
    do { i++; } while (values[i] < pivot);
    do { j--; } while (values[j] > pivot);
    if (i >= j) break;
    const t: i32 = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  quicksort(lo, j);
  quicksort(j + 1, hi);
}

function bench(): u32 {
  quicksort(0, N - 1);
  let sum: u32 = 0;
  for (let i = 0; i < N; i++) {
    if (i > 0 && values[i - 1] > values[i]) return 0;
    sum = (sum + Math.imul(values[i], i + 1)) >>> 0;
  }
  return sum;
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
