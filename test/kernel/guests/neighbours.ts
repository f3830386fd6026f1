// A bytecode VM among neighbours of the same image (test/kernel/bytecode-density.test.ts): bytecode VMs
// share one window for their memory (kernel-src/linear.ts), so this checks that each sees its own pages
// only, whatever ran between. Each round it checks that its buffer (three pages, so a page boundary is
// crossed and pages are touched one by one) still holds what it wrote last round, then writes its own
// pattern (its id and the round) and yields to the others. At the end it prints `neighbours N ok` and
// exits 0, or `neighbours N wrong at A` and exits 1. A page it never touched must read 0 (demand-zero).
// Then accesses across page boundaries (the interpreter's page-map check, bytecode-interp.ts): a 4-byte store
// from a resident page into one never touched, a 2-byte store across two pages never touched, each read back
// whole and by its bytes.
import { u32, print, write, hypercall, overlay, addressOf, exit, load8, load16, load32, store16, store32 } from "dsl";
import { HYPERCALL_YIELD } from "../../../abi/hypercalls.ts";
import { BootInfo } from "../../../abi/boot.ts";

const ROUNDS: u32 = 12;
const WORDS: u32 = 3 * 1024;
const buffer = new Uint32Array(3 * 1024);
const untouched = new Uint32Array(1024);
const straddled = new Uint32Array(3 * 1024);

function pattern(id: u32, round: u32, k: u32): u32 { return u32((id << 16) ^ (round << 12) ^ k ^ 0x5a5a0000); }

function wrong(id: u32, address: u32): void {
  write("neighbours "); write(id); write(" wrong at "); print(address);
  exit(1);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  const id = overlay(BootInfo, bootInfo).vmId;
  const base = addressOf(buffer);
  for (let round: u32 = 0; round < ROUNDS; round++) {
    for (let k: u32 = 0; k < WORDS; k++) {
      const expected = round === 0 ? 0 : pattern(id, round - 1, k);
      if (load32(base + k * 4) !== expected) wrong(id, base + k * 4);
      store32(base + k * 4, pattern(id, round, k));
    }
    hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
  }
  const other = addressOf(untouched);
  for (let k: u32 = 0; k < 1024; k++) if (load32(other + k * 4) !== 0) wrong(id, other + k * 4);
  const boundary = u32((addressOf(straddled) + 4095) & ~4095);      // two page boundaries inside `straddled`
  if (load32(boundary - 8) !== 0) wrong(id, boundary - 8);           // the page before the first: resident now
  const value = u32(0x11223344 ^ id);
  store32(boundary - 2, value);                                       // into the page after, never touched
  if (load32(boundary - 2) !== value || load16(boundary) !== (value >>> 16)) wrong(id, boundary - 2);
  if (load8(boundary - 1) !== u32((value >>> 8) & 0xff) || load8(boundary + 1) !== (value >>> 24)) wrong(id, boundary);
  store16(boundary + 8191, 0xa55a);                                   // across two pages, neither touched
  if (load16(boundary + 8191) !== 0xa55a || load8(boundary + 8192) !== 0xa5) wrong(id, boundary + 8191);
  write("neighbours "); write(id); print(" ok");
  exit(0);
}
