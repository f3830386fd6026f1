// CRC32C (Castagnoli; RFC 3720 appendix B.4, reflected polynomial 0x82f63b78): the checksum of every
// page swap.ts writes out, by one of two methods, whichever checksums a page in fewer TSC cycles on this
// machine (crc32cInit times both over a page, warm, and keeps the faster: Linux picks its RAID xor the same
// way). On real hardware that is the crc32 instruction of SSE4.2 (CPUID.1:ECX bit 20: every x86 since 2008;
// the crc32Word intrinsic), a word per instruction with the word as its memory operand, eight to a loop
// round: about 1,400 instructions a page and no tables. Under QEMU's TCG the instruction is a helper that
// steps bit by bit (about 80,000 host cycles a page), where the tables take about 20,000: there, in real
// time, the tables win; under -icount, where the TSC counts instructions, the instruction does (7,700).
// The tables: a word at a time through two tables of 65,536 entries indexed by its halves: after
// `c ^= word`, the register is low[c & 0xffff] ^ high[c >>> 16], where low[x] is the register after the
// two bytes of x followed by two zero bytes and high[x] after the two bytes of x alone (both from the
// classic byte table). 19 instructions per 8 bytes, where slicing-by-8 (eight 256-entry tables) took 42,
// and 6 loads instead of 10, for 512 KiB of tables (their frames given back when the instruction wins).
// A page goes through them as two halves side by side, the second from a zero register, joined at the end:
// crc(A B) = shift(crc(A)) ^ crc0(B), where shift is the register after 2,048 zero bytes (linear: four
// 256-entry tables by the register's bytes, `halfShift`). Each half is a chain of dependent loads (a soft-TLB
// lookup and a load from 512 KiB under TCG); two chains overlap, which took a page from 38,000 host cycles to
// 20,000 here (the same instructions). bench:swap has the figures.
// crc32cInit checks the instruction against RFC 3720's known answers (B.4: 32 bytes of zeros, of ones,
// ascending, descending) and the byte-at-a-time loop over a page of pseudo-random bytes, and does not use
// it if it disagrees. It checks every entry of the tables (by linearity, from the bit-at-a-time
// definition), then the whole against the same answers; a kernel whose checksum is wrong must not trust
// its swap.
import { bool, u32, load8, load32, store32, addressOf, crc32Word, rdtsc } from "dsl";
import { allocFrameRun, freeFrame, FRAME_NONE, PAGE_SIZE } from "./frames.ts";
import { cpuidFeature, CPU_SSE42 } from "./cpuid.ts";

const CRC32C_POLYNOMIAL: u32 = 0x82f63b78;
/** Entries of each word table (indexed by 16 bits). */
const HALF_ENTRIES: u32 = 65536;
/** Both word tables: `low` then `high`, 4 bytes an entry: 128 frames. */
const TABLE_FRAMES: u32 = 128;
/** The byte table: the register after byte b (the classic one; builds the word tables, checks them). */
const byteTable = new Uint32Array(256);
/** Half a page: the two streams' length. */
const HALF_PAGE: u32 = 2048;
/** The register after HALF_PAGE zero bytes from x is the xor of halfShift[j * 256 + byte j of x], j = 0..3. */
const halfShift = new Uint32Array(1024);
const vector = new Uint8Array(4096);
let low: u32 = 0;                     // the tables' physical addresses (frames identity mapped)
let high: u32 = 0;
let instruction = false;              // crc32c by the crc32 instruction
let sse42 = false;                    // the instruction is there and gives the right answers
/** TSC cycles a page took by each method at crc32cInit (0: not timed). */
let instructionCycles: u32 = 0;
let tableCycles: u32 = 0;
/** Pages each method checksums for its time (after one to warm up). */
const TIMED_PAGES: u32 = 4;

/** How crc32c computes, and what each method took a page at boot (the swap's boot line). */
export function crc32cMethod(): string {
  if (!sse42) return "tables (no SSE4.2)";
  if (tableCycles === 0) return "the crc32 instruction (SSE4.2; no tables: no memory, or they failed their checks)";
  return instruction ? "the crc32 instruction (SSE4.2), faster here than the tables"
    : "tables, faster here than the crc32 instruction (SSE4.2)";
}

/** TSC cycles a page took by the crc32 instruction and by the tables at boot (0: not timed). */
export function crc32cCycles(byInstructionMethod: bool): u32 {
  return byInstructionMethod ? instructionCycles : tableCycles;
}

/**
 * Readies crc32c: the crc32 instruction if it is there and right, the tables if they can be built (the
 * first call takes their frames) and are right, and with both the faster one. False when neither works.
 */
export function crc32cInit(): bool {
  for (let b: u32 = 0; b < 256; b++) byteTable[b] = bitSteps(b, 8);
  instruction = cpuidFeature(CPU_SSE42);
  sse42 = instruction && knownAnswers();          // absent, or wrong: a kernel must not trust it with its swap
  instruction = false;
  const tables = buildTables();
  if (!sse42) return tables;
  if (!tables) { instruction = true; return true; }
  tableCycles = cyclesPerPage();
  instruction = true;
  instructionCycles = cyclesPerPage();
  if (instructionCycles > tableCycles) { instruction = false; return true; }
  freeTables();
  return true;
}

/** Gives the tables' frames back. */
function freeTables(): void {
  for (let k: u32 = 0; k < TABLE_FRAMES; k++) freeFrame(low + k * PAGE_SIZE);
  low = 0;
  high = 0;
}

/** The tables built (their frames taken at the first call) and checked; false without memory or if wrong. */
function buildTables(): bool {
  if (low === 0) {
    const run = allocFrameRun(TABLE_FRAMES);
    if (run === FRAME_NONE) return false;
    low = run;
    high = run + HALF_ENTRIES * 4;
  }
  // high[x]: bytes x & 0xff, x >>> 8 from a zero register; low[x]: the same, then two zero bytes.
  for (let x: u32 = 0; x < HALF_ENTRIES; x++) {
    const c = byteStep(byteStep(0, x & 0xff), x >>> 8);
    store32(high + (x << 2), c);
    store32(low + (x << 2), byteStep(byteStep(c, 0), 0));
  }
  if (linear(high, 16) && linear(low, 32) && buildHalfShift() && knownAnswers()) return true;
  freeTables();
  return false;
}

/**
 * halfShift: each bit's entry by running HALF_PAGE zero bytes through the byte table, checked against the
 * bit-at-a-time definition; every other entry the xor of two smaller ones (the map is linear).
 */
function buildHalfShift(): bool {
  for (let k: u32 = 0; k < 32; k++) {
    let c = u32(1 << k);
    for (let i: u32 = 0; i < HALF_PAGE; i++) c = byteStep(c, 0);
    if (c !== bitSteps(u32(1 << k), HALF_PAGE * 8)) return false;
    halfShift[(k >>> 3) * 256 + u32(1 << (k & 7))] = c;
  }
  for (let j: u32 = 0; j < 4; j++) {
    const base = j * 256;
    halfShift[base] = 0;
    for (let b: u32 = 3; b < 256; b++) {
      const lowest = u32(b & (0 - b));
      if (lowest !== b) halfShift[base + b] = halfShift[base + lowest] ^ halfShift[base + u32(b ^ lowest)];
    }
  }
  return true;
}

/** TSC cycles crc32c takes over a page (`vector`, agreesOnPage's bytes) by the method in force, warm. */
function cyclesPerPage(): u32 {
  crc32c(addressOf(vector), PAGE_SIZE);
  const start = rdtsc();
  for (let k: u32 = 0; k < TIMED_PAGES; k++) crc32c(addressOf(vector), PAGE_SIZE);
  return u32(rdtsc() - start) / TIMED_PAGES;
}

/** crc32c gives RFC 3720's known answers and agrees with the byte loop on a page. */
function knownAnswers(): bool {
  return known(0, 0, 0x8a9136aa) && known(0xff, 0, 0x62a8ab43) && known(0, 1, 0x46dd794e)
    && known(31, 0xffffffff, 0x113fdb5c) && agreesOnPage();
}

/** The register `c` after `steps` bits, one at a time (the definition; slow). */
function bitSteps(c: u32, steps: u32): u32 {
  for (let k: u32 = 0; k < steps; k++) c = (c & 1) !== 0 ? u32((c >>> 1) ^ CRC32C_POLYNOMIAL) : c >>> 1;
  return c;
}

/**
 * Every entry of a word table is right: entry x must be x's register after `steps` bits (16 for `high`,
 * 32 for `low`). A CRC is linear, so checking the 16 entries of one bit against bitSteps and every other
 * entry as the xor of two smaller ones checks them all, 131,072 loads for both tables.
 */
function linear(table: u32, steps: u32): bool {
  if (load32(table) !== 0) return false;
  for (let k: u32 = 0; k < 16; k++) if (load32(table + (4 << k)) !== bitSteps(u32(1 << k), steps)) return false;
  for (let x: u32 = 3; x < HALF_ENTRIES; x++) {
    const lowest = u32(x & (0 - x));
    const entry = load32(table + (lowest << 2)) ^ load32(table + (u32(x ^ lowest) << 2));
    if (load32(table + (x << 2)) !== u32(entry)) return false;
  }
  return true;
}

/** The register `c` after one more byte `b`. */
function byteStep(c: u32, b: u32): u32 { return (c >>> 8) ^ byteTable[(c ^ b) & 0xff]; }

/** RFC 3720 B.4: 32 bytes, byte i = first + step * i (mod 256), have CRC32C `expected`. */
function known(first: u32, step: u32, expected: u32): bool {
  for (let i: u32 = 0; i < 32; i++) vector[i] = u32(first + step * i) & 0xff;
  return crc32c(addressOf(vector), 32) === expected;
}

/** The word tables and the byte loop agree on a page of pseudo-random bytes (xorshift32). */
function agreesOnPage(): bool {
  let x: u32 = 0x9e3779b9;
  for (let i: u32 = 0; i < 4096; i++) {
    x = u32(x ^ (x << 13));
    x = u32(x ^ (x >>> 17));
    x = u32(x ^ (x << 5));
    vector[i] = x & 0xff;
  }
  let c: u32 = 0xffffffff;
  for (let i: u32 = 0; i < 4096; i++) c = byteStep(c, load8(addressOf(vector) + i));
  return crc32c(addressOf(vector), 4096) === u32(~c);
}

/** CRC32C of the `length` bytes at `address` (`length` a multiple of 32, as a page is); after crc32cInit. */
export function crc32c(address: u32, length: u32): u32 {
  if (instruction) return byInstruction(address, length);
  if (length === PAGE_SIZE) return pageByTables(address);
  const l = low;                      // in registers for the loop (a global is loaded at each use)
  const h = high;
  const end = address + length;
  let c: u32 = 0xffffffff;
  for (let p = address; p < end; p += 8) {
    const a = c ^ load32(p);
    const b = load32(l + ((a & 0xffff) << 2)) ^ load32(h + ((a >>> 16) << 2)) ^ load32(p + 4);
    c = load32(l + ((b & 0xffff) << 2)) ^ load32(h + ((b >>> 16) << 2));
  }
  return ~c;
}

/** crc32c of a page by the tables: its halves side by side (the second from 0), joined by halfShift. */
function pageByTables(address: u32): u32 {
  const l = low;
  const h = high;
  const end = address + HALF_PAGE;
  let c: u32 = 0xffffffff;
  let d: u32 = 0;
  for (let p = address; p < end; p += 4) {
    const a = c ^ load32(p);
    const e = d ^ load32(p + HALF_PAGE);
    c = load32(l + ((a & 0xffff) << 2)) ^ load32(h + ((a >>> 16) << 2));
    d = load32(l + ((e & 0xffff) << 2)) ^ load32(h + ((e >>> 16) << 2));
  }
  const shifted = halfShift[c & 0xff] ^ halfShift[256 + ((c >>> 8) & 0xff)] ^ halfShift[512 + ((c >>> 16) & 0xff)]
    ^ halfShift[768 + (c >>> 24)];
  return ~(shifted ^ d);
}

/** crc32c by the crc32 instruction, 32 bytes a round. */
function byInstruction(address: u32, length: u32): u32 {
  const end = address + length;
  let c: u32 = 0xffffffff;
  for (let p = address; p < end; p += 32) {
    c = crc32Word(crc32Word(c, load32(p)), load32(p + 4));
    c = crc32Word(crc32Word(c, load32(p + 8)), load32(p + 12));
    c = crc32Word(crc32Word(c, load32(p + 16)), load32(p + 20));
    c = crc32Word(crc32Word(c, load32(p + 24)), load32(p + 28));
  }
  return ~c;
}
