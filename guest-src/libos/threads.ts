// Threads for the guest OS library (issue 5 item 4): cooperative threads on stacks of their own,
// switched by the compiler-generated context switch (the `contextSwitch`/`contextCreate` intrinsics,
// docs/calling-convention.md "Contexts"). The main context is the scheduler and the network event
// loop (`threadsRun`): it runs every runnable thread in turn; when none is runnable it sets the alarm
// for the nearest deadline (network timers and sleeping threads) and idles until a frame or the alarm
// (the idle hypercall), handles the batch — whose TCP events wake the threads waiting on them — and
// starts again. A thread runs until it waits (threadWait, threadSleep), yields or exits; there is no
// preemption inside a VM (the kernel preempts the VM as a whole).
//
// Invariants: `current` is the running context (0: the main one); a thread is on the run queue
// exactly when it is RUNNABLE; a WAITING thread has a channel and, if its deadline is set, is woken
// by the timer too. Waking is by channel (a u32 the waiter and the waker agree on): spurious wake-ups
// are allowed, so waiters re-check their condition in a loop.
import { i32, u32, bool, addressOf, functionAddress, contextCreate, contextSwitch, panic, structArray } from "dsl";
import { INTERRUPT_NET, INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import { waitForEvents, clockMicroseconds } from "../runtime/events.ts";
import { stackPoll, stackTimers, stackSetTimerSource, NO_DEADLINE } from "./stack.ts";
import { netifSetClock, netNow } from "./netif.ts";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_RUNTIME } from "../../abi/boot.ts";

/** Threads besides the main context. */
const THREAD_MAX = 10;
/** Each thread's stack (demand-zero pages in a VM: untouched stack costs no memory). */
const THREAD_STACK_BYTES = 16384;

const FREE = 0;
const RUNNABLE = 1;
const RUNNING = 2;
const WAITING = 3;
const NONE = -1;
const MAIN = 0;

type ThreadEntry = (arg: u32) => void;

class Thread {
  state: i32 = 0;
  entry: ThreadEntry = noEntry;
  arg: u32 = 0;
  /** What a WAITING thread waits for (0: only its deadline, i.e. sleeping). */
  channel: u32 = 0;
  hasDeadline: bool = false;
  /** When a WAITING thread times out: microseconds on the stack's clock (netif netNow, from the global clock). */
  wakeAt: u32 = 0;
  timedOut: bool = false;
  next: i32 = -1;
}

function noEntry(arg: u32): void {}

/** Index 0 is the main context; threads are 1..THREAD_MAX. */
const threads = structArray(Thread, 11);      // THREAD_MAX + 1
/** Where each suspended context's handle is kept (contextSwitch stores it, the next switch reads it). */
const handles = new Uint32Array(11);
const stacks = new Uint8Array(10 * 16384);    // THREAD_MAX * THREAD_STACK_BYTES
let current: i32 = 0;
let runHead: i32 = -1;
let runTail: i32 = -1;
let liveThreads: i32 = 0;
let switches: u32 = 0;

function enqueue(index: i32): void {
  const t = threads[index];
  t.state = RUNNABLE;
  t.next = NONE;
  if (runTail === NONE) runHead = index; else threads[runTail].next = index;
  runTail = index;
}

function dequeue(): i32 {
  const index = runHead;
  if (index === NONE) return NONE;
  runHead = threads[index].next;
  if (runHead === NONE) runTail = NONE;
  threads[index].next = NONE;
  return index;
}

/** Suspends the running context and resumes `to`. */
function switchTo(to: i32): void {
  const from = current;
  if (from === to) { threads[to].state = RUNNING; return; }
  current = to;
  threads[to].state = RUNNING;
  switches++;
  if (!profileActive()) { contextSwitch(addressOf(handles) + u32(from) * 4, handles[to]); return; }
  const category = profileEnter(PROFILE_GUEST_RUNTIME);   // the switch itself is the runtime's
  contextSwitch(addressOf(handles) + u32(from) * 4, handles[to]);
  profileLeave(category);                                  // back in `from`: its own category again
}

/** Every thread starts here, on its own stack; it never returns (threadExit switches away for good). */
function threadStart(index: u32): void {
  const t = threads[i32(index)];
  if (profileActive()) profileEnter(PROFILE_GUEST_RUNTIME);   // a new thread starts in the runtime's
  t.entry(t.arg);
  threadExit();
}

/** Resets the table (the main context is running). Call once before threadCreate. */
export function threadsInit(): void {
  for (let i = 0; i <= THREAD_MAX; i++) { threads[i].state = FREE; threads[i].next = NONE; handles[i] = 0; }
  threads[MAIN].state = RUNNING;
  current = MAIN;
  runHead = NONE;
  runTail = NONE;
  liveThreads = 0;
  stackSetTimerSource(threadTimers);
}

/**
 * Starts `entry(arg)` in a new thread (it runs when the main context next schedules); its id, or -1 when all are in
 * use.
 */
export function threadCreate(entry: ThreadEntry, arg: u32): i32 {
  for (let i = 1; i <= THREAD_MAX; i++) {
    if (threads[i].state !== FREE) continue;
    const t = threads[i];
    t.entry = entry;
    t.arg = arg;
    t.channel = 0;
    t.hasDeadline = false;
    t.timedOut = false;
    const stack = addressOf(stacks) + u32(i - 1) * THREAD_STACK_BYTES;
    handles[i] = contextCreate(stack, THREAD_STACK_BYTES, functionAddress(threadStart), u32(i));
    liveThreads++;
    enqueue(i);
    return i;
  }
  return -1;
}

/** The running thread's id (0: the main context). */
export function threadSelf(): i32 { return current; }
export function threadCount(): i32 { return liveThreads; }

function mustBeThread(what: string): void {
  if (current === MAIN) panic(what);
}

/** Ends the running thread; its stack is reused by a later threadCreate. Never returns. */
function threadExit(): void {
  mustBeThread("threadExit from the main context");
  threads[current].state = FREE;
  liveThreads--;
  switchTo(MAIN);
  panic("an exited thread was resumed");
}

/** Lets the other runnable threads run first. */
export function threadYield(): void {
  if (current === MAIN) return;
  enqueue(current);
  switchTo(MAIN);
}

/**
 * The longest wait: deadlines are the u32 microsecond clock plus the wait, compared as i32 differences
 * (threadTimers), so one 2^31 microseconds ahead or more would read as already past.
 */
const TIMEOUT_LIMIT_US: u32 = 0x7fffffff;

/**
 * Waits until threadWake(channel) or, when `timeoutUs` > 0, until that many microseconds have passed (at
 * most TIMEOUT_LIMIT_US: a longer wait times out then); returns false on the timeout. Wake-ups may be
 * spurious: callers re-check what they wait for.
 */
export function threadWait(channel: u32, timeoutUs: u32): bool {
  mustBeThread("threadWait from the main context");
  const t = threads[current];
  t.state = WAITING;
  t.channel = channel;
  t.hasDeadline = timeoutUs !== 0;
  t.timedOut = false;
  if (t.hasDeadline) t.wakeAt = netNow + (timeoutUs < TIMEOUT_LIMIT_US ? timeoutUs : TIMEOUT_LIMIT_US);
  switchTo(MAIN);
  return !t.timedOut;
}

/** Sleeps for `microseconds` (the alarm hypercall wakes the VM; other threads run meanwhile). */
export function threadSleep(microseconds: u32): void {
  threadWait(0, microseconds === 0 ? 1 : microseconds);
}

/**
 * Makes one thread waiting on `channel` runnable, the lowest numbered: for a channel whose every waiter
 * would do the same work (accepting a connection). Waking them all would switch to each and touch its
 * stack; always the lowest keeps the same few stacks in use, so an idle VM's working set (the pages
 * swapping brings back with it) stays small.
 */
export function threadWakeOne(channel: u32): void {
  for (let i = 1; i <= THREAD_MAX; i++) {
    const t = threads[i];
    if (t.state === WAITING && t.channel === channel && channel !== 0) { enqueue(i); return; }
  }
}

/** Makes every thread waiting on `channel` runnable. */
export function threadWake(channel: u32): void {
  for (let i = 1; i <= THREAD_MAX; i++) {
    const t = threads[i];
    if (t.state === WAITING && t.channel === channel && channel !== 0) enqueue(i);
  }
}

/** The stack's timer source: wakes threads whose deadline passed; microseconds to the next one. */
function threadTimers(): u32 {
  const now = netNow;
  let next = NO_DEADLINE;
  for (let i = 1; i <= THREAD_MAX; i++) {
    const t = threads[i];
    if (t.state !== WAITING || !t.hasDeadline) continue;
    const left = i32(t.wakeAt - now);
    if (left <= 0) { t.timedOut = true; t.hasDeadline = false; enqueue(i); continue; }
    if (u32(left) < next) next = u32(left);
  }
  return next;
}

/** Runs every runnable thread until none is; returns how many ran. */
function threadsRunReady(): i32 {
  let ran = 0;
  for (let t = dequeue(); t !== NONE; t = dequeue()) { switchTo(t); ran++; }
  return ran;
}

/**
 * The main context's loop (never returns): runs the threads, the timers (whose expiries may wake
 * threads: then another round), then idles until a frame or the alarm and hands the batch's frames to
 * the network stack, whose events wake the threads. The clock (netif's netNow, every deadline's base) is
 * idle's at each wake-up (stackPoll) and read once per round that does not idle (threads still
 * runnable): not at each deadline, a readClock hypercall each.
 */
export function threadsRun(): void {
  mustBeMain();
  while (true) {
    threadsRunReady();
    stackTimers();            // expired timers (they may wake threads), then the alarm for the nearest
    if (runHead !== NONE) { const now = clockMicroseconds(); netifSetClock(now); continue; }
    stackPoll(waitForEvents(INTERRUPT_NET | INTERRUPT_TIMER));
  }
}

function mustBeMain(): void {
  if (current !== MAIN) panic("threadsRun outside the main context");
}
