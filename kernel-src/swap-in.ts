// Swap-in (swap.ts has the policy; issue 15): a swapped-out VM comes back with its working set (the pages
// it touched in its last residency), read in as few requests as the positions allow, checked against
// their checksums, and runs; its other pages stay on the disk, their PTEs PAGE_SWAPPED with their
// position, and come back when touched (vmNeedsPage: a page fault or a hypercall's buffer), with up to
// PAGE_IN_CLUSTER - 1 following positions, while the VM waits (SWAP_PAGING) and the others run. A page
// read back keeps its position as a clean copy (ENTRY_CLEAN) while its PTE's dirty bit stays clear.
// Contract: a page that fails its checksum or a read the disk fails ends only its VM (`swap corruption
// at page 0x...`, `swap read error at page 0x...`); a VM created swapped out is built here when its turn
// comes (vm.ts vmSwapInBuild). A touched page that an eviction is still writing is mapped again at once
// (swap-evict.ts evictRescue), never read from the disk. Interrupts are disabled in all of this.
import { bool, i32, u32, load32, store32, rdtsc } from "dsl";
import {
  Vm, vmAt, vmUnreservedFrames, vmSwapInFrames, vmSwapInBegin, vmSwapInPage, vmSwapInEnd, vmSwapInBuild,
  vmSwapInMark, vmSwappedEntry, vmPageInFrame, vmPageInMap, vmTakeCapRefusal,
  END_OUT_OF_MEMORY, END_SWAP_CORRUPTION, END_SWAP_READ_ERROR, SWAP_RESIDENT, SWAP_READING, SWAP_PAGING,
  RUN_STARTED,
} from "./vm.ts";
import { predicts, predictedPage } from "./swap-learn.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { PAGE_SHIFT, FRAME_NONE, framesFree } from "./frames.ts";
import { diskSubmit, diskSlotsFree, BLK_OK, BLK_SECTORS_PER_PAGE } from "./disk.ts";
import {
  schedulerEnd, schedulerRunWoken, PAGE_HOOK_FAILED, PAGE_HOOK_WAITS, PAGE_HOOK_MAPPED,
} from "./scheduler.ts";
import { clockTicks } from "./clock.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import {
  MAP_IN_FLIGHT, MAP_FLAGS, MAP_ON_DISK, MAP_HOT, MAP_READ_RUNS, MAP_FAULT, MAP_FAULT_PAGES, MAP_CLEAN,
  FLAG_FAILED, ENTRY_PAGE_MASK, ENTRY_DISK, ENTRY_HOT, ENTRY_WARM, ENTRY_CLEAN, mapBytes, pageAt, crcAt, frameAt,
  runFrames, mapRequestFrames, hotRuns, pageChecksum, pageAddress, submitRuns, lastRequestDone, dropMap, dropIfEmpty,
} from "./swap-map.ts";
import { counts } from "./swap-report.ts";
import {
  settle, serveWaiting, balance, vmNeedsMemory, LOW_WATERMARK, WAITER_RUN_FRAMES,
} from "./swap.ts";
import { evicting, evictWriting, evictRescue, evictMark } from "./swap-evict.ts";

/** A read-in brings back at most this many pages of a working set (4 MiB); the rest come when touched. */
const READ_IN_LIMIT: u32 = 1024;
/** A page fault on a page on the disk reads up to this many adjacent positions (the page and its next ones). */
const PAGE_IN_CLUSTER: u32 = 8;


/** True when VM `index` (SWAP_OUT) can be read in (or built) now: the pool and the disk have room. */
export function canReadIn(vm: Vm): bool {
  // A VM built now goes on to take pages like a memory waiter run again: the same load control.
  if (vm.swapMap === 0) return vm.reservedFrames + WAITER_RUN_FRAMES * (counts.granted + 1) <= vmUnreservedFrames();
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
  consoleWriteDecimal(counts.builtLate);
  consoleWriteString(" of ");
  consoleWriteDecimal(counts.createdOut);
  consoleWriteString(", swapped out ");
  consoleWriteDecimal(counts.swappedOut);
  consoleWriteString(", frames free ");
  consoleWriteDecimal(framesFree());
  consoleNewLine();
}
/** A long start prints `swap: started late K of L, ...` after every PROGRESS_EVERY VMs built late. */
const PROGRESS_EVERY: u32 = 10000;

/** Reads VM `index` back in (SWAP_OUT, canReadIn), or builds it if it was created swapped out. */
export function readIn(index: u32): void {
  const vm = vmAt(index);
  const map = vm.swapMap;
  if (map === 0) {
    counts.builtLate++;
    if (counts.builtLate % PROGRESS_EVERY === 0 || counts.builtLate === counts.createdOut) progressLine();
    vm.swapGranted = true;
    counts.granted++;
    if (vmSwapInBuild(vm, index)) { evictMark(vm); schedulerRunWoken(index); }
    else schedulerEnd(index, END_OUT_OF_MEMORY, 0, vm.save.eip, 0);
    return;
  }
  const count = load32(map);
  const start = rdtsc();
  if (counts.readIns === 0 && counts.readingNow === 0) counts.firstReadTick = clockTicks();
  counts.swappedOut--;
  counts.mapBytesOut -= mapBytes(count);
  counts.readingNow++;
  vm.swapState = SWAP_READING;
  // The working set gets frames (the disk fills them); the other pages on the disk are marked as such. A VM
  // that has not run since its start ended, written out before its image had learned (swap-learn.ts), comes
  // back with what its image predicts of what its start touched.
  // Its positions then leave gaps: a read in more requests than canReadIn found slots for reads it all.
  const predicting = vm.runPhase === RUN_STARTED && predicts(vm) && hotRuns(map, predictedPage) <= diskSlotsFree();
  if (predicting) counts.predictedIn++;
  let ok = vmSwapInBegin(vm);
  let hot: u32 = 0;
  for (let i: u32 = 0; i < count && ok; i++) {
    const entry = load32(pageAt(map, i));
    store32(frameAt(map, i), FRAME_NONE);
    if ((entry & ENTRY_DISK) === 0) continue;
    const address = pageAddress(entry & ENTRY_PAGE_MASK);
    if ((entry & ENTRY_HOT) === 0 || hot === READ_IN_LIMIT
      || (predicting && !predictedPage(entry & ENTRY_PAGE_MASK))) {
      if ((entry & ENTRY_HOT) !== 0 && hot !== READ_IN_LIMIT) counts.predictedLeft++;   // by the prediction
      // Left on the disk, read when touched (vmNeedsPage): no longer part of a working set to come.
      store32(pageAt(map, i), u32(entry & ~(ENTRY_HOT | ENTRY_WARM)));
      ok = vmSwapInMark(vm, address, i);
      continue;
    }
    hot++;
    const frame = vmSwapInPage(vm, address);
    store32(frameAt(map, i), frame);
    ok = frame !== FRAME_NONE;
  }
  if (!ok) { counts.readingNow--; readFailed(index, END_OUT_OF_MEMORY, 0); return; }
  store32(map + (MAP_FLAGS << 2), 0);
  submitRuns(index, map, false, readDone, MAP_IN_FLIGHT);
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 1) counts.readInsWhole++;
  counts.inInstructions += rdtsc() - start;
  // Nothing to read (no working set): it is in now; its caller goes on serving the waiting VMs.
  if (load32(map + (MAP_IN_FLIGHT << 2)) === 0) finishReadIn(index, false);
}

/** One request of a read-in is complete (from the disk's interrupt). */
function readDone(index: u32, status: i32): void {
  if (lastRequestDone(index, status, MAP_IN_FLIGHT)) readFinished(index);
}

/** The working set is in: each checksum is verified; the VM runs, or ends with the first bad page. */
function readFinished(index: u32): void {
  const start = rdtsc();
  finishReadIn(index, true);
  counts.inInstructions += rdtsc() - start;
}

/** The read-in of VM `index` is complete; then `serve` the waiting VMs (not when serveWaiting is the caller). */
function finishReadIn(index: u32, serve: bool): void {
  const vm = vmAt(index);
  counts.readingNow--;
  counts.lastReadTick = clockTicks();
  const map = vm.swapMap;
  const count = load32(map);
  let read: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const frame = load32(frameAt(map, i));
    if (frame === FRAME_NONE) continue;
    const address = pageAddress(load32(pageAt(map, i)) & ENTRY_PAGE_MASK);
    if ((load32(map + (MAP_FLAGS << 2)) & FLAG_FAILED) !== 0) {
      counts.readErrors++;
      readFailed(index, END_SWAP_READ_ERROR, address);
      return;
    }
    if (pageChecksum(frame) !== load32(crcAt(map, i))) {
      counts.checksumFailures++;
      readFailed(index, END_SWAP_CORRUPTION, address);
      return;
    }
    store32(pageAt(map, i), u32((load32(pageAt(map, i)) & ~ENTRY_DISK) | ENTRY_CLEAN));
    store32(frameAt(map, i), FRAME_NONE);
    read++;
  }
  store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) + read);
  counts.readIns++;
  counts.pagesRead += read;
  const left = load32(map + (MAP_ON_DISK << 2)) - read;
  store32(map + (MAP_ON_DISK << 2), left);
  store32(map + (MAP_HOT << 2), 0);
  dropIfEmpty(vm);
  vm.swapState = SWAP_RESIDENT;
  vmSwapInEnd(vm);
  evictMark(vm);
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


/**
 * The current VM touched `address`, a page of it on the disk only (its PTE PAGE_SWAPPED): that page is
 * read back while the VM waits (SWAP_PAGING): PAGE_HOOK_WAITS; without a frame or a free request slot it
 * waits for memory instead (then retries), also PAGE_HOOK_WAITS. PAGE_HOOK_FAILED when it cannot wait (it
 * ends); PAGE_HOOK_MAPPED when an eviction in flight was writing the page: mapped again, retried at once.
 * Read-around: the positions after it still on the disk (its next pages in the VM: a write-out places
 * them in page order) come in the same request, up to PAGE_IN_CLUSTER, while the pool is above its low
 * watermark.
 */
export function vmNeedsPage(index: u32, address: u32): u32 {
  if (!counts.active) return PAGE_HOOK_FAILED;
  const vm = vmAt(index);
  // Woken during its write-out (SWAP_WRITING, cancelled): its map is the write-out's until that ends, and
  // a page-in beside it would share its counters; it waits for memory meanwhile, then touches it again.
  if (vm.swapState !== SWAP_RESIDENT) return waitsOrFails(index, false);
  const map = vm.swapMap;
  const position = vmSwappedEntry(vm, address) >>> PAGE_SHIFT;
  const page = (address - GUEST_BASE) >>> PAGE_SHIFT;
  if (map === 0 || position >= load32(map)) return PAGE_HOOK_FAILED;
  // Being written alone by an eviction (swap-evict.ts): its frame is still there, mapped again at once.
  if (load32(pageAt(map, position)) === page && evictWriting(vm, map, position)) {
    evictRescue(vm, map, position);
    return PAGE_HOOK_MAPPED;
  }
  if (load32(pageAt(map, position)) !== u32(page | ENTRY_DISK)) return PAGE_HOOK_FAILED;
  if (diskSlotsFree() === 0) return waitsOrFails(index, false);
  const first = vmPageInFrame(vm);
  if (first === FRAME_NONE) return waitsOrFails(index, vmTakeCapRefusal());
  const start = rdtsc();
  settle(vm);
  runFrames[0] = first;
  let n: u32 = 1;
  while (n < PAGE_IN_CLUSTER && n < mapRequestFrames() && position + n < load32(map)
    && (load32(pageAt(map, position + n)) & ENTRY_DISK) !== 0
    && vmUnreservedFrames() > LOW_WATERMARK) {
    const frame = vmPageInFrame(vm);
    if (frame === FRAME_NONE) { vmTakeCapRefusal(); break; }   // (the cap or the pool: the first page is enough)
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
    return PAGE_HOOK_FAILED;
  }
  store32(map + (MAP_IN_FLIGHT << 2), 1);
  vm.swapState = SWAP_PAGING;
  counts.pagingNow++;
  counts.inInstructions += rdtsc() - start;
  return PAGE_HOOK_WAITS;
}

/**
 * vmNeedsMemory's answer as the page hook's: the VM waits for memory (at its memory cap: for its own pages
 * to go out), then retries; or cannot.
 */
function waitsOrFails(index: u32, capped: bool): u32 {
  return vmNeedsMemory(index, capped) ? PAGE_HOOK_WAITS : PAGE_HOOK_FAILED;
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
  counts.pagingNow--;
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
    if (status !== BLK_OK) counts.readErrors++; else counts.checksumFailures++;
    const address = status !== BLK_OK ? pageAddress(load32(pageAt(map, position)) & ENTRY_PAGE_MASK) : bad;
    if (!evicting(vm)) dropMap(vm);                     // else the eviction's end drops it
    schedulerEnd(index, status !== BLK_OK ? END_SWAP_READ_ERROR : END_SWAP_CORRUPTION, 0, vm.save.eip, address);
  } else {
    for (let k: u32 = 0; k < n; k++) {
      store32(pageAt(map, position + k), u32((load32(pageAt(map, position + k)) & ~ENTRY_DISK) | ENTRY_CLEAN));
    }
    store32(map + (MAP_CLEAN << 2), load32(map + (MAP_CLEAN << 2)) + n);
    counts.pageIns += n;
    const left = load32(map + (MAP_ON_DISK << 2)) - n;
    store32(map + (MAP_ON_DISK << 2), left);
    dropIfEmpty(vm);
    evictMark(vm);
    schedulerRunWoken(index);
  }
  counts.inInstructions += rdtsc() - start;
  serveWaiting();
  balance();                                             // it took frames: the pool may be short now
}
