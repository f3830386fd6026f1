// expect: 2
// expect: 1
// expect: 127
// expect: 15
// expect: 47
// expect: 3
// expect: 14
// Labeled break and continue across nested loops (for, while, do/while).
import { i32, print } from "dsl";

const grid: i32[] = [
  3, 8, 1, 9,
  4, 7, 2, 6,
  5, 0, 8, 3,
  9, 9, 9, 9,
];

export function main(): i32 {
  // find the first zero: break out of both loops
  let foundRow: i32 = -1;
  let foundColumn: i32 = -1;
  search: for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      if (grid[r * 4 + c] === 0) {
        foundRow = r;
        foundColumn = c;
        break search;
      }
    }
  }
  print(foundRow);
  print(foundColumn);
  // sum each row up to its first value above 7: continue the outer loop
  let sum: i32 = 0;
  rows: for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      const v: i32 = grid[r * 4 + c];
      if (v > 7) continue rows;
      sum += v;
    }
    sum += 100;
  }
  print(sum);
  // primes below 50 with a labeled continue from the inner while
  let primes: i32 = 0;
  let lastPrime: i32 = 0;
  candidates: for (let n = 2; n < 50; n++) {
    let d: i32 = 2;
    while (d * d <= n) {
      if (n % d === 0) continue candidates;
      d++;
    }
    primes++;
    lastPrime = n;
  }
  print(primes);
  print(lastPrime);
  // labeled do/while with a break from two levels down
  let outerTurns: i32 = 0;
  let innerTurns: i32 = 0;
  outer: do {
    outerTurns++;
    let k: i32 = 0;
    while (k < 10) {
      k++;
      innerTurns++;
      if (outerTurns === 3 && k === 4) break outer;
      if (k === 5) continue outer;
    }
  } while (outerTurns < 100);
  print(outerTurns);
  print(innerTurns);
  return 0;
}
