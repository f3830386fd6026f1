// The shapes if-conversion turns into `select` (compiler/passes/if-conversion.ts; cmov on x86):
// min/max, abs, clamps, sign, ternaries and conditional assignments in loops, && and || values,
// a swap — at the edges INT_MIN, INT_MAX, 0, -1, signed against unsigned. One result a line.
// expect: -2147483648
// expect: 2147483647
// expect: -1
// expect: 0
// expect: 2147483647
// expect: -2147483648
// expect: 0
// expect: -1
// expect: 4294967294
// expect: 0
// expect: 2147483648
// expect: 7
// expect: 0
// expect: 2147483647
// expect: 0
// expect: 10
// expect: -3
// expect: 10
// expect: 0
// expect: -1
// expect: 0
// expect: 1
// expect: -1
// expect: 1
// expect: 3
// expect: -2147483648
// expect: 0
// expect: 0
// expect: 7
// expect: 2147483647
// expect: 0
// expect: 1
// expect: 0
// expect: 1
// expect: -2147483648
// expect: 2147483647
// expect: -7
// expect: -2000
// expect: -20
// expect: 128
// expect: 5
// expect: 5
// expect: 3
// expect: 1
// expect: 3
// expect: 7
// expect: -3
import { i32, u32, print } from "dsl";

const INT_MIN: i32 = -2147483648;
const INT_MAX: i32 = 2147483647;
const table: i32[] = [5, -2147483648, -1, 0, 2147483647, 3, -7, 2];

function min(a: i32, b: i32): i32 { return a < b ? a : b; }
function max(a: i32, b: i32): i32 { return a > b ? a : b; }
function minU(a: u32, b: u32): u32 { return a < b ? a : b; }
function clamp(x: i32, low: i32, high: i32): i32 { return x < low ? low : x > high ? high : x; }
function sign(x: i32): i32 { if (x > 0) return 1; if (x < 0) return -1; return 0; }
function pickNonZero(a: i32, b: i32): i32 { return a || b; }
function both(a: i32, b: i32): i32 { return a && b; }
function flagged(x: i32): i32 { let r = 0; if (x !== 0) r = 1; return r; }

export function main(): i32 {
  print(min(INT_MIN, INT_MAX)); print(max(INT_MIN, INT_MAX)); print(min(-1, 0)); print(max(-1, 0));
  print(Math.max(INT_MAX, INT_MIN)); print(Math.min(INT_MAX, INT_MIN)); print(Math.max(-1, 0)); print(Math.min(0, -1));
  print(minU(u32(4294967295), u32(4294967294))); print(minU(u32(0), u32(4294967295)));
  print(u32(Math.abs(INT_MIN))); print(Math.abs(-7)); print(Math.abs(0)); print(Math.abs(-INT_MAX));
  print(clamp(-5, 0, 10)); print(clamp(50, 0, 10)); print(clamp(-3, -3, 3)); print(clamp(INT_MAX, INT_MIN, 10)); print(clamp(INT_MIN, 0, 0));
  print(sign(INT_MIN)); print(sign(0)); print(sign(INT_MAX)); print(sign(-1)); print(sign(1));
  print(pickNonZero(0, 3)); print(pickNonZero(INT_MIN, 3)); print(pickNonZero(0, 0));
  print(both(0, 7)); print(both(-1, 7)); print(both(5, INT_MAX)); print(both(INT_MIN, 0));
  print(flagged(INT_MIN)); print(flagged(0)); print(flagged(-1));

  // running minimum, maximum and a conditional assignment over a table with the edges in it
  let lowest: i32 = INT_MAX, highest: i32 = INT_MIN, lastNegative: i32 = 0;
  for (let i = 0; i < table.length; i++) {
    const v = table[i];
    lowest = v < lowest ? v : lowest;
    if (v > highest) highest = v;
    if (v < 0) lastNegative = v;
  }
  print(lowest); print(highest); print(lastNegative);

  // ternaries in a loop: a saturating sum, a count, a counted clamp, an index that wraps
  let saturated: i32 = 0, negatives: i32 = 0, clamped: i32 = 0, wrapped: i32 = 0;
  for (let i: i32 = -20; i < 20; i++) {
    const step = i * 100;
    saturated = saturated + step > 1900 ? 1900 : saturated + step;
    negatives += i < 0 ? -1 : 0;
    clamped += clamp(i, -2, 4) === 4 ? 8 : 0;
    wrapped = wrapped + 1 === 7 ? 0 : wrapped + 1;
  }
  print(saturated); print(negatives); print(clamped); print(wrapped);

  // a swap: two registers merged by one branch
  let a: i32 = 3, b: i32 = 5;
  if (a < b) { const t = a; a = b; b = t; }
  print(a); print(b);

  // a comparison chosen by a comparison, a select of selects, clamps through min and max
  const x: i32 = -3, y: i32 = 7;
  const ordered = x < y ? x <= y : y <= x;
  print(ordered ? 1 : 0);
  print(x > 0 ? (y > 0 ? 1 : 2) : (y > 0 ? 3 : 4));
  print(max(min(y, 10), 0)); print(min(max(x, -5), 0));
  return 0;
}
