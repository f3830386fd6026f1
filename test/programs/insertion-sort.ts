// expect: 0
// expect: 1
// expect: -499
// expect: -34
// expect: 498
// expect: 9
// expect: 4
// expect: 3
// expect: 1
// expect: -1
// expect: -5
// Insertion sort of an Int32Array filled by a linear congruential generator; checks sortedness,
// and sorts a second array in descending order through a comparator function reference.
import { bool, i32, print } from "dsl";

type Compare = (a: i32, b: i32) => i32;
function ascending(a: i32, b: i32): i32 { return a < b ? -1 : a > b ? 1 : 0; }
function descending(a: i32, b: i32): i32 { return ascending(b, a); }

const values = new Int32Array(200);

function insertionSort(a: Int32Array, compare: Compare): void {
  for (let i = 1; i < a.length; i++) {
    const key: i32 = a[i];
    let j: i32 = i - 1;
    while (j >= 0 && compare(a[j], key) > 0) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = key;
  }
}

function isSorted(a: Int32Array, compare: Compare): bool {
  for (let i = 1; i < a.length; i++) if (compare(a[i - 1], a[i]) > 0) return false;
  return true;
}

export function main(): i32 {
  let seed: i32 = 12345;
  for (let i = 0; i < values.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    values[i] = i32((seed >>> 16) % 1000) - 500;
  }
  print(i32(isSorted(values, ascending)));
  insertionSort(values, ascending);
  print(i32(isSorted(values, ascending)));
  print(values[0]);
  print(values[99]);
  print(values[199]);
  const small = new Int32Array(6);
  small[0] = 3; small[1] = -1; small[2] = 4; small[3] = 1; small[4] = -5; small[5] = 9;
  insertionSort(small, descending);
  for (let i = 0; i < small.length; i++) print(small[i]);
  return 0;
}
