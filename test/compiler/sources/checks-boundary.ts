// Input for test/compiler/redundant-checks.test.ts: checks one element short of redundant, where each
// fact or value range of the pass stops implying the check (an array one shorter, `<= 8` against 8
// elements, a mask, remainder or shift reaching 7 against 7 elements, a loop running to 9 over 8).
// Every check here must stay: the test calls each function with the index that fails it (after -O2
// too: `tested` refers to each, so inlining into main does not remove it).
import { i32, u32, print } from "dsl";

const nine = new Int32Array(9);
const eight = new Int32Array(8);
const seven = new Int32Array(7);

/** i < 9 says nothing about i < 8. */
export function longerByOne(i: i32): i32 { return (nine[i] + eight[i]) | 0; }

/** i <= 8 (unsigned) is i < 9, not i < 8. */
export function upToEight(i: i32): i32 {
  if (u32(i) <= 8) return eight[i];
  return -1;
}

/** 0 <= i < 9 (signed) is not i < 8. */
export function belowNine(i: i32): i32 {
  if (i >= 0 && i < 9) return eight[i];
  return -1;
}

/** h & 7 reaches 7: seven elements are one short. */
export function maskedSeven(h: i32): i32 { return seven[h & 7]; }

/** h % 8 reaches 7 (strength reduction makes it h & 7 before the pass). */
export function remainderSeven(h: i32): i32 { return seven[u32(h) % 8]; }

/** h >>> 29 reaches 7. */
export function shiftedSeven(h: i32): i32 { return seven[u32(h) >>> 29]; }

/** The loop's i reaches 8. */
export function loopToNine(n: i32): i32 {
  let s = n;
  for (let i = 0; i < 9; i++) s = (s + eight[i]) | 0;
  return s;
}

type Checked = (i: i32) => i32;
const tested: Checked[] = [longerByOne, upToEight, belowNine, maskedSeven, remainderSeven, shiftedSeven, loopToNine];

export function main(): i32 {
  for (let i = 0; i < 9; i++) { nine[i] = i * 100; if (i < 8) eight[i] = i * 10; if (i < 7) seven[i] = i; }
  print(longerByOne(7));
  print(upToEight(7));
  print(upToEight(9));
  print(belowNine(7));
  print(belowNine(-1));
  print(maskedSeven(6));
  print(remainderSeven(14));
  print(shiftedSeven(0x7fffffff));
  if (seven[1] === 12345) print(loopToNine(0));   // never true here: the test calls it, and it traps
  if (seven[1] === 12345) print(tested[0](0));
  return 0;
}
