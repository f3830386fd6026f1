// expect: 3010
// exit: 101
// stderr: stack overflow
// targets: interp qemu node
// Frames larger than a page (a 16 KiB local array) touch every page they span before writing
// (stack probes, compiler/x86/lower.ts probeFrame): the overflow faults on the guard page instead of
// stepping over it and zeroing the global data below the stack. 100,000 frames of 16 KiB exceed every
// target's stack.
import { i32, print } from "dsl";

const below = new Int32Array(1024);

function deep(n: i32): i32 {
  const local = new Int32Array(4096);
  local[n & 4095] = n;
  if (n === 0) return local[0];
  return deep(n - 1) + local[n & 4095] - n + 1;
}

export function main(): i32 {
  for (let i = 0; i < 1024; i++) below[i] = 3;
  print(deep(10) + below[5] * 1000);
  print(deep(100000) + below[1023]);
  print(below[1023]);
  return 0;
}
