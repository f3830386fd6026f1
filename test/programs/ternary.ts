// expect: 0
// expect: 5
// expect: 10
// expect: 2147483648
// expect: 12
// expect: 99
// expect: 40
// expect: 21
// expect: 6
// expect: 42
// expect: -21
// The conditional operator: nested, as an argument, with an integer condition, selecting a function.
import { i32, u32, print } from "dsl";

type Unary = (x: i32) => i32;
function double(x: i32): i32 { return x * 2; }
function negate(x: i32): i32 { return -x; }

function clamp(x: i32, low: i32, high: i32): i32 { return x < low ? low : x > high ? high : x; }
function absolute(x: i32): u32 { return x < 0 ? u32(-x) : u32(x); }
function sign(x: i32): i32 { return x > 0 ? 1 : x < 0 ? -1 : 0; }

export function main(): i32 {
  print(clamp(-5, 0, 10));
  print(clamp(5, 0, 10));
  print(clamp(50, 0, 10));
  print(absolute(-2147483648));
  print(absolute(12));
  print(sign(-9) + sign(0) * 10 + sign(9) * 100);
  const flags: i32 = 4;
  print(flags & 4 ? 40 : 41);
  print(flags & 2 ? 20 : 21);
  let total: i32 = 0;
  for (let i = 0; i < 10; i++) total += i % 3 === 0 ? i : i % 3 === 1 ? -i : 0;
  print(total);
  const chosen: Unary = total > 0 ? double : negate;
  print(chosen(21));
  print((total < 0 ? double : negate)(21));
  return 0;
}
