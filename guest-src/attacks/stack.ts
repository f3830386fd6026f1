// Hostile guest: unbounded recursion. The stack (16 KiB at the end of .bss) runs down through the
// VM's own data into its read-only code pages or below GUEST_BASE: a page fault that ends only this VM.
import { u32 } from "dsl";
import { bootInit } from "../runtime/boot.ts";
import { announce, notContained } from "./common.ts";

let sink: u32 = 0;

function recurse(depth: u32): u32 {
  const frame = new Uint32Array(32);   // 128 bytes of stack per call
  frame[depth & 31] = depth;
  const below = recurse(depth + 1);
  sink = sink + frame[(depth + 1) & 31];
  return below + frame[depth & 31];
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  announce("stack", "recursing without end");
  sink = recurse(0);
  notContained("stack");
}
