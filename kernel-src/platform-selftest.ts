// Self-tests and costs of the interrupt and time subsystems (trap, pic, pit, clock, timer), run from
// kmain on request (test/kernel/platform.test.ts):
//   test=selftest   "selftest NAME ok" or "selftest NAME FAILED: ..." lines
//   bench           "bench NAME N" lines: instructions under QEMU -icount shift=0,sleep=off (where
//                   the TSC counts instructions), and the TSC calibration result
import { bool, u32, rdtsc, hlt, cli, sti, invalidOpcode, addressOf, panic } from "dsl";
import { check, finish, failureCount } from "./selftest.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import { TrapFrame } from "./trapframe.ts";
import {
  trapHandler, exceptionHookSet, exceptionHookClear, irqCount, spuriousCount, interruptsEnabled,
} from "./trap.ts";
import { IRQ_BASE_VECTOR, IRQ_TIMER, IRQ_MASTER_SPURIOUS, IRQ_SLAVE_SPURIOUS, picMasterInService } from "./pic.ts";
import { PIT_TICK_NANOSECONDS } from "./pit.ts";
import { Nanoseconds, clockRead, clockLostTicks, clockTicks, clockTscKiloHertz, clockTscPerTick, nanosecondsBefore,
  nanosecondsAddMilliseconds, multiplyWide, divideWide } from "./clock.ts";
import {
  TIMER_KERNEL_SLOTS, TIMER_GENERATIONS, timerGrow, timerCapacity, timerStart, timerCancel, timerExpire,
  timerPendingCount, timerQueueConsistent,
} from "./timer.ts";
import { VECTOR_INVALID_OPCODE } from "./exceptions.ts";

const UD2_BYTES = 2;
const CLOCK_READS = 5000;
const CLOCK_WAIT_READS = 200000; // ~70 M instructions: well over a PIT tick of host time, even under TCG on a busy host
const WAIT_TICKS = 10;
/** Tick periods spent with interrupts off by the lost-ticks test (its IRQs merge into one). */
const LOST_TICKS: u32 = 20;
const BENCH_ITERATIONS: u32 = 1000;
const ORDER_TIMERS = 16;
/** Timers pending while `bench timer-start-cancel-pending-8000` measures one more start + cancel. */
const BENCH_PENDING_TIMERS: u32 = 8000;
const BENCH_PENDING_FEW: u32 = 1000;
/** A wait for ticks gives up after this many TSC increments per tick expected (a stuck PIT fails). */
const WAIT_LIMIT_TICKS = 1000;

const now = new Nanoseconds();
const later = new Nanoseconds();
const deadline = new Nanoseconds();
const fired = new Uint32Array(ORDER_TIMERS);
let firedCount: u32 = 0;
/** The pool the exhaustion test grows to and fills: twice the kernel's, so growth is tested too. */
const TEST_TIMER_SLOTS: u32 = 2 * TIMER_KERNEL_SLOTS;
const handles = new Uint32Array(BENCH_PENDING_TIMERS);      // >= TEST_TIMER_SLOTS


function recordFiring(argument: u32): void {
  if (firedCount < ORDER_TIMERS) fired[firedCount] = argument;
  firedCount++;
}

/** Waits (hlt, interrupts on) until `ticks` more PIT ticks were counted; false after the TSC limit. */
function waitTicks(ticks: u32): bool {
  const start = clockTicks();
  const tscStart = rdtsc();
  const limit = clockTscPerTick() * WAIT_LIMIT_TICKS;
  while (clockTicks() - start < ticks) {
    if (rdtsc() - tscStart > limit) return false;
    hlt();
  }
  return true;
}

export function runPlatformSelfTests(): void {
  testArithmetic();
  testTimerQueueOrder();
  testTimerHandles();
  testClockMonotonic();
  testPitTicks();
  testTimerExpiry();
  testLostTicks();
  testSpuriousInterrupts();
  testExceptionHook();
}

function testArithmetic(): void {
  const before = failureCount();
  const product = new Nanoseconds();
  multiplyWide(product, 0xffffffff, 0xffffffff);
  check("wide-arithmetic", product.high === 0xfffffffe && product.low === 1, "0xffffffff^2");
  multiplyWide(product, 123456789, 1000000000);
  check("wide-arithmetic", product.high === 28744523 && product.low === 2775880192, "123456789e9");
  check("wide-arithmetic", divideWide(28744523, 2775880192, 1000000000) === 123456789, "123456789e9 / 1e9");
  finish("wide-arithmetic", before);
}

/** Deadlines in a scrambled order expire sorted; cancelled and stale handles behave. */
function testTimerQueueOrder(): void {
  const before = failureCount();
  clockRead(now);
  firedCount = 0;
  // Far in the future (an hour), so the PIT tick does not expire them during the test.
  for (let i: u32 = 0; i < ORDER_TIMERS; i++) {
    const order = (i * 7) % ORDER_TIMERS;                  // 7 is prime to 16: a permutation
    nanosecondsAddMilliseconds(deadline, now, 3600000 + order);
    handles[i] = timerStart(deadline, recordFiring, order);
    check("timer-queue", handles[i] !== 0, "no free timer");
  }
  check("timer-queue", timerQueueConsistent(), "queue not sorted after inserts");
  // Cancel order 3 (inserted as i = 5: 35 % 16 = 3).
  check("timer-queue", timerCancel(handles[5]), "cancel of a pending timer");
  check("timer-queue", !timerCancel(handles[5]), "second cancel of the same handle");
  check("timer-queue", timerPendingCount() === ORDER_TIMERS - 1, "pending count after cancel");
  nanosecondsAddMilliseconds(later, now, 3600000 + ORDER_TIMERS);
  check("timer-queue", timerExpire(later) === ORDER_TIMERS - 1, "expired count");
  let expected: u32 = 0;
  for (let i: u32 = 0; i < ORDER_TIMERS - 1; i++) {
    if (expected === 3) expected++;
    check("timer-queue", fired[i] === expected, "expiry out of order");
    expected++;
  }
  check("timer-queue", !timerCancel(handles[0]), "cancel of an expired timer");
  check("timer-queue", timerPendingCount() === 0 && timerQueueConsistent(), "queue not empty");
  // The pool grows (frames), and exhaustion is reported, not hidden.
  check("timer-queue", timerGrow(TEST_TIMER_SLOTS) && timerCapacity() === TEST_TIMER_SLOTS, "growth");
  check("timer-queue", timerQueueConsistent(), "queue inconsistent after growth");
  let started: u32 = 0;
  for (let i: u32 = 0; i < TEST_TIMER_SLOTS; i++) {
    handles[i] = timerStart(later, recordFiring, 0);
    if (handles[i] !== 0) started++;
  }
  check("timer-queue", started === TEST_TIMER_SLOTS && timerStart(later, recordFiring, 0) === 0, "pool exhaustion");
  check("timer-queue", timerQueueConsistent(), "queue inconsistent when full");
  for (let i: u32 = 0; i < TEST_TIMER_SLOTS; i++) timerCancel(handles[i]);
  check("timer-queue", timerPendingCount() === 0, "cancel all");
  finish("timer-queue", before);
}

/**
 * Start + cancel on one slot (the free stack hands the same slot back) past a full cycle of
 * generations: no handle is 0, each differs from the one before, and a cancelled handle is refused.
 */
function testTimerHandles(): void {
  const before = failureCount();
  clockRead(now);
  nanosecondsAddMilliseconds(later, now, 3600000);
  let zero = false, repeated = false, staleAccepted = false, liveRefused = false;
  let previous: u32 = 0;
  for (let i: u32 = 0; i < TIMER_GENERATIONS + 2; i++) {
    const handle = timerStart(later, recordFiring, 0);
    if (handle === 0) zero = true;
    if (handle === previous) repeated = true;
    if (previous !== 0 && timerCancel(previous)) staleAccepted = true;
    if (!timerCancel(handle)) liveRefused = true;
    if (timerCancel(handle)) staleAccepted = true;
    previous = handle;
  }
  check("timer-handles", !zero, "a handle was 0");
  check("timer-handles", !repeated, "a handle repeated at once");
  check("timer-handles", !staleAccepted, "a stale handle was accepted");
  check("timer-handles", !liveRefused, "a live handle was refused");
  check("timer-handles", !timerCancel(0), "handle 0 was accepted");
  check("timer-handles", timerPendingCount() === 0 && timerQueueConsistent(), "queue not empty");
  finish("timer-handles", before);
}

/** Thousands of readings never go backwards, across PIT ticks, and the clock moves. */
function testClockMonotonic(): void {
  const before = failureCount();
  clockRead(now);
  const first = new Nanoseconds();
  first.high = now.high;
  first.low = now.low;
  let backwards: u32 = 0;
  for (let i = 0; i < CLOCK_READS; i++) {
    clockRead(later);
    if (nanosecondsBefore(later, now)) backwards++;
    now.high = later.high;
    now.low = later.low;
  }
  // A busy host may hold the PIT interrupt back for the whole loop (the clock then stays within one
  // tick): keep reading, still checking monotonicity, until the clock moves or a generous bound.
  for (let i = 0; i < CLOCK_WAIT_READS && !nanosecondsBefore(first, now); i++) {
    clockRead(later);
    if (nanosecondsBefore(later, now)) backwards++;
    now.high = later.high;
    now.low = later.low;
  }
  check("clock-monotonic", backwards === 0, "a reading went backwards");
  check("clock-monotonic", nanosecondsBefore(first, now), "the clock did not move");
  finish("clock-monotonic", before);
}

/** The PIT ticks with interrupts on, IRQ 0 is counted, and ten ticks last ten tick periods. */
function testPitTicks(): void {
  const before = failureCount();
  check("pit-ticks", interruptsEnabled(), "interrupts are off");
  const irqBefore = irqCount(IRQ_TIMER);
  const lostBefore = clockLostTicks();
  clockRead(now);
  check("pit-ticks", waitTicks(WAIT_TICKS), "no PIT ticks");
  clockRead(later);
  // A busy host may hold the emulated CPU back past a tick: then the clock counts the lost tick from
  // the TSC (clock.ts), so each tick is an IRQ or a lost one.
  const lost = clockLostTicks() - lostBefore;
  const irqs = irqCount(IRQ_TIMER) - irqBefore;
  check("irq-counted", irqs > 0 && irqs + lost >= WAIT_TICKS, "IRQ 0 not counted");
  const elapsed = later.low - now.low;                    // < 4 s: the low halves suffice
  const low = (WAIT_TICKS - 1) * PIT_TICK_NANOSECONDS, high = (WAIT_TICKS + 2 + lost) * PIT_TICK_NANOSECONDS;
  check("pit-ticks", later.high - now.high <= 1 && elapsed >= low && elapsed <= high,
    "ten ticks are not ~10 ms of clock");
  check("pit-ticks", clockTscKiloHertz() > 0, "TSC not calibrated");
  finish("pit-ticks", before);
  finish("irq-counted", before);
}

/** A timer 3 ms ahead fires from the PIT tick, not before its deadline. */
function testTimerExpiry(): void {
  const before = failureCount();
  firedCount = 0;
  clockRead(now);
  nanosecondsAddMilliseconds(deadline, now, 3);
  check("timer-expiry", timerStart(deadline, recordFiring, 42) !== 0, "no free timer");
  const tscStart = rdtsc();
  while (firedCount === 0 && rdtsc() - tscStart < clockTscPerTick() * WAIT_LIMIT_TICKS) hlt();
  clockRead(later);
  check("timer-expiry", firedCount === 1 && fired[0] === 42, "the timer did not fire once");
  check("timer-expiry", !nanosecondsBefore(later, deadline), "fired before its deadline");
  finish("timer-expiry", before);
}

/**
 * Interrupts off for LOST_TICKS tick periods (by the TSC): the PIT's interrupts merge into one, yet the
 * clock advances by the whole time (the missed periods counted from the TSC) and a timer due 3 ms into
 * it fires at that one tick.
 */
function testLostTicks(): void {
  const before = failureCount();
  firedCount = 0;
  check("lost-ticks", waitTicks(1), "no PIT ticks");
  clockRead(now);
  const tscAtStart = rdtsc();
  nanosecondsAddMilliseconds(deadline, now, 3);
  check("lost-ticks", timerStart(deadline, recordFiring, 7) !== 0, "no free timer");
  const lostBefore = clockLostTicks();
  cli();
  const tscStart = rdtsc();
  while (rdtsc() - tscStart < clockTscPerTick() * LOST_TICKS) {}
  sti();
  check("lost-ticks", waitTicks(1), "no PIT tick after interrupts came back");
  clockRead(later);
  const tscTicks = (rdtsc() - tscAtStart) / clockTscPerTick();   // more than LOST_TICKS on a busy host
  const elapsed = later.low - now.low;                    // < 4 s: the low halves suffice
  const kept = later.high - now.high <= 1 && elapsed >= (LOST_TICKS - 1) * PIT_TICK_NANOSECONDS;
  check("lost-ticks", kept, "the clock lost the time");
  check("lost-ticks", elapsed <= (tscTicks + 2) * PIT_TICK_NANOSECONDS, "the clock ran ahead of the TSC");
  check("lost-ticks", clockLostTicks() - lostBefore >= LOST_TICKS - 2, "the lost ticks were not counted");
  check("lost-ticks", firedCount === 1 && fired[0] === 7, "the timer due meanwhile did not fire");
  finish("lost-ticks", before);
}

/**
 * A spurious IRQ 7 or 15 (the in-service bit clear) is counted apart, its line's count unchanged and
 * its handler not run: trapHandler is given a frame for vectors 39 and 47 with nothing in service.
 */
function testSpuriousInterrupts(): void {
  const before = failureCount();
  cli();
  const frame = new TrapFrame();
  check("spurious-irq", (picMasterInService() & 0x80) === 0, "IRQ 7 in service");
  const lineCount = irqCount(IRQ_MASTER_SPURIOUS), masterBefore = spuriousCount(IRQ_MASTER_SPURIOUS), slaveBefore = spuriousCount(IRQ_SLAVE_SPURIOUS);
  frame.vector = IRQ_BASE_VECTOR + IRQ_MASTER_SPURIOUS;
  trapHandler(addressOfFrame(frame));
  frame.vector = IRQ_BASE_VECTOR + IRQ_SLAVE_SPURIOUS;
  trapHandler(addressOfFrame(frame));
  sti();
  check("spurious-irq", spuriousCount(IRQ_MASTER_SPURIOUS) === masterBefore + 1 && spuriousCount(IRQ_SLAVE_SPURIOUS) === slaveBefore + 1, "not counted as spurious");
  check("spurious-irq", irqCount(IRQ_MASTER_SPURIOUS) === lineCount, "counted as a real IRQ 7");
  finish("spurious-irq", before);
}

function addressOfFrame(frame: TrapFrame): u32 { return addressOf(frame); }

function skipInvalidOpcode(frame: TrapFrame): bool {
  frame.eip = frame.eip + UD2_BYTES;
  return true;
}

/** A #UD resolved by a hook resumes after the ud2 (the round trip the bench times). */
function testExceptionHook(): void {
  const before = failureCount();
  exceptionHookSet(VECTOR_INVALID_OPCODE, skipInvalidOpcode);
  invalidOpcode();
  invalidOpcode();
  exceptionHookClear(VECTOR_INVALID_OPCODE);
  finish("exception-resume", before);
}

// ---- costs -----------------------------------------------------------------------------------------

function reportBench(name: string, value: u32): void {
  consoleWriteString("bench ");
  consoleWriteString(name);
  consoleWriteString(" ");
  consoleWriteDecimal(value);
  consoleNewLine();
}

/**
 * Interrupts are off while timing, so no PIT interrupt lands inside a measurement. Figures are per
 * operation, the loop's own cost (measured with an empty body) subtracted.
 */
export function runPlatformBenchmarks(): void {
  reportBench("tsc-khz", clockTscKiloHertz());
  reportBench("tsc-per-pit-tick", clockTscPerTick());
  cli();
  let start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) {}
  const loop = rdtsc() - start;

  exceptionHookSet(VECTOR_INVALID_OPCODE, skipInvalidOpcode);
  start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) invalidOpcode();
  const roundTrips = rdtsc() - start;
  exceptionHookClear(VECTOR_INVALID_OPCODE);
  reportBench("interrupt-round-trip", (roundTrips - loop) / BENCH_ITERATIONS);

  start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) clockRead(now);
  reportBench("clock-read", (rdtsc() - start - loop) / BENCH_ITERATIONS);

  nanosecondsAddMilliseconds(deadline, now, 3600000);
  start = rdtsc();
  for (let i: u32 = 0; i < BENCH_ITERATIONS; i++) timerCancel(timerStart(deadline, recordFiring, 0));
  reportBench("timer-start-cancel", (rdtsc() - start - loop) / BENCH_ITERATIONS);

  // The same with 1,000 and then 8,000 timers pending (an hour and more away, 1 ms apart), the new
  // deadline before all of them: the worst case of a sorted list (a walk of them all) and of the timing
  // wheel (timer.ts: a walk back past the later timers of its bucket, about pending / 1,024 of them; a
  // new alarm is usually the latest and walks none). The pool grows for them as it does for VMs.
  if (!timerGrow(BENCH_PENDING_TIMERS + TIMER_KERNEL_SLOTS)) panic("bench: no memory for the timer pool");
  for (let i: u32 = 0; i < BENCH_PENDING_TIMERS; i++) {
    nanosecondsAddMilliseconds(later, now, 3600001 + i);
    handles[i] = timerStart(later, recordFiring, 0);
    if (i + 1 === BENCH_PENDING_FEW || i + 1 === BENCH_PENDING_TIMERS) {
      start = rdtsc();
      for (let j: u32 = 0; j < BENCH_ITERATIONS; j++) timerCancel(timerStart(deadline, recordFiring, 0));
      const cost = (rdtsc() - start - loop) / BENCH_ITERATIONS;
      const few = i + 1 === BENCH_PENDING_FEW;
      reportBench(few ? "timer-start-cancel-pending-1000" : "timer-start-cancel-pending-8000", cost);
    }
  }
  for (let i: u32 = 0; i < BENCH_PENDING_TIMERS; i++) timerCancel(handles[i]);
  sti();
}
