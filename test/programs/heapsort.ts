// expect: 1
// expect: 1
// expect: 1
// expect: 502
// expect: 34998
// expect: 65374
// Heapsort (sift-down, in place) of u16 values; the heap property is checked after building.
import { bool, i32, print } from "dsl";

const heap = new Uint16Array(300);

function siftDown(a: Uint16Array, start: i32, end: i32): void {
  let root: i32 = start;
  while (2 * root + 1 <= end) {
    const child: i32 = 2 * root + 1;
    let largest: i32 = root;
    if (a[largest] < a[child]) largest = child;
    if (child + 1 <= end && a[largest] < a[child + 1]) largest = child + 1;
    if (largest === root) return;
    const t: i32 = a[root];
    a[root] = a[largest];
    a[largest] = t;
    root = largest;
  }
}

function isMaxHeap(a: Uint16Array): bool {
  for (let i = 1; i < a.length; i++) if (a[(i - 1) >> 1] < a[i]) return false;
  return true;
}

export function main(): i32 {
  let seed: i32 = 7;
  for (let i = 0; i < heap.length; i++) {
    seed = (Math.imul(seed, 48271) % 2147483647) | 0;
    if (seed < 0) seed = seed + 2147483647;
    heap[i] = seed;
  }
  const n: i32 = heap.length;
  for (let start = (n - 2) >> 1; start >= 0; start--) siftDown(heap, start, n - 1);
  print(i32(isMaxHeap(heap)));
  const maximum: i32 = heap[0];
  for (let end = n - 1; end > 0; end--) {
    const t: i32 = heap[0];
    heap[0] = heap[end];
    heap[end] = t;
    siftDown(heap, 0, end - 1);
  }
  let sorted: i32 = 1;
  for (let i = 1; i < n; i++) if (heap[i - 1] > heap[i]) sorted = 0;
  print(sorted);
  print(i32(heap[n - 1] === maximum));
  print(heap[0]);
  print(heap[150]);
  print(heap[n - 1]);
  return 0;
}
