// Whole-VM write-out (swap.ts has the policy; issue 15, the Denali paper §3.2): an idle VM, or a small one
// waiting for memory, is written out whole and gives back every frame: private pages, page tables and
// directory (vm.ts vmSwapRelease); it keeps its slot and its swap map (swap-map.ts). A write-out packs
// the VM's resident pages into the positions its pages still on the disk leave free, lowest first, the
// pages it touched first (its working set, read back with it: swap-in.ts), and keeps the copies of its
// clean pages (read back and not written since: PTE dirty bit clear) instead of writing them again.
// Contract: writeOut starts one write-out or says the disk is too busy (false: the next event retries);
// a VM woken during its write-out stays resident and the copy is dropped (FLAG_CANCELLED), and so does
// one whose write failed. A VM with a page-granular eviction in flight (swap-evict.ts) waits for its end;
// one with bare ACKs held for it runs instead (then it is written out later, its timers settled).
// Interrupts are disabled in all of this.
import { bool, i32, u32, load32, store32, rdtsc } from "dsl";
import {
  Vm, vmAt, vmSwapRelease, vmPageEntry, vmIsBytecode, vmSyncBits, vmMarkKept, VM_IDLE, VM_ENDED, SWAP_RESIDENT,
  SWAP_WRITING, SWAP_OUT,
} from "./vm.ts";
import { PAGE_SHIFT, FRAME_NONE } from "./frames.ts";
import { entryFrame, PAGE_ACCESSED, PAGE_DIRTY, PAGE_KEPT } from "./paging.ts";
import { diskSlotsFree, diskCapacity, BLK_SECTORS_PER_PAGE } from "./disk.ts";
import { schedulerCurrent, schedulerRunWoken } from "./scheduler.ts";
import { INTERRUPT_NET } from "../abi/hypercalls.ts";
import {
  MAP_IN_FLIGHT, MAP_FLAGS, MAP_COMING, MAP_ON_DISK, MAP_HOT, MAP_READ_RUNS, MAP_PREVIOUS, MAP_FAULT,
  MAP_FAULT_PAGES, MAP_CLEAN, MAP_KEPT, MAP_EVICT_IN_FLIGHT, MAP_EVICT_FLAGS, FLAG_FAILED, ENTRY_PAGE_MASK,
  ENTRY_EMPTY, ENTRY_DISK, ENTRY_HOT, ENTRY_CLEAN, mapBytes, mapAlloc, mapFree, pageAt, crcAt, frameAt,
  pageChecksum, pageAddress, nextPrivate, privateSlot, privatePage, transferRuns, hotRuns, submitRuns,
  lastRequestDone, dropMap,
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
  // back in for that alarm; blocked again, it is the newest idle VM.
  if ((vm.pending & vm.mask & INTERRUPT_NET) !== 0) {
    listRemove(index);
    counts.ackRuns++;
    schedulerRunWoken(index);
    return true;
  }
  const pages = vm.memorySize >>> PAGE_SHIFT;
  vmSyncBits(vm);                                // a bytecode VM's bits in its map (linear.ts: the window's)
  let resident: u32 = 0;
  for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) resident++;
  const previous = vm.swapMap;
  const onDisk = previous === 0 ? 0 : load32(previous + (MAP_ON_DISK << 2));
  const count = previous !== 0 && load32(previous) > onDisk + resident ? load32(previous) : onDisk + resident;
  const regionSectors = pages * BLK_SECTORS_PER_PAGE;
  if (regionSectors > diskCapacity() || vm.swapSector > diskCapacity() - regionSectors
    || count === 0) {
    listRemove(index);
    counts.noRoom++;                             // its region is past the end of the disk, or too many pages
    return true;
  }
  const map = mapAlloc(count);
  if (map === 0) { listRemove(index); counts.noRoom++; return true; }
  const kept = placePages(vm, map, count, previous, vm.blockedInIdle);
  if (transferRuns(map) > diskSlotsFree()) { mapFree(map); return false; }
  listRemove(index);
  for (let i: u32 = 0; i < count; i++) {
    const frame = load32(frameAt(map, i));
    if (frame !== FRAME_NONE) store32(crcAt(map, i), pageChecksum(frame));
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
  for (let page = idled ? nextPrivate(vm, 0, pages) : pages; page < pages && !measured;) {
    measured = (load32(privateSlot()) & PAGE_ACCESSED) !== 0;
    page = nextPrivate(vm, page + 1, pages);
  }
  let kept: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const before = previous !== 0 && i < load32(previous) ? load32(pageAt(previous, i)) : ENTRY_EMPTY;
    let entry = ENTRY_EMPTY;
    if ((before & ENTRY_DISK) !== 0) entry = u32(before & ~ENTRY_HOT);
    else if ((before & ENTRY_CLEAN) !== 0) {
      const address = pageAddress(before & ENTRY_PAGE_MASK);
      const pte = vmPageEntry(vm, address);
      if (privatePage(pte) && (pte & PAGE_DIRTY) === 0) {
        const hot = !measured || (pte & PAGE_ACCESSED) !== 0;
        entry = u32((before & ENTRY_PAGE_MASK) | ENTRY_DISK | (hot ? ENTRY_HOT : 0));
        vmMarkKept(vm, address);                                // the loop below passes over it
        kept++;
      }
    }
    store32(pageAt(map, i), entry);
    store32(crcAt(map, i), entry !== ENTRY_EMPTY ? load32(crcAt(previous, i)) : 0);
    store32(frameAt(map, i), FRAME_NONE);
  }
  let next: u32 = 0;
  for (let pass: u32 = 0; pass < 2; pass++) {
    for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) {
      const slot = privateSlot();
      const entry = load32(slot);
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
    // still on the disk where they were (its map before).
    vm.swapMap = load32(map + (MAP_PREVIOUS << 2));
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
    store32(map + (MAP_READ_RUNS << 2), hotRuns(map));
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
