// Demo (and the swap tests' guest, issue 15): a VM that fills memory, sleeps long enough to be swapped
// out, and checks every byte when it wakes. The manifest's argument: bits 0-11 the pages to fill (every
// page from the one below its boot-information page downwards; 0: 32), bits 12-15 the hot pages H (0:
// none), bits 16-31 the sleep in milliseconds (0: 2,000). Each word of each page gets a value of its own
// (the VM id, the page, the word). Each page is first touched by a hypercall, readClock into it (so a
// hypercall, not only a page fault, is what finds memory short; issue 15), then filled. Prints `vm ID
// filled N pages`, sleeps (alarm and idle); with H, then HOT_ROUNDS times checks its first H pages only
// and sleeps again (its working set shrinks to them: the others stay on the disk when it comes back),
// rounds 0 and 2 only reading them (clean: a write-out keeps their copy on the disk), rounds 1 and 3
// rewriting them with another pattern and then back (dirty: a kept stale copy would fail the next check), and
// makes a readClock into the page below the filled ones, whose other words hold a pattern too (a
// hypercall's buffer on the disk: read back before the call is made again). Then it checks all of them
// and prints `vm ID verified N pages, 0 bad words` and exits 0, or `vm ID CORRUPT page K word W` and
// exits 1.
import { u32, load32, store32, write, print, exit } from "dsl";
import { bootInit, vmId, argument, memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { sleep, readClock } from "../runtime/hypercalls.ts";

const DEFAULT_PAGES: u32 = 32;
const DEFAULT_SLEEP_MS: u32 = 2000;
const WORDS: u32 = PAGE_SIZE / 4;
const HOT_ROUNDS: u32 = 4;
/** Rounds 1 and 3 rewrite the hot pages, xored with this, then back: rounds 0 and 2 only read them. */
const FLIP: u32 = 0xa5a5a5a5;
/** readClock's 8 bytes: the clock page's pattern starts after them. */
const CLOCK_WORDS: u32 = 2;

function pageAddress(k: u32): u32 { return memoryEnd() - (k + 2) * PAGE_SIZE; }

function pattern(id: u32, k: u32, w: u32): u32 {
  return u32(Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77) ^ w);
}

/** readClock into `address`; a failure ends the VM. */
function clockInto(id: u32, address: u32): void {
  const status = readClock(address);
  if (status !== 0) { write("vm "); write(id); write(" readClock failed "); print(status); exit(2); }
}

/** Checks words [from, WORDS) of pages [first, pages) hold their pattern xor `flip`; a bad word ends the VM. */
function check(id: u32, first: u32, pages: u32, from: u32, flip: u32): void {
  for (let k: u32 = first; k < pages; k++) {
    for (let w: u32 = from; w < WORDS; w++) {
      if (load32(pageAddress(k) + w * 4) !== u32(pattern(id, k, w) ^ flip)) {
        write("vm "); write(id); write(" CORRUPT page "); write(k); write(" word "); print(w);
        exit(1);
      }
    }
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const id = vmId();
  const asked: u32 = u32(argument() & 0xfff);
  const pages = asked === 0 ? DEFAULT_PAGES : asked;
  const hot: u32 = u32((argument() >>> 12) & 0xf);
  const sleepMs = (argument() >>> 16) === 0 ? DEFAULT_SLEEP_MS : argument() >>> 16;
  for (let k: u32 = 0; k < pages; k++) {
    clockInto(id, pageAddress(k));
    for (let w: u32 = 0; w < WORDS; w++) store32(pageAddress(k) + w * 4, pattern(id, k, w));
  }
  if (hot !== 0) {
    clockInto(id, pageAddress(pages));
    for (let w: u32 = CLOCK_WORDS; w < WORDS; w++) store32(pageAddress(pages) + w * 4, pattern(id, pages, w));
  }
  write("vm "); write(id); write(" filled "); write(pages); print(" pages");
  sleep(sleepMs * 1000);
  let flip: u32 = 0;
  for (let round: u32 = 0; hot !== 0 && round < HOT_ROUNDS; round++) {
    check(id, 0, hot, 0, flip);
    if (round % 2 === 1) {
      flip = u32(flip ^ FLIP);
      for (let k: u32 = 0; k < hot; k++) {
        for (let w: u32 = 0; w < WORDS; w++) store32(pageAddress(k) + w * 4, u32(pattern(id, k, w) ^ flip));
      }
    }
    sleep(sleepMs * 1000);
  }
  if (hot !== 0) {
    clockInto(id, pageAddress(pages));
    check(id, pages, pages + 1, CLOCK_WORDS, 0);
  }
  check(id, 0, pages, 0, 0);
  write("vm "); write(id); write(" verified "); write(pages); print(" pages, 0 bad words");
  exit(0);
}
