// expect: 0
// expect: 1
// expect: 1
// expect: 1
// expect: 1
// expect: 123
// expect: 1
// expect: 1234
// expect: 13
// expect: 11
// expect: 0
// expect: 1
// expect: 0
// expect: 10
// expect: 0
// expect: 3
// expect: 1
// && and || evaluate their right operand only when needed; the side effects show it.
import { bool, i32, print } from "dsl";

let calls: i32 = 0;
let trace: i32 = 0;

function check(id: i32, result: bool): bool {
  calls++;
  trace = trace * 10 + id;
  return result;
}

function safeDivides(a: i32, b: i32): bool {
  return b !== 0 && a % b === 0;
}

export function main(): i32 {
  let r: bool = check(1, false) && check(2, true);
  print(i32(r));
  print(trace);
  trace = 0;
  r = check(1, true) || check(2, true);
  print(i32(r));
  print(trace);
  trace = 0;
  r = check(1, true) && check(2, false) || check(3, true);
  print(i32(r));
  print(trace);
  trace = 0;
  r = check(1, false) || check(2, false) || check(3, false) || check(4, true);
  print(i32(r));
  print(trace);
  trace = 0;
  if (check(1, false) && check(2, true) || check(3, false) && check(4, true)) print(99);
  print(trace);
  print(calls);
  print(i32(safeDivides(10, 0)));
  print(i32(safeDivides(10, 5)));
  print(i32(safeDivides(10, 3)));
  let n: i32 = 0;
  const value: i32 = 7;
  if (value > 5 || n++ > 0) n += 10;
  if (value < 5 && n++ > 0) n += 100;
  print(n);
  const x: i32 = 3;
  const y: i32 = 0;
  print(i32(x && y));
  print(i32(x || y));
  print(i32(!x || !y));
  return 0;
}
