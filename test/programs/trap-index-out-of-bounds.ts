// expect: 0
// expect: 1
// expect: 2
// expect: 3
// exit: 101
// stderr: trap: index out of bounds
// targets: interp qemu node
// Not for node --plain: a typed-array store past the end is silently ignored by JavaScript.
// The classic off-by-one: `i <= length`.
import { i32, print } from "dsl";

const slots = new Int32Array(4);

export function main(): i32 {
  for (let i = 0; i <= slots.length; i++) {
    slots[i] = i * i;
    print(i);
  }
  return 0;
}
