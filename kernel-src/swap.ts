// Swapping (issue 15; the Denali paper §2 and §3.2): memory is a cache of the active VMs, the swap disk
// (disk.ts: virtio-blk, NVMe or AHCI; `denali boot --swap SIZE`) the backing store of the idle ones. Without
// a disk none of this runs and the kernel behaves as before (a page fault that finds no frame ends its VM).
// This file is the policy and the scheduler's hooks; the map and its transfers are in swap-map.ts, whole-VM
// write-out in swap-out.ts, page-granular eviction in swap-evict.ts, swap-in and pages on touch in
// swap-in.ts, the counters and reports in swap-report.ts (docs/swap.md "Swapping").
//
// Policy: whole-VM swap-out of the VMs idle longest first. Resident VMs blocked in idle are kept on a list,
// oldest first (`idle`: appended when a VM blocks, removed when it wakes). When the unreserved pool
// (vm.ts vmUnreservedFrames) counting the frames already being written out is below LOW_WATERMARK, or
// a VM's page fault finds no frame, the VMs at the head of the list are written out until it reaches
// HIGH_WATERMARK. A VM blocked in idle is promised nothing (vm.ts vmWithdrawPromise): the part of its
// reservation it does not hold counts as free, so memory fills with idle VMs, a cache, before any goes
// out; woken, it is promised its reservation again before it runs, or waits its turn on the ring below
// (still a candidate) while idle VMs go out. Then the VMs waiting for memory, on a second list: a small
// one goes out whole too; one holding more than WHOLE_VM_PAGE_LIMIT private pages gives up its coldest
// pages instead (second chance over the accessed bits), and so does a large VM short of memory with
// nothing else coming back: a VM larger than memory runs. When neither list has a VM left, runnable VMs
// give up the pages they have not touched since the clock hand last passed (swap-evict.ts sweepRunning),
// bounded work a call, while they run. The pool is checked when a VM blocks, waits, takes a demand-zero
// page (vmTookPage) or a page back from the disk, and when a transfer ends: never by a scan per tick.
// Swap-in: an event that wakes a swapped-out VM (its alarm, a frame from the switch: both queued as
// usual) starts reading it back once the pool holds what it needs (vm.ts vmSwapInFrames); others run
// meanwhile. A page fault that finds no frame makes its VM wait (blocked, the others running; it may be
// written out meanwhile like an idle VM) while a write-out is in flight; when nothing can be written out it
// ends out of memory, as without a disk. So does a waiter once the kernel would idle with nothing able to
// make room (stuck): no VM runnable, no transfer in flight, none left to write out. Load control: a waiter
// runs again only when the pool holds WAITER_RUN_FRAMES for it and for each one let go before it that has
// not settled.
// Invariants: interrupts are disabled in all of this (traps and the disk's interrupt); a VM is on the
// idle list exactly when it is resident, blocked in idle and not the target of a write-out; a VM waiting
// for memory is on the waiters' list until it runs again, goes out whole or ends, losing pages or not
// (off it, behind a swapped-out VM at the head of the wait ring with no room to come back, it waited
// forever); `vm.swapMap` is non-zero when swapState is not SWAP_RESIDENT, when some of its pages are on
// the disk only (MAP_ON_DISK > 0: each such page's PTE is PAGE_SWAPPED with its position), when some have
// a clean copy there (MAP_CLEAN > 0), or while an eviction writes some of its pages (MAP_EVICT_IN_FLIGHT > 0).
import { bool, i32, u8, u32, load32, store32 } from "dsl";
import {
  Vm, vmAt, vmUnreservedFrames, vmWithdrawPromise, vmRenewPromise,
  VM_NONE, VM_IDLE, VM_ENDED, SWAP_RESIDENT, SWAP_WRITING, SWAP_OUT, SWAP_EVICTING, RUN_STARTING,
} from "./vm.ts";
import { swapStartDone } from "./swap-learn.ts";
import { INTERRUPT_TIMER } from "../abi/hypercalls.ts";
import { PAGE_SIZE, PAGE_SHIFT } from "./frames.ts";
import { diskPresent, diskFrameLimit } from "./disk.ts";
import { schedulerSetSwapHooks, schedulerRunWoken, schedulerHasRunnable, schedulerEndWaiter } from "./scheduler.ts";
import { frameArrayAt, frameArrayGrow } from "./framearray.ts";
import { crc32cInit, crc32cMethod, crc32cCycles } from "./crc32c.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_SWAP } from "./profile.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import {
  MAP_IN_FLIGHT, MAP_FLAGS, FLAG_CANCELLED, mapBytes, mapSetRequestFrames, growMap, dropMap,
} from "./swap-map.ts";
import { counts, swapRatesStart } from "./swap-report.ts";
import { writeOut } from "./swap-out.ts";
import { evictWaiter, evicting, evictPossible, sweepRunning } from "./swap-evict.ts";
import { canReadIn, readIn, vmNeedsPage } from "./swap-in.ts";

/** Write out idle VMs when the unreserved pool is below this many frames (1 MiB)... */
export const LOW_WATERMARK: u32 = 256;
/** ...until it reaches this many (2 MiB), counting the frames of write-outs in flight. */
const HIGH_WATERMARK: u32 = 512;
/** A VM waiting for memory with more private pages than this loses pages (second chance), not goes out whole. */
export const WHOLE_VM_PAGE_LIMIT: u32 = 256;
/** A VM waiting for memory runs again once the pool has this many frames for it and each one run before. */
export const WAITER_RUN_FRAMES: u32 = 64;
// The candidates for writing out, oldest first, in two lists (vm.swapList): VMs blocked in idle, and
// VMs waiting for memory after a page fault, written out only when no idle VM is left.
export const LIST_NONE: u8 = 0;
export const LIST_OF_IDLE_VMS: u8 = 1;
export const LIST_OF_WAITERS: u8 = 2;
const listHead = new Int32Array(3);
const listTail = new Int32Array(3);
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

/** Turns swapping on when the kernel has a swap disk, for `vms` VMs (the wait ring); once the scheduler is set up. */
export function swapInit(bench: bool, vms: u32): void {
  if (!diskPresent()) return;
  mapSetRequestFrames(diskFrameLimit());
  let ring: u32 = 1;
  while (ring < vms) ring = ring << 1;
  if (!frameArrayGrow(waitFrames, 0, ring, WAIT_SHIFT)) {
    consoleWriteString("swap: no memory for the wait ring, not swapping");
    consoleNewLine();
    return;
  }
  waitMask = ring - 1;
  counts.benchEnabled = bench;
  if (!crc32cInit()) {
    consoleWriteString("swap: no memory for the CRC32C tables, or they fail their checks: not swapping");
    consoleNewLine();
    return;
  }
  consoleWriteString("swap: page checksums CRC32C by ");
  consoleWriteString(crc32cMethod());
  if (crc32cCycles(false) !== 0) {
    consoleWriteString(": a page in ");
    consoleWriteDecimal(crc32cCycles(true));
    consoleWriteString(" TSC cycles by the instruction, ");
    consoleWriteDecimal(crc32cCycles(false));
    consoleWriteString(" by the tables");
  }
  consoleNewLine();
  for (let list = 0; list < 3; list++) { listHead[list] = VM_NONE; listTail[list] = VM_NONE; }
  if (profileOn()) {
    schedulerSetSwapHooks(profiledBlocked, profiledWakes, profiledNeedsMemory, profiledReleased, profiledNeedsPage,
      profiledTookPage, stuck);
  } else {
    schedulerSetSwapHooks(vmBlocked, vmWakes, vmNeedsMemory, vmReleased, vmNeedsPage, vmTookPage, stuck);
  }
  swapRatesStart();
  counts.active = true;
}

export function swapActive(): bool { return counts.active; }


export function listAppend(index: u32, list: u8): void {
  const vm = vmAt(index);
  vm.next = VM_NONE;
  vm.lruPrev = listTail[list];
  vm.swapList = list;
  if (listTail[list] === VM_NONE) listHead[list] = i32(index); else vmAt(u32(listTail[list])).next = i32(index);
  listTail[list] = i32(index);
}

/** Takes VM `index` off the list it is on, if any. */
export function listRemove(index: u32): void {
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


/** A resident VM waiting for memory: blocked by a fault or a hypercall that found no frame, not in idle. */
function memoryWaiter(vm: Vm): bool {
  return vm.state === VM_IDLE && vm.swapState === SWAP_RESIDENT && !vm.blockedInIdle;
}

/**
 * The kernel is about to idle (scheduler.ts switchInTo): no VM runs or is runnable. While nothing can make room
 * either -- no transfer in flight, no VM left to write out -- a memory waiter would wait until an idle VM
 * happened to free memory, or for ever: the first on the ring ends out of memory, as vmNeedsMemory ends a VM
 * whose fault finds the same (its frames go back and the ring is served: vmReleased). True when a VM is
 * runnable after it.
 */
function stuck(): bool {
  while (waitHead !== waitTail && !schedulerHasRunnable()) {
    balance();
    if (counts.framesComing === 0) forceBalance();
    if (counts.framesComing !== 0 || counts.readingNow !== 0 || counts.pagingNow !== 0) return false;
    if (oldestCandidate() !== VM_NONE) return false;
    let waiter = VM_NONE;
    for (let at = waitHead; at !== waitTail && waiter === VM_NONE; at++) {
      const index = load32(waitingAt(at));
      const vm = vmAt(index);
      if (memoryWaiter(vm)) waiter = i32(index);
    }
    if (waiter === VM_NONE) return false;
    schedulerEndWaiter(u32(waiter));
  }
  return schedulerHasRunnable();
}

/** A VM that load control ran again has taken what it took: it idles, waits again or ended. */
export function settle(vm: Vm): void {
  if (!vm.swapGranted) return;
  vm.swapGranted = false;
  counts.granted--;
}

/** VM `index` ended and its memory is free: the waiting VMs may have it. */
function vmReleased(index: u32): void {
  const vm = vmAt(index);
  settle(vm);
  // A VM the control VM stopped (control.ts) may be on the idle list, or out on the disk.
  listRemove(index);
  if (vm.swapState === SWAP_OUT) { if (vm.swapMap !== 0) counts.swappedOut--; else counts.createdOut--; }
  // Its map, unless a transfer still uses it (writeFinished or evictFinished frees it then).
  if (vm.swapMap !== 0 && load32(vm.swapMap + (MAP_IN_FLIGHT << 2)) === 0 && !evicting(vm)) dropMap(vm);
  serveWaiting();
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
function profiledNeedsMemory(index: u32, capped: bool): bool {
  const previous = profileEnter(PROFILE_SWAP);
  const waits = vmNeedsMemory(index, capped);
  profileLeave(previous);
  return waits;
}
function profiledReleased(index: u32): void {
  const previous = profileEnter(PROFILE_SWAP);
  vmReleased(index);
  profileLeave(previous);
}
function profiledNeedsPage(index: u32, address: u32): u32 {
  const previous = profileEnter(PROFILE_SWAP);
  const result = vmNeedsPage(index, address);
  profileLeave(previous);
  return result;
}
function profiledTookPage(index: u32): void {
  const previous = profileEnter(PROFILE_SWAP);
  vmTookPage(index);
  profileLeave(previous);
}

/** The current VM took a frame for a demand-zero page: the pool may have fallen below the watermark. */
function vmTookPage(index: u32): void { balance(); }

/** A resident VM blocked in idle: the newest on the list, promised nothing; the pool may need refilling. */
function vmBlocked(index: u32): void {
  const vm = vmAt(index);
  if (vm.runPhase === RUN_STARTING) swapStartDone(vm);       // its first idle: its start is done
  settle(vm);
  vmWithdrawPromise(vm);
  if (vm.swapState === SWAP_RESIDENT) { listRemove(index); listAppend(index, LIST_OF_IDLE_VMS); }
  balance();
  if (waitHead !== waitTail && counts.framesComing === 0) forceBalance();
}

/**
 * An idle VM is woken: true when swap.ts takes it (it is not resident, and runs once read back in; or the
 * pool does not hold its promise: it waits its turn, still a candidate for writing out, the newest).
 */
function vmWakes(index: u32): bool {
  const vm = vmAt(index);
  if (vm.swapState === SWAP_RESIDENT) {
    if (vm.swapQueued && !vm.promised) return true;             // woken before, waiting for its promise
    if (vmRenewPromise(vm, false)) { listRemove(index); return false; }
    if (vm.swapList === LIST_OF_IDLE_VMS) { listRemove(index); listAppend(index, LIST_OF_IDLE_VMS); }
    return waitForPromise(index);
  }
  if (vm.swapState === SWAP_WRITING) {
    // Its memory is still there: it runs, the copy is dropped; without room for its promise the write
    // goes on and it comes back in its turn, as a VM on the disk.
    if (!vmRenewPromise(vm, false)) return waitForPromise(index);
    store32(vm.swapMap + (MAP_FLAGS << 2), load32(vm.swapMap + (MAP_FLAGS << 2)) | FLAG_CANCELLED);
    return false;
  }
  if (vm.swapState === SWAP_OUT) {
    if ((vm.pending & vm.mask & ~INTERRUPT_TIMER) === 0) counts.wokenByAlarm++; else counts.wokenByEvent++;
    if (canReadIn(vm) && !vm.swapQueued) readIn(index);
    else if (waitFor(index) && counts.framesComing === 0) forceBalance();
  }
  return true;
}

/** VM `index`, woken, waits its turn on the ring for its promise (true: swap.ts has taken it). */
function waitForPromise(index: u32): bool {
  counts.promiseWaits++;
  if (waitFor(index) && counts.framesComing === 0) forceBalance();
  return true;
}

/**
 * A page fault of the current VM found no frame: true when it is to wait, because a write-out will free
 * some or another VM can still run (and then idle, wait in turn and be written out, or end). `capped`:
 * its own memory cap refused the frame (vm.ts), so it is its own pages that must go (atCap).
 */
export function vmNeedsMemory(index: u32, capped: bool): bool {
  if (!counts.active) return false;
  if (capped) return atCap(index);
  const vm = vmAt(index);
  settle(vm);
  balance();
  // A large VM short of memory with nothing coming back gives up its own coldest pages (it waits meanwhile).
  if (counts.framesComing === 0 && vm.privateFrames > WHOLE_VM_PAGE_LIMIT && vm.swapState === SWAP_RESIDENT
    && waitFor(index)) {
    evictWaiter(index);
  }
  if (counts.framesComing === 0 && counts.readingNow === 0 && counts.pagingNow === 0 && !schedulerHasRunnable()) {
    return false;
  }
  if (!waitFor(index)) return false;
  counts.memoryWaits++;
  // It may go out too (or lose more pages), as a waiter: on the list for as long as it waits, losing pages
  // or not (a waiter off it, behind a swapped-out VM that cannot come back, would wait forever).
  if (vm.swapList === LIST_NONE && (vm.swapState === SWAP_RESIDENT || vm.swapState === SWAP_EVICTING)) {
    listAppend(index, LIST_OF_WAITERS);
  }
  return true;
}

/**
 * The current VM reached its memory cap (its resident limit; vm.ts "Memory quotas"): with swap it gives up
 * its own coldest pages (swap-evict.ts evictWaiter, second chance over its accessed bits) and waits,
 * idle, until they are written; the eviction's end runs it again (it is on no waiting ring: its cap, not
 * the pool, held it), and its retry takes a frame within its cap, from the pool as any VM's. Its pages
 * already on their way out: it waits for them. The disk too busy to start: it waits on the ring like a
 * memory waiter (vmNeedsMemory; served when a transfer ends) and meets its cap again then. False when none of its pages
 * can go (its region past the disk's end, no private page): it is out of memory, as without swap.
 */
function atCap(index: u32): bool {
  const vm = vmAt(index);
  if (vm.swapState !== SWAP_RESIDENT) return false;
  counts.capWaits++;
  if (evicting(vm)) { vm.swapState = SWAP_EVICTING; return true; }
  if (evictWaiter(index)) return true;
  return evictPossible(vm) && vmNeedsMemory(index, false);
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
  if (!counts.active) return;
  const vm = vmAt(index);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  if (mapBytes(pages) > PAGE_SIZE) growMap(vm, pages);
}

/** Starts VM `index` later (vm.ts vmCreateSwappedOut): built when its turn comes and its reservation fits. */
export function swapStartLater(index: u32): bool {
  counts.createdOut++;
  return waitFor(index);
}

/** serveWaiting is running (further up the stack), and was called again meanwhile. */
let serving = false;
let serveAgain = false;

/**
 * The waiting VMs in order, after frames came back: each memory waiter runs again (retrying its fault),
 * each swapped-out VM is read in (or built); stops at the first that must still wait (its turn kept).
 * Not recursive: a write-out that had nothing to write ends at once and serves again from inside this;
 * a chain of such VMs overflowed the trap stack. Such a call is noted, and the outer one goes round again.
 */
export function serveWaiting(): void {
  if (serving) { serveAgain = true; return; }
  serving = true;
  serveAgain = true;
  while (serveAgain) {
    serveAgain = false;
    serveInOrder();
  }
  serving = false;
}

function serveInOrder(): void {
  while (waitHead !== waitTail) {
    const index = load32(waitingAt(waitHead));
    const vm = vmAt(index);
    if (vm.state !== VM_ENDED && vm.swapState === SWAP_OUT && !canReadIn(vm)) {
      if (counts.framesComing === 0) forceBalance();
      return;
    }
    // Out first, then back in; a VM losing pages runs again once they are out.
    if (vm.state !== VM_ENDED && (vm.swapState === SWAP_WRITING || vm.swapState === SWAP_EVICTING)) return;
    // A resident VM woken when the pool did not hold its promise (vmWakes): it runs once it does.
    const woken = vm.state === VM_IDLE && vm.swapState === SWAP_RESIDENT && vm.blockedInIdle
      && (vm.pending & vm.mask) !== 0;
    if (woken && !vmRenewPromise(vm, false)) {
      balance();
      if (counts.framesComing === 0) forceBalance();
      return;
    }
    // Load control: a memory waiter runs again only with room to go on, not to fault again at once (a
    // thousand VMs each holding a page and waiting is thrashing).
    const waiter = memoryWaiter(vm);
    if (waiter && vmUnreservedFrames() < WAITER_RUN_FRAMES * (counts.granted + 1)) {
      balance();
      if (counts.framesComing === 0) forceBalance();
      // Nothing is coming back (no VM left to write out, none runnable to lose pages): a large waiter at
      // the head gives up its own coldest pages, as in vmNeedsMemory; else every VM could wait forever.
      if (counts.framesComing === 0 && vm.swapState === SWAP_RESIDENT && vm.privateFrames > WHOLE_VM_PAGE_LIMIT) {
        evictWaiter(index);
      }
      return;
    }
    waitHead++;
    vm.swapQueued = false;
    if (vm.state === VM_ENDED) continue;
    if (vm.swapState === SWAP_OUT) readIn(index);
    else if (woken) {
      listRemove(index);
      schedulerRunWoken(index);
    } else if (vm.swapState === SWAP_RESIDENT && vm.state === VM_IDLE && !vm.blockedInIdle) {
      listRemove(index);
      vm.swapGranted = true;
      counts.granted++;
      schedulerRunWoken(index);                              // retries its page fault
    }
  }
}


/** balance() is running (a call from within returns at once). */
let balancing = false;

/**
 * Writes out idle VMs, oldest first, while the pool (with what is coming back) is short; when none is
 * left (nor a waiter), runnable VMs give up pages they have not touched lately (swap-evict.ts).
 */
export function balance(): void {
  if (!counts.active || balancing) return;
  if (vmUnreservedFrames() + counts.framesComing >= LOW_WATERMARK) return;
  // A write-out with nothing to write (its pages all kept on the disk) finishes at once, and its end
  // balances again: that call returns here, and this loop goes on, where recursion, one level a VM, ran
  // the trap stack into its guard page with hundreds of such VMs in a row.
  balancing = true;
  while (oldestCandidate() !== VM_NONE && vmUnreservedFrames() + counts.framesComing < HIGH_WATERMARK) {
    if (!writeOut(u32(oldestCandidate()))) break;                  // the disk is busy: the next event retries
  }
  balancing = false;
  if (oldestCandidate() === VM_NONE) sweepRunning(HIGH_WATERMARK);
}

/** Frames are needed and nothing is being written out: write out the oldest candidates regardless. */
function forceBalance(): void {
  while (oldestCandidate() !== VM_NONE && counts.framesComing === 0) {
    if (!writeOut(u32(oldestCandidate()))) break;
  }
}

/** The console's `swap` (vmstart.ts): who waits, for what, and the candidates for writing out. */
export function swapWaitReport(): void {
  let memory: u32 = 0;
  let readIn: u32 = 0;
  let other: u32 = 0;
  for (let p = waitHead; p !== waitTail; p++) {
    const vm = vmAt(load32(waitingAt(p)));
    if (vm.swapState === SWAP_OUT) readIn++;
    else if (vm.state === VM_IDLE && !vm.blockedInIdle) memory++;
    else other++;
  }
  consoleWriteString("swap: waiting ");
  consoleWriteDecimal(waitTail - waitHead);
  consoleWriteString(" (for memory ");
  consoleWriteDecimal(memory);
  consoleWriteString(", to be read in ");
  consoleWriteDecimal(readIn);
  consoleWriteString(", woken since ");
  consoleWriteDecimal(other);
  consoleWriteString("), candidates: idle ");
  consoleWriteDecimal(listLength(LIST_OF_IDLE_VMS));
  consoleWriteString(", waiters ");
  consoleWriteDecimal(listLength(LIST_OF_WAITERS));
  consoleWriteString("; frames coming ");
  consoleWriteDecimal(counts.framesComing);
  consoleWriteString(", unreserved ");
  consoleWriteDecimal(vmUnreservedFrames());
  consoleNewLine();
}

function listLength(list: u8): u32 {
  let n: u32 = 0;
  for (let i = listHead[list]; i !== VM_NONE; i = vmAt(u32(i)).next) n++;
  return n;
}

