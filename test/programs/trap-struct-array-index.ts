// expect: 2
// exit: 101
// stderr: trap: index out of bounds
// targets: interp qemu node
// Not for node --plain: an out-of-range structArray element is undefined in JavaScript (and the
// field access would throw a TypeError rather than trap). Unsigned index: 2^32 - 1 is out of range.
import { i32, u32, print, structArray } from "dsl";

class Entry { key: i32 = 0; value: i32 = 0; }

const entries = structArray(Entry, 3);

export function main(): i32 {
  entries[2].value = 2;
  print(entries[2].value);
  let index: u32 = 0;
  index = (index - 1) >>> 0;
  print(entries[index].value);
  return 0;
}
