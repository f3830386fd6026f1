// Demo: a VM that keeps taking memory within its guarantee (the manifest's guaranteedKiB,
// docs/virtual-architecture.md "Memory quotas"). It takes N pages (N: the manifest's argument, 16 when
// it is 0), one at a time, downwards from the page below its boot-information page, and yields after
// each, so that it keeps asking for pages while other VMs run; each page gets a pattern of its own and
// the page before it is checked each time. At the end it checks every page and prints
// `vm ID done N pages intact` (or `vm ID CORRUPT page P` at the first bad word, exit status 1) and
// exits 0. Beside VMs that take all memory, every one of its pages must still come, intact. With HOLD in
// the argument it does not exit after that line but idles for good (every event masked), its memory kept,
// so that the console's `vms` can be read while it lives.
import { u32, bool, load32, store32, write, print, exit } from "dsl";
import { bootInit, vmId, argument, memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { yieldCpu, idle, interruptMask } from "../runtime/hypercalls.ts";

const DEFAULT_PAGES: u32 = 16;
const HOLD: u32 = 0x80000000;          // the argument's flag: idle for good after the last check
const WORDS_CHECKED: u32 = 16;         // words per page, spread over the page
const STRIDE: u32 = PAGE_SIZE / WORDS_CHECKED;

function pageAddress(k: u32): u32 { return memoryEnd() - (k + 2) * PAGE_SIZE; }

function pattern(id: u32, k: u32, w: u32): u32 { return (id << 24) ^ (k << 12) ^ (w * 0x9e3779b9); }

function fill(id: u32, k: u32): void {
  for (let w: u32 = 0; w < WORDS_CHECKED; w++) store32(pageAddress(k) + w * STRIDE, pattern(id, k, w));
}

function intact(id: u32, k: u32): bool {
  for (let w: u32 = 0; w < WORDS_CHECKED; w++) {
    if (load32(pageAddress(k) + w * STRIDE) !== pattern(id, k, w)) return false;
  }
  return true;
}

function corrupt(id: u32, k: u32): void {
  write("vm "); write(id); write(" CORRUPT page "); print(k);
  exit(1);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const id = vmId();
  const asked = argument() & ~HOLD;
  const pages = asked === 0 ? DEFAULT_PAGES : u32(asked);
  for (let k: u32 = 0; k < pages; k++) {
    fill(id, k);
    if (k > 0 && !intact(id, k - 1)) corrupt(id, k - 1);
    yieldCpu();
  }
  for (let k: u32 = 0; k < pages; k++) if (!intact(id, k)) corrupt(id, k);
  write("vm "); write(id); write(" done "); write(pages); print(" pages intact");
  if ((argument() & HOLD) !== 0) {
    interruptMask(0);
    while (true) idle(0, 0);
  }
  exit(0);
}
