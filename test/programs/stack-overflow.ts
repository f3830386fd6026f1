// expect: 1000
// expect: sentinel 7
// exit: 101
// stderr: stack overflow
// targets: interp qemu node
// Unbounded recursion ends with a trap, never by writing over the data under the stack (issue 12): the
// interpreter checks its stack pointer, x86 has an unmapped guard page under the program's 1 MiB stack
// (compiler/x86/guard.ts), Node in faithful mode reports V8's RangeError as the same trap (plain Node
// would not). 10 million frames overflow every target's stack.
import { i32, print, write } from "dsl";

const sentinel = new Int32Array(64);

function down(n: i32): i32 {
  if (n === 0) return 0;
  return down(n - 1) + 1;
}

export function main(): i32 {
  for (let i = 0; i < 64; i++) sentinel[i] = 7;
  print(down(1000));
  write("sentinel "); print(sentinel[63]);
  print(down(10000000));
  print(-1);
  return 0;
}
