// expect: 554347728
// Recursive backtracking: all solutions of the 8-queens problem, placed column by column with
// bitmask-free arrays (rows, both diagonals), repeated 4 times. C twin: n-queens.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const N = 8;
const rowUsed = new Uint8Array(8);
const diagonalUp = new Uint8Array(15);
const diagonalDown = new Uint8Array(15);
const placement = new Int32Array(8);
let signature: u32 = 0;

function place(column: i32): u32 {
  if (column === N) {
    let s: u32 = 0;
    for (let c = 0; c < N; c++) s = (Math.imul(s, 8) + placement[c]) >>> 0;
    signature = (Math.imul(signature, 31) + s) >>> 0;
    return 1;
  }
  let solutions: u32 = 0;
  for (let row = 0; row < N; row++) {
    if (rowUsed[row] !== 0 || diagonalUp[row + column] !== 0 || diagonalDown[row - column + N - 1] !== 0) continue;
    rowUsed[row] = 1; diagonalUp[row + column] = 1; diagonalDown[row - column + N - 1] = 1;
    placement[column] = row;
    solutions += place(column + 1);
    rowUsed[row] = 0; diagonalUp[row + column] = 0; diagonalDown[row - column + N - 1] = 0;
  }
  return solutions;
}

function bench(): u32 {
  let total: u32 = 0;
  for (let round = 0; round < 4; round++) total += place(0);
  return ((total << 20) ^ signature) >>> 0;
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
