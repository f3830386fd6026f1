// expect: 32
// expect: 0
// expect: 44
// expect: 44
// expect: 300
// expect: 300
// expect: 300
// expect: 300
// expect: 255
// expect: -1
// expect: 65535
// expect: -1
// expect: 4294967295
// expect: -1
// expect: 64
// expect: 64
// expect: 40000
// expect: -25536
// expect: 40000
// expect: 40000
// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 2147483648
// expect: -2147483648
// expect: 1
// expect: 3
// expect: 278027
// expect: 499500
// Typed arrays of every kind, module-level (static) and local (frame): zero-initialized, .length,
// and a store wraps to the element width as JavaScript's typed arrays do.
import { i32, print } from "dsl";

const bytes = new Uint8Array(8);
const signedBytes = new Int8Array(8);
const halves = new Uint16Array(4);
const signedHalves = new Int16Array(4);
const words = new Uint32Array(4);
const signedWords = new Int32Array(4);

function storeEverywhere(index: i32, value: i32): void {
  bytes[index] = value;
  signedBytes[index] = value;
  halves[index] = value;
  signedHalves[index] = value;
  words[index] = value;
  signedWords[index] = value;
}

function show(index: i32): void {
  print(bytes[index]);
  print(signedBytes[index]);
  print(halves[index]);
  print(signedHalves[index]);
  print(words[index]);
  print(signedWords[index]);
}

function localArrays(seed: i32): i32 {
  const a = new Uint8Array(3);
  const b = new Int8Array(3);
  const c = new Uint16Array(3);
  const d = new Int16Array(3);
  const e = new Uint32Array(3);
  const f = new Int32Array(3);
  let zeros: i32 = 0;
  for (let i = 0; i < 3; i++) {
    if (a[i] === 0 && b[i] === 0 && c[i] === 0 && d[i] === 0 && e[i] === 0 && f[i] === 0) zeros++;
  }
  for (let i = 0; i < 3; i++) {
    const v: i32 = Math.imul(seed, i + 1);
    a[i] = v; b[i] = v; c[i] = v; d[i] = v; e[i] = v; f[i] = v;
  }
  print(zeros);
  return (a[2] + b[2] + c[2] + d[2] + f[2]) | 0;
}

export function main(): i32 {
  print(bytes.length + signedBytes.length + halves.length + signedHalves.length + words.length + signedWords.length);
  print(bytes[7] + signedWords[3]);
  storeEverywhere(0, 300);
  storeEverywhere(1, -1);
  storeEverywhere(2, 40000);
  storeEverywhere(3, -2147483648);
  show(0);
  show(1);
  show(2);
  show(3);
  print(words[1] > words[2] ? 1 : 0);
  print(localArrays(0x12345));
  const big = new Int32Array(1000);
  for (let i = 0; i < big.length; i++) big[i] = i;
  let sum: i32 = 0;
  for (let i = 0; i < big.length; i++) sum += big[i];
  print(sum);
  return 0;
}
