// The kernel allocator for kernel objects: size classes 16..1024 bytes served from slabs (one frame
// each, a header then equal objects), and whole frames for 1025..4096 bytes, all over frames.ts.
//
// Slab layout (one 4 KiB frame):  [SlabHeader | padding to 64 bytes][object 0][object 1]...
// Invariants: a slab is on its class's partial list iff it has a free object; `allocated` has one bit
// per object, set while the object is handed out (so a second free of the same object is caught);
// a slab never hands out the address at its frame's start, so a page-aligned address is a whole-frame
// allocation, recorded in wholeFrameBitmap. At most one empty slab per class is kept; further empty
// slabs go back to the frame allocator. Kernel-space frames only (identity-mapped, paging.ts).
// No locking: uniprocessor, not called from interrupt handlers.
import { bool, i32, u32, overlay, load32, store32 } from "dsl";
import {
  PAGE_SIZE, PAGE_SHIFT, PAGE_OFFSET_MASK, LOW_MEMORY_END, KERNEL_SPACE_END, FRAME_NONE, allocFrame, freeFrame,
  frameIsUsed,
} from "./frames.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

/** Written at the start of every slab: "SLAB" in ASCII, little-endian. */
const SLAB_MAGIC: u32 = 0x42414c53;

class SlabHeader {
  magic: u32 = 0;
  classIndex: u32 = 0;
  inUse: u32 = 0;                    // objects handed out
  freeList: u32 = 0;                 // first free object (each free object's first word links the next), 0: full
  previous: u32 = 0;                 // partial-list neighbours (slab addresses), 0: none
  next: u32 = 0;
  allocated = new Uint32Array(8);    // bit i: object i is handed out (at most 252 objects of 16 bytes)
  objectShift: u32 = 0;              // log2 of the object size
  capacity: u32 = 0;                 // objects in this slab
}
/** Objects start here: after the header, 64-byte aligned. */
const SLAB_HEADER_BYTES: u32 = 64;

/** Object size of each class (a power of two: object index = offset >>> shift); the last is whole frames. */
const CLASS_SIZES: u32[] = [16, 32, 64, 128, 256, 512, 1024, 4096];
const CLASS_SHIFTS: u32[] = [4, 5, 6, 7, 8, 9, 10, 12];
/** Statistics index of whole-frame allocations (1025..4096 bytes). */
const WHOLE_FRAME_CLASS: u32 = 7;
export const KALLOC_CLASS_COUNT: u32 = 8;

/** kalloc's failure value (no kernel object lives at address 0). */
export const KALLOC_NONE: u32 = 0;

/** kfree results. */
export const KALLOC_OK = 0;
export const KALLOC_ERROR_BAD_ADDRESS = -1;       // not an object kalloc handed out
export const KALLOC_ERROR_DOUBLE_FREE = -2;       // the object is already free

const partialSlabs = new Uint32Array(7);            // per slab class: first slab with a free object
const emptySlabs = new Uint32Array(7);              // per slab class: slabs with no object in use
// Statistics per class (index 7: whole frames).
const allocations = new Uint32Array(8);
const frees = new Uint32Array(8);
const bytesInUse = new Uint32Array(8);              // class size x objects in use
const requestedBytesInUse = new Uint32Array(8);     // what callers asked for (fragmentation = difference)
const slabFrames = new Uint32Array(8);              // frames held (slabs, or whole frames for class 7)
let failedAllocations: u32 = 0;
let badFrees: u32 = 0;

/** One bit per kernel-space frame: set while the frame is a whole-frame allocation of kalloc. */
const wholeFrameBitmap = new Uint32Array(8192);

export function classSize(classIndex: u32): u32 { return CLASS_SIZES[classIndex]; }

/** The smallest class that holds `size` bytes, or KALLOC_CLASS_COUNT when it is too big. */
function classFor(size: u32): u32 {
  let classIndex: u32 = 0;
  while (classIndex < KALLOC_CLASS_COUNT && CLASS_SIZES[classIndex] < size) classIndex++;
  return classIndex;
}

/**
 * `size` bytes (1..4096) of kernel memory, aligned to the class size up to 64 bytes (whole frames:
 * 4096), contents undefined; KALLOC_NONE when size is 0 or too big or memory is exhausted.
 */
export function kalloc(size: u32): u32 {
  const classIndex = classFor(size);
  if (size === 0 || classIndex === KALLOC_CLASS_COUNT) { failedAllocations++; return KALLOC_NONE; }
  let address: u32 = KALLOC_NONE;
  if (classIndex === WHOLE_FRAME_CLASS) {
    address = allocFrame();
    if (address !== FRAME_NONE) { setWholeFrame(address, true); slabFrames[classIndex]++; }
  } else {
    address = allocFromSlab(classIndex);
  }
  if (address === KALLOC_NONE) { failedAllocations++; return KALLOC_NONE; }
  allocations[classIndex]++;
  bytesInUse[classIndex] += classSize(classIndex);
  requestedBytesInUse[classIndex] += size;
  return address;
}

/** Frees an object from kalloc; `size` is the size it was allocated with (for the statistics). */
export function kfree(address: u32, size: u32): i32 {
  if (address < LOW_MEMORY_END || address >= KERNEL_SPACE_END || !frameIsUsed(address)) { badFrees++; return KALLOC_ERROR_BAD_ADDRESS; }
  let classIndex: u32 = WHOLE_FRAME_CLASS;
  if ((address & PAGE_OFFSET_MASK) === 0) {
    if (!isWholeFrame(address)) { badFrees++; return KALLOC_ERROR_BAD_ADDRESS; }
    setWholeFrame(address, false);
    freeFrame(address);
    slabFrames[classIndex]--;
  } else {
    const slab = overlay(SlabHeader, address & ~PAGE_OFFSET_MASK);
    if (slab.magic !== SLAB_MAGIC || isWholeFrame(address)) { badFrees++; return KALLOC_ERROR_BAD_ADDRESS; }
    classIndex = slab.classIndex;
    const result = freeToSlab(slab, address);
    if (result !== KALLOC_OK) { badFrees++; return result; }
  }
  frees[classIndex]++;
  bytesInUse[classIndex] -= classSize(classIndex);
  requestedBytesInUse[classIndex] -= size;
  return KALLOC_OK;
}

// ---- statistics ----------------------------------------------------------------------------------

export function kallocAllocations(classIndex: u32): u32 { return allocations[classIndex]; }
export function kallocFrees(classIndex: u32): u32 { return frees[classIndex]; }
export function kallocBytesInUse(classIndex: u32): u32 { return bytesInUse[classIndex]; }
export function kallocFrames(classIndex: u32): u32 { return slabFrames[classIndex]; }
export function kallocFailedAllocations(): u32 { return failedAllocations; }

export function kallocTotalBytesInUse(): u32 {
  let total: u32 = 0;
  for (let i: u32 = 0; i < KALLOC_CLASS_COUNT; i++) total += bytesInUse[i];
  return total;
}

/** "kalloc SIZE: allocations A frees F in use B bytes (requested R) frames S" per class. */
export function printKallocStatistics(): void {
  for (let i: u32 = 0; i < KALLOC_CLASS_COUNT; i++) {
    consoleWriteString("kalloc ");
    consoleWriteDecimal(classSize(i));
    consoleWriteString(": allocations ");
    consoleWriteDecimal(allocations[i]);
    consoleWriteString(" frees ");
    consoleWriteDecimal(frees[i]);
    consoleWriteString(" in use ");
    consoleWriteDecimal(bytesInUse[i]);
    consoleWriteString(" bytes (requested ");
    consoleWriteDecimal(requestedBytesInUse[i]);
    consoleWriteString(") frames ");
    consoleWriteDecimal(slabFrames[i]);
    consoleNewLine();
  }
  consoleWriteString("kalloc failures: allocations ");
  consoleWriteDecimal(failedAllocations);
  consoleWriteString(" frees ");
  consoleWriteDecimal(badFrees);
  consoleNewLine();
}

// ---- slabs ---------------------------------------------------------------------------------------

function allocFromSlab(classIndex: u32): u32 {
  let slabAddress: u32 = partialSlabs[classIndex];
  if (slabAddress === 0) {
    slabAddress = newSlab(classIndex);
    if (slabAddress === 0) return KALLOC_NONE;
  }
  const slab = overlay(SlabHeader, slabAddress);
  const object = slab.freeList;
  slab.freeList = load32(object);
  if (slab.inUse === 0) emptySlabs[classIndex]--;
  slab.inUse++;
  const index = objectIndex(slab, object);
  slab.allocated[index >>> 5] = slab.allocated[index >>> 5] | (1 << (index & 31));
  if (slab.freeList === 0) unlinkPartial(slab, slabAddress);
  return object;
}

function freeToSlab(slab: SlabHeader, object: u32): i32 {
  const slabAddress = object & ~PAGE_OFFSET_MASK;
  const offset = (object & PAGE_OFFSET_MASK) - SLAB_HEADER_BYTES;
  const index = offset >>> slab.objectShift;
  if ((object & PAGE_OFFSET_MASK) < SLAB_HEADER_BYTES || (index << slab.objectShift) !== offset || index >= slab.capacity) return KALLOC_ERROR_BAD_ADDRESS;
  const mask: u32 = u32(1 << (index & 31));
  if ((slab.allocated[index >>> 5] & mask) === 0) return KALLOC_ERROR_DOUBLE_FREE;
  slab.allocated[index >>> 5] = slab.allocated[index >>> 5] & ~mask;
  const wasFull = slab.freeList === 0;
  store32(object, slab.freeList);
  slab.freeList = object;
  slab.inUse--;
  if (wasFull) linkPartial(slab, slabAddress);
  if (slab.inUse === 0) {
    // Keep one empty slab per class for the next allocation; give the others back.
    if (emptySlabs[slab.classIndex] >= 1) {
      unlinkPartial(slab, slabAddress);
      slabFrames[slab.classIndex]--;
      slab.magic = 0;
      freeFrame(slabAddress);
    } else {
      emptySlabs[slab.classIndex]++;
    }
  }
  return KALLOC_OK;
}

/** A fresh slab on the partial list, every object free and linked in address order; 0 when out of frames. */
function newSlab(classIndex: u32): u32 {
  const frame = allocFrame();
  if (frame === FRAME_NONE) return 0;
  const slab = overlay(SlabHeader, frame);
  slab.magic = SLAB_MAGIC;
  slab.classIndex = classIndex;
  slab.inUse = 0;
  for (let w = 0; w < slab.allocated.length; w++) slab.allocated[w] = 0;
  const size = classSize(classIndex);
  const count = (PAGE_SIZE - SLAB_HEADER_BYTES) >>> CLASS_SHIFTS[classIndex];
  slab.objectShift = CLASS_SHIFTS[classIndex];
  slab.capacity = count;
  const first = frame + SLAB_HEADER_BYTES;
  for (let i: u32 = 0; i < count; i++) {
    const object = first + i * size;
    store32(object, i + 1 < count ? object + size : 0);
  }
  slab.freeList = first;
  slab.previous = 0;
  slab.next = 0;
  linkPartial(slab, frame);
  emptySlabs[classIndex]++;
  slabFrames[classIndex]++;
  return frame;
}

function objectIndex(slab: SlabHeader, object: u32): u32 {
  return ((object & PAGE_OFFSET_MASK) - SLAB_HEADER_BYTES) >>> slab.objectShift;
}

function linkPartial(slab: SlabHeader, slabAddress: u32): void {
  const head = partialSlabs[slab.classIndex];
  slab.previous = 0;
  slab.next = head;
  if (head !== 0) overlay(SlabHeader, head).previous = slabAddress;
  partialSlabs[slab.classIndex] = slabAddress;
}

function unlinkPartial(slab: SlabHeader, slabAddress: u32): void {
  if (slab.previous !== 0) overlay(SlabHeader, slab.previous).next = slab.next;
  else if (partialSlabs[slab.classIndex] === slabAddress) partialSlabs[slab.classIndex] = slab.next;
  if (slab.next !== 0) overlay(SlabHeader, slab.next).previous = slab.previous;
  slab.previous = 0;
  slab.next = 0;
}

// ---- whole-frame allocations -----------------------------------------------------------------------

function isWholeFrame(address: u32): bool {
  const frame = address >>> PAGE_SHIFT;
  return ((wholeFrameBitmap[frame >>> 5] >>> (frame & 31)) & 1) !== 0;
}

function setWholeFrame(address: u32, set: bool): void {
  const frame = address >>> PAGE_SHIFT;
  const mask: u32 = u32(1 << (frame & 31));
  wholeFrameBitmap[frame >>> 5] = set ? (wholeFrameBitmap[frame >>> 5] | mask) : (wholeFrameBitmap[frame >>> 5] & ~mask);
}
