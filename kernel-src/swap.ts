// Swapping (issue 15; the Denali paper §2 and §3.2): memory is a cache of the active VMs, the swap disk
// (disk.ts: virtio-blk, NVMe or AHCI; `denali boot --swap SIZE`) the backing store of the idle ones. Without
// a disk this file does nothing and the kernel behaves as before (a page fault that finds no frame ends its VM).
//
// Policy: whole-VM swap-out of the VMs idle longest. Resident VMs blocked in idle are kept on a list,
// oldest first (`idle`: appended when a VM blocks, removed when it wakes). When the unreserved pool
// (vm.ts vmUnreservedFrames) counting the frames already being written out is below LOW_WATERMARK, or
// a VM's page fault finds no frame, the VMs at the head of the list are written out until it reaches
// HIGH_WATERMARK. A written-out VM gives back every frame: private pages, page tables, directory
// (vm.ts vmSwapRelease); it keeps its slot in the VM table and its swap map (below). The image's shared
// code stays where it is: in its multiboot module, never copied. Then the VMs waiting for memory, on a
// second list: a small one goes out whole too; one holding more than WHOLE_VM_PAGE_LIMIT private pages
// gives up its coldest pages instead, EVICT_BATCH at a time, by second chance over the accessed bits
// (evictPages), and so does a large VM short of memory with nothing else coming back: a VM larger than
// memory runs.
// Swap-in: an event that wakes a swapped-out VM (its alarm, a frame from the switch: both queued as
// usual) starts reading it back; once the pool holds what it needs (vm.ts vmSwapInFrames), its working
// set (the pages it touched in its last residency: their accessed bits at the write-out) is read, and
// the VM runs when those have arrived and passed their checksums. Others run meanwhile. Its other pages
// stay on the disk, marked in its page tables (paging.ts PAGE_SWAPPED): the first touch of one, a page
// fault or a hypercall's buffer, reads that page alone while the VM waits (SWAP_PAGING) and the others
// run; then the access or the hypercall is made again. The map stays with the VM while any page is out.
// A page fault that finds no frame makes its VM wait (blocked, the others running; it may be written
// out meanwhile like an idle VM) while a write-out is in flight; when nothing can be written out it
// ends out of memory, as without a disk.
//
// The disk: each VM has a region as large as its memory, in VM order (vm.ts VM_SWAP_FIRST_SECTOR), made
// of positions (one page each, position p at 8p sectors from its start). A write-out packs the VM's
// resident pages into the positions its pages still on the disk leave free, lowest first, the pages it
// touched first: however scattered in the VM, a working set is read back in one request per 126 pages.
// A VM whose region lies past the end of the disk stays resident. A swap map (kalloc'd, MAP_* words):
// the positions, the requests in flight, flags and counts, then for each position its page number with
// ENTRY_* flags, the CRC32C (Castagnoli, RFC 3720 B.4) of its bytes as written, and its frame while it
// is being written or read. A page that reads back with another checksum, or a read the disk fails,
// ends only its VM (`swap corruption at page 0x...`, `swap read error at page 0x...`); a failed write
// leaves the VM resident.
// Clean pages: a page read back keeps its position as ENTRY_CLEAN while resident (the map stays); the
// processor sets its PTE's dirty bit at the first write through the VM's mapping (ring 3's or the
// kernel's in a hypercall; the kernel's few writes through a frame set it themselves: profile.ts), and a
// write-out keeps the copy of a page whose bit is still clear, written neither to the disk nor through
// the checksum again. A page-granular eviction forgets the clean copies first.
// Invariants: interrupts are disabled in all of this (traps and the disk's interrupt); a VM is on the
// idle list exactly when it is resident, blocked in idle and not the target of a write-out; `vm.swapMap`
// is non-zero when swapState is not SWAP_RESIDENT, when some of its pages are on the disk only
// (MAP_ON_DISK > 0: each such page's PTE is PAGE_SWAPPED with its position) or when some have a clean copy
// there (MAP_CLEAN > 0).
import { bool, i32, u8, u32, load8, load32, store32, rdtsc } from "dsl";
import {
  Vm, vmAt, vmCount, vmUnreservedFrames, vmSwapRelease, vmSwapInFrames, vmSwapInBegin, vmSwapInPage, vmSwapInEnd,
  vmSwapInBuild, vmPrivateFrames, vmSwapInMark, vmSwappedEntry, vmPageInFrame, vmPageInMap, vmClearAccessed,
  vmPageOutFrame,
  VM_NONE, VM_IDLE, VM_ENDED, END_OUT_OF_MEMORY, END_SWAP_CORRUPTION, END_SWAP_READ_ERROR,
  SWAP_RESIDENT, SWAP_WRITING, SWAP_OUT, SWAP_READING, SWAP_PAGING, SWAP_EVICTING,
} from "./vm.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { INTERRUPT_TIMER } from "../abi/hypercalls.ts";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, framesFree, framesUsed, allocFrameRun, freeFrame } from "./frames.ts";
import {
  pageEntry, entryFrame, pagingTableFrames, changeEntryBits, pageEntrySlot, PAGE_PRESENT, PAGE_WRITABLE,
  PAGE_ACCESSED, PAGE_DIRTY, PAGE_KEPT, PAGE_TABLE_SPAN,
} from "./paging.ts";
import { kalloc, kfree, KALLOC_NONE } from "./kalloc.ts";
import {
  diskPresent, diskSubmit, diskSlotsFree, diskCapacity, diskFrameLimit, BLK_OK, BLK_SECTORS_PER_PAGE,
  BLK_REQUEST_FRAME_LIMIT,
} from "./disk.ts";
import {
  schedulerSetSwapHooks, schedulerEnd, schedulerRunWoken, schedulerCurrent, schedulerHasRunnable, schedulerLiveCount,
} from "./scheduler.ts";
import { clockTicks } from "./clock.ts";
import { frameArrayAt, frameArrayGrow } from "./framearray.ts";
import { crc32cInit, crc32c, crc32cMethod } from "./crc32c.ts";
import { hypercallMemoryWaits } from "./hypercall.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_SWAP } from "./profile.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

/** Write out idle VMs when the unreserved pool is below this many frames (1 MiB)... */
const LOW_WATERMARK: u32 = 256;
/** ...until it reaches this many (2 MiB), counting the frames of write-outs in flight. */
const HIGH_WATERMARK: u32 = 512;
/** A read-in brings back at most this many pages of a working set (4 MiB); the rest come when touched. */
const READ_IN_LIMIT: u32 = 1024;
/** A page fault on a page on the disk reads up to this many adjacent positions (the page and its next ones). */
const PAGE_IN_CLUSTER: u32 = 8;
/** A VM waiting for memory with more private pages than this loses pages (second chance), not goes out whole. */
const WHOLE_VM_PAGE_LIMIT: u32 = 256;
/** The most pages one eviction (page-granular) writes. */
const EVICT_BATCH: u32 = 64;
/** A VM waiting for memory runs again once the pool has this many frames for it and each one run before. */
const WAITER_RUN_FRAMES: u32 = 64;

// The swap map, in words: word 0 is the count of positions (load32(map)), then:
const MAP_IN_FLIGHT = 1;     // requests not completed
const MAP_FLAGS = 2;
const MAP_COMING = 3;        // frames the write-out gives back (its pages and tables when it began)
const MAP_ON_DISK = 4;       // positions whose page is on the disk only
const MAP_HOT = 5;           // of those, the working set: read back with the VM
const MAP_READ_RUNS = 6;     // the requests that reading the working set takes
const MAP_PREVIOUS = 7;      // during the write-out of a VM with pages on the disk: its map until then
const MAP_FAULT = 8;         // the first position a page fault is reading
const MAP_FAULT_PAGES = 9;   // and how many from there
const MAP_HAND = 10;         // the second chance's clock hand: the next page it looks at
const MAP_CLEAN = 11;        // positions whose page is resident and was read from there (ENTRY_CLEAN)
const MAP_KEPT = 12;         // during a write-out: the clean pages it does not write
const MAP_HEADER_WORDS: u32 = 13;
const FLAG_CANCELLED: u32 = 1;  // woken during its write-out: it stays resident
const FLAG_FAILED: u32 = 2;     // a request failed
// A position's entry: the page number (pages from GUEST_BASE) with flags; ENTRY_EMPTY: no page.
const ENTRY_PAGE_MASK: u32 = 0x000fffff;
const ENTRY_EMPTY: u32 = ENTRY_PAGE_MASK;     // never a page: GUEST_BASE + memory ends below 4 GiB
const ENTRY_DISK: u32 = 0x80000000;          // written, and the disk holds its only copy
const ENTRY_HOT: u32 = 0x40000000;           // touched in its last residency (its PTE's accessed bit)
// Resident, read from this position, whose bytes (and checksum) are the page's while its PTE is not dirty:
// a write-out keeps that copy instead of writing the page again.
const ENTRY_CLEAN: u32 = 0x20000000;
function mapBytes(count: u32): u32 { return (MAP_HEADER_WORDS + 3 * count) << 2; }

/**
 * A map of `count` positions, 0 when there is no memory for it: kalloc'd up to a frame (337 positions),
 * else a run of adjacent frames (a VM of more than 1.3 MiB; the run may not be found: it stays resident).
 */
function mapAlloc(count: u32): u32 {
  const bytes = mapBytes(count);
  if (bytes <= PAGE_SIZE) return kalloc(bytes);                  // KALLOC_NONE is 0
  const run = allocFrameRun((bytes + PAGE_SIZE - 1) >>> PAGE_SHIFT);
  if (run === FRAME_NONE) return 0;
  store32(run, count);
  return run;
}

function mapFree(map: u32): void {
  const bytes = mapBytes(load32(map));
  if (bytes <= PAGE_SIZE) { kfree(map, bytes); return; }
  for (let offset: u32 = 0; offset < bytes; offset += PAGE_SIZE) freeFrame(map + offset);
}
function pageAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + i) << 2); }
function crcAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + load32(map) + i) << 2); }
function frameAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + 2 * load32(map) + i) << 2); }

const runFrames = new Uint32Array(BLK_REQUEST_FRAME_LIMIT);   // one request's frames
/** The most frames one request carries on this disk (disk.ts diskFrameLimit, at most BLK_REQUEST_FRAME_LIMIT). */
let requestFrames: u32 = 1;
/** disk.ts's completion: `done(tag, status)`, the tag a VM index here. */
type Completion = (tag: u32, status: i32) => void;

let active = false;
// The candidates for writing out, oldest first, in two lists (vm.swapList): VMs blocked in idle, and
// VMs waiting for memory after a page fault, written out only when no idle VM is left.
const LIST_NONE: u8 = 0;
const LIST_OF_IDLE_VMS: u8 = 1;
const LIST_OF_WAITERS: u8 = 2;
const listHead = new Int32Array(3);
const listTail = new Int32Array(3);
let framesComing: u32 = 0;         // frames write-outs in flight will give back
/**
 * VMs waiting, in order: for memory after a page fault (they retry it), or to be read back in (their
 * turn). Each VM is on it at most once (vm.swapQueued), so a ring of the VM count rounded up to a power
 * of two (waitMask + 1 entries, in frames: framearray.ts) never overflows.
 */
const waitFrames = new Uint32Array(128);     // abi/boot.ts VM_LIMIT >> (PAGE_SHIFT - WAIT_SHIFT)
const WAIT_SHIFT: u32 = 2;
let waitMask: u32 = 0;
function waitingAt(position: u32): u32 { return frameArrayAt(waitFrames, position & waitMask, WAIT_SHIFT); }
let waitHead: u32 = 0;
let waitTail: u32 = 0;

let swappedOut: u32 = 0;           // VMs in SWAP_OUT now
let writeOuts: u32 = 0;
let readIns: u32 = 0;
let wokenByAlarm: u32 = 0;         // swapped-out VMs woken with only their alarm pending
let wokenByEvent: u32 = 0;         // ... with a frame (or another event) pending
let pagesWritten: u32 = 0;
let pagesRead: u32 = 0;
let checksumFailures: u32 = 0;
let readErrors: u32 = 0;
let writeFailures: u32 = 0;
let noRoom: u32 = 0;               // VMs left resident: no room on the disk, or too many pages for a map
let memoryWaits: u32 = 0;
let readingNow: u32 = 0;           // VMs in SWAP_READING
let pagingNow: u32 = 0;            // VMs in SWAP_PAGING
let pageIns: u32 = 0;              // pages read back alone, on a touch
let pagesEvicted: u32 = 0;         // pages written out alone (second chance)
let pagesKept: u32 = 0;            // clean pages a write-out did not write: their copy on the disk kept
let granted: u32 = 0;              // memory waiters run again and not settled (WAITER_RUN_FRAMES each)
let createdOut: u32 = 0;           // VMs created swapped out (vmCreateSwappedOut)
let builtLate: u32 = 0;            // of those, the ones built since
/** A long start prints `swap: started late K of L, ...` after every PROGRESS_EVERY VMs built late. */
const PROGRESS_EVERY: u32 = 10000;

// Costs (npm run bench:swap; under -icount the TSC counts instructions): the kernel's own work per page
// written out (walk, checksum, requests, release) and read in (frames, requests, checksum, map), without
// the disk driver's (disk.ts counts that) and the trap entries; the span of read-ins in clock ticks;
// the memory at the most VMs swapped out at once.
let outInstructions: u32 = 0;
let inInstructions: u32 = 0;
let firstReadTick: u32 = 0;
let lastReadTick: u32 = 0;
let peakOut: u32 = 0;
let peakResident: u32 = 0;
let peakFrames: u32 = 0;           // VMs' private frames and all page tables then
let peakMapBytes: u32 = 0;         // the swap maps of the swapped-out VMs then
let mapBytesOut: u32 = 0;          // now
let benchEnabled = false;

/** Turns swapping on when the kernel has a swap disk, for `vms` VMs (the wait ring); once the scheduler is set up. */
export function swapInit(bench: bool, vms: u32): void {
  if (!diskPresent()) return;
  requestFrames = diskFrameLimit();
  let ring: u32 = 1;
  while (ring < vms) ring = ring << 1;
  if (!frameArrayGrow(waitFrames, 0, ring, WAIT_SHIFT)) {
    consoleWriteString("swap: no memory for the wait ring, not swapping");
    consoleNewLine();
    return;
  }
  waitMask = ring - 1;
  benchEnabled = bench;
  if (!crc32cInit()) {
    consoleWriteString("swap: no memory for the CRC32C tables, or they fail their checks: not swapping");
    consoleNewLine();
    return;
  }
  consoleWriteString("swap: page checksums CRC32C by ");
  consoleWriteString(crc32cMethod());
  consoleNewLine();
  for (let list = 0; list < 3; list++) { listHead[list] = VM_NONE; listTail[list] = VM_NONE; }
  if (profileOn()) {
    schedulerSetSwapHooks(profiledBlocked, profiledWakes, profiledNeedsMemory, profiledReleased, profiledNeedsPage);
  } else {
    schedulerSetSwapHooks(vmBlocked, vmWakes, vmNeedsMemory, vmReleased, vmNeedsPage);
  }
  rateTick = clockTicks();
  active = true;
}

export function swapActive(): bool { return active; }

/** CRC32C of the page at physical `address` (crc32c.ts). */
function pageChecksum(address: u32): u32 { return crc32c(address, PAGE_SIZE); }

// ---- the lists of candidates ---------------------------------------------------------------------------

function listAppend(index: u32, list: u8): void {
  const vm = vmAt(index);
  vm.next = VM_NONE;
  vm.lruPrev = listTail[list];
  vm.swapList = list;
  if (listTail[list] === VM_NONE) listHead[list] = i32(index); else vmAt(u32(listTail[list])).next = i32(index);
  listTail[list] = i32(index);
}

/** Takes VM `index` off the list it is on, if any. */
function listRemove(index: u32): void {
  const vm = vmAt(index);
  const list = vm.swapList;
  if (list === LIST_NONE) return;
  if (vm.lruPrev === VM_NONE) listHead[list] = vm.next; else vmAt(u32(vm.lruPrev)).next = vm.next;
  if (vm.next === VM_NONE) listTail[list] = vm.lruPrev; else vmAt(u32(vm.next)).lruPrev = vm.lruPrev;
  vm.next = VM_NONE;
  vm.lruPrev = VM_NONE;
  vm.swapList = LIST_NONE;
}

/** The oldest candidate: an idle VM, else a waiting one; VM_NONE when there is none. */
function oldestCandidate(): i32 {
  return listHead[LIST_OF_IDLE_VMS] !== VM_NONE ? listHead[LIST_OF_IDLE_VMS] : listHead[LIST_OF_WAITERS];
}

// ---- the scheduler's hooks -------------------------------------------------------------------------

/** A VM that load control ran again has taken what it took: it idles, waits again or ended. */
function settle(vm: Vm): void {
  if (!vm.swapGranted) return;
  vm.swapGranted = false;
  granted--;
}

/** VM `index` ended and its memory is free: the waiting VMs may have it. */
function vmReleased(index: u32): void {
  const vm = vmAt(index);
  settle(vm);
  // A VM the control VM stopped (control.ts) may be on the idle list, or out on the disk.
  listRemove(index);
  if (vm.swapState === SWAP_OUT) { if (vm.swapMap !== 0) swappedOut--; else createdOut--; }
  // Its map, unless a transfer still uses it (writeFinished frees it then).
  if (vm.swapMap !== 0 && load32(vm.swapMap + (MAP_IN_FLIGHT << 2)) === 0) dropMap(vm);
  serveWaiting();
}

/** Frees the VM's swap map (and the one before it, if a write-out was replacing it). */
function dropMap(vm: Vm): void {
  const previous = load32(vm.swapMap + (MAP_PREVIOUS << 2));
  if (previous !== 0) mapFree(previous);
  mapFree(vm.swapMap);
  vm.swapMap = 0;
}

// The hooks in the profile's PROFILE_SWAP (profile.ts), installed when the kernel profiles.
function profiledBlocked(index: u32): void {
  const previous = profileEnter(PROFILE_SWAP);
  vmBlocked(index);
  profileLeave(previous);
}
function profiledWakes(index: u32): bool {
  const previous = profileEnter(PROFILE_SWAP);
  const taken = vmWakes(index);
  profileLeave(previous);
  return taken;
}
function profiledNeedsMemory(index: u32): bool {
  const previous = profileEnter(PROFILE_SWAP);
  const waits = vmNeedsMemory(index);
  profileLeave(previous);
  return waits;
}
function profiledReleased(index: u32): void {
  const previous = profileEnter(PROFILE_SWAP);
  vmReleased(index);
  profileLeave(previous);
}
function profiledNeedsPage(index: u32, address: u32): bool {
  const previous = profileEnter(PROFILE_SWAP);
  const waits = vmNeedsPage(index, address);
  profileLeave(previous);
  return waits;
}

/** A resident VM blocked in idle: the newest on the list; the pool may need refilling. */
function vmBlocked(index: u32): void {
  const vm = vmAt(index);
  settle(vm);
  if (vm.swapState === SWAP_RESIDENT) { listRemove(index); listAppend(index, LIST_OF_IDLE_VMS); }
  balance();
  if (waitHead !== waitTail && framesComing === 0) forceBalance();
}

/** An idle VM is woken: true when swap.ts takes it (it is not resident; it runs once read back in). */
function vmWakes(index: u32): bool {
  const vm = vmAt(index);
  if (vm.swapState === SWAP_RESIDENT) {
    listRemove(index);
    return false;
  }
  if (vm.swapState === SWAP_WRITING) {             // its memory is still there: it runs, the copy is dropped
    store32(vm.swapMap + (MAP_FLAGS << 2), load32(vm.swapMap + (MAP_FLAGS << 2)) | FLAG_CANCELLED);
    return false;
  }
  if (vm.swapState === SWAP_OUT) {
    if ((vm.pending & vm.mask & ~INTERRUPT_TIMER) === 0) wokenByAlarm++; else wokenByEvent++;
    if (canReadIn(vm) && !vm.swapQueued) readIn(index);
    else if (waitFor(index) && framesComing === 0) forceBalance();
  }
  return true;
}

/**
 * A page fault of the current VM found no frame: true when it is to wait, because a write-out will free
 * some or another VM can still run (and then idle, wait in turn and be written out, or end).
 */
function vmNeedsMemory(index: u32): bool {
  if (!active) return false;
  const vm = vmAt(index);
  settle(vm);
  balance();
  // A large VM short of memory with nothing coming back gives up its own coldest pages (it waits meanwhile).
  if (framesComing === 0 && vm.privateFrames > WHOLE_VM_PAGE_LIMIT && vm.swapState === SWAP_RESIDENT
    && waitFor(index)) {
    listRemove(index);
    evictPages(index);
  }
  if (framesComing === 0 && readingNow === 0 && pagingNow === 0 && !schedulerHasRunnable()) return false;
  if (!waitFor(index)) return false;
  memoryWaits++;
  // It may go out too (or lose pages), as a waiter.
  if (vm.swapList === LIST_NONE && vm.swapState === SWAP_RESIDENT) listAppend(index, LIST_OF_WAITERS);
  return true;
}

/** Queues VM `index` to be served after frames come back (once; false when the ring is full). */
function waitFor(index: u32): bool {
  const vm = vmAt(index);
  if (vm.swapQueued) return true;
  if (waitTail - waitHead > waitMask) return false;
  vm.swapQueued = true;
  store32(waitingAt(waitTail), index);
  waitTail++;
  return true;
}

/**
 * A VM just created (resident) of more pages than a map in one frame holds gets its map now, a run of
 * adjacent frames, while memory is not yet fragmented: its page-granular eviction needs it when memory
 * has run out, and then such a run can rarely be found (two VMs of 24 MiB in 16 MiB hung so). It is kept
 * while the VM lives.
 */
export function swapPrepare(index: u32): void {
  if (!active) return;
  const vm = vmAt(index);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  if (mapBytes(pages) > PAGE_SIZE) growMap(vm, pages);
}

/** Frees the VM's map once none of its pages is on the disk only, unless it is a large VM's (swapPrepare). */
function dropIfEmpty(vm: Vm): void {
  const map = vm.swapMap;
  if (load32(map + (MAP_ON_DISK << 2)) === 0 && load32(map + (MAP_CLEAN << 2)) === 0
    && mapBytes(load32(map)) <= PAGE_SIZE) dropMap(vm);
}

/** Starts VM `index` later (vm.ts vmCreateSwappedOut): built when its turn comes and its reservation fits. */
export function swapStartLater(index: u32): bool {
  createdOut++;
  return waitFor(index);
}

/**
 * The waiting VMs in order, after frames came back: each memory waiter runs again (retrying its fault),
 * each swapped-out VM is read in (or built); stops at the first that must still wait (its turn kept).
 */
function serveWaiting(): void {
  while (waitHead !== waitTail) {
    const index = load32(waitingAt(waitHead));
    const vm = vmAt(index);
    if (vm.state !== VM_ENDED && vm.swapState === SWAP_OUT && !canReadIn(vm)) {
      if (framesComing === 0) forceBalance();
      return;
    }
    // Out first, then back in; a VM losing pages runs again once they are out.
    if (vm.state !== VM_ENDED && (vm.swapState === SWAP_WRITING || vm.swapState === SWAP_EVICTING)) return;
    // Load control: a memory waiter runs again only with room to go on, not to fault again at once (a
    // thousand VMs each holding a page and waiting is thrashing).
    const waiter = vm.state === VM_IDLE && vm.swapState === SWAP_RESIDENT && !vm.blockedInIdle;
    if (waiter && vmUnreservedFrames() < WAITER_RUN_FRAMES * (granted + 1)) {
      balance();
      if (framesComing === 0) forceBalance();
      return;
    }
    waitHead++;
    vm.swapQueued = false;
    if (vm.state === VM_ENDED) continue;
    if (vm.swapState === SWAP_OUT) readIn(index);
    else if (vm.swapState === SWAP_RESIDENT && vm.state === VM_IDLE && !vm.blockedInIdle) {
      listRemove(index);
      vm.swapGranted = true;
      granted++;
      schedulerRunWoken(index);                              // retries its page fault
    }
  }
}

// ---- write-out ------------------------------------------------------------------------------------------

/** Writes out idle VMs, oldest first, while the pool (with what is coming back) is short. */
function balance(): void {
  if (!active) return;
  if (vmUnreservedFrames() + framesComing >= LOW_WATERMARK) return;
  while (oldestCandidate() !== VM_NONE && vmUnreservedFrames() + framesComing < HIGH_WATERMARK) {
    if (!writeOut(u32(oldestCandidate()))) break;                  // the disk is busy: the next event retries
  }
}

/**
 * Starts writing out VM `index`, the head of the idle list, and takes it off the list; false (and it
 * stays) when the disk's queue is too full. A VM that cannot be written out leaves the list, resident.
 */
function writeOut(index: u32): bool {
  const vm = vmAt(index);
  // A large VM waiting for memory gives up its coldest pages instead of going out whole.
  if (vm.swapList === LIST_OF_WAITERS && vm.privateFrames > WHOLE_VM_PAGE_LIMIT) {
    listRemove(index);
    evictPages(index);
    return true;
  }
  const start = rdtsc();
  const started = startWriteOut(index);
  outInstructions += rdtsc() - start;
  return started;
}

function startWriteOut(index: u32): bool {
  const vm = vmAt(index);
  if (i32(index) === schedulerCurrent()) return false;   // the newest, blocked in this very trap: later
  if (vm.swapState !== SWAP_RESIDENT) { listRemove(index); return true; }   // already on its way out
  const pages = vm.memorySize >>> PAGE_SHIFT;
  let resident: u32 = 0;
  let slot: u32 = 0;
  for (let page: u32 = 0; page < pages; page++) {
    slot = slot !== 0 && (page & TABLE_PAGES_MASK) !== 0 ? slot + 4 : tableSlot(vm.space, page);
    if (slot !== 0 && privatePage(load32(slot))) resident++;
  }
  const previous = vm.swapMap;
  const onDisk = previous === 0 ? 0 : load32(previous + (MAP_ON_DISK << 2));
  const count = previous !== 0 && load32(previous) > onDisk + resident ? load32(previous) : onDisk + resident;
  const regionSectors = pages * BLK_SECTORS_PER_PAGE;
  if (regionSectors > diskCapacity() || vm.swapSector > diskCapacity() - regionSectors
    || count === 0) {
    listRemove(index);
    noRoom++;                                   // its region is past the end of the disk, or too many pages
    return true;
  }
  const map = mapAlloc(count);
  if (map === 0) { listRemove(index); noRoom++; return true; }
  const kept = placePages(vm, map, count, previous, vm.blockedInIdle);
  if (transferRuns(map) > diskSlotsFree()) { mapFree(map); return false; }
  listRemove(index);
  for (let i: u32 = 0; i < count; i++) {
    const frame = load32(frameAt(map, i));
    if (frame !== FRAME_NONE) store32(crcAt(map, i), pageChecksum(frame));
  }
  store32(map + (MAP_IN_FLIGHT << 2), 0);
  store32(map + (MAP_FLAGS << 2), 0);
  store32(map + (MAP_COMING << 2), resident + vm.tableFrames);
  store32(map + (MAP_ON_DISK << 2), onDisk + kept);
  store32(map + (MAP_CLEAN << 2), 0);
  store32(map + (MAP_KEPT << 2), kept);
  store32(map + (MAP_HOT << 2), 0);
  store32(map + (MAP_READ_RUNS << 2), 0);
  store32(map + (MAP_PREVIOUS << 2), previous);
  store32(map + (MAP_FAULT << 2), 0);
  store32(map + (MAP_FAULT_PAGES << 2), 0);
  store32(map + (MAP_HAND << 2), previous === 0 ? 0 : load32(previous + (MAP_HAND << 2)));
  vm.swapMap = map;
  vm.swapState = SWAP_WRITING;
  framesComing += load32(map + (MAP_COMING << 2));
  submitRuns(index, map, true, writeDone);
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) writeFinished(index);   // nothing could be started
  return true;
}

function pageAddress(page: u32): u32 { return GUEST_BASE + (page << PAGE_SHIFT); }

/** Pages one page table maps; GUEST_BASE is a multiple of its span, so page 0 starts a table. */
const TABLE_PAGES_MASK: u32 = (PAGE_TABLE_SPAN >>> PAGE_SHIFT) - 1;

/**
 * The PTE slot of the VM's `page` (0: no page table there) where the previous page's was 0 or `page`
 * starts a page table (paging.ts pageEntrySlot). A loop over a VM's pages from page 0 keeps the slot and
 * steps it, one walk per page table: `slot = slot !== 0 && (page & TABLE_PAGES_MASK) !== 0 ? slot + 4 :
 * tableSlot(space, page)`.
 */
function tableSlot(space: u32, page: u32): u32 {
  return (page & TABLE_PAGES_MASK) === 0 ? pageEntrySlot(space, pageAddress(page)) : 0;
}

/** True for the PTE of a private page (present and writable: vm.ts's invariant). */
function privatePage(entry: u32): bool { return (entry & PAGE_PRESENT) !== 0 && (entry & PAGE_WRITABLE) !== 0; }

/**
 * Fills a new map of `count` positions for a write-out of the VM: the pages it still has on the disk
 * (`previous`'s) keep their positions, and so do its clean pages (read from a position of `previous`
 * and not written since: their PTE is not dirty), which are not written again; its other resident pages
 * take the free positions, lowest first, those it touched since they came back (accessed bit) before the
 * others, each with its frame (to be written). Only a VM that went idle (`idled`: its work done) has its
 * working set measured so: for a VM stopped while it waits for memory, or one that touched nothing (it did
 * not run), all it has is its working set. Returns the clean pages kept.
 */
function placePages(vm: Vm, map: u32, count: u32, previous: u32, idled: bool): u32 {
  store32(map, count);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  let measured = false;
  let slot: u32 = 0;
  for (let page: u32 = 0; page < pages && idled && !measured; page++) {
    slot = slot !== 0 && (page & TABLE_PAGES_MASK) !== 0 ? slot + 4 : tableSlot(vm.space, page);
    const entry = slot === 0 ? 0 : load32(slot);
    measured = privatePage(entry) && (entry & PAGE_ACCESSED) !== 0;
  }
  let kept: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const before = previous !== 0 && i < load32(previous) ? load32(pageAt(previous, i)) : ENTRY_EMPTY;
    let entry = ENTRY_EMPTY;
    if ((before & ENTRY_DISK) !== 0) entry = u32(before & ~ENTRY_HOT);
    else if ((before & ENTRY_CLEAN) !== 0) {
      const address = pageAddress(before & ENTRY_PAGE_MASK);
      const pte = pageEntry(vm.space, address);
      if (privatePage(pte) && (pte & PAGE_DIRTY) === 0) {
        const hot = !measured || (pte & PAGE_ACCESSED) !== 0;
        entry = u32((before & ENTRY_PAGE_MASK) | ENTRY_DISK | (hot ? ENTRY_HOT : 0));
        changeEntryBits(vm.space, address, PAGE_KEPT, 0);       // the loop below passes over it
        kept++;
      }
    }
    store32(pageAt(map, i), entry);
    store32(crcAt(map, i), entry !== ENTRY_EMPTY ? load32(crcAt(previous, i)) : 0);
    store32(frameAt(map, i), FRAME_NONE);
  }
  let next: u32 = 0;
  for (let pass: u32 = 0; pass < 2; pass++) {
    slot = 0;
    for (let page: u32 = 0; page < pages; page++) {
      slot = slot !== 0 && (page & TABLE_PAGES_MASK) !== 0 ? slot + 4 : tableSlot(vm.space, page);
      const entry = slot === 0 ? 0 : load32(slot);
      if (!privatePage(entry)) continue;
      if ((entry & PAGE_KEPT) !== 0) {
        if (pass === 1) store32(slot, u32(entry & ~PAGE_KEPT));   // no translation depends on the bit
        continue;
      }
      const hot = !measured || (entry & PAGE_ACCESSED) !== 0;
      if (hot !== (pass === 0)) continue;
      while (load32(pageAt(map, next)) !== ENTRY_EMPTY) next++;
      store32(pageAt(map, next), hot ? u32(page | ENTRY_HOT) : page);
      store32(frameAt(map, next), entryFrame(entry));
      next++;
    }
  }
  return kept;
}

/** The requests a transfer of the map's positions that have a frame takes (runs of adjacent ones). */
function transferRuns(map: u32): u32 {
  const limit = requestFrames;
  let runs: u32 = 0;
  let length: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    if (load32(frameAt(map, i)) === FRAME_NONE) { length = 0; continue; }
    if (length % limit === 0) runs++;
    length++;
  }
  return runs;
}

/** The requests reading back the working set (the positions on the disk marked hot) takes. */
function hotRuns(map: u32): u32 {
  const limit = requestFrames;
  let runs: u32 = 0;
  let length: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    if ((load32(pageAt(map, i)) & (ENTRY_DISK | ENTRY_HOT)) !== (ENTRY_DISK | ENTRY_HOT)) { length = 0; continue; }
    if (length % limit === 0) runs++;
    length++;
  }
  return runs;
}

/**
 * Transfers the map's positions that have a frame, each run of adjacent positions (up to the disk's
 * requestFrames) in one request at sector region + 8 * its first position; failures are flagged.
 */
function submitRuns(index: u32, map: u32, write: bool, done: Completion): void {
  const vm = vmAt(index);
  const count = load32(map);
  const limit = requestFrames;
  let first: u32 = 0;
  while (first < count) {
    if (load32(frameAt(map, first)) === FRAME_NONE) { first++; continue; }
    let n: u32 = 0;
    while (first + n < count && n < limit && load32(frameAt(map, first + n)) !== FRAME_NONE) {
      runFrames[n] = load32(frameAt(map, first + n));
      n++;
    }
    const sector = vm.swapSector + first * BLK_SECTORS_PER_PAGE;
    const slot = diskSubmit(write, sector, runFrames, 0, n, done, index);
    if (slot >= 0) store32(map + (MAP_IN_FLIGHT << 2), load32(map + (MAP_IN_FLIGHT << 2)) + 1);
    else store32(map + (MAP_FLAGS << 2), load32(map + (MAP_FLAGS << 2)) | FLAG_FAILED);
    first += n;
  }
}

/** One request of a write-out is complete (from the disk's interrupt). */
function writeDone(index: u32, status: i32): void { if (lastRequestDone(index, status)) writeFinished(index); }

/** Counts one completed request of VM `index`'s transfer (a failure flagged); true when it was the last. */
function lastRequestDone(index: u32, status: i32): bool {
  const map = vmAt(index).swapMap;
  if (status !== BLK_OK) store32(map + (MAP_FLAGS << 2), load32(map + (MAP_FLAGS << 2)) | FLAG_FAILED);
  const left = load32(map + (MAP_IN_FLIGHT << 2)) - 1;
  store32(map + (MAP_IN_FLIGHT << 2), left);
  return left === 0;
}

/** Every request of the write-out is complete: the VM gives its frames back, or stays resident. */
function writeFinished(index: u32): void {
  const vm = vmAt(index);
  const map = vm.swapMap;
  const count = load32(map);
  const flags = load32(map + (MAP_FLAGS << 2));
  framesComing -= load32(map + (MAP_COMING << 2));
  if ((flags & FLAG_FAILED) !== 0) writeFailures++;
  if (vm.state === VM_ENDED) {
    dropMap(vm);
    vm.swapState = SWAP_RESIDENT;
  } else if (vm.state !== VM_IDLE || flags !== 0) {
    // Woken meanwhile, or the disk failed: the copy is dropped; the VM is resident as it was, its pages
    // still on the disk where they were (its map before).
    vm.swapMap = load32(map + (MAP_PREVIOUS << 2));
    mapFree(map);
    vm.swapState = SWAP_RESIDENT;
    if (vm.state === VM_IDLE && vm.blockedInIdle && vm.swapList === LIST_NONE) listAppend(index, LIST_OF_IDLE_VMS);
  } else {
    const start = rdtsc();
    let written: u32 = 0;
    let hot: u32 = 0;
    for (let i: u32 = 0; i < count; i++) {
      if (load32(frameAt(map, i)) !== FRAME_NONE) {
        store32(pageAt(map, i), u32(load32(pageAt(map, i)) | ENTRY_DISK));
        store32(frameAt(map, i), FRAME_NONE);
        written++;
      }
      if ((load32(pageAt(map, i)) & ENTRY_HOT) !== 0) hot++;
    }
    store32(map + (MAP_ON_DISK << 2), load32(map + (MAP_ON_DISK << 2)) + written);
    store32(map + (MAP_HOT << 2), hot);
    store32(map + (MAP_READ_RUNS << 2), hotRuns(map));
    const previous = load32(map + (MAP_PREVIOUS << 2));
    if (previous !== 0) mapFree(previous);
    store32(map + (MAP_PREVIOUS << 2), 0);
    vmSwapRelease(vm);
    vm.swapState = SWAP_OUT;
    swappedOut++;
    writeOuts++;
    pagesWritten += written;
    pagesKept += load32(map + (MAP_KEPT << 2));
    mapBytesOut += mapBytes(count);
    notePeak();
    outInstructions += rdtsc() - start;
  }
  serveWaiting();
  balance();
}

// ---- page-granular eviction (second chance) ---------------------------------------------------------

/**
 * Second chance over the private pages of VM `index`, resident and about to wait for memory (it does not
 * run until this is done: SWAP_EVICTING): from its clock hand, a page touched since the hand last passed
 * (accessed bit) has the bit cleared and is passed over, one not touched is written out, up to
 * EVICT_BATCH, into the lowest free positions of its map (grown to its whole region); its entry is
 * PAGE_SWAPPED at once and its frame goes back when the write is done (evictFinished). False when nothing
 * was started (no room on the disk, no memory for the map, no private page).
 */
function evictPages(index: u32): bool {
  const vm = vmAt(index);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  const regionSectors = pages * BLK_SECTORS_PER_PAGE;
  if (regionSectors > diskCapacity() || vm.swapSector > diskCapacity() - regionSectors) return false;
  if (diskSlotsFree() < EVICT_BATCH) return false;           // at worst a request per page
  const start = rdtsc();
  const map = vm.swapMap !== 0 && load32(vm.swapMap) >= pages ? vm.swapMap : growMap(vm, pages);
  if (map === 0) return false;
  // Its clean copies are forgotten (their positions free): a page written alone goes to a free position.
  for (let i: u32 = 0; i < load32(map) && load32(map + (MAP_CLEAN << 2)) !== 0; i++) {
    if ((load32(pageAt(map, i)) & ENTRY_CLEAN) === 0) continue;
    store32(pageAt(map, i), ENTRY_EMPTY);
    store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) - 1);
  }
  let hand = load32(map + (MAP_HAND << 2)) % pages;
  let free: u32 = 0;
  let n: u32 = 0;
  for (let step: u32 = 0; step < 2 * pages && n < EVICT_BATCH; step++) {
    const address = pageAddress(hand);
    const page = hand;
    hand = hand + 1 === pages ? 0 : hand + 1;
    const entry = pageEntry(vm.space, address);
    if (!privatePage(entry)) continue;
    if ((entry & PAGE_ACCESSED) !== 0) { vmClearAccessed(vm, address); continue; }
    while ((load32(pageAt(map, free)) & ENTRY_DISK) !== 0 || load32(frameAt(map, free)) !== FRAME_NONE) free++;
    store32(pageAt(map, free), page);
    store32(crcAt(map, free), pageChecksum(entryFrame(entry)));
    store32(frameAt(map, free), entryFrame(entry));
    vmSwapInMark(vm, address, free);                     // not present from now (the TLB's copy invalidated)
    free++;
    n++;
  }
  store32(map + (MAP_HAND << 2), hand);
  outInstructions += rdtsc() - start;
  if (n === 0) return false;
  store32(map + (MAP_IN_FLIGHT << 2), 0);
  store32(map + (MAP_FLAGS << 2), 0);
  store32(map + (MAP_COMING << 2), n);
  framesComing += n;
  vm.swapState = SWAP_EVICTING;
  submitRuns(index, map, true, evictDone);
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) evictFinished(index, false);   // nothing started: undone
  return true;
}

/** The VM's map replaced by one of `count` positions, its entries and header kept; 0 without memory. */
function growMap(vm: Vm, count: u32): u32 {
  const old = vm.swapMap;
  const map = mapAlloc(count);
  if (map === 0) return 0;
  store32(map, count);
  for (let word: u32 = 1; word < MAP_HEADER_WORDS; word++) {
    store32(map + (word << 2), old === 0 ? 0 : load32(old + (word << 2)));
  }
  for (let i: u32 = 0; i < count; i++) {
    const kept = old !== 0 && i < load32(old);
    store32(pageAt(map, i), kept ? load32(pageAt(old, i)) : ENTRY_EMPTY);
    store32(crcAt(map, i), kept ? load32(crcAt(old, i)) : 0);
    store32(frameAt(map, i), FRAME_NONE);
  }
  if (old !== 0) mapFree(old);
  vm.swapMap = map;
  return map;
}

/** One request of an eviction is complete (from the disk's interrupt). */
function evictDone(index: u32, status: i32): void { if (lastRequestDone(index, status)) evictFinished(index, true); }

/**
 * The eviction's writes are done: each page written gives its frame back (its entry on the disk), or, if
 * a request failed, every page is mapped again as it was. Then `serve` the waiting VMs (unless the caller
 * is the eviction itself, inside the VM's own trap).
 */
function evictFinished(index: u32, serve: bool): void {
  const start = rdtsc();
  const vm = vmAt(index);
  const map = vm.swapMap;
  const failed = (load32(map + (MAP_FLAGS << 2)) & FLAG_FAILED) !== 0;
  if (failed) writeFailures++;
  framesComing -= load32(map + (MAP_COMING << 2));
  let out: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    const frame = load32(frameAt(map, i));
    if (frame === FRAME_NONE) continue;
    store32(frameAt(map, i), FRAME_NONE);
    const entry = load32(pageAt(map, i));
    if (failed) {
      vmPageInMap(vm, pageAddress(entry & ENTRY_PAGE_MASK), frame);
      store32(pageAt(map, i), ENTRY_EMPTY);
    } else {
      store32(pageAt(map, i), u32(entry | ENTRY_DISK));
      vmPageOutFrame(vm, frame);
      out++;
    }
  }
  pagesEvicted += out;
  const left = load32(map + (MAP_ON_DISK << 2)) + out;
  store32(map + (MAP_ON_DISK << 2), left);
  vm.swapState = SWAP_RESIDENT;
  dropIfEmpty(vm);
  outInstructions += rdtsc() - start;
  if (!serve) return;
  serveWaiting();
  balance();
}

// ---- read-in --------------------------------------------------------------------------------------------

/** True when VM `index` (SWAP_OUT) can be read in (or built) now: the pool and the disk have room. */
function canReadIn(vm: Vm): bool {
  // A VM built now goes on to take pages like a memory waiter run again: the same load control.
  if (vm.swapMap === 0) return vm.reservedFrames + WAITER_RUN_FRAMES * (granted + 1) <= vmUnreservedFrames();
  // Room for its working set (as much as one read-in brings) and for the pages that may follow it, a few
  // at a time: a VM let in short of them would wait for memory, be written out whole and thrash.
  const map = vm.swapMap;
  const hot = load32(map + (MAP_HOT << 2)) < READ_IN_LIMIT ? load32(map + (MAP_HOT << 2)) : READ_IN_LIMIT;
  const onDisk = load32(map + (MAP_ON_DISK << 2));
  const room = onDisk < hot + WAITER_RUN_FRAMES ? onDisk : hot + WAITER_RUN_FRAMES;
  return vmSwapInFrames(vm, room) <= vmUnreservedFrames()
    && load32(map + (MAP_READ_RUNS << 2)) <= diskSlotsFree();
}

/** Progress of a long start: the VMs built late so far, and the cache. */
function progressLine(): void {
  consoleWriteString("swap: started late ");
  consoleWriteDecimal(builtLate);
  consoleWriteString(" of ");
  consoleWriteDecimal(createdOut);
  consoleWriteString(", swapped out ");
  consoleWriteDecimal(swappedOut);
  consoleWriteString(", frames free ");
  consoleWriteDecimal(framesFree());
  consoleNewLine();
}

/** Reads VM `index` back in (SWAP_OUT, canReadIn), or builds it if it was created swapped out. */
function readIn(index: u32): void {
  const vm = vmAt(index);
  const map = vm.swapMap;
  if (map === 0) {
    builtLate++;
    if (builtLate % PROGRESS_EVERY === 0 || builtLate === createdOut) progressLine();
    vm.swapGranted = true;
    granted++;
    if (vmSwapInBuild(vm, index)) schedulerRunWoken(index);
    else schedulerEnd(index, END_OUT_OF_MEMORY, 0, vm.save.eip, 0);
    return;
  }
  const count = load32(map);
  const start = rdtsc();
  if (readIns === 0 && readingNow === 0) firstReadTick = clockTicks();
  swappedOut--;
  mapBytesOut -= mapBytes(count);
  readingNow++;
  vm.swapState = SWAP_READING;
  // The working set gets frames (the disk fills them); the other pages on the disk are marked as such.
  let ok = vmSwapInBegin(vm);
  let hot: u32 = 0;
  for (let i: u32 = 0; i < count && ok; i++) {
    const entry = load32(pageAt(map, i));
    store32(frameAt(map, i), FRAME_NONE);
    if ((entry & ENTRY_DISK) === 0) continue;
    const address = pageAddress(entry & ENTRY_PAGE_MASK);
    if ((entry & ENTRY_HOT) === 0 || hot === READ_IN_LIMIT) { ok = vmSwapInMark(vm, address, i); continue; }
    hot++;
    const frame = vmSwapInPage(vm, address);
    store32(frameAt(map, i), frame);
    ok = frame !== FRAME_NONE;
  }
  if (!ok) { readingNow--; readFailed(index, END_OUT_OF_MEMORY, 0); return; }
  store32(map + (MAP_FLAGS << 2), 0);
  submitRuns(index, map, false, readDone);
  inInstructions += rdtsc() - start;
  // Nothing to read (no working set): it is in now; its caller goes on serving the waiting VMs.
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) finishReadIn(index, false);
}

/** Frames are needed and nothing is being written out: write out the oldest candidates regardless. */
function forceBalance(): void {
  while (oldestCandidate() !== VM_NONE && framesComing === 0) {
    if (!writeOut(u32(oldestCandidate()))) break;
  }
}

/** One request of a read-in is complete (from the disk's interrupt). */
function readDone(index: u32, status: i32): void { if (lastRequestDone(index, status)) readFinished(index); }

/** The working set is in: each checksum is verified; the VM runs, or ends with the first bad page. */
function readFinished(index: u32): void {
  const start = rdtsc();
  finishReadIn(index, true);
  inInstructions += rdtsc() - start;
}

/** The read-in of VM `index` is complete; then `serve` the waiting VMs (not when serveWaiting is the caller). */
function finishReadIn(index: u32, serve: bool): void {
  const vm = vmAt(index);
  readingNow--;
  lastReadTick = clockTicks();
  const map = vm.swapMap;
  const count = load32(map);
  let read: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const frame = load32(frameAt(map, i));
    if (frame === FRAME_NONE) continue;
    const address = pageAddress(load32(pageAt(map, i)) & ENTRY_PAGE_MASK);
    if ((load32(map + (MAP_FLAGS << 2)) & FLAG_FAILED) !== 0) {
      readErrors++;
      readFailed(index, END_SWAP_READ_ERROR, address);
      return;
    }
    if (pageChecksum(frame) !== load32(crcAt(map, i))) {
      checksumFailures++;
      readFailed(index, END_SWAP_CORRUPTION, address);
      return;
    }
    store32(pageAt(map, i), u32((load32(pageAt(map, i)) & ~ENTRY_DISK) | ENTRY_CLEAN));
    store32(frameAt(map, i), FRAME_NONE);
    read++;
  }
  store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) + read);
  readIns++;
  pagesRead += read;
  const left = load32(map + (MAP_ON_DISK << 2)) - read;
  store32(map + (MAP_ON_DISK << 2), left);
  store32(map + (MAP_HOT << 2), 0);
  dropIfEmpty(vm);
  vm.swapState = SWAP_RESIDENT;
  vmSwapInEnd(vm);
  schedulerRunWoken(index);
  if (serve) serveWaiting();
}

/** The VM cannot come back: it ends with `reason` at `address`, holding what it had been given. */
function readFailed(index: u32, reason: u32, address: u32): void {
  const vm = vmAt(index);
  dropMap(vm);
  vm.swapState = SWAP_RESIDENT;
  vmSwapInEnd(vm);
  schedulerEnd(index, reason, 0, vm.save.eip, address);
}

// ---- a page on the disk, touched ----------------------------------------------------------------------

/**
 * The current VM touched `address`, a page of it on the disk only (its PTE PAGE_SWAPPED): that page is
 * read back while the VM waits (SWAP_PAGING), true; without a frame or a free request slot it waits for
 * memory instead (then retries). False when it cannot wait (it ends). Read-around: the positions after
 * it still on the disk (its next pages in the VM: a write-out places them in page order) come in the same
 * request, up to PAGE_IN_CLUSTER, while the pool is above its low watermark.
 */
function vmNeedsPage(index: u32, address: u32): bool {
  if (!active) return false;
  const vm = vmAt(index);
  const map = vm.swapMap;
  const position = vmSwappedEntry(vm, address) >>> PAGE_SHIFT;
  const page = (address - GUEST_BASE) >>> PAGE_SHIFT;
  if (map === 0 || position >= load32(map) || load32(pageAt(map, position)) !== u32(page | ENTRY_DISK)) return false;
  if (diskSlotsFree() === 0) return vmNeedsMemory(index);
  const first = vmPageInFrame(vm);
  if (first === FRAME_NONE) return vmNeedsMemory(index);
  const start = rdtsc();
  settle(vm);
  runFrames[0] = first;
  let n: u32 = 1;
  while (n < PAGE_IN_CLUSTER && n < requestFrames && position + n < load32(map)
    && (load32(pageAt(map, position + n)) & ENTRY_DISK) !== 0
    && vmUnreservedFrames() > LOW_WATERMARK) {
    const frame = vmPageInFrame(vm);
    if (frame === FRAME_NONE) break;
    runFrames[n] = frame;
    n++;
  }
  for (let k: u32 = 0; k < n; k++) store32(frameAt(map, position + k), runFrames[k]);
  store32(map + (MAP_FAULT << 2), position);
  store32(map + (MAP_FAULT_PAGES << 2), n);
  store32(map + (MAP_FLAGS << 2), 0);
  const sector = vm.swapSector + position * BLK_SECTORS_PER_PAGE;
  if (diskSubmit(false, sector, runFrames, 0, n, pageInDone, index) < 0) {
    mapPagedIn(vm, map, position, n);                    // released with the VM, which ends
    return false;
  }
  store32(map + (MAP_IN_FLIGHT << 2), 1);
  vm.swapState = SWAP_PAGING;
  pagingNow++;
  inInstructions += rdtsc() - start;
  return true;
}

/** Maps the frames of positions [position, position + n) at their pages: the VM's from now. */
function mapPagedIn(vm: Vm, map: u32, position: u32, n: u32): void {
  for (let k: u32 = 0; k < n; k++) {
    const frame = load32(frameAt(map, position + k));
    store32(frameAt(map, position + k), FRAME_NONE);
    vmPageInMap(vm, pageAddress(load32(pageAt(map, position + k)) & ENTRY_PAGE_MASK), frame);
  }
}

/** The pages a fault asked for are read (from the disk's interrupt): checked, mapped, and the VM runs. */
function pageInDone(index: u32, status: i32): void {
  const start = rdtsc();
  const vm = vmAt(index);
  const map = vm.swapMap;
  pagingNow--;
  store32(map + (MAP_IN_FLIGHT << 2), 0);
  vm.swapState = SWAP_RESIDENT;
  const position = load32(map + (MAP_FAULT << 2));
  const n = load32(map + (MAP_FAULT_PAGES << 2));
  let bad: u32 = 0;                                      // the first page that fails its checksum
  for (let k: u32 = 0; k < n && bad === 0 && status === BLK_OK; k++) {
    if (pageChecksum(load32(frameAt(map, position + k))) !== load32(crcAt(map, position + k))) {
      bad = pageAddress(load32(pageAt(map, position + k)) & ENTRY_PAGE_MASK);
    }
  }
  mapPagedIn(vm, map, position, n);                      // released with the VM if it ends
  if (status !== BLK_OK || bad !== 0) {
    if (status !== BLK_OK) readErrors++; else checksumFailures++;
    const address = status !== BLK_OK ? pageAddress(load32(pageAt(map, position)) & ENTRY_PAGE_MASK) : bad;
    dropMap(vm);
    schedulerEnd(index, status !== BLK_OK ? END_SWAP_READ_ERROR : END_SWAP_CORRUPTION, 0, vm.save.eip, address);
  } else {
    for (let k: u32 = 0; k < n; k++) {
      store32(pageAt(map, position + k), u32((load32(pageAt(map, position + k)) & ~ENTRY_DISK) | ENTRY_CLEAN));
    }
    store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) + n);
    pageIns += n;
    const left = load32(map + (MAP_ON_DISK << 2)) - n;
    store32(map + (MAP_ON_DISK << 2), left);
    dropIfEmpty(vm);
    schedulerRunWoken(index);
  }
  inInstructions += rdtsc() - start;
  serveWaiting();
}

/** Records the memory at the most VMs swapped out so far. */
function notePeak(): void {
  if (swappedOut <= peakOut) return;
  peakOut = swappedOut;
  const notStarted = createdOut - builtLate;
  const live = schedulerLiveCount();
  peakResident = live > swappedOut + notStarted + readingNow ? live - swappedOut - notStarted - readingNow : 0;
  peakFrames = vmPrivateFrames() + pagingTableFrames();
  peakMapBytes = mapBytesOut;
}

// ---- reports -----------------------------------------------------------------------------------------

/**
 * `swap: resident R, swapped out S, frames used F free X, write-outs W (P pages), read-ins I (P pages),
 * checksum failures C, read errors E, page-ins D, page-outs O, clean pages kept K, failed write-outs F, left
 * resident N, memory waits M (hypercalls H), woken out by an alarm A by a frame B, started late L of K, disk T KiB`
 * (one line; nothing without a disk). Read-ins bring back working sets; page-ins the pages touched (and
 * read around). A and B: swapped-out VMs woken with only their alarm pending, or with more.
 */
export function swapReport(): void {
  if (!active) return;
  let resident: u32 = 0;
  for (let i: u32 = 0; i < vmCount(); i++) {
    const vm = vmAt(i);
    if (vm.state !== VM_ENDED && vm.swapState !== SWAP_OUT && vm.swapState !== SWAP_READING) resident++;
  }
  consoleWriteString("swap: resident ");
  consoleWriteDecimal(resident);
  consoleWriteString(", swapped out ");
  consoleWriteDecimal(swappedOut);
  consoleWriteString(", frames used ");
  consoleWriteDecimal(framesUsed());
  consoleWriteString(" free ");
  consoleWriteDecimal(framesFree());
  consoleWriteString(", write-outs ");
  consoleWriteDecimal(writeOuts);
  consoleWriteString(" (");
  consoleWriteDecimal(pagesWritten);
  consoleWriteString(" pages), read-ins ");
  consoleWriteDecimal(readIns);
  consoleWriteString(" (");
  consoleWriteDecimal(pagesRead);
  consoleWriteString(" pages), checksum failures ");
  consoleWriteDecimal(checksumFailures);
  consoleWriteString(", read errors ");
  consoleWriteDecimal(readErrors);
  consoleWriteString(", page-ins ");
  consoleWriteDecimal(pageIns);
  consoleWriteString(", page-outs ");
  consoleWriteDecimal(pagesEvicted);
  consoleWriteString(", clean pages kept ");
  consoleWriteDecimal(pagesKept);
  consoleWriteString(", failed write-outs ");
  consoleWriteDecimal(writeFailures);
  consoleWriteString(", left resident ");
  consoleWriteDecimal(noRoom);
  consoleWriteString(", memory waits ");
  consoleWriteDecimal(memoryWaits);
  consoleWriteString(" (hypercalls ");
  consoleWriteDecimal(hypercallMemoryWaits());
  consoleWriteString(")");
  consoleWriteString(", woken out by an alarm ");
  consoleWriteDecimal(wokenByAlarm);
  consoleWriteString(" by a frame ");
  consoleWriteDecimal(wokenByEvent);
  consoleWriteString(", started late ");
  consoleWriteDecimal(builtLate);
  consoleWriteString(" of ");
  consoleWriteDecimal(createdOut);
  consoleWriteString(", disk ");
  consoleWriteDecimal(diskCapacity() >>> 1);
  consoleWriteString(" KiB");
  consoleNewLine();
  if (benchEnabled) benchReport();
}

// The rates of the console's `swap`: counts at its last use (or when swapping started).
let rateTick: u32 = 0;
let rateReadIns: u32 = 0;
let rateWriteOuts: u32 = 0;

/**
 * For the console's `swap` (after swapReport): `swap: R read-ins/s, W write-outs/s over the last T ms`,
 * the rates since the command was last given (or since swapping started).
 */
export function swapRates(): void {
  if (!active) return;
  const now = clockTicks();                         // 1 ms ticks (clock.ts)
  const elapsed = now - rateTick === 0 ? u32(1) : now - rateTick;
  consoleWriteString("swap: ");
  consoleWriteDecimal(perSecond(readIns - rateReadIns, elapsed));
  consoleWriteString(" read-ins/s, ");
  consoleWriteDecimal(perSecond(writeOuts - rateWriteOuts, elapsed));
  consoleWriteString(" write-outs/s over the last ");
  consoleWriteDecimal(elapsed);
  consoleWriteString(" ms");
  consoleNewLine();
  rateTick = now;
  rateReadIns = readIns;
  rateWriteOuts = writeOuts;
}

/** `count` events in `ms` milliseconds, per second (rounded down; no overflow below 4 million events). */
function perSecond(count: u32, ms: u32): u32 { return count < 4000000 ? count * 1000 / ms : count / ms * 1000; }

/**
 * `bench swap-out-per-page N`, `bench swap-in-per-page N` (kernel instructions under -icount),
 * `bench swap-read-span-ticks T pages P vms V` (clock ticks from the first read-in to the last),
 * `bench swap-peak out S resident R frames F map-bytes B` (at the most VMs swapped out at once).
 */
function benchReport(): void {
  const pagesOut = pagesWritten + pagesEvicted;
  benchLine("swap-out-per-page ", pagesOut === 0 ? 0 : outInstructions / pagesOut);
  benchLine("swap-in-per-page ", pagesRead + pageIns === 0 ? 0 : inInstructions / (pagesRead + pageIns));
  consoleWriteString("bench swap-read-span-ticks ");
  consoleWriteDecimal(lastReadTick - firstReadTick);
  consoleWriteString(" pages ");
  consoleWriteDecimal(pagesRead);
  consoleWriteString(" vms ");
  consoleWriteDecimal(readIns);
  consoleNewLine();
  consoleWriteString("bench swap-peak out ");
  consoleWriteDecimal(peakOut);
  consoleWriteString(" resident ");
  consoleWriteDecimal(peakResident);
  consoleWriteString(" frames ");
  consoleWriteDecimal(peakFrames);
  consoleWriteString(" map-bytes ");
  consoleWriteDecimal(peakMapBytes);
  consoleNewLine();
}

function benchLine(name: string, value: u32): void {
  consoleWriteString("bench ");
  consoleWriteString(name);
  consoleWriteDecimal(value);
  consoleNewLine();
}
