// expect: 0
// expect: 8
// expect: 111
// expect: 9232
// expect: 2919
// expect: 216
// expect: 1276936
// Collatz sequences: the longest chain for a start below 3000, and the highest value reached.
import { i32, print } from "dsl";

let peak: i32 = 0;

function steps(start: i32): i32 {
  let n: i32 = start;
  let count: i32 = 0;
  while (n !== 1) {
    n = (n & 1) === 0 ? n >> 1 : 3 * n + 1;
    if (n > peak) peak = n;
    count++;
  }
  return count;
}

export function main(): i32 {
  print(steps(1));
  print(steps(6));
  print(steps(27));
  print(peak);
  let best: i32 = 1;
  let bestSteps: i32 = 0;
  for (let start = 1; start < 3000; start++) {
    const s: i32 = steps(start);
    if (s > bestSteps) {
      bestSteps = s;
      best = start;
    }
  }
  print(best);
  print(bestSteps);
  print(peak);
  return 0;
}
