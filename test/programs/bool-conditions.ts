// expect: 0
// expect: 1
// expect: 1
// expect: 2
// expect: 23
// expect: 10
// expect: 2
// expect: 3
// expect: 7
// expect: 1
// expect: 0
// bool values, bool(x) and i32(b), and integers used directly as conditions.
import { bool, i32, u32, print } from "dsl";

function isPowerOfTwo(x: u32): bool { return x !== 0 && (x & (x - 1)) === 0; }

export function main(): i32 {
  print(i32(bool(0)));
  print(i32(bool(5)));
  print(i32(bool(-1)));
  print(i32(true) + i32(true));
  let flags: i32 = 0;
  const ready: bool = true;
  const halted: boolean = false;
  if (ready) flags = flags | 1;
  if (!halted) flags = flags | 2;
  if (flags) flags = flags | 4;
  if (!(flags & 8)) flags = flags | 16;
  print(flags);
  let n: i32 = 10;
  let steps: i32 = 0;
  while (n) { n = n - 1; steps++; }
  print(steps);
  print(n ? 1 : 2);
  print(!n ? 3 : 4);
  let powers: i32 = 0;
  for (let x: u32 = 0; x < 100; x++) {
    if (isPowerOfTwo(x)) powers++;
  }
  print(powers);
  const same: bool = isPowerOfTwo(64) === ready;
  print(i32(same));
  print(i32(!same));
  return 0;
}
