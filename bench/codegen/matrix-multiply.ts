// expect: 2455976831
// Integer matrix multiply C = A x B, 40 x 40, row-major in flat Int32Arrays (64,000 multiply-adds),
// then a wrapping sum of C. C twin: matrix-multiply.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const SIZE = 40;
const a = new Int32Array(1600);
const b = new Int32Array(1600);
const c = new Int32Array(1600);

function fill(): void {
  for (let i = 0; i < SIZE; i++) {
    for (let j = 0; j < SIZE; j++) {
      a[i * SIZE + j] = ((i * 7 + j * 3) % 19) - 9;
      b[i * SIZE + j] = ((i * 5 + j * 11) % 23) - 11;
    }
  }
}

function multiply(): void {
  for (let i = 0; i < SIZE; i++) {
    for (let j = 0; j < SIZE; j++) {
      let sum: i32 = 0;
      for (let k = 0; k < SIZE; k++) sum = (sum + Math.imul(a[i * SIZE + k], b[k * SIZE + j])) | 0;
      c[i * SIZE + j] = sum;
    }
  }
}

function bench(): u32 {
  multiply();
  let check: u32 = 0;
  for (let i = 0; i < SIZE * SIZE; i++) check = (Math.imul(check, 31) + c[i]) >>> 0;
  return check;
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
