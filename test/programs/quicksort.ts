// expect: 0
// expect: -49971
// expect: 1821
// expect: 49905
// expect: 489057640
// Recursive quicksort (Lomuto partition, median-of-three pivot) of 1000 pseudo-random values,
// with a checksum of the sorted order.
import { i32, u32, print } from "dsl";

const data = new Int32Array(1000);

function swap(a: Int32Array, i: i32, j: i32): void {
  const t: i32 = a[i];
  a[i] = a[j];
  a[j] = t;
}

function partition(a: Int32Array, low: i32, high: i32): i32 {
  const middle: i32 = low + ((high - low) >> 1);
  if (a[middle] < a[low]) swap(a, middle, low);
  if (a[high] < a[low]) swap(a, high, low);
  if (a[middle] < a[high]) swap(a, middle, high);
  const pivot: i32 = a[high];
  let store: i32 = low;
  for (let i = low; i < high; i++) {
    if (a[i] < pivot) {
      swap(a, i, store);
      store++;
    }
  }
  swap(a, store, high);
  return store;
}

function quicksort(a: Int32Array, low: i32, high: i32): void {
  if (low >= high) return;
  const p: i32 = partition(a, low, high);
  quicksort(a, low, p - 1);
  quicksort(a, p + 1, high);
}

export function main(): i32 {
  let x: u32 = 2463534242;
  for (let i = 0; i < data.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    data[i] = i32(x % 100000) - 50000;
  }
  quicksort(data, 0, data.length - 1);
  let inversions: i32 = 0;
  for (let i = 1; i < data.length; i++) if (data[i - 1] > data[i]) inversions++;
  print(inversions);
  print(data[0]);
  print(data[500]);
  print(data[999]);
  let checksum: i32 = 0;
  for (let i = 0; i < data.length; i++) checksum = (Math.imul(checksum, 31) + data[i]) | 0;
  print(checksum);
  return 0;
}
