// Demo (and the swap tests' guest for eviction from running VMs, issue 15): a VM that never idles. It
// fills N pages with a pattern of its own, then R rounds each sweep over all of them, checking every
// word against the previous round's pattern and writing the next round's. It stays runnable throughout
// (no alarm, no idle), so with more of them than memory holds no idle VM is left to write out whole: their
// pages go out while they run (kernel-src/swap-evict.ts) and come back when touched. With a dwell D, each
// round rewrites every page D times in a row before going on to the next (each time checking the last
// version): a VM that rewrites a page continuously, leaves the pages behind it cold, and comes back to
// them while they may be being written out: a stale copy read back would fail the next check. The
// manifest's argument: bits 0-11 the pages N (from the page below its boot-information page downwards;
// 0: 32), bits 12-27 the rounds R (0: 4), bits 28-31 log2 of the dwell D (0: once). Before its rounds it
// writes a line of NOTE_BYTES letters into the page below them, which it touches again only at the end, by
// consoleWrite's buffer: by then that cold page is often on the disk (not always: the tests do not count on
// it), and the hypercall waits for it and is made again (the swap summary's `hypercalls made again after a
// page-in`). Prints that line, then `vm ID swept N pages R rounds, 0 bad words` and exits 0, or `vm ID
// CORRUPT page K word W round R` at the first bad word and exits 1.
import { u8, u32, load32, store8, store32, write, print, exit } from "dsl";
import { bootInit, vmId, argument, memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { consoleWrite } from "../runtime/hypercalls.ts";

const DEFAULT_PAGES: u32 = 32;
const DEFAULT_ROUNDS: u32 = 4;
const WORDS: u32 = PAGE_SIZE / 4;
/** The note's letters (a to z, again), then a newline. */
const NOTE_BYTES: u32 = 48;

function pageAddress(k: u32): u32 { return memoryEnd() - (k + 2) * PAGE_SIZE; }

/** Word w of page k of VM id in version v (v = its writes since the fill). */
function pattern(id: u32, k: u32, w: u32, v: u32): u32 {
  return u32(Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77) ^ Math.imul(v + 1, 0xc2b2ae3d) ^ w);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const id = vmId();
  const asked: u32 = u32(argument() & 0xfff);
  const pages = asked === 0 ? DEFAULT_PAGES : asked;
  const roundsAsked: u32 = u32((argument() >>> 12) & 0xffff);
  const rounds = roundsAsked === 0 ? DEFAULT_ROUNDS : roundsAsked;
  const dwell: u32 = u32(1 << u32(argument() >>> 28));
  for (let k: u32 = 0; k < pages; k++) {
    const page = pageAddress(k);
    for (let w: u32 = 0; w < WORDS; w++) store32(page + w * 4, pattern(id, k, w, 0));
  }
  const note = pageAddress(pages);
  for (let i: u32 = 0; i < NOTE_BYTES; i++) store8(note + i, u8(97 + i % 26));
  store8(note + NOTE_BYTES, 10);
  for (let r: u32 = 1; r <= rounds; r++) {
    for (let k: u32 = 0; k < pages; k++) {
      const page = pageAddress(k);
      for (let d: u32 = 0; d < dwell; d++) {
        const version = (r - 1) * dwell + d;
        for (let w: u32 = 0; w < WORDS; w++) {
          if (load32(page + w * 4) !== pattern(id, k, w, version)) {
            write("vm "); write(id); write(" CORRUPT page "); write(k); write(" word "); write(w);
            write(" round "); print(r);
            exit(1);
          }
          store32(page + w * 4, pattern(id, k, w, version + 1));
        }
      }
    }
  }
  consoleWrite(note, NOTE_BYTES + 1);
  write("vm "); write(id); write(" swept "); write(pages); write(" pages ");
  write(rounds); print(" rounds, 0 bad words");
  exit(0);
}
