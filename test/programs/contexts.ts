// expect: main starts 2 threads
// expect: thread 1 step 0 depth 0
// expect: thread 2 step 0 depth 0
// expect: main resumed 1
// expect: thread 1 step 1 depth 5
// expect: thread 2 step 1 depth 5
// expect: main resumed 2
// expect: thread 1 sum 15
// expect: thread 1 step 2 depth 10
// expect: thread 2 sum 30
// expect: thread 2 step 2 depth 10
// expect: main resumed 3
// expect: kept 1234567 7654321 1
// targets: interp qemu
// contextCreate/contextSwitch (docs/calling-convention.md "Contexts"): two threads on stacks of their
// own take turns with the main context in round robin; each switch happens deep inside a recursion,
// so frames, locals held in callee-saved registers and stack slots must all survive it.
import { i32, u32, print, write, addressOf, functionAddress, contextCreate, contextSwitch } from "dsl";

const STACK_BYTES = 16384;
const stack1 = new Uint8Array(STACK_BYTES);
const stack2 = new Uint8Array(STACK_BYTES);
/** handles[0] main, [1] and [2] the threads: where each suspended context's handle is kept. */
const handles = new Uint32Array(3);
let current: i32 = 0;

function switchTo(next: i32): void {
  const from = current;
  current = next;
  contextSwitch(addressOf(handles) + u32(from) * 4, handles[next]);
}

/** Recurses `depth` levels, switches at the bottom, then sums on the way back up. */
function deep(id: i32, depth: i32, step: i32): i32 {
  const local = new Int32Array(4);   // a frame slot that must survive the switch
  local[0] = depth * id;
  if (depth === 0) {
    switchTo(id === 2 ? 0 : id + 1);
    return 0;
  }
  const below = deep(id, depth - 1, step);
  return below + local[0];
}

function thread(id: u32): void {
  for (let step = 0; ; step++) {
    const depth = step * 5;
    write("thread "); write(id); write(" step "); write(step); write(" depth "); print(depth);
    if (step === 0) { switchTo(i32(id) === 2 ? 0 : i32(id) + 1); continue; }
    const sum = deep(i32(id), depth, step);
    write("thread "); write(id); write(" sum "); print(sum);
  }
}

export function main(): i32 {
  const a: u32 = 1234567, b: u32 = 7654321;
  handles[1] = contextCreate(addressOf(stack1), STACK_BYTES, functionAddress(thread), 1);
  handles[2] = contextCreate(addressOf(stack2), STACK_BYTES, functionAddress(thread), 2);
  print("main starts 2 threads");
  for (let round = 1; round <= 3; round++) {
    switchTo(1);
    write("main resumed "); print(round);
  }
  write("kept "); write(a); write(" "); write(b); write(" "); print(handles[0] !== 0 ? 1 : 0);
  return 0;
}
