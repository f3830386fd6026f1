// Self-tests, fault scenarios and cost measurements of the memory subsystems (frames, paging, kalloc,
// modules), run from kmain on request (test/kernel/memory.test.ts):
//   test=selftest              "selftest NAME ok" or "selftest NAME FAILED: ..." lines
//   test=pagefault-unmapped    reads an unmapped user-part address: the exception report shows CR2
//   test=pagefault-readonly    writes to a read-only page (CR0.WP makes the kernel fault too)
//   test=pagefault-null        reads through a null pointer (page 0 is not mapped)
//   bench                      "bench NAME N": instructions per operation under QEMU -icount shift=0
import { bool, u8, u32, load32, store32, load8, store8, rdtsc, linkerAddress, readFlags, cli, sti } from "dsl";
import { check, finish, failureCount } from "./selftest.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine } from "./console.ts";
import {
  PAGE_SIZE, LOW_MEMORY_END, FRAME_NONE, FRAME_OK, FRAME_ERROR_DOUBLE_FREE, FRAME_ERROR_NOT_MANAGED,
  FRAME_ERROR_RESERVED, allocFrame, freeFrame, framesFree, frameIsUsed,
} from "./frames.ts";
import {
  PAGE_PRESENT, PAGE_WRITABLE, PAGE_USER, MAP_WRITABLE, MAP_USER, PAGING_OK, PAGING_ERROR_ALIGNMENT,
  PAGING_ERROR_KERNEL_SPACE, PAGING_ERROR_CURRENT,
  pagingEnabled, writeProtectEnabled, kernelAddressSpace, kernelSpaceTop, createAddressSpace, destroyAddressSpace,
  switchAddressSpace, currentAddressSpace, mapRange, unmapRange, pageEntry, entryFrame,
} from "./paging.ts";
import {
  kalloc, kfree, classSize, kallocAllocations, kallocFrees, kallocBytesInUse, kallocTotalBytesInUse, kallocFrames,
  kallocFailedAllocations,
  KALLOC_NONE, KALLOC_OK, KALLOC_ERROR_BAD_ADDRESS, KALLOC_ERROR_DOUBLE_FREE, KALLOC_CLASS_COUNT,
} from "./kalloc.ts";
import { moduleCount, moduleAt, moduleSize, moduleNameLength } from "./modules.ts";

/** User-part addresses the tests and scenarios use; nothing else maps there. */
const TEST_PAGE: u32 = 0x40000000;
const TEST_RANGE: u32 = 0x40400000;
const TEST_RANGE_PAGES: u32 = 64;                 // more than paging.ts's invlpg limit: the CR3-reload path
const PAGEFAULT_UNMAPPED_ADDRESS: u32 = 0x40123004;
const PAGEFAULT_READONLY_PAGE: u32 = 0x40200000;
const PAGEFAULT_READONLY_ADDRESS: u32 = 0x40200008;
const PAGEFAULT_NULL_ADDRESS: u32 = 0x00000008;
const BENCH_PAGE: u32 = 0x40800000;
const BENCH_ITERATIONS: u32 = 1000;
const EFLAGS_INTERRUPT_ENABLE: u32 = 1 << 9;     // IF (Intel SDM Vol. 1 §3.4.3, EFLAGS)
const KALLOC_TEST_OBJECTS = 300;                  // more than one slab of every class
const KALLOC_TEST_SIZES: u32[] = [1, 16, 17, 100, 512, 1000, 1024, 1025, 4096];

const objects = new Uint32Array(300);


export function runMemorySelfTests(): void {
  selftestFrames();
  selftestPaging();
  selftestKalloc();
  selftestModules();
}

// ---- frames: exhaust all memory, free it all, counts return ------------------------------------------

function selftestFrames(): void {
  const name = "frames";
  const before = failureCount();
  const startFree = framesFree();
  // Take every free frame, chaining them through their first word (this also shows each is writable
  // through the identity map); the second word holds the complement of the frame's own address.
  let chain: u32 = 0;
  let taken: u32 = 0;
  let bad: u32 = 0;
  const imageStart = linkerAddress("imageStart"), imageEnd = linkerAddress("imageEnd");
  while (true) {
    const frame = allocFrame();
    if (frame === FRAME_NONE) break;
    if ((frame & 0xfff) !== 0 || frame < LOW_MEMORY_END || frame >= kernelSpaceTop() || (frame >= imageStart && frame < imageEnd) || !frameIsUsed(frame) || insideModule(frame)) bad++;
    store32(frame, chain);
    store32(frame + 4, ~frame >>> 0);
    chain = frame;
    taken++;
  }
  check(name, bad === 0, "a frame outside free memory was handed out");
  check(name, taken === startFree, "exhaustion took a different number of frames than were free");
  check(name, framesFree() === 0, "free count is not 0 when exhausted");
  check(name, allocFrame() === FRAME_NONE, "allocation after exhaustion did not fail");
  consoleWriteString("frames: exhausted after ");
  consoleWriteDecimal(taken);
  consoleWriteString(" frames");
  consoleNewLine();
  let freed: u32 = 0;
  let corrupt: u32 = 0;
  while (chain !== 0 && freed <= taken) {
    const next = load32(chain);
    if (load32(chain + 4) !== (~chain >>> 0)) corrupt++;
    if (freeFrame(chain) !== FRAME_OK) corrupt++;
    chain = next;
    freed++;
  }
  check(name, corrupt === 0 && freed === taken, "a frame was handed out twice (the chain broke)");
  check(name, framesFree() === startFree, "free count did not return to the start");
  // Double free and foreign addresses are refused.
  const frame = allocFrame();
  check(name, freeFrame(frame) === FRAME_OK, "free failed");
  check(name, freeFrame(frame) === FRAME_ERROR_DOUBLE_FREE, "double free not detected");
  check(name, freeFrame(0x1000) === FRAME_ERROR_NOT_MANAGED, "low memory accepted");
  check(name, freeFrame(frame + 4) === FRAME_ERROR_NOT_MANAGED, "misaligned address accepted");
  check(name, freeFrame(imageStart) === FRAME_ERROR_RESERVED && freeFrame(imageEnd - PAGE_SIZE) === FRAME_ERROR_RESERVED, "a kernel image frame was freed");
  check(name, framesFree() === startFree, "free count changed by refused frees");
  finish(name, before);
}

function insideModule(frame: u32): bool {
  for (let i: u32 = 0; i < moduleCount(); i++) {
    const module = moduleAt(i);
    if (frame + PAGE_SIZE > module.start && frame < module.end) return true;
  }
  return false;
}

// ---- paging ----------------------------------------------------------------------------------------

function selftestPaging(): void {
  const name = "paging";
  const before = failureCount();
  const startFree = framesFree();
  const kernel = kernelAddressSpace();
  check(name, pagingEnabled() && writeProtectEnabled(), "CR0.PG or CR0.WP is clear");
  check(name, currentAddressSpace() === kernel, "CR3 is not the kernel's directory");
  check(name, pageEntry(kernel, 0) === 0, "page 0 is mapped");
  const imageStart = linkerAddress("imageStart");
  const imageEntry = pageEntry(kernel, imageStart);
  check(name, entryFrame(imageEntry) === imageStart && (imageEntry & PAGE_PRESENT) !== 0, "the kernel image is not identity-mapped");
  check(name, (imageEntry & PAGE_USER) === 0, "the kernel image is user-accessible");

  const space = createAddressSpace();
  const first = allocFrame(), second = allocFrame();
  if (!check(name, space !== FRAME_NONE && first !== FRAME_NONE && second !== FRAME_NONE, "out of frames")) return;
  store32(first, 0x11111111);
  store32(second, 0x22222222);
  check(name, mapRange(space, TEST_PAGE, first, PAGE_SIZE, MAP_WRITABLE) === PAGING_OK, "mapRange failed");
  check(name, pageEntry(space, TEST_PAGE) === (first | PAGE_PRESENT | PAGE_WRITABLE), "wrong page-table entry");
  check(name, pageEntry(kernel, TEST_PAGE) === 0, "the user part is shared with the kernel's space");
  switchAddressSpace(space);
  check(name, load32(TEST_PAGE) === 0x11111111, "a mapped page does not read back");
  store32(TEST_PAGE + 8, 0xabcd1234);
  check(name, load32(first + 8) === 0xabcd1234, "a write through the mapping did not reach the frame");
  check(name, load32(imageStart) === load32(imageStart), "kernel space missing in the new space");
  // Remapping the cached page (invlpg path): the new frame must show at once.
  check(name, mapRange(space, TEST_PAGE, second, PAGE_SIZE, MAP_WRITABLE | MAP_USER) === PAGING_OK, "remap failed");
  check(name, load32(TEST_PAGE) === 0x22222222, "stale TLB entry after remapping one page");
  check(name, (pageEntry(space, TEST_PAGE) & PAGE_USER) !== 0, "MAP_USER not set");
  // Read-only: reads work (writes fault: test=pagefault-readonly).
  check(name, mapRange(space, TEST_PAGE, first, PAGE_SIZE, 0) === PAGING_OK, "read-only map failed");
  check(name, (pageEntry(space, TEST_PAGE) & PAGE_WRITABLE) === 0 && load32(TEST_PAGE) === 0x11111111, "read-only page wrong");
  check(name, unmapRange(space, TEST_PAGE, PAGE_SIZE) === PAGING_OK && pageEntry(space, TEST_PAGE) === 0, "unmap failed");
  testLongRange(name, space);
  // Refused requests.
  check(name, mapRange(space, 0x1000, first, PAGE_SIZE, MAP_WRITABLE) === PAGING_ERROR_KERNEL_SPACE, "kernel space accepted");
  check(name, mapRange(space, TEST_PAGE + 1, first, PAGE_SIZE, MAP_WRITABLE) === PAGING_ERROR_ALIGNMENT, "misaligned address accepted");
  check(name, mapRange(space, 0xfffff000, first, 2 * PAGE_SIZE, MAP_WRITABLE) === PAGING_ERROR_KERNEL_SPACE, "range past 4 GiB accepted");
  // The device window (the last 4 MiB, paging.ts) is the kernel's: no user mapping reaches into it.
  const intoWindow = mapRange(space, 0xffbff000, first, 2 * PAGE_SIZE, MAP_WRITABLE);
  check(name, intoWindow === PAGING_ERROR_KERNEL_SPACE, "device window accepted");
  check(name, destroyAddressSpace(space) === PAGING_ERROR_CURRENT, "destroyed the current space");
  switchAddressSpace(kernel);
  check(name, destroyAddressSpace(space) === PAGING_OK, "destroy failed");
  freeFrame(first);
  freeFrame(second);
  check(name, framesFree() === startFree, "frames leaked by an address space");
  finish(name, before);
}

/** 64 pages mapped in one call and remapped one page further (the CR3-reload path of invalidation). */
function testLongRange(name: string, space: u32): void {
  let base: u32 = 0;
  let contiguous = true;
  for (let i: u32 = 0; i <= TEST_RANGE_PAGES; i++) {
    const frame = allocFrame();
    if (i === 0) base = frame;
    else if (frame !== base + i * PAGE_SIZE) contiguous = false;
    store32(frame, i);
  }
  if (check(name, contiguous && base !== FRAME_NONE, "no 65 contiguous frames")) {
    check(name, mapRange(space, TEST_RANGE, base, TEST_RANGE_PAGES * PAGE_SIZE, MAP_WRITABLE) === PAGING_OK, "long map failed");
    let wrong: u32 = 0;
    for (let i: u32 = 0; i < TEST_RANGE_PAGES; i++) if (load32(TEST_RANGE + i * PAGE_SIZE) !== i) wrong++;
    check(name, mapRange(space, TEST_RANGE, base + PAGE_SIZE, TEST_RANGE_PAGES * PAGE_SIZE, MAP_WRITABLE) === PAGING_OK, "long remap failed");
    for (let i: u32 = 0; i < TEST_RANGE_PAGES; i++) if (load32(TEST_RANGE + i * PAGE_SIZE) !== i + 1) wrong++;
    check(name, wrong === 0, "stale TLB entries after remapping a long range");
    check(name, unmapRange(space, TEST_RANGE, TEST_RANGE_PAGES * PAGE_SIZE) === PAGING_OK, "long unmap failed");
  }
  for (let i: u32 = 0; i <= TEST_RANGE_PAGES; i++) freeFrame(base + i * PAGE_SIZE);
}

// ---- kalloc ----------------------------------------------------------------------------------------

function selftestKalloc(): void {
  const name = "kalloc";
  const before = failureCount();
  const startFree = framesFree();
  const startBytes = kallocTotalBytesInUse();
  for (let s = 0; s < KALLOC_TEST_SIZES.length; s++) kallocPattern(name, KALLOC_TEST_SIZES[s]);
  check(name, kallocTotalBytesInUse() === startBytes, "bytes in use did not return to the start");
  // Bad requests and bad frees.
  check(name, kalloc(0) === KALLOC_NONE && kalloc(PAGE_SIZE + 1) === KALLOC_NONE, "impossible sizes allocated");
  const object = kalloc(24);
  check(name, kfree(object + 4, 24) === KALLOC_ERROR_BAD_ADDRESS, "interior pointer freed");
  check(name, kfree(object, 24) === KALLOC_OK, "free failed");
  check(name, kfree(object, 24) === KALLOC_ERROR_DOUBLE_FREE, "double free not detected");
  const page = kalloc(PAGE_SIZE);
  check(name, kfree(page, PAGE_SIZE) === KALLOC_OK && kfree(page, PAGE_SIZE) === KALLOC_ERROR_BAD_ADDRESS, "whole-frame double free not detected");
  const foreign = allocFrame();
  check(name, kfree(foreign, 16) === KALLOC_ERROR_BAD_ADDRESS && kfree(foreign + 64, 16) === KALLOC_ERROR_BAD_ADDRESS, "a frame kalloc does not own was freed");
  freeFrame(foreign);
  kallocExhaust(name);
  check(name, kallocTotalBytesInUse() === startBytes, "bytes in use did not return to the start after exhaustion");
  // Frames come back, except the one empty slab each class keeps.
  let kept: u32 = 0;
  for (let c: u32 = 0; c < KALLOC_CLASS_COUNT; c++) kept += kallocFrames(c);
  check(name, framesFree() + kept === startFree, "frames leaked");
  finish(name, before);
}

/** 300 objects of `size`: distinct, aligned, non-overlapping (each filled with its own byte); freed evens first. */
function kallocPattern(name: string, size: u32): void {
  let classIndex: u32 = 0;
  while (classSize(classIndex) < size) classIndex++;
  const allocationsBefore = kallocAllocations(classIndex), freesBefore = kallocFrees(classIndex), bytesBefore = kallocBytesInUse(classIndex);
  let bad: u32 = 0;
  for (let i = 0; i < KALLOC_TEST_OBJECTS; i++) {
    const object = kalloc(size);
    objects[i] = object;
    if (object === KALLOC_NONE || (object & (Math.min(classSize(classIndex), 64) - 1)) !== 0) bad++;
    else for (let b: u32 = 0; b < size; b++) store8(object + b, u8(i));
  }
  check(name, bad === 0, "allocation failed or misaligned");
  check(name, kallocBytesInUse(classIndex) - bytesBefore === KALLOC_TEST_OBJECTS * classSize(classIndex), "bytes in use wrong");
  for (let i = 0; i < KALLOC_TEST_OBJECTS; i++) {
    for (let b: u32 = 0; b < size; b++) if (load8(objects[i] + b) !== (i & 0xff)) { bad++; break; }
  }
  check(name, bad === 0, "objects overlap");
  for (let i = 0; i < KALLOC_TEST_OBJECTS; i += 2) if (kfree(objects[i], size) !== KALLOC_OK) bad++;
  for (let i = 1; i < KALLOC_TEST_OBJECTS; i += 2) if (kfree(objects[i], size) !== KALLOC_OK) bad++;
  check(name, bad === 0, "free failed");
  check(name, kallocAllocations(classIndex) - allocationsBefore === KALLOC_TEST_OBJECTS && kallocFrees(classIndex) - freesBefore === KALLOC_TEST_OBJECTS, "allocation/free counts wrong");
  check(name, kallocBytesInUse(classIndex) === bytesBefore, "bytes in use did not return");
}

/** 1024-byte objects until kalloc fails (all frames gone), chained through their first word; then all freed. */
function kallocExhaust(name: string): void {
  const failedBefore = kallocFailedAllocations();
  let chain: u32 = 0;
  let count: u32 = 0;
  while (true) {
    const object = kalloc(1024);
    if (object === KALLOC_NONE) break;
    store32(object, chain);
    chain = object;
    count++;
  }
  check(name, framesFree() === 0 && kallocFailedAllocations() === failedBefore + 1, "exhaustion not reported");
  consoleWriteString("kalloc: exhausted after ");
  consoleWriteDecimal(count);
  consoleWriteString(" objects of 1024 bytes");
  consoleNewLine();
  let bad: u32 = 0;
  while (chain !== 0) {
    const next = load32(chain);
    if (kfree(chain, 1024) !== KALLOC_OK) bad++;
    chain = next;
  }
  check(name, bad === 0, "free after exhaustion failed");
}

// ---- modules -----------------------------------------------------------------------------------------

function selftestModules(): void {
  const name = "modules";
  const before = failureCount();
  for (let i: u32 = 0; i < moduleCount(); i++) {
    const module = moduleAt(i);
    check(name, (module.start & 0xfff) === 0, "module not page-aligned");
    check(name, module.end >= module.start && module.end <= kernelSpaceTop(), "module bounds wrong");
    let unreserved: u32 = 0;
    for (let at = module.start; at < module.end; at += PAGE_SIZE) if (!frameIsUsed(at)) unreserved++;
    check(name, unreserved === 0, "module frames are free");
    check(name, module.commandLine === 0 || frameIsUsed(module.commandLine) || module.commandLine < LOW_MEMORY_END, "module name is in free memory");
    check(name, moduleSize(module) === module.end - module.start && moduleNameLength(module) < 4096, "module name unterminated");
  }
  finish(name, before);
}

// ---- fault scenarios -----------------------------------------------------------------------------------

function announce(name: string, address: u32): void {
  consoleWriteString(name);
  consoleWriteString(": touching 0x");
  consoleWriteHex(address);
  consoleNewLine();
}

/** Each touches its address and should not come back: the page-fault report shows CR2 = the address. */
export function pagefaultUnmapped(): void {
  announce("pagefault-unmapped", PAGEFAULT_UNMAPPED_ADDRESS);
  const value = load32(PAGEFAULT_UNMAPPED_ADDRESS);
  consoleWriteString("pagefault-unmapped: no fault, read 0x");
  consoleWriteHex(value);
  consoleNewLine();
}

export function pagefaultReadOnly(): void {
  const frame = allocFrame();
  mapRange(currentAddressSpace(), PAGEFAULT_READONLY_PAGE, frame, PAGE_SIZE, 0);
  consoleWriteString("pagefault-readonly: read 0x");
  consoleWriteHex(load32(PAGEFAULT_READONLY_ADDRESS));
  consoleNewLine();
  announce("pagefault-readonly", PAGEFAULT_READONLY_ADDRESS);
  store32(PAGEFAULT_READONLY_ADDRESS, 1);
  consoleWriteString("pagefault-readonly: no fault");
  consoleNewLine();
}

export function pagefaultNull(): void {
  announce("pagefault-null", PAGEFAULT_NULL_ADDRESS);
  const value = load32(PAGEFAULT_NULL_ADDRESS);
  consoleWriteString("pagefault-null: no fault, read 0x");
  consoleWriteHex(value);
  consoleNewLine();
}

// ---- costs -------------------------------------------------------------------------------------------

function reportBench(name: string, start: u32, end: u32): void {
  consoleWriteString("bench ");
  consoleWriteString(name);
  consoleWriteString(" ");
  consoleWriteDecimal((end - start) / BENCH_ITERATIONS);
  consoleNewLine();
}

/**
 * Average instructions per operation pair over BENCH_ITERATIONS (loop overhead included), with
 * interrupts off so that timer ticks do not count.
 */
export function runMemoryBenchmarks(): void {
  const interruptsWereOn = (readFlags() & EFLAGS_INTERRUPT_ENABLE) !== 0;
  cli();
  let start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) freeFrame(allocFrame());
  reportBench("frame-alloc-free", start, rdtsc());

  kfree(kalloc(64), 64);  // the slab exists before timing
  start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) kfree(kalloc(64), 64);
  reportBench("kalloc-kfree-64", start, rdtsc());

  const space = currentAddressSpace();
  const frame = allocFrame();
  mapRange(space, BENCH_PAGE, frame, PAGE_SIZE, MAP_WRITABLE);  // the page table exists before timing
  unmapRange(space, BENCH_PAGE, PAGE_SIZE);
  start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) {
    mapRange(space, BENCH_PAGE, frame, PAGE_SIZE, MAP_WRITABLE);
    unmapRange(space, BENCH_PAGE, PAGE_SIZE);
  }
  reportBench("map-unmap-page", start, rdtsc());
  freeFrame(frame);
  if (interruptsWereOn) sti();
}
