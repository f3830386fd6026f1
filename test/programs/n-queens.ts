// expect: 1
// expect: 0
// expect: 0
// expect: 2
// expect: 10
// expect: 4
// expect: 40
// expect: 92
// N-queens by backtracking with bitmasks (columns and both diagonals), for N = 1..8.
import { i32, print } from "dsl";

let solutions: i32 = 0;

function place(n: i32, row: i32, columns: i32, diagonals: i32, antiDiagonals: i32): void {
  if (row === n) {
    solutions++;
    return;
  }
  let free: i32 = ~(columns | diagonals | antiDiagonals) & ((1 << n) - 1);
  while (free !== 0) {
    const bit: i32 = free & -free;
    free = free ^ bit;
    place(n, row + 1, columns | bit, (diagonals | bit) << 1, (antiDiagonals | bit) >> 1);
  }
}

function countSolutions(n: i32): i32 {
  solutions = 0;
  place(n, 0, 0, 0, 0);
  return solutions;
}

export function main(): i32 {
  for (let n = 1; n <= 8; n++) print(countSolutions(n));
  return 0;
}
