// Hostile guest: unbounded recursion. The stack (16 KiB, a segment of its own) sits above a guard page
// the kernel never maps (docs/virtual-architecture.md "Stack"): first the guest asks the kernel to write
// its clock into the guard page (readClock must fail with EFAULT and leave the page unmapped), then it
// recurses until its stack runs into the guard, which ends only this VM with "stack overflow" at the
// guard's address, before a single byte of its .bss is overwritten (the recursion checks a canary there).
import { u32, i32, write, print, linkerAddress } from "dsl";
import { bootInit, PAGE_SIZE } from "../runtime/boot.ts";
import { readClock } from "../runtime/hypercalls.ts";
import { EFAULT } from "../../abi/hypercalls.ts";
import { announce, announceAddress, notContained } from "./common.ts";

const CANARY: u32 = 0x5ca1ab1e;
const canary = new Uint32Array(64);
let sink: u32 = 0;

function recurse(depth: u32): u32 {
  const frame = new Uint32Array(32);   // 128 bytes of stack per call
  frame[depth & 31] = depth;
  if (canary[63] !== CANARY) { write("attack stack: canary overwritten at depth "); print(depth); notContained("stack"); }
  const below = recurse(depth + 1);
  sink = sink + frame[(depth + 1) & 31];
  return below + frame[depth & 31];
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  for (let i = 0; i < 64; i++) canary[i] = CANARY;
  const guard: u32 = linkerAddress("stackBottom") - PAGE_SIZE;
  announceAddress("stack", "readClock into the guard page at", guard);
  const result: i32 = readClock(guard);
  if (result !== EFAULT) { write("attack stack: readClock returned "); print(result); notContained("stack"); }
  announce("stack", "recursing without end");
  sink = recurse(0);
  notContained("stack");
}
