// expect: 342
// expect: 21
// expect: 0
// expect: 1
// expect: 0
// expect: 4
// expect: 3
// expect: -1
// expect: 0
// expect: 327665
// Typed arrays passed to functions (by reference): fill, reverse, copy, find, compare.
import { bool, i32, u8, print } from "dsl";

function fill(a: Uint8Array, value: u8): void {
  for (let i = 0; i < a.length; i++) a[i] = value;
}

function reverse(a: Int32Array): void {
  let i: i32 = 0;
  let j: i32 = a.length - 1;
  while (i < j) {
    const t: i32 = a[i];
    a[i] = a[j];
    a[j] = t;
    i++;
    j--;
  }
}

function copy(destination: Int32Array, source: Int32Array, count: i32): void {
  for (let i = 0; i < count; i++) destination[i] = source[i];
}

function indexOf(a: Int32Array, value: i32): i32 {
  for (let i = 0; i < a.length; i++) if (a[i] === value) return i;
  return -1;
}

function equal(a: Int32Array, b: Int32Array): bool {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sum16(a: Uint16Array): i32 {
  let s: i32 = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

const shared = new Int32Array(8);

export function main(): i32 {
  const buffer = new Uint8Array(10);
  fill(buffer, 0xab);
  print(buffer[0] + buffer[9]);
  for (let i = 0; i < shared.length; i++) shared[i] = i * 3;
  reverse(shared);
  print(shared[0]);
  print(shared[7]);
  const local = new Int32Array(8);
  copy(local, shared, 8);
  print(i32(equal(local, shared)));
  local[4] = 100;
  print(i32(equal(local, shared)));
  print(indexOf(local, 100));
  print(indexOf(local, 12));
  print(indexOf(local, 13));
  const short = new Int32Array(3);
  print(i32(equal(short, shared)));
  const halves = new Uint16Array(5);
  for (let i = 0; i < halves.length; i++) halves[i] = 65535 - i;
  print(sum16(halves));
  return 0;
}
