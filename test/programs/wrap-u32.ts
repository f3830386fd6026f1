// expect: 4294967295
// expect: 0
// expect: 1
// expect: 84696351
// expect: 4294967295
// expect: 1705032704
// expect: 410065408
// expect: 4294967295
// expect: 0
// expect: 4294967294
// expect: 2644295407
// expect: 4294967295
// expect: 4294967295
// targets: interp qemu node
// Not for node --plain: u32 arithmetic wraps modulo 2^32 without `>>> 0`, and a u32 holding the bits
// of a negative i32 prints unsigned (Node would print the negative number).
import { i32, u32, print } from "dsl";

export function main(): i32 {
  const z: u32 = 0;
  print(z - 1);
  const mx: u32 = 4294967295;
  print(mx + 1);
  print(mx * mx);
  let h: u32 = 2166136261;
  h = h * 16777619;
  print(h);
  const x: i32 = -1;
  const y: u32 = x;
  print(y);
  const k: u32 = 3000000000;
  print(k + k);
  print(k * 3);
  let count: u32 = 0;
  count--;
  print(count);
  count++;
  print(count);
  count -= 2;
  print(count);
  let word: u32 = 0xdeadbeef;
  word *= 0x10001;
  print(word);
  const inverted: u32 = ~z;
  print(inverted);
  let sum: u32 = 0;
  for (let i = 0; i < 3; i++) sum = sum + 0x55555555;
  print(sum);
  return 0;
}
