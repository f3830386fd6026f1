// The kernel's timer queue: one-shot timers ordered by deadline (64-bit nanoseconds of clock.ts),
// expired from the PIT tick. The VMs' virtual alarm clocks hang on it.
// Storage: a fixed pool of TIMER_SLOTS timers; pending timers form a doubly linked list sorted by
// deadline (equal deadlines keep insertion order), so expiry takes from the head, cancel unlinks in
// O(1) and insertion walks from the tail (new deadlines are usually the latest).
// A handle is generation * 2^SLOT_BITS + slot: a stale handle (its timer expired or was cancelled, the slot
// reused) is recognised and ignored.
// Invariant: the list and the pool change only with interrupts disabled.
import { bool, i32, u32, structArray } from "dsl";
import { Nanoseconds, nanosecondsBefore, clockRead, clockSetTickHook } from "./clock.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";

// One alarm per VM (vinterrupt.ts): room for every VM (vm.ts VM_LIMIT, 10240) and 128 for the kernel.
export const TIMER_SLOTS = 10368;
const NONE = -1;
const SLOT_BITS = 14;
const SLOT_MASK = 0x3fff;

/** Called once, at or after the deadline, with interrupts disabled, from the tick (or timerExpire). */
export type TimerCallback = (argument: u32) => void;
function noCallback(argument: u32): void {}

class Timer {
  deadlineHigh: u32 = 0;
  deadlineLow: u32 = 0;
  argument: u32 = 0;
  generation: u32 = 1;
  previous: i32 = -1;
  next: i32 = -1;
  pending: bool = false;
  callback: TimerCallback = noCallback;
}

const timers = structArray(Timer, TIMER_SLOTS);
let head: i32 = NONE;
let tail: i32 = NONE;
let freeSearch: i32 = 0;
let pendingCount: u32 = 0;
let expiredTotal: u32 = 0;
const tickNow = new Nanoseconds();

export function timerInit(): void {
  head = NONE;
  tail = NONE;
  pendingCount = 0;
  clockSetTickHook(timerTick);
}

function deadlineBefore(a: Timer, b: Timer): bool {
  return a.deadlineHigh < b.deadlineHigh || (a.deadlineHigh === b.deadlineHigh && a.deadlineLow < b.deadlineLow);
}

function freeSlot(): i32 {
  for (let i = 0; i < TIMER_SLOTS; i++) {
    const slot = (freeSearch + i) % TIMER_SLOTS;
    if (!timers[slot].pending) { freeSearch = (slot + 1) % TIMER_SLOTS; return slot; }
  }
  return NONE;
}

/** Links `slot` after the last timer whose deadline is not later than its own. */
function insertSorted(slot: i32): void {
  const timer = timers[slot];
  let after = tail;
  while (after !== NONE && deadlineBefore(timer, timers[after])) after = timers[after].previous;
  timer.previous = after;
  timer.next = after === NONE ? head : timers[after].next;
  if (timer.next === NONE) tail = slot; else timers[timer.next].previous = slot;
  if (after === NONE) head = slot; else timers[after].next = slot;
}

function unlink(slot: i32): void {
  const timer = timers[slot];
  if (timer.previous === NONE) head = timer.next; else timers[timer.previous].next = timer.next;
  if (timer.next === NONE) tail = timer.previous; else timers[timer.next].previous = timer.previous;
  timer.previous = NONE;
  timer.next = NONE;
  timer.pending = false;
  timer.generation++;
  pendingCount--;
}

/**
 * Arms a timer for `deadline`; returns its handle, or 0 when all TIMER_SLOTS are pending (the caller
 * decides what to do: the queue never drops a timer silently).
 */
export function timerStart(deadline: Nanoseconds, callback: TimerCallback, argument: u32): u32 {
  const flags = interruptsDisable();
  const slot = freeSlot();
  if (slot === NONE) { interruptsRestore(flags); return 0; }
  const timer = timers[slot];
  timer.deadlineHigh = deadline.high;
  timer.deadlineLow = deadline.low;
  timer.callback = callback;
  timer.argument = argument;
  timer.pending = true;
  insertSorted(slot);
  pendingCount++;
  const handle = (timer.generation << SLOT_BITS) | u32(slot);
  interruptsRestore(flags);
  return handle;
}

/** Cancels a pending timer; false when the handle's timer already expired or was cancelled. */
export function timerCancel(handle: u32): bool {
  const slot = i32(handle & SLOT_MASK);
  if (slot >= TIMER_SLOTS) return false;
  const flags = interruptsDisable();
  const timer = timers[slot];
  const live = timer.pending && (timer.generation << SLOT_BITS) === (handle & ~SLOT_MASK);
  if (live) unlink(slot);
  interruptsRestore(flags);
  return live;
}

/** Runs every timer whose deadline is not after `now`, earliest first; returns how many ran. */
export function timerExpire(now: Nanoseconds): u32 {
  const flags = interruptsDisable();
  let ran: u32 = 0;
  while (head !== NONE) {
    const timer = timers[head];
    if (timer.deadlineHigh > now.high || (timer.deadlineHigh === now.high && timer.deadlineLow > now.low)) break;
    const callback = timer.callback, argument = timer.argument;
    unlink(head);
    callback(argument);
    ran++;
  }
  expiredTotal += ran;
  interruptsRestore(flags);
  return ran;
}

function timerTick(): void {
  if (head === NONE) return;
  clockRead(tickNow);
  timerExpire(tickNow);
}

/** The earliest pending deadline into `out`; false when nothing is pending. */
export function timerNextDeadline(out: Nanoseconds): bool {
  if (head === NONE) return false;
  out.high = timers[head].deadlineHigh;
  out.low = timers[head].deadlineLow;
  return true;
}

export function timerPendingCount(): u32 { return pendingCount; }
export function timerExpiredCount(): u32 { return expiredTotal; }

/** Self-test support: true when the pending list is sorted and its length matches the count. */
export function timerQueueConsistent(): bool {
  let count: u32 = 0;
  let previous = NONE;
  for (let slot = head; slot !== NONE; slot = timers[slot].next) {
    if (timers[slot].previous !== previous || !timers[slot].pending) return false;
    if (previous !== NONE && deadlineBefore(timers[slot], timers[previous])) return false;
    previous = slot;
    count++;
  }
  return previous === tail && count === pendingCount;
}

/** True when `deadline` is not after `now`. */
export function timerDeadlinePassed(deadline: Nanoseconds, now: Nanoseconds): bool { return !nanosecondsBefore(now, deadline); }
