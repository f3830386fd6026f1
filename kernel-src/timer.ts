// The kernel's timer queue: one-shot timers ordered by deadline (64-bit nanoseconds of clock.ts),
// expired from the PIT tick. The VMs' virtual alarm clocks hang on it.
// Storage: a fixed pool of TIMER_SLOTS timers. Free slots form a stack (O(1) to take and give back);
// pending timers form a binary min-heap ordered by (deadline, start sequence), so equal deadlines keep
// start order. Each timer knows its heap position, so start, cancel and each expiry are O(log n):
// with 8,000 alarms pending a start costs a few sift steps, not a walk of the queue, with interrupts off.
// A handle is generation * 2^SLOT_BITS + slot with the generation in 1 .. TIMER_GENERATIONS - 1 (it
// skips 0 when it wraps), so no handle is ever 0 (0 means "no timer" to callers); a stale handle (its
// timer expired or was cancelled, the slot reused) is recognised and ignored, until the slot's
// generation comes round again after TIMER_GENERATIONS - 1 reuses.
// Invariant: the heap, the free stack and the pool change only with interrupts disabled.
import { bool, i32, u32, structArray, rdtsc } from "dsl";
import { Nanoseconds, clockRead, clockSetTickHook } from "./clock.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";

// One alarm per VM (vinterrupt.ts): room for every VM (vm.ts VM_LIMIT, 10240) and 128 for the kernel.
export const TIMER_SLOTS = 10368;
const NONE = -1;
const SLOT_BITS = 14;
const SLOT_MASK: u32 = 0x3fff;
/** Generations fit in the 32 - SLOT_BITS bits above the slot: 1 .. TIMER_GENERATIONS - 1. */
export const TIMER_GENERATIONS: u32 = 1 << (32 - SLOT_BITS);

/** Called once, at or after the deadline, with interrupts disabled, from the tick (or timerExpire). */
type TimerCallback = (argument: u32) => void;
function noCallback(argument: u32): void {}

class Timer {
  deadlineHigh: u32 = 0;
  deadlineLow: u32 = 0;
  sequence: u32 = 0;           // start order, the tie-break of equal deadlines (compared with wrap-around)
  argument: u32 = 0;
  generation: u32 = 1;
  heapIndex: i32 = -1;         // position in the heap; NONE when not pending
  callback: TimerCallback = noCallback;
}

const timers = structArray(Timer, TIMER_SLOTS);
const heap = new Int32Array(TIMER_SLOTS);       // heap[0] is the earliest; children of i at 2i+1, 2i+2
const freeSlots = new Int32Array(TIMER_SLOTS);  // a stack of free slots
let freeTop: u32 = 0;
let pendingCount: u32 = 0;
let nextSequence: u32 = 0;
let expiredTotal: u32 = 0;
/** The TSC when the expiry of the timer whose callback runs now began (timerExpiryStart). */
let expiryStartTsc: u32 = 0;
const tickNow = new Nanoseconds();

export function timerInit(): void {
  for (let i: u32 = 0; i < TIMER_SLOTS; i++) {
    const timer = timers[i];
    if (timer.generation === 0) timer.generation = 1;
    timer.heapIndex = NONE;
    freeSlots[i] = i32(TIMER_SLOTS - 1 - i);        // slot 0 on top
  }
  freeTop = TIMER_SLOTS;
  pendingCount = 0;
  clockSetTickHook(timerTick);
}

/** True when timer `a` expires before timer `b`: earlier deadline, or the same one started earlier. */
function timerBefore(a: Timer, b: Timer): bool {
  if (a.deadlineHigh !== b.deadlineHigh) return a.deadlineHigh < b.deadlineHigh;
  if (a.deadlineLow !== b.deadlineLow) return a.deadlineLow < b.deadlineLow;
  return i32(a.sequence - b.sequence) < 0;
}

function place(index: i32, slot: i32): void {
  heap[index] = slot;
  timers[slot].heapIndex = index;
}

/** Moves the timer at `index` towards the root while it expires before its parent. */
function siftUp(index: i32): void {
  const slot = heap[index];
  const timer = timers[slot];
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!timerBefore(timer, timers[heap[parent]])) break;
    place(index, heap[parent]);
    index = parent;
  }
  place(index, slot);
}

/** Moves the timer at `index` towards the leaves while a child expires before it. */
function siftDown(index: i32): void {
  const slot = heap[index];
  const timer = timers[slot];
  const count = i32(pendingCount);
  while (true) {
    let child = 2 * index + 1;
    if (child >= count) break;
    if (child + 1 < count && timerBefore(timers[heap[child + 1]], timers[heap[child]])) child++;
    if (!timerBefore(timers[heap[child]], timer)) break;
    place(index, heap[child]);
    index = child;
  }
  place(index, slot);
}

/** Takes pending timer `slot` out of the heap and gives the slot back (a new generation). */
function remove(slot: i32): void {
  const timer = timers[slot];
  const index = timer.heapIndex;
  pendingCount--;
  const last = i32(pendingCount);
  if (index !== last) {
    place(index, heap[last]);
    const beforeParent = index > 0 && timerBefore(timers[heap[index]], timers[heap[(index - 1) >> 1]]);
    if (beforeParent) siftUp(index); else siftDown(index);
  }
  timer.heapIndex = NONE;
  timer.generation = timer.generation + 1 === TIMER_GENERATIONS ? 1 : timer.generation + 1;
  freeSlots[freeTop] = slot;
  freeTop++;
}

/**
 * Arms a timer for `deadline`; returns its handle (never 0), or 0 when all TIMER_SLOTS are pending
 * (the caller decides what to do: the queue never drops a timer silently).
 */
export function timerStart(deadline: Nanoseconds, callback: TimerCallback, argument: u32): u32 {
  const flags = interruptsDisable();
  if (freeTop === 0) { interruptsRestore(flags); return 0; }
  freeTop--;
  const slot = freeSlots[freeTop];
  const timer = timers[slot];
  timer.deadlineHigh = deadline.high;
  timer.deadlineLow = deadline.low;
  timer.sequence = nextSequence++;
  timer.callback = callback;
  timer.argument = argument;
  heap[pendingCount] = slot;
  timer.heapIndex = i32(pendingCount);
  pendingCount++;
  siftUp(timer.heapIndex);
  const handle = (timer.generation << SLOT_BITS) | u32(slot);
  interruptsRestore(flags);
  return handle;
}

/** Cancels a pending timer; false when the handle's timer already expired or was cancelled (or is 0). */
export function timerCancel(handle: u32): bool {
  const slot = i32(handle & SLOT_MASK);
  if (slot >= TIMER_SLOTS) return false;
  const flags = interruptsDisable();
  const timer = timers[slot];
  const live = timer.heapIndex !== NONE && timer.generation === handle >>> SLOT_BITS;
  if (live) remove(slot);
  interruptsRestore(flags);
  return live;
}

/** Runs every timer whose deadline is not after `now`, earliest first; returns how many ran. */
export function timerExpire(now: Nanoseconds): u32 {
  const flags = interruptsDisable();
  let ran: u32 = 0;
  while (pendingCount !== 0) {
    const slot = heap[0];
    const timer = timers[slot];
    if (timer.deadlineHigh > now.high || (timer.deadlineHigh === now.high && timer.deadlineLow > now.low)) break;
    const callback = timer.callback, argument = timer.argument;
    expiryStartTsc = rdtsc();
    remove(slot);
    callback(argument);
    ran++;
  }
  expiredTotal += ran;
  interruptsRestore(flags);
  return ran;
}

function timerTick(): void {
  if (pendingCount === 0) return;
  clockRead(tickNow);
  timerExpire(tickNow);
}

/**
 * For a callback: the TSC when its timer's expiry began (before the heap removal), so the work of the
 * expiry can be charged to the one the timer serves rather than to whoever was running (scheduler.ts).
 */
export function timerExpiryStart(): u32 { return expiryStartTsc; }

export function timerPendingCount(): u32 { return pendingCount; }
export function timerExpiredCount(): u32 { return expiredTotal; }

/**
 * Self-test support: true when the heap is ordered (no timer before its parent), every heap entry
 * points back at its position with a live generation, and heap plus free stack account for every slot.
 */
export function timerQueueConsistent(): bool {
  if (pendingCount + freeTop !== TIMER_SLOTS) return false;
  for (let i: i32 = 0; i < i32(pendingCount); i++) {
    const timer = timers[heap[i]];
    if (timer.heapIndex !== i || timer.generation === 0 || timer.generation >= TIMER_GENERATIONS) return false;
    if (i > 0 && timerBefore(timer, timers[heap[(i - 1) >> 1]])) return false;
  }
  for (let i: u32 = 0; i < freeTop; i++) if (timers[freeSlots[i]].heapIndex !== NONE) return false;
  return true;
}
