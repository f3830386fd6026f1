// Input for the if-conversion unit test (test/compiler/if-conversion.test.ts): branches that become
// selects (a diamond, a triangle, a nested conditional, a conditional assignment in a loop, an || value)
// and branches that must stay (an arm that loads, divides, calls, or does too much).
import { i32, print } from "dsl";

const data: i32[] = [4, -9, 16, 0];

function largest(a: i32, b: i32): i32 { return a > b ? a : b; }
function magnitude(a: i32): i32 { return Math.abs(a); }
function limited(x: i32): i32 { return x < 0 ? 0 : x > 255 ? 255 : x; }
function firstSet(a: i32, b: i32): i32 { return a || b; }
function countAbove(limit: i32): i32 {
  let count = 0;
  for (let i = 0; i < data.length; i++) { const v = data[i]; if (v > limit) count = count + 1; }
  return count;
}

function loads(i: i32): i32 { return i < 0 ? 0 : data[i]; }
function divides(a: i32, b: i32): i32 { return b !== 0 ? a / b : 0; }
function noisy(a: i32): i32 { print(a); return a + 1; }
function calls(a: i32): i32 { return a > 0 ? noisy(a) : -a; }
function busy(a: i32, b: i32): i32 { return a > b ? ((a * b) ^ (a + b)) - ((a - b) | 1) : b; }

export function main(): i32 {
  print(largest(3, -4)); print(magnitude(-5)); print(limited(300)); print(limited(-2)); print(firstSet(0, 9));
  print(countAbove(1)); print(loads(2)); print(divides(9, 0)); print(calls(2)); print(busy(5, 2));
  return 0;
}
