// expect: 2762424350
// Heapsort (sift-down, no recursion) of 10,000 xorshift32 values as u32, then a position-weighted sum
// that also checks the order. C twin: heapsort.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const N = 10000;
const keys = new Uint32Array(10000);

function fill(): void {
  let x: u32 = 88172645;
  for (let i = 0; i < N; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    keys[i] = x;
  }
}

function siftDown(start: i32, end: i32): void {
  let root: i32 = start;
  while (root * 2 + 1 <= end) {
    let child: i32 = root * 2 + 1;
    if (child + 1 <= end && keys[child] < keys[child + 1]) child++;
    if (keys[root] >= keys[child]) return;
    const t: u32 = keys[root];
    keys[root] = keys[child];
    keys[child] = t;
    root = child;
  }
}

function heapsort(count: i32): void {
  for (let start = (count - 2) >> 1; start >= 0; start--) siftDown(start, count - 1);
  for (let end = count - 1; end > 0; end--) {
    const t: u32 = keys[end];
    keys[end] = keys[0];
    keys[0] = t;
    siftDown(0, end - 1);
  }
}

function bench(): u32 {
  heapsort(N);
  let sum: u32 = 0;
  for (let i = 0; i < N; i++) {
    if (i > 0 && keys[i - 1] > keys[i]) return 0;
    sum = (sum + Math.imul(keys[i] >>> 16, i + 1)) >>> 0;
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
