// The kernel's timer queue: one-shot timers ordered by deadline (64-bit nanoseconds of clock.ts),
// expired from the PIT tick. The VMs' virtual alarm clocks hang on it.
// Storage: one run of adjacent frames (frames.ts allocFrameRun) holds the pool of `capacity` timers, the
// heap and the stack of free slots as three arrays: TIMER_KERNEL_SLOTS from timerInit, grown by timerGrow
// (a new run, the old one copied and freed) to one more per VM when VMs are created, up to
// TIMER_SLOT_LIMIT (the handles' slot bits). So a kernel pays for the timers of the VMs it has, and the
// hot paths index plain arrays. Free slots form a stack (O(1) to take and give back);
// pending timers form a binary min-heap ordered by (deadline, start sequence), so equal deadlines keep
// start order. Each timer knows its heap position, so start, cancel and each expiry are O(log n):
// with 8,000 alarms pending a start costs a few sift steps, not a walk of the queue, with interrupts off.
// A handle is generation * 2^SLOT_BITS + slot with the generation in 1 .. TIMER_GENERATIONS - 1 (it
// skips 0 when it wraps), so no handle is ever 0 (0 means "no timer" to callers); a stale handle (its
// timer expired or was cancelled, the slot reused) is recognised and ignored, until the slot's
// generation comes round again after TIMER_GENERATIONS - 1 reuses.
// Invariant: the heap, the free stack and the pool change only with interrupts disabled.
import { bool, i32, u32, rdtsc, overlay, sizeOf, load32, store32, memoryCopy, panic } from "dsl";
import { Nanoseconds, clockRead, clockSetTickHook } from "./clock.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrameRun, freeFrame } from "./frames.ts";

/** Timers the kernel has before any VM exists (timerInit); each VM adds one (its alarm, vinterrupt.ts). */
export const TIMER_KERNEL_SLOTS: u32 = 128;
const NONE = -1;
const SLOT_BITS = 18;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/** The most timers: a slot number fits in SLOT_BITS (abi/boot.ts VM_LIMIT + TIMER_KERNEL_SLOTS is below it). */
const TIMER_SLOT_LIMIT: u32 = 1 << SLOT_BITS;
const TIMER_SHIFT: u32 = 5;            // a Timer takes 32 bytes (sizeOf(Timer) <= 32, checked)
/** Bytes of the run per slot: its timer, its heap entry and its free-stack entry. */
const SLOT_BYTES: u32 = (1 << TIMER_SHIFT) + 8;
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
  reserved: u32 = 0;
}

// The run: timers at `pool`, then the heap (heap[0] is the earliest; children of i at 2i+1, 2i+2) at
// `heap`, then the free stack at `free`, each `capacity` entries.
let pool: u32 = 0;
let heap: u32 = 0;
let free: u32 = 0;
let poolFrames: u32 = 0;                        // frames of the run
let capacity: u32 = 0;
function timerAt(slot: i32): Timer { return overlay(Timer, pool + (u32(slot) << TIMER_SHIFT)); }
function heapAt(i: i32): i32 { return i32(load32(heap + (u32(i) << 2))); }
function heapSet(i: i32, slot: i32): void { store32(heap + (u32(i) << 2), u32(slot)); }
function freeAt(i: u32): i32 { return i32(load32(free + (i << 2))); }
function freeSet(i: u32, slot: i32): void { store32(free + (i << 2), u32(slot)); }
let freeTop: u32 = 0;
let pendingCount: u32 = 0;
let nextSequence: u32 = 0;
let expiredTotal: u32 = 0;
/** The TSC when the expiry of the timer whose callback runs now began (timerExpiryStart). */
let expiryStartTsc: u32 = 0;
const tickNow = new Nanoseconds();

/** The pool of TIMER_KERNEL_SLOTS timers; after memoryInit (its frames), before the first timerStart. */
export function timerInit(): void {
  if (sizeOf(Timer) > (u32(1) << TIMER_SHIFT) || !timerGrow(TIMER_KERNEL_SLOTS)) panic("timer pool");
  pendingCount = 0;
  clockSetTickHook(timerTick);
}

/**
 * Grows the pool to `slots` timers (vmstart.ts: one per VM beyond the kernel's); false when that is over
 * TIMER_SLOT_LIMIT or memory runs out (the pool keeps the slots it had). The new slots go under the free
 * stack's top, in order, so the lowest new slot is handed out first after the old ones.
 */
export function timerGrow(slots: u32): bool {
  if (slots <= capacity) return true;
  if (slots > TIMER_SLOT_LIMIT) return false;
  const frames = (slots * SLOT_BYTES + PAGE_SIZE - 1) >>> PAGE_SHIFT;
  const run = allocFrameRun(frames);
  if (run === FRAME_NONE) return false;
  const flags = interruptsDisable();
  const added = slots - capacity;
  const newHeap = run + (slots << TIMER_SHIFT), newFree = newHeap + (slots << 2);
  memoryCopy(run, pool, capacity << TIMER_SHIFT);
  memoryCopy(newHeap, heap, pendingCount << 2);
  memoryCopy(newFree + (added << 2), free, freeTop << 2);
  for (let f: u32 = 0; f < poolFrames; f++) freeFrame(pool + (f << PAGE_SHIFT));
  pool = run;
  heap = newHeap;
  free = newFree;
  poolFrames = frames;
  for (let k: u32 = 0; k < added; k++) {
    const slot = slots - 1 - k;                   // the highest new slot deepest
    const timer = timerAt(i32(slot));
    timer.generation = 1;
    timer.heapIndex = NONE;
    timer.callback = noCallback;
    freeSet(k, i32(slot));
  }
  freeTop += added;
  capacity = slots;
  interruptsRestore(flags);
  return true;
}

/** Frames of the pool's run (timers, heap and free stack). */
export function timerPoolFrames(): u32 { return poolFrames; }

/** Timers in the pool (timerInit's, grown by timerGrow). */
export function timerCapacity(): u32 { return capacity; }

/** True when timer `a` expires before timer `b`: earlier deadline, or the same one started earlier. */
function timerBefore(a: Timer, b: Timer): bool {
  if (a.deadlineHigh !== b.deadlineHigh) return a.deadlineHigh < b.deadlineHigh;
  if (a.deadlineLow !== b.deadlineLow) return a.deadlineLow < b.deadlineLow;
  return i32(a.sequence - b.sequence) < 0;
}

function place(index: i32, slot: i32): void {
  heapSet(index, slot);
  timerAt(slot).heapIndex = index;
}

/** Moves the timer at `index` towards the root while it expires before its parent. */
function siftUp(index: i32): void {
  const slot = heapAt(index);
  const timer = timerAt(slot);
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!timerBefore(timer, timerAt(heapAt(parent)))) break;
    place(index, heapAt(parent));
    index = parent;
  }
  place(index, slot);
}

/** Moves the timer at `index` towards the leaves while a child expires before it. */
function siftDown(index: i32): void {
  const slot = heapAt(index);
  const timer = timerAt(slot);
  const count = i32(pendingCount);
  while (true) {
    let child = 2 * index + 1;
    if (child >= count) break;
    if (child + 1 < count && timerBefore(timerAt(heapAt(child + 1)), timerAt(heapAt(child)))) child++;
    if (!timerBefore(timerAt(heapAt(child)), timer)) break;
    place(index, heapAt(child));
    index = child;
  }
  place(index, slot);
}

/** Takes pending timer `slot` out of the heap and gives the slot back (a new generation). */
function remove(slot: i32): void {
  const timer = timerAt(slot);
  const index = timer.heapIndex;
  pendingCount--;
  const last = i32(pendingCount);
  if (index !== last) {
    place(index, heapAt(last));
    const beforeParent = index > 0 && timerBefore(timerAt(heapAt(index)), timerAt(heapAt((index - 1) >> 1)));
    if (beforeParent) siftUp(index); else siftDown(index);
  }
  timer.heapIndex = NONE;
  timer.generation = timer.generation + 1 === TIMER_GENERATIONS ? 1 : timer.generation + 1;
  freeSet(freeTop, slot);
  freeTop++;
}

/**
 * Arms a timer for `deadline`; returns its handle (never 0), or 0 when every timer of the pool is pending
 * (the caller decides what to do: the queue never drops a timer silently).
 */
export function timerStart(deadline: Nanoseconds, callback: TimerCallback, argument: u32): u32 {
  const flags = interruptsDisable();
  if (freeTop === 0) { interruptsRestore(flags); return 0; }
  freeTop--;
  const slot = freeAt(freeTop);
  const timer = timerAt(slot);
  timer.deadlineHigh = deadline.high;
  timer.deadlineLow = deadline.low;
  timer.sequence = nextSequence++;
  timer.callback = callback;
  timer.argument = argument;
  heapSet(i32(pendingCount), slot);
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
  if (u32(slot) >= capacity) return false;
  const flags = interruptsDisable();
  const timer = timerAt(slot);
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
    const slot = heapAt(0);
    const timer = timerAt(slot);
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
  if (pendingCount + freeTop !== capacity) return false;
  for (let i: i32 = 0; i < i32(pendingCount); i++) {
    const timer = timerAt(heapAt(i));
    if (timer.heapIndex !== i || timer.generation === 0 || timer.generation >= TIMER_GENERATIONS) return false;
    if (i > 0 && timerBefore(timer, timerAt(heapAt((i - 1) >> 1)))) return false;
  }
  for (let i: u32 = 0; i < freeTop; i++) if (timerAt(freeAt(i)).heapIndex !== NONE) return false;
  return true;
}
