// expect: 10
// expect: 10
// expect: 10
// expect: -1
// expect: 55
// expect: 25
// expect: 5
// expect: 1
// expect: -95
// expect: 13
// expect: 10
// expect: 6
// expect: -95
// expect: 6
// expect: 1
// expect: 10
// expect: 56
// expect: 10
// Operands are evaluated left to right and a local read yields its value at that moment, even when a
// later operand of the same expression assigns the local (issue 12, item 1). Parameters alike.
import { i32, u32, print } from "dsl";

type Pair = (a: i32, b: i32) => i32;
function f(a: i32, b: i32): i32 { return a * 10 + b; }
function g(a: i32, b: i32): i32 { return a - b; }

function parameters(x: i32, y: i32): i32 {
  print(x + x++);
  print(x);
  y -= (y = 100);
  print(y);
  return x;
}

export function main(): i32 {
  let x = 5; x += x++; print(x);
  x = 5; print(x + x++);
  x = 5; print(x * (x = 2));
  x = 5; print(x - (x += 1));
  x = 5; print(f(x, x++));
  x = 5; print(Math.imul(x, x++));
  x = 5; print(Math.max(x, (x = 1)));
  x = 5; print(i32(x > (x = 1)));
  let y = 5; y -= (y = 100); print(y);
  let z = 3; print((x = z) + (z = 7) + x);
  print(parameters(5, 5));
  // a function reference read before an argument reassigns it
  let h: Pair = g;
  print(h(3, ((h = f), 2)));
  h = g; x = 3;
  print(x + (x > 2 ? x++ : 0) + x);
  let u: u32 = 7;
  print(u * 8 + (u >>>= 1) - 3);
  print(++x + x--);
  return 0;
}
