// expect: 5 5 0 -10
// expect: 9 5 -4 -18
// expect: 13 5 -8 -26
// expect: 17 5 -12 -34
// expect: 1
// expect: -32
// expect: 832040
// expect: 1836311903
// expect: -1323752223
// Integer matrix multiplication over flat Int32Arrays: a 4x4 product, the identity, and the
// Fibonacci matrix raised to the 30th and 46th power by repeated squaring.
import { i32, print, write } from "dsl";

function multiply(a: Int32Array, b: Int32Array, result: Int32Array, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum: i32 = 0;
      for (let k = 0; k < n; k++) sum = (sum + Math.imul(a[i * n + k], b[k * n + j])) | 0;
      result[i * n + j] = sum;
    }
  }
}

function copy(destination: Int32Array, source: Int32Array): void {
  for (let i = 0; i < source.length; i++) destination[i] = source[i];
}

function printMatrix(m: Int32Array, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j > 0) write(" ");
      write(m[i * n + j]);
    }
    print("");
  }
}

function fibonacci(power: i32): i32 {
  const result = new Int32Array(4);
  const base = new Int32Array(4);
  const scratch = new Int32Array(4);
  result[0] = 1; result[3] = 1;
  base[0] = 1; base[1] = 1; base[2] = 1;
  let e: i32 = power;
  while (e > 0) {
    if (e & 1) { multiply(result, base, scratch, 2); copy(result, scratch); }
    multiply(base, base, scratch, 2);
    copy(base, scratch);
    e >>= 1;
  }
  return result[1];
}

const a = new Int32Array(16);
const b = new Int32Array(16);
const c = new Int32Array(16);

export function main(): i32 {
  for (let i = 0; i < 16; i++) {
    a[i] = i + 1;
    b[i] = (i % 5) - 2;
  }
  multiply(a, b, c, 4);
  printMatrix(c, 4);
  const identity = new Int32Array(16);
  for (let i = 0; i < 4; i++) identity[i * 5] = 1;
  multiply(c, identity, b, 4);
  let same: i32 = 1;
  for (let i = 0; i < 16; i++) if (b[i] !== c[i]) same = 0;
  print(same);
  let trace: i32 = 0;
  for (let i = 0; i < 4; i++) trace += c[i * 5];
  print(trace);
  print(fibonacci(30));
  print(fibonacci(46));
  print(fibonacci(47));
  return 0;
}
