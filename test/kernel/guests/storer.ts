// A bytecode VM for the swap test of bytecode VMs (test/kernel/bytecode-swap.test.ts): it fills as many
// pages as its argument says (0: DEFAULT_PAGES) at the top of its memory with plain stores, so the
// interpreter, not a hypercall, is what first touches each page (and, memory short, waits for a frame:
// kernel-src/bytecode-state.ts touch), then sleeps (alarm, idle: long enough to be written out), wakes,
// checks every word and writes another pattern, ROUNDS times. Prints `storer ID ok` and exits 0, or
// `storer ID wrong at A round R` and exits 1.
import { u32, print, write, hypercall, overlay, exit, load32, store32 } from "dsl";
import {
  HYPERCALL_SET_ALARM, HYPERCALL_IDLE, HYPERCALL_INTERRUPT_ACKNOWLEDGE, INTERRUPT_TIMER,
} from "../../../abi/hypercalls.ts";
import { BootInfo } from "../../../abi/boot.ts";

const DEFAULT_PAGES: u32 = 16;
const ROUNDS: u32 = 2;
const WORDS_PER_PAGE: u32 = 1024;
const SLEEP_MICROSECONDS: u32 = 1500000;

function pattern(id: u32, round: u32, page: u32, word: u32): u32 {
  return u32((id * 0x9e3779b1) ^ (round << 28) ^ (page << 12) ^ word);
}

function sleep(): void {
  hypercall(HYPERCALL_SET_ALARM, SLEEP_MICROSECONDS, 0, 0, 0);
  let got: u32 = 0;
  while ((got & INTERRUPT_TIMER) === 0) got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
  hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  const info = overlay(BootInfo, bootInfo);
  const id = info.vmId;
  const pages = info.argument === 0 ? DEFAULT_PAGES : info.argument;
  const top = info.memoryBase + info.memorySize - 2 * 4096;    // the page below the last one, downwards
  for (let round: u32 = 0; round <= ROUNDS; round++) {
    for (let page: u32 = 0; page < pages; page++) {
      const base = top - page * 4096;
      for (let word: u32 = 0; word < WORDS_PER_PAGE; word++) {
        const at = base + word * 4;
        if (round !== 0 && load32(at) !== pattern(id, round - 1, page, word)) {
          write("storer "); write(id); write(" wrong at "); write(at); write(" round "); print(round);
          exit(1);
        }
        store32(at, pattern(id, round, page, word));
      }
    }
    if (round !== ROUNDS) sleep();
  }
  write("storer "); write(id); print(" ok");
  exit(0);
}
