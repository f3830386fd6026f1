// The kernel's timer queue: one-shot timers by deadline (64-bit nanoseconds of clock.ts), expired from
// the PIT tick. The VMs' virtual alarm clocks hang on it, so a setAlarm costs O(1) however many VMs
// have one pending: a hashed timing wheel (Varghese and Lauck), not a heap.
// The wheel: WHEEL_SIZE buckets, bucket time = deadline >> BUCKET_SHIFT (2^20 ns, about 1 ms, so a turn
// of the wheel is about 1.07 s); a timer hangs on bucket (its bucket time mod WHEEL_SIZE), in a doubly
// linked list sorted by (deadline, start order), so a bucket also holds the timers of later turns, after
// this turn's. `done` is the last bucket time whose timers have all run: a timer whose bucket time is
// not after it (a deadline already past) goes to bucket done + 1, never behind the hand. The tick runs
// the buckets from done + 1 to now's, each from its head while the head is due (sorted: the first one
// not due ends the bucket), so a tick costs the timers it runs plus a bucket or two. A start walks its
// bucket from the tail past the timers due later (usually none: a new alarm is the latest), a cancel
// unlinks: O(1). A jump of more than a turn (the self-test's hour) runs the earliest head of all the
// buckets at a time instead (O(WHEEL_SIZE) each), so timers always run earliest first.
// Storage: one run of adjacent frames (frames.ts allocFrameRun) holds the pool of `capacity` timers and
// the stack of free slots: TIMER_KERNEL_SLOTS from timerInit, grown by timerGrow (a new run, the old one
// copied and freed) to one more per VM when VMs are created, up to TIMER_SLOT_LIMIT (the handles' slot
// bits). So a kernel pays for the timers of the VMs it has. Links are slot numbers, so a copy keeps them.
// A handle is generation * 2^SLOT_BITS + slot with the generation in 1 .. TIMER_GENERATIONS - 1 (it
// skips 0 when it wraps), so no handle is ever 0 (0 means "no timer" to callers); a stale handle (its
// timer expired or was cancelled, the slot reused) is recognised and ignored, until the slot's
// generation comes round again after TIMER_GENERATIONS - 1 reuses.
// Invariant: the wheel, the free stack and the pool change only with interrupts disabled.
import { bool, i32, u32, rdtsc, overlay, sizeOf, memoryCopy, load32, store32, panic } from "dsl";
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
/** Bytes of the run per slot: its timer and its free-stack entry. */
const SLOT_BYTES: u32 = (1 << TIMER_SHIFT) + 4;
/** Generations fit in the 32 - SLOT_BITS bits above the slot: 1 .. TIMER_GENERATIONS - 1. */
export const TIMER_GENERATIONS: u32 = 1 << (32 - SLOT_BITS);
/** A bucket's time: 2^20 ns (1.05 ms, about a PIT tick); the wheel's buckets, a turn about 1.07 s. */
const BUCKET_SHIFT: u32 = 20;
const WHEEL_BITS: u32 = 10;
const WHEEL_SIZE: u32 = 1 << WHEEL_BITS;
const WHEEL_MASK: u32 = WHEEL_SIZE - 1;

/** Called once, at or after the deadline, with interrupts disabled, from the tick (or timerExpire). */
type TimerCallback = (argument: u32) => void;
function noCallback(argument: u32): void {}

class Timer {
  deadlineHigh: u32 = 0;
  deadlineLow: u32 = 0;
  argument: u32 = 0;
  generation: u32 = 1;
  bucket: i32 = -1;            // the wheel bucket it hangs on; NONE when not pending
  next: i32 = -1;              // later in the bucket (NONE: the tail)
  previous: i32 = -1;          // earlier in the bucket (NONE: the head)
  callback: TimerCallback = noCallback;
}

// The run: timers at `pool`, then the free stack at `free`, each `capacity` entries.
let pool: u32 = 0;
let free: u32 = 0;
let poolFrames: u32 = 0;                        // frames of the run
let capacity: u32 = 0;
function timerAt(slot: i32): Timer { return overlay(Timer, pool + (u32(slot) << TIMER_SHIFT)); }
function freeAt(i: u32): i32 { return i32(load32(free + (i << 2))); }
function freeSet(i: u32, slot: i32): void { store32(free + (i << 2), u32(slot)); }
/** Each bucket's first and last timer (NONE when empty). */
const heads = new Int32Array(1024);
const tails = new Int32Array(1024);
let freeTop: u32 = 0;
let pendingCount: u32 = 0;
let expiredTotal: u32 = 0;
/** The last bucket time whose timers have all run; meaningful while doneValid (the wheel not left empty). */
let done: u32 = 0;
let doneValid = false;
/** The TSC when the expiry of the timer whose callback runs now began (timerExpiryStart). */
let expiryStartTsc: u32 = 0;
const tickNow = new Nanoseconds();
const startNow = new Nanoseconds();

/** The pool of TIMER_KERNEL_SLOTS timers; after memoryInit (its frames), before the first timerStart. */
export function timerInit(): void {
  if (sizeOf(Timer) > (u32(1) << TIMER_SHIFT) || u32(heads.length) !== WHEEL_SIZE || !timerGrow(TIMER_KERNEL_SLOTS)) {
    panic("timer pool");
  }
  for (let b: u32 = 0; b < WHEEL_SIZE; b++) { heads[b] = NONE; tails[b] = NONE; }
  pendingCount = 0;
  doneValid = false;
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
  const newFree = run + (slots << TIMER_SHIFT);
  memoryCopy(run, pool, capacity << TIMER_SHIFT);
  memoryCopy(newFree + (added << 2), free, freeTop << 2);
  for (let f: u32 = 0; f < poolFrames; f++) freeFrame(pool + (f << PAGE_SHIFT));
  pool = run;
  free = newFree;
  poolFrames = frames;
  for (let k: u32 = 0; k < added; k++) {
    const slot = slots - 1 - k;                   // the highest new slot deepest
    const timer = timerAt(i32(slot));
    timer.generation = 1;
    timer.bucket = NONE;
    timer.callback = noCallback;
    freeSet(k, i32(slot));
  }
  freeTop += added;
  capacity = slots;
  interruptsRestore(flags);
  return true;
}

/** Frames of the pool's run (timers and free stack). */
export function timerPoolFrames(): u32 { return poolFrames; }

/** Timers in the pool (timerInit's, grown by timerGrow). */
export function timerCapacity(): u32 { return capacity; }

/** The bucket time of a deadline: its nanoseconds >> BUCKET_SHIFT, modulo 2^32 (compared with wrap-around). */
function bucketTime(high: u32, low: u32): u32 { return u32((high << (32 - BUCKET_SHIFT)) | (low >>> BUCKET_SHIFT)); }

/** True when timer `timer` is due at `now`: its deadline is not after it. */
function due(timer: Timer, now: Nanoseconds): bool {
  return timer.deadlineHigh < now.high || (timer.deadlineHigh === now.high && timer.deadlineLow <= now.low);
}

/** True when timer `a`'s deadline is after `b`'s (equal deadlines: the one started first stays first). */
function later(a: Timer, b: Timer): bool {
  return a.deadlineHigh > b.deadlineHigh || (a.deadlineHigh === b.deadlineHigh && a.deadlineLow > b.deadlineLow);
}

/** Hangs timer `slot` on bucket `bucket`, after every timer there not due later than it. */
function link(slot: i32, bucket: u32): void {
  const timer = timerAt(slot);
  let before = tails[bucket];
  while (before !== NONE && later(timerAt(before), timer)) before = timerAt(before).previous;
  const after = before === NONE ? heads[bucket] : timerAt(before).next;
  timer.bucket = i32(bucket);
  timer.previous = before;
  timer.next = after;
  if (before === NONE) heads[bucket] = slot; else timerAt(before).next = slot;
  if (after === NONE) tails[bucket] = slot; else timerAt(after).previous = slot;
}

/** Takes pending timer `slot` off its bucket and gives the slot back (a new generation). */
function remove(slot: i32): void {
  const timer = timerAt(slot);
  const bucket = u32(timer.bucket), before = timer.previous, after = timer.next;
  if (before === NONE) heads[bucket] = after; else timerAt(before).next = after;
  if (after === NONE) tails[bucket] = before; else timerAt(after).previous = before;
  pendingCount--;
  timer.bucket = NONE;
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
  if (!doneValid) {                      // the wheel was empty: its hand moves to now
    clockRead(startNow);
    done = bucketTime(startNow.high, startNow.low) - 1;
    doneValid = true;
  }
  freeTop--;
  const slot = freeAt(freeTop);
  const timer = timerAt(slot);
  timer.deadlineHigh = deadline.high;
  timer.deadlineLow = deadline.low;
  timer.callback = callback;
  timer.argument = argument;
  let time = bucketTime(deadline.high, deadline.low);
  if (i32(time - done) <= 0) time = done + 1;          // already due: the next bucket the hand reaches
  link(slot, time & WHEEL_MASK);
  pendingCount++;
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
  const live = timer.bucket !== NONE && timer.generation === handle >>> SLOT_BITS;
  if (live) remove(slot);
  interruptsRestore(flags);
  return live;
}

/** Runs timer `slot` (due): off the wheel, then its callback. */
function run(slot: i32): void {
  const timer = timerAt(slot);
  const callback = timer.callback, argument = timer.argument;
  expiryStartTsc = rdtsc();
  remove(slot);
  callback(argument);
}

/** Runs the due timers at the head of `bucket`; how many. */
function runBucket(bucket: u32, now: Nanoseconds): u32 {
  let ran: u32 = 0;
  while (true) {
    const slot = heads[bucket];
    if (slot === NONE || !due(timerAt(slot), now)) return ran;
    run(slot);
    ran++;
  }
}

/** After a jump of more than a turn: runs the earliest due head of all buckets, one at a time. */
function runEarliest(now: Nanoseconds): u32 {
  let ran: u32 = 0;
  while (pendingCount !== 0) {
    let earliest: i32 = NONE;
    for (let b: u32 = 0; b < WHEEL_SIZE; b++) {
      const slot = heads[b];
      if (slot !== NONE && (earliest === NONE || later(timerAt(earliest), timerAt(slot)))) earliest = slot;
    }
    if (earliest === NONE || !due(timerAt(earliest), now)) break;
    run(earliest);
    ran++;
  }
  return ran;
}

/** Runs every timer whose deadline is not after `now`, earliest first; returns how many ran. */
export function timerExpire(now: Nanoseconds): u32 {
  const flags = interruptsDisable();
  let ran: u32 = 0;
  if (pendingCount !== 0 && doneValid) {
    const nowTime = bucketTime(now.high, now.low);
    const steps = nowTime - done;          // buckets from done + 1 to now's
    if (i32(steps) > 0) {
      if (steps > WHEEL_SIZE) {
        ran = runEarliest(now);
      } else {
        for (let time = done + 1; time !== nowTime + 1; time++) ran += runBucket(time & WHEEL_MASK, now);
      }
      done = nowTime - 1;                  // now's bucket stays open: deadlines later in it can come
    }
  }
  if (pendingCount === 0) doneValid = false;   // the next start sets the hand from the clock, not `now`
  expiredTotal += ran;
  interruptsRestore(flags);
  return ran;
}

/** The PIT tick: the due timers run. With none pending the hand stops (the next start sets it again). */
function timerTick(): void {
  if (pendingCount === 0) { doneValid = false; return; }
  clockRead(tickNow);
  timerExpire(tickNow);
}

/**
 * For a callback: the TSC when its timer's expiry began (before it left the wheel), so the work of the
 * expiry can be charged to the one the timer serves rather than to whoever was running (scheduler.ts).
 */
export function timerExpiryStart(): u32 { return expiryStartTsc; }

export function timerPendingCount(): u32 { return pendingCount; }
export function timerExpiredCount(): u32 { return expiredTotal; }

/**
 * Self-test support: true when every bucket is a well-linked list sorted by deadline whose timers name
 * it and have a live generation, and the buckets plus the free stack account for every slot.
 */
export function timerQueueConsistent(): bool {
  let counted: u32 = 0;
  for (let b: u32 = 0; b < WHEEL_SIZE; b++) {
    let previous: i32 = NONE;
    for (let slot = heads[b]; slot !== NONE; slot = timerAt(slot).next) {
      const timer = timerAt(slot);
      if (timer.bucket !== i32(b) || timer.previous !== previous || counted >= capacity) return false;
      if (timer.generation === 0 || timer.generation >= TIMER_GENERATIONS) return false;
      if (previous !== NONE && later(timerAt(previous), timer)) return false;
      if (!doneValid) return false;
      previous = slot;
      counted++;
    }
    if (tails[b] !== previous) return false;
  }
  if (counted !== pendingCount || pendingCount + freeTop !== capacity) return false;
  for (let i: u32 = 0; i < freeTop; i++) if (timerAt(freeAt(i)).bucket !== NONE) return false;
  return true;
}
