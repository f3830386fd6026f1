// Attack: stale translations (kernel-src/paging.ts, the run directory). VMs of one image switch without a CR3
// load, their private pages at the same linear addresses in each: a translation of another VM's page left
// in the TLB would let this one read or write that VM's memory. Several VMs of this image each write a
// pattern of their own (the VM id, the round, the page, the word) into PAGES pages, yield the CPU after
// each page and read every page back after yielding again; ROUNDS rounds, every round a new pattern. A
// word of another VM, or any word not this VM's, is a translation that was not invalidated: it prints
// `vm ID NOT CONTAINED: round R page K word W holds 0x...` and exits 1; else `vm ID tlb: R rounds of P
// pages, every word its own` and exits 0. With the manifest's argument 1 it first fills COLD_PAGES more
// pages and idles once (with a swap device the kernel clears its accessed bits there: swap-learn.ts), and
// reads those back only at the end: pages a switch need not invalidate (their accessed bits clear), whose
// translations must still be right when they are touched again; a cold page's word not its own is reported
// as round ROUNDS.
import { u32, write, print, exit, addressOf, load32, store32 } from "dsl";
import { bootInit, vmId, argument } from "../runtime/boot.ts";
import { yieldCpu, sleep } from "../runtime/hypercalls.ts";
import { writeHex } from "../runtime/runtime.ts";

const PAGES: u32 = 8;
const WORDS: u32 = 1024;
const ROUNDS: u32 = 40;
/** The pages, in the image's .bss: private, at the same linear addresses in every VM of the image. */
const area = new Uint32Array(8 * 1024);          // PAGES * WORDS
const COLD_PAGES: u32 = 8;
/** The cold pages (argument 1): filled before the first idle, read back at the end. */
const cold = new Uint32Array(8 * 1024);          // COLD_PAGES * WORDS

function pattern(id: u32, round: u32, k: u32, w: u32): u32 {
  return u32(Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(round + 1, 0x85ebca77) ^ Math.imul(k + 1, 0xc2b2ae3d) ^ w);
}

function check(id: u32, round: u32): void { checkPages(addressOf(area), PAGES, id, round); }

function checkPages(base: u32, pages: u32, id: u32, round: u32): void {
  for (let k: u32 = 0; k < pages; k++) {
    for (let w: u32 = 0; w < WORDS; w++) {
      const found = load32(base + (k * WORDS + w) * 4);
      if (found === pattern(id, round, k, w)) continue;
      write("vm "); write(id); write(" NOT CONTAINED: round "); write(round); write(" page "); write(k);
      write(" word "); write(w); write(" holds 0x"); writeHex(found);
      print("");
      exit(1);
    }
  }
}

/** Fills the cold pages with round ROUNDS's pattern and idles once, for a millisecond. */
function fillColdAndIdle(id: u32): void {
  const base = addressOf(cold);
  for (let k: u32 = 0; k < COLD_PAGES; k++) {
    for (let w: u32 = 0; w < WORDS; w++) store32(base + (k * WORDS + w) * 4, pattern(id, ROUNDS, k, w));
  }
  sleep(1000);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const id = vmId();
  const base = addressOf(area);
  const coldPages = argument() === 1;
  if (coldPages) fillColdAndIdle(id);
  for (let round: u32 = 0; round < ROUNDS; round++) {
    for (let k: u32 = 0; k < PAGES; k++) {
      for (let w: u32 = 0; w < WORDS; w++) store32(base + (k * WORDS + w) * 4, pattern(id, round, k, w));
      yieldCpu();
    }
    yieldCpu();
    check(id, round);
  }
  if (coldPages) checkPages(addressOf(cold), COLD_PAGES, id, ROUNDS);
  write("vm "); write(id); write(" tlb: "); write(ROUNDS); write(" rounds of "); write(PAGES);
  print(" pages, every word its own");
  exit(0);
}
