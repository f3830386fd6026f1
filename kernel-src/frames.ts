// The physical frame allocator: one bit per 4 KiB frame of the kernel space (the low 1 GiB, which
// paging.ts identity-maps), set = used. Built from the multiboot memory map (spec §3.3 "mmap_*"):
// only "available" ranges start free; the first 1 MiB, the kernel image, the boot information and the
// multiboot modules are then reserved.
//
// Invariants: a frame is handed out only while its bit is clear, and its bit is set before it is;
// freeFrameCount is the number of clear bits; frame 0 is never free, so FRAME_NONE (0) can mean
// "no frame". Memory above KERNEL_SPACE_END is not managed (reported by memoryInit).
// No locking: uniprocessor, and no allocation from interrupt handlers.
import { bool, i32, u32, overlay, memoryFill, memoryCopy, addressOf } from "dsl";
import {
  MultibootInfo, MemoryMapEntry, hasFlag, memoryMapEnd, nextMemoryMapEntry, MEMORY_AVAILABLE, MULTIBOOT_FLAG_MEMORY_MAP,
} from "./multiboot.ts";
import { GUEST_BASE } from "../abi/boot.ts";

/** Frame size of 32-bit paging (Intel SDM Vol. 3A §4.3: a PTE maps a 4-KByte page). */
export const PAGE_SIZE: u32 = 4096;
export const PAGE_SHIFT = 12;
export const PAGE_OFFSET_MASK: u32 = 0xfff;
/** A page is 1 << PAGE_KIB_SHIFT KiB: frames to KiB. */
export const PAGE_KIB_SHIFT = PAGE_SHIFT - 10;

/**
 * The kernel space: physical memory below this address is identity-mapped for the kernel (paging.ts); it
 * ends where every VM's memory begins (abi/boot.ts GUEST_BASE), so the two never overlap.
 */
export const KERNEL_SPACE_END: u32 = GUEST_BASE;

/** Memory below 1 MiB (real-mode IVT, BIOS data, EBDA, VGA, option ROMs) is never handed out. */
export const LOW_MEMORY_END: u32 = 0x100000;

/** allocFrame's failure value: frame 0 lies in low memory and is never free. */
export const FRAME_NONE: u32 = 0;

/** freeFrame results. */
export const FRAME_OK = 0;
export const FRAME_ERROR_NOT_MANAGED = -1;   // outside [LOW_MEMORY_END, managed end) or misaligned
export const FRAME_ERROR_DOUBLE_FREE = -2;   // the frame is already free
export const FRAME_ERROR_RESERVED = -3;      // never free memory: outside the map's available ranges, or reserved

const MANAGED_FRAMES: u32 = KERNEL_SPACE_END >>> PAGE_SHIFT;   // 262144
const BITS_PER_WORD = 32;
const WORD_SHIFT = 5;
const FULL_WORD: u32 = 0xffffffff;

const usedBitmap = new Uint32Array(8192);    // MANAGED_FRAMES / 32 words = 32 KiB
/** Frames that may never enter the free pool (holes, reserved ranges): a bad free cannot corrupt it. */
const reservedBitmap = new Uint32Array(8192);
let freeFrameCount: u32 = 0;
let availableFrameCount: u32 = 0;            // frames in available ranges above 1 MiB, before reservations
let frameLimit: u32 = 0;                     // one past the highest frame that was ever free
let searchHint: u32 = 0;                     // no word below this one has a clear bit

// Statistics for `mem` and the self-tests.
let allocationCount: u32 = 0;
let freeCount: u32 = 0;
let doubleFreeCount: u32 = 0;

export function framesFree(): u32 { return freeFrameCount; }
export function framesAvailable(): u32 { return availableFrameCount; }
/** Frames in use among the available ones: reservations (image, modules, boot information) and allocations. */
export function framesUsed(): u32 { return availableFrameCount - freeFrameCount; }
/** One past the highest physical address whose frame can be free: the top of usable kernel-space RAM. */
export function frameMemoryTop(): u32 { return frameLimit << PAGE_SHIFT; }
export function frameAllocationCount(): u32 { return allocationCount; }
export function frameFreeCount(): u32 { return freeCount; }
export function frameDoubleFreeCount(): u32 { return doubleFreeCount; }

export function frameIsUsed(address: u32): bool {
  const frame = address >>> PAGE_SHIFT;
  if (frame >= MANAGED_FRAMES) return true;
  return ((usedBitmap[frame >>> WORD_SHIFT] >>> (frame & 31)) & 1) !== 0;
}

/**
 * Builds the bitmap: every frame used, then the available memory map ranges free (clipped to
 * [LOW_MEMORY_END, KERNEL_SPACE_END) and shrunk to whole frames). Reservations come after, by reserveRange.
 */
export function framesInit(info: MultibootInfo): void {
  memoryFill(addressOf(usedBitmap), 0xff, usedBitmap.length * 4);
  frameLimit = 0;
  if (hasFlag(info, MULTIBOOT_FLAG_MEMORY_MAP)) {
    const end = memoryMapEnd(info);
    for (let at = info.memoryMapAddress; at < end; at = nextMemoryMapEntry(at)) {
      const entry = overlay(MemoryMapEntry, at);
      if (entry.type !== MEMORY_AVAILABLE || entry.baseHigh !== 0) continue;
      // base + length, clipped at 4 GiB (a 64-bit end beyond 32 bits).
      let rangeEnd: u32 = entry.baseLow + entry.lengthLow;
      if (entry.lengthHigh !== 0 || rangeEnd < entry.baseLow) rangeEnd = FULL_WORD;
      // Whole frames inside the range only, and none below 1 MiB.
      let first = (entry.baseLow >>> PAGE_SHIFT) + ((entry.baseLow & PAGE_OFFSET_MASK) !== 0 ? 1 : 0);
      if (first < (LOW_MEMORY_END >>> PAGE_SHIFT)) first = LOW_MEMORY_END >>> PAGE_SHIFT;
      const last = clipToManaged(rangeEnd >>> PAGE_SHIFT);
      if (first >= last) continue;
      setFrames(first, last, false);
      if (last > frameLimit) frameLimit = last;
    }
  }
  memoryCopy(addressOf(reservedBitmap), addressOf(usedBitmap), usedBitmap.length * 4);
  availableFrameCount = countFreeFrames();
  freeFrameCount = availableFrameCount;
  searchHint = 0;
}

/** Marks [start, end) used, whole frames covering it (rounded outwards). Already-used frames stay used. */
export function reserveRange(start: u32, end: u32): void {
  if (end <= start) return;
  const first = start >>> PAGE_SHIFT;
  const last = clipToManaged((end >>> PAGE_SHIFT) + ((end & PAGE_OFFSET_MASK) !== 0 ? 1 : 0));
  if (first >= last) return;
  freeFrameCount -= setFrames(first, last, true);
  markReserved(first, last);
}

/** A free frame (its physical address, page-aligned, contents undefined), marked used; FRAME_NONE when none is left. */
export function allocFrame(): u32 {
  const words = usedBitmap.length;
  for (let w = searchHint; w < u32(words); w++) {
    const word: u32 = usedBitmap[w];
    if (word === FULL_WORD) continue;
    const bit = lowestClearBit(word);
    usedBitmap[w] = word | (1 << bit);
    searchHint = w;
    freeFrameCount--;
    allocationCount++;
    return ((w << WORD_SHIFT) + bit) << PAGE_SHIFT;
  }
  searchHint = u32(words);
  return FRAME_NONE;
}

/**
 * `count` physically adjacent free frames (the address of the first), marked used: for tables the kernel
 * indexes as one array (timer.ts). First fit from the lowest free frame; FRAME_NONE when no run is long
 * enough. Each frame goes back with freeFrame.
 */
export function allocFrameRun(count: u32): u32 {
  if (count === 0) return FRAME_NONE;
  let run: u32 = 0;
  for (let frame = searchHint << WORD_SHIFT; frame < frameLimit; frame++) {
    const w = frame >>> WORD_SHIFT;
    if ((frame & 31) === 0 && usedBitmap[w] === FULL_WORD) { run = 0; frame += 31; continue; }
    if ((usedBitmap[w] & u32(1 << (frame & 31))) !== 0) { run = 0; continue; }
    run++;
    if (run === count) {
      const first = frame + 1 - count;
      freeFrameCount -= setFrames(first, frame + 1, true);
      allocationCount += count;
      return first << PAGE_SHIFT;
    }
  }
  return FRAME_NONE;
}

/**
 * Returns the frame at `address` to the free pool. A frame already free, or one that never may be, is refused with an
 * error.
 */
export function freeFrame(address: u32): i32 {
  if ((address & PAGE_OFFSET_MASK) !== 0 || address < LOW_MEMORY_END || address >= frameMemoryTop()) return FRAME_ERROR_NOT_MANAGED;
  const frame = address >>> PAGE_SHIFT;
  const w = frame >>> WORD_SHIFT;
  const mask: u32 = u32(1 << (frame & 31));
  if ((reservedBitmap[w] & mask) !== 0) return FRAME_ERROR_RESERVED;
  if ((usedBitmap[w] & mask) === 0) { doubleFreeCount++; return FRAME_ERROR_DOUBLE_FREE; }
  usedBitmap[w] = usedBitmap[w] & ~mask;
  if (w < searchHint) searchHint = w;
  freeFrameCount++;
  freeCount++;
  return FRAME_OK;
}

// ---- bitmap helpers -------------------------------------------------------------------------------

function clipToManaged(frame: u32): u32 { return frame > MANAGED_FRAMES ? MANAGED_FRAMES : frame; }

/** Sets (used) or clears (free) the bits of frames [first, last); returns how many bits changed. */
function setFrames(first: u32, last: u32, used: bool): u32 {
  let changed: u32 = 0;
  let frame = first;
  while (frame < last) {
    const w = frame >>> WORD_SHIFT;
    const old: u32 = usedBitmap[w];
    // Whole words at once where the range covers them.
    if ((frame & 31) === 0 && frame + BITS_PER_WORD <= last) {
      usedBitmap[w] = used ? FULL_WORD : 0;
      changed += used ? BITS_PER_WORD - populationCount(old) : populationCount(old);
      frame += BITS_PER_WORD;
      continue;
    }
    const mask: u32 = u32(1 << (frame & 31));
    if (((old & mask) !== 0) !== used) changed++;
    usedBitmap[w] = used ? (old | mask) : (old & ~mask);
    frame++;
  }
  return changed;
}

function markReserved(first: u32, last: u32): void {
  for (let frame = first; frame < last; frame++) {
    reservedBitmap[frame >>> WORD_SHIFT] = reservedBitmap[frame >>> WORD_SHIFT] | (1 << (frame & 31));
  }
}

function countFreeFrames(): u32 {
  let count: u32 = 0;
  for (let w = 0; w < usedBitmap.length; w++) {
    const word: u32 = usedBitmap[w];
    if (word === FULL_WORD) continue;
    if (word === 0) { count += BITS_PER_WORD; continue; }
    count += BITS_PER_WORD - populationCount(word);
  }
  return count;
}

function populationCount(word: u32): u32 {
  if (word === FULL_WORD) return BITS_PER_WORD;
  let count: u32 = 0;
  let rest = word;
  while (rest !== 0) { rest = rest & (rest - 1); count++; }
  return count;
}

/** The index of the lowest clear bit of a word that is not all ones (binary search: 5 steps). */
function lowestClearBit(word: u32): u32 {
  let clear: u32 = ~word >>> 0;
  let bit: u32 = 0;
  if ((clear & 0xffff) === 0) { clear = clear >>> 16; bit += 16; }
  if ((clear & 0xff) === 0) { clear = clear >>> 8; bit += 8; }
  if ((clear & 0xf) === 0) { clear = clear >>> 4; bit += 4; }
  if ((clear & 0x3) === 0) { clear = clear >>> 2; bit += 2; }
  if ((clear & 0x1) === 0) bit += 1;
  return bit;
}
