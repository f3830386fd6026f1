// expect: 0
// expect: 99
// expect: 50
// expect: -1
// expect: -1
// expect: 51
// expect: 0
// expect: 100
// expect: 100
// expect: 1927
// Binary search over a sorted array: exact match, lower bound, and the number of probes.
import { i32, print } from "dsl";

const sorted = new Int32Array(100);
let probes: i32 = 0;

function search(a: Int32Array, key: i32): i32 {
  let low: i32 = 0;
  let high: i32 = a.length - 1;
  while (low <= high) {
    probes++;
    const middle: i32 = (low + high) >>> 1;
    const v: i32 = a[middle];
    if (v === key) return middle;
    if (v < key) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

function lowerBound(a: Int32Array, key: i32): i32 {
  let low: i32 = 0;
  let high: i32 = a.length;
  while (low < high) {
    const middle: i32 = low + ((high - low) >> 1);
    if (a[middle] < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function main(): i32 {
  for (let i = 0; i < sorted.length; i++) sorted[i] = i * 3 + 1;
  print(search(sorted, 1));
  print(search(sorted, 298));
  print(search(sorted, 151));
  print(search(sorted, 152));
  print(search(sorted, -5));
  print(lowerBound(sorted, 152));
  print(lowerBound(sorted, 0));
  print(lowerBound(sorted, 1000));
  probes = 0;
  let found: i32 = 0;
  for (let key = 0; key < 300; key++) if (search(sorted, key) >= 0) found++;
  print(found);
  print(probes);
  return 0;
}
