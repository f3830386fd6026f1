// Fused instructions that fault and are dispatched again (kernel-src/bytecode-interp.ts, docs/bytecode.md
// "Pre-decoding"): each loop advances a pointer held in one register and, in the same instruction after
// fusion, loads or stores through it, `p = p + step; store32(p, i)` (I_ADD_STORE with its result register
// also its operand), `q = q + step; s += load32(q)` (I_ADD_LOAD) and `r = r + (i << 12); s += load32(r)`
// (I_SHIFT_ADD_LOAD32). Every page they reach is above the image, untouched (the test gives the VM
// REGION_PAGES pages more than its image needs), so each access faults, the page is made and the
// instruction dispatched again: had it written its result before its checks, the pointer would
// advance twice. The VM prints each pointer's distance and what it read back, then `refault ok` or
// `refault BAD`.
import { u32, load32, store32, overlay, print, write } from "dsl";
import { BootInfo } from "../../../abi/boot.ts";

const PAGES: u32 = 24;
const STEP: u32 = 4096;
/** Pages at the top of the VM's memory the walks use: 24 + 24 + 277 (the shifted walk's 276 + 1). */
export const REGION_PAGES: u32 = 325;

export function guestMain(magic: u32, bootInfo: u32): void {
  const info = overlay(BootInfo, bootInfo);
  const base = info.memoryBase + info.memorySize - REGION_PAGES * STEP;
  let p = base - STEP;
  for (let i: u32 = 0; i < PAGES; i++) {
    p = p + STEP;
    store32(p, i);
  }
  let back: u32 = 0;
  for (let i: u32 = 0; i < PAGES; i++) back += load32(base + i * STEP);
  const start = base + PAGES * STEP;
  let q = start - STEP, zeros: u32 = 0;
  for (let i: u32 = 0; i < PAGES; i++) {
    q = q + STEP;
    zeros += load32(q);
  }
  const from = start + PAGES * STEP;
  let r = from, more: u32 = 0;
  for (let i: u32 = 0; i < PAGES; i++) {
    r = r + (i << 12);
    more += load32(r);
  }
  write("refault stores "); print(p - base);
  write("refault sum "); print(back);
  write("refault loads "); print(q - start);
  write("refault shifted "); print(r - from);
  const good = p - base === (PAGES - 1) * STEP && back === PAGES * (PAGES - 1) / 2 && q - start === (PAGES - 1) * STEP
    && zeros === 0 && more === 0 && r - from === (PAGES * (PAGES - 1) / 2) * STEP;
  write(good ? "refault ok\n" : "refault BAD\n");
}
