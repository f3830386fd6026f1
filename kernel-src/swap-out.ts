// Whole-VM write-out (swap.ts has the policy; issue 15, the Denali paper §3.2): an idle VM, or a small one
// waiting for memory, is written out whole and gives back every frame: private pages, page tables and
// directory (vm.ts vmSwapRelease); it keeps its slot and its swap map (swap-map.ts). A write-out puts
// the VM's working set (the pages it touched, read back with it: swap-in.ts) on adjacent positions, one
// request to read, around the pages still on the disk only; the other resident pages take the lowest
// positions left, or stay where a clean copy of them is (read back and not written since: PTE dirty bit
// clear), not written again (the layout: planPositions). The working set of a VM that has not run since its start
// ended is not what its start touched but what its image's VMs touch (swap-learn.ts).
// Contract: writeOut starts one write-out or says the disk is too busy (false: the next event retries);
// a VM woken during its write-out stays resident and the copy is dropped (FLAG_CANCELLED), and so does
// one whose write failed. A VM with a page-granular eviction in flight (swap-evict.ts) waits for its end;
// one with bare ACKs held for it runs instead (then it is written out later, its timers settled), unless it has
// no alarm: then they are dropped.
// Interrupts are disabled in all of this.
import { bool, i32, u32, load32, store32, rdtsc } from "dsl";
import {
  Vm, vmAt, vmSwapRelease, vmPageEntry, vmIsBytecode, vmSyncBits, vmMarkKept, VM_IDLE, VM_ENDED, SWAP_RESIDENT,
  SWAP_WRITING, SWAP_OUT, RUN_STARTED,
} from "./vm.ts";
import { learnFrom, predicts, predictedPage } from "./swap-learn.ts";
import { PAGE_SHIFT, FRAME_NONE } from "./frames.ts";
import { entryFrame, PAGE_ACCESSED, PAGE_DIRTY, PAGE_KEPT } from "./paging.ts";
import { diskSlotsFree, diskCapacity, BLK_SECTORS_PER_PAGE } from "./disk.ts";
import { schedulerCurrent, schedulerRunWoken } from "./scheduler.ts";
import { switchDropHeldAcks } from "./switch.ts";
import { INTERRUPT_NET } from "../abi/hypercalls.ts";
import {
  MAP_IN_FLIGHT, MAP_FLAGS, MAP_COMING, MAP_ON_DISK, MAP_HOT, MAP_READ_RUNS, MAP_PREVIOUS, MAP_FAULT,
  MAP_FAULT_PAGES, MAP_CLEAN, MAP_KEPT, MAP_EVICT_IN_FLIGHT, MAP_EVICT_FLAGS, FLAG_FAILED, ENTRY_PAGE_MASK,
  ENTRY_EMPTY, ENTRY_DISK, ENTRY_HOT, ENTRY_WARM, ENTRY_CLEAN, ENTRY_COPY, mapBytes, mapAlloc, mapFree, pageAt, crcAt,
  frameAt, pageChecksum, pageAddress, nextPrivate, privateSlot, privatePage, transferRuns, hotRuns, everyPage,
  submitRuns, lastRequestDone, dropMap,
} from "./swap-map.ts";
import { counts, notePeak } from "./swap-report.ts";
import {
  listAppend, listRemove, serveWaiting, balance, LIST_NONE, LIST_OF_WAITERS, LIST_OF_IDLE_VMS, WHOLE_VM_PAGE_LIMIT,
} from "./swap.ts";
import { evictWaiter, evicting } from "./swap-evict.ts";

/**
 * Starts writing out VM `index`, the head of the idle list, and takes it off the list; false (and it
 * stays) when the disk's queue is too full. A VM that cannot be written out leaves the list, resident.
 */
export function writeOut(index: u32): bool {
  const vm = vmAt(index);
  // A large VM waiting for memory gives up its coldest pages instead of going out whole.
  // It stays a candidate (at the tail) while it waits: after these pages, memory may still be short, and
  // with no other VM left to write out, a waiter off the lists would wait forever. False when nothing was
  // started (the disk busy: the next event retries).
  if (vm.swapList === LIST_OF_WAITERS && vm.privateFrames > WHOLE_VM_PAGE_LIMIT) {
    if (evicting(vm)) return false;                    // its pages are on their way out: the end balances
    listRemove(index);
    listAppend(index, LIST_OF_WAITERS);
    return evictWaiter(index);
  }
  const start = rdtsc();
  const started = startWriteOut(index);
  counts.outInstructions += rdtsc() - start;
  return started;
}

function startWriteOut(index: u32): bool {
  const vm = vmAt(index);
  if (i32(index) === schedulerCurrent()) return false;   // the newest, blocked in this very trap: later
  if (vm.swapState !== SWAP_RESIDENT) { listRemove(index); return true; }   // already on its way out
  // Some of its pages are being written alone (swap-evict.ts): their positions are not settled yet; the
  // eviction's end balances again.
  if (vm.swapMap !== 0 && load32(vm.swapMap + (MAP_EVICT_IN_FLIGHT << 2)) !== 0) return false;
  // NET enabled and pending while it idles: bare ACKs held for it (INTERRUPT_LAZY_ACKS). It runs first,
  // resident, and settles what they acknowledge (its retransmission alarm with it), rather than be read
  // back in for that alarm; blocked again, it is the newest idle VM. It runs as it is, promised nothing (its
  // first frame request renews the promise: vm.ts charge). The pool is short now: made to wait for its
  // promise, it went out with its ACKs and came back for its alarm alone (bench:request's swap point: 693
  // requests/s, 185,354 instructions and 1.36 page-ins a request, against 1,375, 108,596 and 0.17).
  // With no alarm set it has no timer for them to settle: they are dropped (an ACK may be lost on any network; a
  // libos TCP waits for none without a timer: its FIN that answered the peer's, tcp-output.ts) and it goes out.
  if ((vm.pending & vm.mask & INTERRUPT_NET) !== 0 && (vm.alarm !== 0 || !switchDropHeldAcks(index))) {
    listRemove(index);
    counts.ackRuns++;
    schedulerRunWoken(index);
    return true;
  }
  const pages = vm.memorySize >>> PAGE_SHIFT;
  vmSyncBits(vm);                                // a bytecode VM's bits in its map (linear.ts: the window's)
  // Only a VM that went idle (its work done) has its working set measured by the accessed bits: for a VM
  // stopped while it waits for memory, or one that touched nothing (it did not run), all it has is its
  // working set; but one that has not run since its start ended takes its image's (swap-learn.ts).
  selection = SELECT_ALL;
  let resident: u32 = 0;
  let accessed: u32 = 0;
  for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) {
    resident++;
    if ((load32(privateSlot()) & PAGE_ACCESSED) !== 0) accessed++;
  }
  if (vm.blockedInIdle && accessed !== 0) {
    selection = SELECT_ACCESSED;
    learnFrom(vm);
  } else if (vm.blockedInIdle && vm.runPhase === RUN_STARTED && predicts(vm)) {
    selection = SELECT_PREDICTED;
    accessed = 0;
    for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) {
      if (predictedPage(page)) accessed++;
    }
    if (accessed === 0) selection = SELECT_ALL; else counts.predictedOut++;
  }
  const previous = vm.swapMap;
  const onDisk = previous === 0 ? 0 : load32(previous + (MAP_ON_DISK << 2));
  const count = planPositions(vm, previous, pages, resident, selection === SELECT_ALL ? resident : accessed, onDisk);
  const regionSectors = pages * BLK_SECTORS_PER_PAGE;
  if (regionSectors > diskCapacity() || vm.swapSector > diskCapacity() - regionSectors
    || count === 0) {
    listRemove(index);
    counts.noRoom++;                             // its region is past the end of the disk, or too many pages
    return true;
  }
  const map = mapAlloc(count);
  if (map === 0) { listRemove(index); counts.noRoom++; return true; }
  const kept = placePages(vm, map, count, previous);
  if (transferRuns(map) > diskSlotsFree()) { mapFree(map); return false; }
  listRemove(index);
  if (windowFirst === NO_WINDOW) counts.scattered++;
  for (let i: u32 = 0; i < count; i++) {
    const frame = load32(frameAt(map, i));
    if (frame === FRAME_NONE) continue;
    const entry = load32(pageAt(map, i));
    if ((entry & ENTRY_COPY) !== 0) store32(pageAt(map, i), u32(entry & ~ENTRY_COPY));   // its checksum known
    else store32(crcAt(map, i), pageChecksum(frame));
  }
  store32(map + (MAP_IN_FLIGHT << 2), 0);
  store32(map + (MAP_FLAGS << 2), 0);
  // Its page tables and directory come back too; a bytecode VM keeps its kernel frame (vm.ts vmSwapRelease).
  store32(map + (MAP_COMING << 2), resident + (vmIsBytecode(vm) ? 0 : vm.tableFrames));
  store32(map + (MAP_ON_DISK << 2), onDisk + kept);
  store32(map + (MAP_CLEAN << 2), 0);
  store32(map + (MAP_KEPT << 2), kept);
  store32(map + (MAP_HOT << 2), 0);
  store32(map + (MAP_READ_RUNS << 2), 0);
  store32(map + (MAP_PREVIOUS << 2), previous);
  store32(map + (MAP_FAULT << 2), 0);
  store32(map + (MAP_FAULT_PAGES << 2), 0);
  store32(map + (MAP_EVICT_IN_FLIGHT << 2), 0);
  store32(map + (MAP_EVICT_FLAGS << 2), 0);
  vm.swapMap = map;
  vm.swapState = SWAP_WRITING;
  counts.framesComing += load32(map + (MAP_COMING << 2));
  submitRuns(index, map, true, writeDone, MAP_IN_FLIGHT);
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) writeFinished(index);   // nothing could be started
  return true;
}

// The layout of a write-out. The working set (the pages the VM touched in its last residency, and those
// read back with it then but not touched, once: ENTRY_WARM) takes adjacent positions, the window, so that
// its read-in is one request (and its write one more): the lowest run of positions where no page on the
// disk only stays. The clean copies of its pages (read back and not written since: PTE dirty bit clear)
// stay where they are when that is in the window: a VM that comes back with the same working set finds
// it where it left it, and only its dirtied pages are written (into the gaps their old copies left). A
// working-set page's copy outside the window is written again into it from the frame, its checksum
// carried over; a clean copy of a page outside the working set is kept where it is, not written, unless
// it lies in the window (then it moves out). The other pages, not in the working set, take the lowest
// positions left. When no window fits in the region, every clean copy stays and the working set takes
// the lowest free positions, then the others.
/** What copyBits says of a position that is no clean copy (its page dirtied, or gone). */
const NOT_A_COPY: u32 = 0xffffffff;
/** How this write-out tells its working set: all the VM has, what it touched, or what its image predicts. */
const SELECT_ALL: u32 = 0;
const SELECT_ACCESSED: u32 = 1;
const SELECT_PREDICTED: u32 = 2;
let selection: u32 = SELECT_ALL;

/** Page `page` (entry `pte`) is in this write-out's working set (with SELECT_ALL every page is). */
function touched(pte: u32, page: u32): bool {
  if (selection === SELECT_ACCESSED) return (pte & PAGE_ACCESSED) !== 0;
  return selection === SELECT_ALL || predictedPage(page);
}

/** No window: the layout of a fragmented region (planPositions). */
const NO_WINDOW: u32 = 0xffffffff;
/** The window planPositions chose: its first position and its length (the working set's pages). */
let windowFirst: u32 = NO_WINDOW;
let windowPages: u32 = 0;

/**
 * For a clean copy's entry `before` (ENTRY_CLEAN) of the VM: NOT_A_COPY when its page is dirty (or not
 * resident), else the working-set bits of its page: ENTRY_HOT when in this write-out's working set (touched),
 * ENTRY_HOT | ENTRY_WARM when read back in the working set and not touched since, 0 otherwise.
 */
function copyBits(vm: Vm, before: u32): u32 {
  const pte = vmPageEntry(vm, pageAddress(before & ENTRY_PAGE_MASK));
  if (!privatePage(pte) || (pte & PAGE_DIRTY) !== 0) return NOT_A_COPY;
  if (touched(pte, before & ENTRY_PAGE_MASK)) return ENTRY_HOT;
  return (before & (ENTRY_HOT | ENTRY_WARM)) === ENTRY_HOT ? u32(ENTRY_HOT | ENTRY_WARM) : 0;
}

/**
 * copyBits of the clean copies of the write-out's `previous` map, by position: planPositions computes each once
 * (a page walk) for it and placePages to read; positions past the array are computed at each use (copyBitsAt).
 * Its inputs do not change meanwhile: the PTEs' dirty and accessed bits, the selection, the entries.
 */
const COPY_CACHE_POSITIONS: u32 = 512;
const copyCache = new Uint32Array(COPY_CACHE_POSITIONS);

/** copyBits of position `i` of `previous`, a clean copy's entry, in the write-out planPositions began. */
function copyBitsAt(vm: Vm, previous: u32, i: u32): u32 {
  if (i < COPY_CACHE_POSITIONS) return copyCache[i];
  return copyBits(vm, load32(pageAt(previous, i)));
}

/** Position `i` lies in the window planPositions chose. */
function inWindow(i: u32): bool {
  return windowFirst !== NO_WINDOW && i >= windowFirst && i < windowFirst + windowPages;
}

/**
 * True when position `i` of `previous` keeps its page in the write-out: on the disk only, or a copy kept: a
 * working-set page's in the window (where it is read back from with the others), another's outside it.
 */
function stays(vm: Vm, previous: u32, i: u32): bool {
  if (previous === 0 || i >= load32(previous)) return false;
  const before = load32(pageAt(previous, i));
  if ((before & ENTRY_DISK) !== 0) return true;
  if ((before & ENTRY_CLEAN) === 0) return false;
  const bits = copyBitsAt(vm, previous, i);
  return inWindow(i) ? bits !== NOT_A_COPY && bits !== 0 : bits === 0;
}

/**
 * Chooses the write-out's window (windowFirst, windowPages) for the VM's `resident` private pages, `hot` of
 * them touched, `onDisk` on the disk only, and returns the positions its map needs (0: none).
 */
function planPositions(vm: Vm, previous: u32, pages: u32, resident: u32, hot: u32,
  onDisk: u32): u32 {
  const before = previous === 0 ? 0 : load32(previous);
  let working = hot;
  for (let i: u32 = 0; i < before; i++) {
    const entry = load32(pageAt(previous, i));
    if ((entry & ENTRY_CLEAN) === 0) continue;
    const bits = copyBits(vm, entry);
    if (i < COPY_CACHE_POSITIONS) copyCache[i] = bits;
    if (bits === u32(ENTRY_HOT | ENTRY_WARM)) working++;
  }
  let first: u32 = 0;
  for (let i: u32 = 0; i < before && i < first + working; i++) {
    if ((load32(pageAt(previous, i)) & ENTRY_DISK) !== 0) first = i + 1;
  }
  if (first + working > pages) {
    windowFirst = NO_WINDOW;
    windowPages = 0;
    return before > onDisk + resident ? before : onDisk + resident;
  }
  windowFirst = first;
  windowPages = working;
  let end = first + working;
  let cold = resident - working;
  for (let i: u32 = 0; i < before; i++) {
    if (!stays(vm, previous, i)) continue;
    if (i + 1 > end) end = i + 1;
    if ((load32(pageAt(previous, i)) & ENTRY_CLEAN) !== 0 && !inWindow(i)) cold--;   // a cold copy kept: not placed
  }
  for (let p: u32 = 0; cold > 0; p++) {
    if ((p >= first && p < first + working) || stays(vm, previous, p)) continue;
    cold--;
    if (p + 1 > end) end = p + 1;
  }
  return end;
}

/**
 * Fills a new map of `count` positions for a write-out of the VM as planPositions planned: the pages it
 * still has on the disk (`previous`'s) keep their positions, its clean copies stay or move (ENTRY_COPY:
 * written from the frame, checksum carried over), its other resident pages take the free positions, the
 * working set first, each with its frame (to be written). Returns the clean copies kept (not written).
 */
function placePages(vm: Vm, map: u32, count: u32, previous: u32): u32 {
  store32(map, count);
  const pageCount = vm.memorySize >>> PAGE_SHIFT;
  const before = previous === 0 ? 0 : load32(previous);
  for (let i: u32 = 0; i < before; i++) {       // the loop over its pages passes over the clean copies
    const entry = load32(pageAt(previous, i));
    if ((entry & ENTRY_CLEAN) !== 0 && copyBitsAt(vm, previous, i) !== NOT_A_COPY) {
      vmMarkKept(vm, pageAddress(entry & ENTRY_PAGE_MASK));
    }
  }
  let kept: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const entry = i < before ? load32(pageAt(previous, i)) : ENTRY_EMPTY;
    let placed = ENTRY_EMPTY;
    if ((entry & ENTRY_DISK) !== 0) placed = u32(entry & ~(ENTRY_HOT | ENTRY_WARM));
    else if ((entry & ENTRY_CLEAN) !== 0 && (windowFirst === NO_WINDOW || stays(vm, previous, i))) {
      const bits = copyBitsAt(vm, previous, i);
      if (bits !== NOT_A_COPY) {
        placed = u32((entry & ENTRY_PAGE_MASK) | ENTRY_DISK | bits);
        kept++;
      }
    }
    store32(pageAt(map, i), placed);
    store32(crcAt(map, i), placed !== ENTRY_EMPTY ? load32(crcAt(previous, i)) : 0);
    store32(frameAt(map, i), FRAME_NONE);
  }
  let hotNext = windowFirst === NO_WINDOW ? 0 : windowFirst;
  let coldNext: u32 = 0;
  for (let pass: u32 = 0; pass < 2; pass++) {
    // The clean copies that move: into the window (the working set's), then out of it (the others').
    for (let i: u32 = 0; i < before && windowFirst !== NO_WINDOW; i++) {
      const entry = load32(pageAt(previous, i));
      if ((entry & ENTRY_CLEAN) === 0 || stays(vm, previous, i)) continue;
      const bits = copyBitsAt(vm, previous, i);
      if (bits === NOT_A_COPY || (bits !== 0) !== (pass === 0)) continue;
      const next = pass === 0 ? hotNext : coldNext;
      const at = freePosition(map, next);
      store32(pageAt(map, at), u32((entry & ENTRY_PAGE_MASK) | bits | ENTRY_COPY));
      store32(crcAt(map, at), load32(crcAt(previous, i)));
      store32(frameAt(map, at), entryFrame(vmPageEntry(vm, pageAddress(entry & ENTRY_PAGE_MASK))));
      if (pass === 0) hotNext = at + 1; else coldNext = at + 1;
    }
    for (let page = nextPrivate(vm, 0, pageCount); page < pageCount; page = nextPrivate(vm, page + 1, pageCount)) {
      const slot = privateSlot();
      const entry = load32(slot);
      if ((entry & PAGE_KEPT) !== 0) {
        if (pass === 1) store32(slot, u32(entry & ~PAGE_KEPT));   // no translation depends on the bit
        continue;
      }
      const hot = touched(entry, page);
      if (hot !== (pass === 0)) continue;
      const at = freePosition(map, hot ? hotNext : coldNext);
      store32(pageAt(map, at), hot ? u32(page | ENTRY_HOT) : page);
      store32(frameAt(map, at), entryFrame(entry));
      if (hot) hotNext = at + 1; else coldNext = at + 1;
    }
  }
  return kept;
}

/** The first position at or after `next` with no page. */
function freePosition(map: u32, next: u32): u32 {
  let at = next;
  while (load32(pageAt(map, at)) !== ENTRY_EMPTY) at++;
  return at;
}

/** A write-out dropped: the clean copies of `previous` at the positions `map` wrote are gone. */
function forgetOverwritten(previous: u32, map: u32): void {
  for (let i: u32 = 0; previous !== 0 && i < load32(map) && i < load32(previous); i++) {
    if (load32(frameAt(map, i)) === FRAME_NONE || (load32(pageAt(previous, i)) & ENTRY_CLEAN) === 0) continue;
    store32(pageAt(previous, i), ENTRY_EMPTY);
    store32(previous + (MAP_CLEAN << 2), load32(previous + (MAP_CLEAN << 2)) - 1);
  }
}

/** One request of a write-out is complete (from the disk's interrupt). */
function writeDone(index: u32, status: i32): void {
  if (lastRequestDone(index, status, MAP_IN_FLIGHT)) writeFinished(index);
}

/** Every request of the write-out is complete: the VM gives its frames back, or stays resident. */
function writeFinished(index: u32): void {
  const vm = vmAt(index);
  const map = vm.swapMap;
  const count = load32(map);
  const flags = load32(map + (MAP_FLAGS << 2));
  counts.framesComing -= load32(map + (MAP_COMING << 2));
  if ((flags & FLAG_FAILED) !== 0) counts.writeFailures++;
  if (vm.state === VM_ENDED) {
    dropMap(vm);
    vm.swapState = SWAP_RESIDENT;
  } else if (vm.state !== VM_IDLE || flags !== 0) {
    // Woken meanwhile, or the disk failed: the copy is dropped; the VM is resident as it was, its pages
    // still on the disk where they were (its map before), but for the clean copies this one wrote over.
    const previous = load32(map + (MAP_PREVIOUS << 2));
    forgetOverwritten(previous, map);
    vm.swapMap = previous;
    mapFree(map);
    vm.swapState = SWAP_RESIDENT;
    // A candidate again: idle, or waiting for memory (a page it touched meanwhile: swap-in.ts vmNeedsPage).
    if (vm.state === VM_IDLE && vm.swapList === LIST_NONE) {
      if (vm.blockedInIdle) listAppend(index, LIST_OF_IDLE_VMS); else listAppend(index, LIST_OF_WAITERS);
    }
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
    store32(map + (MAP_READ_RUNS << 2), hotRuns(map, everyPage));
    const previous = load32(map + (MAP_PREVIOUS << 2));
    if (previous !== 0) mapFree(previous);
    store32(map + (MAP_PREVIOUS << 2), 0);
    vmSwapRelease(vm);
    vm.swapState = SWAP_OUT;
    counts.swappedOut++;
    counts.writeOuts++;
    counts.pagesWritten += written;
    counts.pagesKept += load32(map + (MAP_KEPT << 2));
    counts.mapBytesOut += mapBytes(count);
    notePeak();
    counts.outInstructions += rdtsc() - start;
  }
  serveWaiting();
  balance();
}
