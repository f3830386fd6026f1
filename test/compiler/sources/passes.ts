// Input for the pass unit tests (test/compiler/passes.test.ts): constants to fold, branches that fold,
// dead values, empty blocks and jump chains, an unused function.
import { i32, print } from "dsl";

const SCALE = 4;

function unused(x: i32): i32 { return x * 2; }

function folded(x: i32): i32 {
  const a = 6 * 7;              // folds to 42
  const dead = x * 1000;        // never used: removed by dce
  let y = a + SCALE * 2;        // folds to 50
  if (SCALE > 3) y = y + x;     // the condition folds; the else edge disappears
  else y = 0;
  while (false) { y++; }        // unreachable loop body
  return y;
}

function divides(x: i32, d: i32): i32 {
  const kept = x / d;           // may trap: kept even though unused
  return x + 1;
}

export function main(): i32 {
  print(folded(8));
  print(divides(10, 2));
  return 0;
}
