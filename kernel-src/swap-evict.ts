// Page-granular eviction (swap.ts has the policy; issue 15): second chance over the accessed bits, a
// clock hand per VM (vm.evictHand) over its pages. A page whose PTE's accessed bit is set has it cleared
// and is passed over; one whose bit is clear is taken, up to EVICT_BATCH a time, into the lowest free
// positions of its VM's map (grown to its whole region), so that a batch goes out in one request per run.
// Two users:
// - a VM waiting for memory that holds more than WHOLE_VM_PAGE_LIMIT pages, or one at its memory cap
//   (evictWaiter; swap.ts atCap): it does not run until the write is done (SWAP_EVICTING); its whole
//   region is swept if need be;
// - runnable VMs, when the pool is short and no idle VM is left to write out whole (sweepRunning): a
//   second hand steps over the VM table, at most SWEEP_VMS slots and SWEEP_PAGES PTEs a call (bounded
//   work, carried on at the next call), and takes up to EVICT_BATCH pages from each runnable VM it finds
//   that has run since the hand last looked at it (vm.sweepMark: its accessed bits have news; a VM just
//   read in or given pages back, their bits still clear, is left alone until it has run). These VMs keep
//   running while their pages are written.
// Contract, for a page being written: its PTE is made not present (PAGE_SWAPPED with its position)
// before its checksum is taken and the write submitted, so the VM cannot change it under the copy. A
// touch of it meanwhile (a fault, a hypercall's buffer: swap-in.ts vmNeedsPage) maps the same frame
// again at once (evictRescue, ENTRY_RESCUED) with its PTE's dirty bit clear, and the access is made
// again: no wait and no stale data, since the frame is the page. When the write completes, a rescued
// page's disk copy is kept as ENTRY_CLEAN (valid while the dirty bit stays clear: a write-out keeps it,
// else it is written again); the others give their frames back (ENTRY_DISK) or, if a request failed,
// are mapped again. One eviction at a time per VM (MAP_EVICT_IN_FLIGHT), beside at most one page-in
// (MAP_IN_FLIGHT). Never taken: read-only pages (the image's shared code, in its module), the page
// holding a runnable VM's saved stack pointer (it would fault back at once), anything of the current VM
// (its registers are on the trap stack; it may be inside a hypercall between preparing a buffer and
// using it); page tables, directories and the kernel's frames are never a VM's private PTEs and stay.
// Bytecode VMs alike (linear.ts): their page map's entries are read as PTEs (vm.ts vmPageEntry: the
// window's accessed and dirty bits too while the VM is installed there), the current one is mid-instruction
// (only as a waiter, which makes its instruction again, does it lose pages), and the page kept for a
// runnable one is its boot information's, between its stack and its data. Interrupts are disabled in all
// of this.
import { bool, i32, u16, u32, load32, store32, rdtsc } from "dsl";
import {
  Vm, vmAt, vmCount, vmUnreservedFrames, vmSwapInMark, vmClearAccessed, vmPageOutFrame, vmPageInMap, vmIsBytecode,
  vmPageEntry, vmBootInfoAddress,
  VM_RUNNABLE, VM_ENDED, SWAP_RESIDENT, SWAP_EVICTING,
} from "./vm.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { PAGE_SHIFT, FRAME_NONE } from "./frames.ts";
import { entryFrame, PAGE_ACCESSED } from "./paging.ts";
import { diskSlotsFree, diskCapacity, BLK_SECTORS_PER_PAGE } from "./disk.ts";
import {
  MAP_IN_FLIGHT, MAP_ON_DISK, MAP_CLEAN, MAP_EVICT_IN_FLIGHT, MAP_EVICT_FLAGS, FLAG_FAILED, ENTRY_PAGE_MASK,
  ENTRY_EMPTY, ENTRY_DISK, ENTRY_CLEAN, ENTRY_RESCUED, pageAt, crcAt, frameAt, pageChecksum, pageAddress,
  privatePage, submitRuns, lastRequestDone, growMap, dropMap, dropIfEmpty,
} from "./swap-map.ts";
import { counts } from "./swap-report.ts";
import { serveWaiting, balance } from "./swap.ts";
import { schedulerRunWoken } from "./scheduler.ts";

/** The most pages one eviction (page-granular) writes. */
const EVICT_BATCH: u32 = 64;
/** sweepRunning looks at no more than this many VM slots per call... */
const SWEEP_VMS: u32 = 64;
/** ...and no more than this many PTEs (the VM hand and each VM's page hand carry on at the next call). */
const SWEEP_PAGES: u32 = 4096;

/** The pages (numbers from GUEST_BASE) one sweep chose. */
const chosen = new Uint32Array(EVICT_BATCH);
/** The PTEs the last sweepPages looked at. */
let swept: u32 = 0;
/** sweepRunning's hand: the next VM slot it looks at. */
let vmHand: u32 = 0;

/** True while some of the VM's pages are being written alone. */
export function evicting(vm: Vm): bool {
  return vm.swapMap !== 0 && load32(vm.swapMap + (MAP_EVICT_IN_FLIGHT << 2)) !== 0;
}

/**
 * True when the VM's whole region lies on the disk (else it cannot lose pages). A bytecode VM's too: its
 * map's entries are PTEs, their accessed bits the window's (linear.ts).
 */
function regionFits(vm: Vm): bool {
  const regionSectors = (vm.memorySize >>> PAGE_SHIFT) * BLK_SECTORS_PER_PAGE;
  return regionSectors <= diskCapacity() && vm.swapSector <= diskCapacity() - regionSectors;
}

/** True when some of the VM's pages could be evicted, given a free disk (its region fits, it has private pages). */
export function evictPossible(vm: Vm): bool { return regionFits(vm) && vm.privateFrames !== 0; }

/**
 * Second chance from the VM's page hand over at most `steps` PTEs, and at most one lap (a page is never
 * chosen twice): pages touched since the hand last passed have their accessed bit cleared, the others
 * (private pages only, not page `skip`) are chosen, up to EVICT_BATCH. Returns how many; `swept` says
 * how many PTEs it looked at. Nothing is unmapped yet.
 */
function sweepPages(vm: Vm, steps: u32, skip: u32): u32 {
  const pages = vm.memorySize >>> PAGE_SHIFT;
  const limit = steps < pages ? steps : pages;
  let hand = vm.evictHand < pages ? vm.evictHand : 0;
  let n: u32 = 0;
  let step: u32 = 0;
  while (step < limit && n < EVICT_BATCH) {
    const page = hand;
    hand = hand + 1 === pages ? 0 : hand + 1;
    step++;
    if (page === skip) continue;
    const address = pageAddress(page);
    const entry = vmPageEntry(vm, address);
    if (!privatePage(entry)) continue;
    if ((entry & PAGE_ACCESSED) !== 0) { vmClearAccessed(vm, address); continue; }
    chosen[n] = page;
    n++;
  }
  vm.evictHand = hand;
  swept = step;
  return n;
}

/**
 * Writes out the `n` pages sweepPages chose in VM `index` (its map grown to its whole region; its clean
 * copies forgotten, so their positions are free): each PTE becomes PAGE_SWAPPED with its position, then
 * its checksum is taken and the runs are submitted. `waiting`: a memory waiter, held until the end
 * (SWAP_EVICTING). False when nothing was started (no memory for the map, the disk refused every request:
 * then each page is mapped again).
 */
function evictChosen(index: u32, n: u32, waiting: bool): bool {
  const vm = vmAt(index);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  const map = vm.swapMap !== 0 && load32(vm.swapMap) >= pages ? vm.swapMap : growMap(vm, pages);
  if (map === 0) return false;
  for (let i: u32 = 0; i < load32(map) && load32(map + (MAP_CLEAN << 2)) !== 0; i++) {
    if ((load32(pageAt(map, i)) & ENTRY_CLEAN) === 0) continue;
    store32(pageAt(map, i), ENTRY_EMPTY);
    store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) - 1);
  }
  let free: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const address = pageAddress(chosen[k]);
    const frame = entryFrame(vmPageEntry(vm, address));
    while ((load32(pageAt(map, free)) & ENTRY_DISK) !== 0 || load32(frameAt(map, free)) !== FRAME_NONE) free++;
    vmSwapInMark(vm, address, free);                     // not present from now (the TLB's copy invalidated)
    store32(pageAt(map, free), chosen[k]);
    store32(crcAt(map, free), pageChecksum(frame));
    store32(frameAt(map, free), frame);
    free++;
  }
  store32(map + (MAP_EVICT_IN_FLIGHT << 2), 0);
  store32(map + (MAP_EVICT_FLAGS << 2), 0);
  counts.framesComing += n;
  if (waiting) vm.swapState = SWAP_EVICTING;
  submitRuns(index, map, true, evictDone, MAP_EVICT_IN_FLIGHT);
  if (load32(map + (MAP_EVICT_IN_FLIGHT << 2)) === 0) { evictFinished(index, false); return false; }   // undone
  return true;
}

/**
 * VM `index`, resident and about to wait for memory, gives up its coldest pages (its whole region swept
 * if need be); it runs again once they are out. False when nothing was started (its region is past the
 * end of the disk, the disk is busy, no memory for the map, no private page, or an eviction of it is in
 * flight already).
 */
export function evictWaiter(index: u32): bool {
  const vm = vmAt(index);
  if (vm.swapState !== SWAP_RESIDENT || !regionFits(vm) || diskSlotsFree() < EVICT_BATCH || evicting(vm)) {
    return false;                                        // (the disk: a request per page at worst)
  }
  const start = rdtsc();
  // One lap clears the bits it finds set; if it took nothing, a second takes what was not touched since.
  let n = sweepPages(vm, vm.memorySize >>> PAGE_SHIFT, ENTRY_EMPTY);
  if (n === 0) n = sweepPages(vm, vm.memorySize >>> PAGE_SHIFT, ENTRY_EMPTY);
  const started = n !== 0 && evictChosen(index, n, true);
  counts.outInstructions += rdtsc() - start;
  return started;
}

/**
 * The pool is short and no idle VM is left to write out whole: runnable VMs give up pages they have not
 * touched since the hand last passed, until the pool with what is coming back reaches `target` frames.
 * Bounded work a call: SWEEP_VMS slots of the VM table and SWEEP_PAGES PTEs; the next call (the next
 * fault that takes a frame, write-out or eviction that ends) carries on where this one stopped.
 */
export function sweepRunning(target: u32): void {
  const start = rdtsc();
  const total = vmCount();
  let steps = SWEEP_PAGES;
  for (let k: u32 = 0; k < SWEEP_VMS && k < total && steps !== 0; k++) {
    if (vmUnreservedFrames() + counts.framesComing >= target || diskSlotsFree() < EVICT_BATCH) break;
    const index = vmHand < total ? vmHand : 0;
    vmHand = index + 1;
    const vm = vmAt(index);
    if (vm.state !== VM_RUNNABLE || vm.swapState !== SWAP_RESIDENT || vm.privateFrames === 0 || evicting(vm)
      || !regionFits(vm)) continue;
    // Its accessed bits say something only if it ran since the hand last looked (or since it was given pages).
    if (switchMark(vm) === vm.sweepMark) continue;
    evictMark(vm);
    const n = sweepPages(vm, steps, stackPage(vm));
    steps -= swept;
    if (n !== 0) evictChosen(index, n, false);
  }
  counts.outInstructions += rdtsc() - start;
}

/**
 * Pages were just mapped for the VM (read in, built, read back on touch), their accessed bits clear:
 * the running sweep leaves it alone until it has run (been switched in) again.
 */
export function evictMark(vm: Vm): void { vm.sweepMark = switchMark(vm); }

/** The low 16 bits of the VM's switch-ins (a VM switched in 65,536 times between looks is passed over once). */
function switchMark(vm: Vm): u16 { return u16(vm.switchIns & 0xffff); }

/**
 * The page (number from GUEST_BASE) of the VM's saved stack pointer; ENTRY_EMPTY when outside its memory. A
 * bytecode VM's: the page of its boot information, between its stack and its data (abi/bytecode.ts).
 */
function stackPage(vm: Vm): u32 {
  const offset = (vmIsBytecode(vm) ? vmBootInfoAddress(vm) : vm.save.userEsp) - GUEST_BASE;
  return offset < vm.memorySize ? offset >>> PAGE_SHIFT : ENTRY_EMPTY;
}

/**
 * The VM touched the page at `position`, which an eviction in flight is writing (its entry the bare
 * page number, its frame still there): the frame is mapped again, dirty bit clear, and the access can
 * be made again now. The write goes on; its end keeps the copy as a clean one (evictFinished).
 */
export function evictRescue(vm: Vm, map: u32, position: u32): void {
  const entry = load32(pageAt(map, position));
  vmPageInMap(vm, pageAddress(entry & ENTRY_PAGE_MASK), load32(frameAt(map, position)));
  store32(frameAt(map, position), FRAME_NONE);
  store32(pageAt(map, position), u32(entry | ENTRY_RESCUED));
  counts.framesComing--;
  counts.rescued++;
}

/** True when `position` of the VM's map is a page an eviction in flight is writing, not touched yet. */
export function evictWriting(vm: Vm, map: u32, position: u32): bool {
  return evicting(vm) && (load32(pageAt(map, position)) & ~ENTRY_PAGE_MASK) === 0
    && load32(frameAt(map, position)) !== FRAME_NONE;
}

/** One request of an eviction is complete (from the disk's interrupt). */
function evictDone(index: u32, status: i32): void {
  if (lastRequestDone(index, status, MAP_EVICT_IN_FLIGHT)) evictFinished(index, true);
}

/**
 * The eviction's writes are done: each page written gives its frame back (its entry on the disk), or, if
 * a request failed, every page is mapped again as it was; a page rescued meanwhile keeps the copy as a
 * clean one (or none, if it failed). A VM that ended meanwhile just frees the frames. Then `serve` the
 * waiting VMs (unless the caller is the eviction itself, inside a trap).
 */
function evictFinished(index: u32, serve: bool): void {
  const start = rdtsc();
  const vm = vmAt(index);
  const map = vm.swapMap;
  const failed = (load32(map + (MAP_EVICT_FLAGS << 2)) & FLAG_FAILED) !== 0;
  const ended = vm.state === VM_ENDED;
  const waiting = vm.swapState === SWAP_EVICTING;
  if (failed) counts.writeFailures++;
  let out: u32 = 0;
  let clean: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    const entry = load32(pageAt(map, i));
    if ((entry & ENTRY_RESCUED) !== 0) {
      const keep = !failed && !ended;
      store32(pageAt(map, i), keep ? u32((entry & ~ENTRY_RESCUED) | ENTRY_CLEAN) : ENTRY_EMPTY);
      if (keep) clean++;
      continue;
    }
    const frame = load32(frameAt(map, i));
    if (frame === FRAME_NONE || (entry & ENTRY_DISK) !== 0) continue;   // not this eviction's (a page-in's)
    store32(frameAt(map, i), FRAME_NONE);
    counts.framesComing--;
    if (ended) {
      vmPageOutFrame(vm, frame);
      store32(pageAt(map, i), ENTRY_EMPTY);
    } else if (failed) {
      vmPageInMap(vm, pageAddress(entry & ENTRY_PAGE_MASK), frame);
      store32(pageAt(map, i), ENTRY_EMPTY);
    } else {
      store32(pageAt(map, i), u32(entry | ENTRY_DISK));
      vmPageOutFrame(vm, frame);
      out++;
    }
  }
  counts.pagesEvicted += out;
  if (!waiting) counts.runningEvictions += out;
  store32(map + (MAP_ON_DISK << 2), load32(map + (MAP_ON_DISK << 2)) + out);
  store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) + clean);
  if (waiting) vm.swapState = SWAP_RESIDENT;
  // A VM at its memory cap (swap.ts atCap) waits for its own pages on no ring: it runs again now.
  if (waiting && !ended && !vm.swapQueued && !vm.blockedInIdle) schedulerRunWoken(index);
  if (ended) { if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) dropMap(vm); }
  else dropIfEmpty(vm);
  counts.outInstructions += rdtsc() - start;
  if (!serve) return;
  serveWaiting();
  balance();
}
