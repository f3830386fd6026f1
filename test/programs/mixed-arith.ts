// expect: -1294967295
// expect: 3000000001
// expect: 205032704
// expect: 3000000001
// expect: 3000000001
// expect: -1294967296
// expect: 3000000000
// expect: -1
// targets: interp qemu node
// Not for node --plain: mixing i32 and u32 gives i32 (the sum of 3000000000 and 1 prints as the
// i32 -1294967295), and an i32 variable re-reads the bits of a u32.
import { i32, u32, print } from "dsl";

export function main(): i32 {
  const a: u32 = 3000000000;
  const b: i32 = 1;
  print(a + b);
  print(a + 1);
  const c: u32 = 4000000000;
  const d: i32 = 500000000;
  print(c + d);
  print(u32(a + b));
  print((a + b) >>> 0);
  const e: i32 = a;
  print(e);
  const f: u32 = e;
  print(f);
  const g: u32 = 4294967295;
  print(g | 0);
  return 0;
}
