// Hostile guest: misuses the threads' intrinsics (contextSwitch, contextCreate) against the bytecode
// interpreter's contexts (kernel-src/bytecode-interp.ts, docs/bytecode.md "Threads"). The manifest's
// argument picks the attack; each must end this VM alone with its reason:
//   0 contextSwitch to a forged handle (the address of a word it filled with a kernel-looking address);
//   1 contextCreate with a stack in the kernel's memory (0x00100000, 16 KiB);
//   2 a created context whose entry returns;
//   3 more contexts than the interpreter keeps (contexts on disjoint stacks, never run);
//   4 a created context's entry word overwritten with a kernel address before it is started;
//   5 a created context's handle used a second time (it started with the first: the handle is spent);
//   6 a thread that recurses without end (its call records are bounded like the main context's).
// As a hardware VM, 0, 4 jump to wild addresses and fault; the others are not meant for one.
import { u32, addressOf, overlay, functionAddress, contextCreate, contextSwitch } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { announce, announceAddress, notContained } from "./common.ts";

const STACK_BYTES = 4096;
const STACKS = 24;
const stacks = new Uint8Array(24 * 4096);
/** [0] the main context's handle, [1] a thread's, [2] a forged one. */
const handles = new Uint32Array(3);
let sink: u32 = 0;
/** A word laid over any address of the VM. */
class Word { value: u32 = 0; }

function stackOf(k: u32): u32 { return addressOf(stacks) + k * STACK_BYTES; }

/** Switches back to the main context at once, then returns (which a context's entry must not). */
function returner(arg: u32): void {
  contextSwitch(addressOf(handles) + 4, handles[0]);
  sink = arg;
}

/** Goes back to the main context for good. */
function bouncer(arg: u32): void {
  sink = arg;
  for (;;) contextSwitch(addressOf(handles) + 4, handles[0]);
}

function recurse(depth: u32): u32 {
  const frame = new Uint32Array(8);
  frame[depth & 7] = depth;
  return recurse(depth + 1) + frame[(depth + 1) & 7];
}

function recurser(arg: u32): void {
  sink = recurse(arg);
}

/** Creates a context on stack k running `entry`. */
function create(k: u32, entry: u32): u32 {
  return contextCreate(stackOf(k), STACK_BYTES, entry, k);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const which = argument();
  if (which === 0) {
    handles[2] = 0x00100000;
    announceAddress("contexts", "switch to a forged handle", addressOf(handles) + 8);
    contextSwitch(addressOf(handles), addressOf(handles) + 8);
  } else if (which === 1) {
    announceAddress("contexts", "create a context on a stack at", 0x00100000);
    sink = contextCreate(0x00100000, STACK_BYTES, functionAddress(bouncer), 0);
  } else if (which === 2) {
    announce("contexts", "a context's entry returns");
    handles[1] = create(0, functionAddress(returner));
    contextSwitch(addressOf(handles), handles[1]);    // it comes back once
    contextSwitch(addressOf(handles), handles[1]);    // then it returns
  } else if (which === 3) {
    announce("contexts", "create contexts without end");
    for (let k: u32 = 0; k < STACKS; k++) sink = create(k, functionAddress(bouncer));
  } else if (which === 4) {
    announce("contexts", "overwrite a created context's entry");
    const handle = create(0, functionAddress(bouncer));
    // The entry word is the first at the handle (docs/bytecode.md "Threads"): point it into the kernel.
    overlay(Word, handle).value = 0x00100000;
    contextSwitch(addressOf(handles), handle);
  } else if (which === 5) {
    announce("contexts", "resume a created handle twice");
    const handle = create(0, functionAddress(bouncer));
    contextSwitch(addressOf(handles), handle);          // it starts, and switches back
    contextSwitch(addressOf(handles), handle);          // spent: the thread is under another handle now
  } else {
    announce("contexts", "a thread recursing without end");
    contextSwitch(addressOf(handles), create(0, functionAddress(recurser)));
  }
  notContained("contexts");
}
