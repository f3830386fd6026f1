// expect: 45
// expect: 1
// expect: 7
// expect: 1
// expect: 0
// expect: 5050
// expect: 10741
// expect: 6
// expect: 7
// expect: 100
// expect: 45
// while, do/while (the body runs once even when the condition starts false), for in its forms.
import { i32, print } from "dsl";

function digitSum(n: i32): i32 {
  let sum: i32 = 0;
  let v: i32 = n;
  while (v > 0) {
    sum += v % 10;
    v = (v / 10) | 0;
  }
  return sum;
}

function countDigits(n: i32): i32 {
  let digits: i32 = 0;
  let v: i32 = n;
  do {
    digits++;
    v = (v / 10) | 0;
  } while (v !== 0);
  return digits;
}

export function main(): i32 {
  print(digitSum(987654321));
  print(countDigits(0));
  print(countDigits(1000000));
  let runs: i32 = 0;
  do { runs++; } while (false);
  print(runs);
  let whileRuns: i32 = 0;
  while (false) whileRuns++;
  print(whileRuns);
  let triangle: i32 = 0;
  for (let i = 1; i <= 100; i++) triangle += i;
  print(triangle);
  let down: i32 = 0;
  for (let i = 10; i > 0; i -= 3) down = down * 10 + i;
  print(down);
  let j: i32 = 0;
  for (; j < 5; ) j += 2;
  print(j);
  let spins: i32 = 0;
  for (;;) {
    spins++;
    if (spins === 7) break;
  }
  print(spins);
  let odd: i32 = 0;
  for (let i = 0; i < 20; i++) {
    if (i % 2 === 0) continue;
    odd += i;
  }
  print(odd);
  let n: i32 = 0;
  while (true) {
    n++;
    if (n * n > 2000) break;
  }
  print(n);
  return 0;
}
