// expect: 1023
// expect: 0
// expect: 0
// expect: 10
// expect: 10
// expect: 1
// expect: 1891194388
// Towers of Hanoi: recursive moves on three pegs kept as stacks in typed arrays, with the
// invariant (no larger disc on a smaller one) checked after every move.
import { i32, print, panic } from "dsl";

const pegs = new Int32Array(3 * 16);
const heights = new Int32Array(3);
let moves: i32 = 0;
let signature: i32 = 0;

function pushDisc(peg: i32, disc: i32): void {
  if (heights[peg] > 0 && pegs[peg * 16 + heights[peg] - 1] < disc) panic("larger disc on a smaller one");
  pegs[peg * 16 + heights[peg]] = disc;
  heights[peg]++;
}

function popDisc(peg: i32): i32 {
  heights[peg]--;
  return pegs[peg * 16 + heights[peg]];
}

function move(count: i32, from: i32, to: i32, via: i32): void {
  if (count === 0) return;
  move(count - 1, from, via, to);
  pushDisc(to, popDisc(from));
  moves++;
  signature = (Math.imul(signature, 7) + from * 3 + to) | 0;
  move(count - 1, via, to, from);
}

export function main(): i32 {
  const discs: i32 = 10;
  for (let d = discs; d >= 1; d--) pushDisc(0, d);
  move(discs, 0, 2, 1);
  print(moves);
  print(heights[0]);
  print(heights[1]);
  print(heights[2]);
  print(pegs[2 * 16]);
  print(pegs[2 * 16 + 9]);
  print(signature);
  return 0;
}
