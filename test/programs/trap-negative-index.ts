// expect: 7
// exit: 101
// stderr: trap: index out of bounds
// targets: interp qemu node
// Not for node --plain: reading index -1 of an array gives undefined in JavaScript. An i32[]
// module-level array read at a negative index (a failed search used as an index).
import { i32, print } from "dsl";

const weights: i32[] = [3, 7, 1, 9];

function indexOf(value: i32): i32 {
  for (let i = 0; i < weights.length; i++) if (weights[i] === value) return i;
  return -1;
}

export function main(): i32 {
  print(weights[indexOf(7)]);
  print(weights[indexOf(8)]);
  return 0;
}
