// Input for test/compiler/redundant-checks.test.ts: bounds checks that repeat, that are implied by a
// longer array's, and ones that must stay (the index changed, or only one path checked it).
import { i32, print } from "dsl";

const big = new Int32Array(16);
const small = new Int32Array(8);

/** big[i] twice: the second check is known. */
export function twice(i: i32): i32 { return (big[i] + big[i]) | 0; }

/** small[i] first: i < 8 implies i < 16, so big[i] needs no check. */
export function implied(i: i32): i32 { return (small[i] + big[i]) | 0; }

/** big[i] first says nothing about i < 8: small[i] keeps its check. */
export function notImplied(i: i32): i32 { return (big[i] + small[i]) | 0; }

/** i changes between the accesses: both checks stay. */
export function changed(i: i32): i32 {
  let j = i;
  const a = big[j];
  j = j + 1;
  return (a + big[j]) | 0;
}

/** Only one path checked i: the access after the join keeps its check. */
export function onePath(i: i32, c: i32): i32 {
  let s = 0;
  if (c > 0) s = big[i];
  return (s + big[i]) | 0;
}

/** Both paths checked i: the access after the join needs none. */
export function bothPaths(i: i32, c: i32): i32 {
  let s = 0;
  if (c > 0) s = big[i];
  else s = -big[i];
  return (s + big[i]) | 0;
}

/** An index masked below the length needs no check; masked below 16, small (8) keeps its check. */
export function masked(h: i32): i32 { return (big[h & 15] + small[h & 15]) | 0; }

/** 0 <= i < 16 in the loop: big[i] needs no check; with a bound n from outside it keeps it. */
export function loops(n: i32): i32 {
  let s = 0;
  for (let i = 0; i < 16; i++) s = (s + big[i]) | 0;
  for (let i = 0; i < n; i++) s = (s + big[i]) | 0;
  return s;
}

export function main(): i32 {
  for (let i = 0; i < 16; i++) { big[i] = i * 10; if (i < 8) small[i] = i; }
  print(twice(3));
  print(implied(7));
  print(implied(0));   // called twice: a function called once is inlined (the test looks at implied's checks)
  print(notImplied(5));
  print(changed(14));
  print(onePath(2, 1));
  print(onePath(2, 0));
  print(bothPaths(4, 1));
  print(bothPaths(4, -1));
  print(masked(0x7fffffff));
  print(masked(-8));
  print(loops(16));
  return 0;
}
