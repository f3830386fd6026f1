// Input for the pass unit tests (test/compiler/passes.test.ts): constants to fold, branches that fold,
// dead values, empty blocks and jump chains, an unused function.
import { i32, u32, print } from "dsl";

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
  print(reduced(5, 100));
  print(invariant(1, 2));
  print(folded(-8));             // folded and invariant called twice: a function called once is
  print(invariant(0, 3));        // inlined into its caller (compiler/passes/inline.ts)
  return 0;
}

// For copy-propagation, cse and strength-reduction (test/compiler/passes.test.ts).
export function reduced(x: i32, y: u32): i32 {
  const a = x * 8;              // strength-reduction: shl 3
  const b = x * 8;              // cse: the same product again
  const c = a;                  // copy-propagation: reads of c read a
  const q = y / 16;             // divu by 16: shru 4
  const r = y % 16;             // remu by 16: and 15
  return (c + b + i32(q) + i32(r)) | 0;
}

// For licm: the table's address and the scaled stride do not change inside the loop.
const table = new Int32Array(16);
export function invariant(n: i32, k: i32): i32 {
  let sum = 0;
  for (let i = 0; i < 16; i++) {
    const step = (k * 3) | 0;  // invariant: k never changes in the loop
    table[i] = (i + step) | 0;
    sum = (sum + table[i]) | 0;
  }
  return (sum + n) | 0;
}
