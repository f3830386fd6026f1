// expect: 67305985
// expect: 4
// expect: 513
// expect: 170
// expect: 170
// expect: 0
// expect: 1
// expect: 1
// expect: 2
// expect: 3
// expect: 6
// expect: 2
// expect: 3
// expect: 6
// expect: 5
// expect: 1
// targets: interp qemu
// Not portable to Node: load/store, memoryCopy, memoryFill and addressOf are machine intrinsics.
import { i32, u32, print, addressOf, load8, load16, load32, store8, store32, memoryCopy, memoryFill } from "dsl";

const buffer = new Uint8Array(16);
const words = new Uint32Array(2);

export function main(): i32 {
  const base: u32 = addressOf(buffer);
  for (let i = 0; i < 4; i++) buffer[i] = i + 1;
  print(load32(base));
  print(load8(base + 3));
  print(load16(base));
  memoryFill(base + 8, 0xaa, 4);
  print(buffer[8]);
  print(buffer[11]);
  print(buffer[12]);
  // overlapping copy forward by two bytes: memmove semantics
  memoryCopy(base + 2, base, 6);
  print(buffer[0]);
  print(buffer[2]);
  print(buffer[3]);
  print(buffer[4]);
  store8(base + 5, 6);
  print(buffer[5]);
  // overlapping copy backward
  memoryCopy(base, base + 3, 4);
  print(buffer[0]);
  print(buffer[1]);
  print(buffer[2]);
  store32(addressOf(words) + 4, 5);
  print(words[1]);
  print(i32(words[0] === 0));
  return 0;
}
