// The global monotonic clock, in nanoseconds since clockInit, as a 64-bit value (two u32 halves).
// Coarse part: PIT ticks (pit.ts), counted by the IRQ 0 handler, each PIT_TICK_NANOSECONDS long.
// Fine part: the time-stamp counter since the last tick, converted with the TSC rate calibrated
// against PIT channel 2, and capped just below one tick.
// Lost ticks: when interrupts were off for longer than a tick period the PIT's interrupts merge into
// one, so each tick counts the whole tick periods the TSC says passed since the previous one (at least
// one): the count follows the PIT's and the clock loses no time; the timers due in the missed periods
// expire at that tick (timer.ts). Limit: the TSC's low half must not wrap between two ticks (over 1 s
// of interrupts off at 4 GHz).
// Invariant (monotonic): a reading is ticks * TICK + fine with 0 <= fine < TICK, and ticks only grow,
// so no reading is smaller than an earlier one, even when a tick is late or interrupts were off.
// After the timers, each tick writes out a bounded share of the console's queued output (console.ts).
// Reference: Intel SDM Vol. 3B §18.17 "Time-Stamp Counter"; pit.ts for the PIT.
import { bool, u32, rdtsc, pause, mulHigh, store32 } from "dsl";
import {
  PIT_INPUT_HZ, PIT_TICK_DIVISOR, PIT_TICK_NANOSECONDS, pitStartTicks, pitStartInterval, pitIntervalDone,
  pitStopInterval,
} from "./pit.ts";
import { IRQ_TIMER } from "./pic.ts";
import { nicPoll, nicFlush } from "./nic.ts";
import { diskPollCompleted } from "./disk.ts";
import { irqRegister, interruptsDisable, interruptsRestore } from "./trap.ts";
import { consoleTick } from "./console.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_TIMER } from "./profile.ts";

/** A 64-bit count of nanoseconds. */
export class Nanoseconds {
  high: u32 = 0;
  low: u32 = 0;
}

/** The calibration interval: 10 ticks of channel 0 (11930 input clocks, 9.998 ms). */
const CALIBRATION_TICKS = 10;
const NANOSECONDS_PER_MILLISECOND = 1000000;

let ticksLow: u32 = 0;
let ticksHigh: u32 = 0;
let tscAtTick: u32 = 0;                   // low half of the TSC when the last tick was counted
let tscPerTick: u32 = 0;                  // TSC increments per PIT tick (calibrated)
let tscKiloHertz: u32 = 0;                // the TSC rate, for reports
let lostTotal: u32 = 0;                   // tick periods counted from the TSC, their interrupts lost
// Fine part = (elapsed TSC * fineMultiplier) >> fineShift, exact to a fraction of a nanosecond per tick.
let fineMultiplier: u32 = 0;
let fineShift: u32 = 0;

/** Called on every tick after the count is updated (timer.ts expires its due timers there). */
type TickHook = () => void;
function noTickHook(): void {}
let tickHook: TickHook = noTickHook;

// ---- 64-bit arithmetic on u32 halves --------------------------------------------------------------
const wideProduct = new Nanoseconds();    // scratch result of multiplyWide (interrupts off or single user)

/** out = a * b, the full 64-bit product (Math.imul the low half, mulHigh the high: one `mul` each). */
export function multiplyWide(out: Nanoseconds, a: u32, b: u32): void {
  out.low = u32(Math.imul(a, b));
  out.high = mulHigh(a, b);
}

/** (high:low) / divisor, by long division; requires high < divisor (the quotient fits 32 bits). */
export function divideWide(high: u32, low: u32, divisor: u32): u32 {
  let remainder = high;
  let quotient: u32 = 0;
  for (let bit = 31; bit >= 0; bit--) {
    const carry = remainder >>> 31;
    remainder = u32((remainder << 1) | ((low >>> bit) & 1));
    quotient = u32(quotient << 1);
    if (carry !== 0 || remainder >= divisor) {
      remainder = remainder - divisor;
      quotient = quotient | 1;
    }
  }
  return quotient;
}

/** The 64-bit value `value` shifted right by `shift` (0..32), low half. */
function shiftRightWide(value: Nanoseconds, shift: u32): u32 {
  if (shift === 0) return value.low;
  if (shift === 32) return value.high;
  return u32((value.low >>> shift) | (value.high << (32 - shift)));
}

// ---- calibration ----------------------------------------------------------------------------------

/** TSC increments over CALIBRATION_TICKS PIT tick periods, timed on channel 2 by polling. */
function measureTscPerTick(): u32 {
  pitStartInterval(CALIBRATION_TICKS * PIT_TICK_DIVISOR);
  const start = rdtsc();
  while (!pitIntervalDone()) pause();
  const elapsed = rdtsc() - start;
  pitStopInterval();
  return elapsed / CALIBRATION_TICKS;
}

/**
 * Chooses fineShift <= 32 as large as possible with fineMultiplier = TICK * 2^shift / tscPerTick
 * below 2^32; then elapsed * fineMultiplier < TICK * 2^shift fits 64 bits for elapsed < tscPerTick.
 */
function computeFineConversion(): void {
  let shift: u32 = 32;
  while (shift > 0 && (PIT_TICK_NANOSECONDS >>> (32 - shift)) >= tscPerTick) shift--;
  const high = shift === 0 ? 0 : PIT_TICK_NANOSECONDS >>> (32 - shift);
  const low = shift === 32 ? 0 : u32(PIT_TICK_NANOSECONDS << shift);
  fineShift = shift;
  fineMultiplier = divideWide(high, low, tscPerTick);
}

/** Calibrates the TSC, starts the PIT ticking and takes IRQ 0. Interrupts must still be disabled. */
export function clockInit(): void {
  tscPerTick = measureTscPerTick();
  if (tscPerTick === 0) tscPerTick = 1;    // a machine without a usable TSC: ticks alone
  // kHz = tscPerTick * PIT_INPUT_HZ / (PIT_TICK_DIVISOR * 1000)
  multiplyWide(wideProduct, tscPerTick, PIT_INPUT_HZ);
  tscKiloHertz = divideWide(wideProduct.high, wideProduct.low, PIT_TICK_DIVISOR * 1000);
  computeFineConversion();
  ticksLow = 0;
  ticksHigh = 0;
  tscAtTick = rdtsc();
  irqRegister(IRQ_TIMER, profileOn() ? profiledClockTick : clockTick);
  pitStartTicks();
}

export function clockSetTickHook(hook: TickHook): void { tickHook = hook; }

/** IRQ 0 (interrupts disabled): counts this tick and any the TSC says were lost before it. */
function clockTick(line: u32): void {
  const now = rdtsc();
  // A margin of 1/64 period keeps a late tick followed by a prompt one from counting a period twice.
  const elapsed = now - tscAtTick, margin = tscPerTick >>> 6;
  let periods = (elapsed > margin ? elapsed - margin : 0) / tscPerTick;
  if (periods === 0) periods = 1;
  if (periods > 1) lostTotal += periods - 1;
  tscAtTick = now;
  const low = ticksLow + periods;
  if (low < ticksLow) ticksHigh++;
  ticksLow = low;
  tickHook();
  nicFlush();                      // frames sent wait at most a tick for their doorbell (nic.ts)
  nicPoll();                       // a card's frames and a disk's completions wait at most a tick while
  diskPollCompleted();             // their interrupts are off (nic.ts, disk.ts)
  consoleTick();
}

/** clockTick in the profile's PROFILE_TIMER (profile.ts): IRQ 0's handler when the kernel profiles. */
function profiledClockTick(line: u32): void {
  const previous = profileEnter(PROFILE_TIMER);
  clockTick(line);
  profileLeave(previous);
}

// ---- reading --------------------------------------------------------------------------------------

/** The time since clockInit in nanoseconds, into `out`. Callable with interrupts on or off. */
export function clockRead(out: Nanoseconds): void {
  const flags = interruptsDisable();
  const elapsed = rdtsc() - tscAtTick;
  const low = ticksLow, high = ticksHigh;
  interruptsRestore(flags);
  let fine: u32 = PIT_TICK_NANOSECONDS - 1;
  if (elapsed < tscPerTick) {
    multiplyWide(out, elapsed, fineMultiplier);
    fine = shiftRightWide(out, fineShift);
    if (fine >= PIT_TICK_NANOSECONDS) fine = PIT_TICK_NANOSECONDS - 1;
  }
  // ticks * TICK = (high * 2^32 + low) * TICK; only the low 64 bits are kept.
  multiplyWide(out, low, PIT_TICK_NANOSECONDS);
  out.high = out.high + u32(Math.imul(high, PIT_TICK_NANOSECONDS));
  const sum = out.low + fine;
  if (sum < out.low) out.high++;
  out.low = sum;
}

const stored = new Nanoseconds();

/**
 * Writes the time (u64 nanoseconds, little-endian) to the 8 bytes at `address`, which the caller has
 * checked are mapped and writable in the current address space (readClock, idle's delivery).
 */
export function clockStore(address: u32): void {
  clockRead(stored);
  store32(address, stored.low);
  store32(address + 4, stored.high);
}

/** a < b as 64-bit values. */
export function nanosecondsBefore(a: Nanoseconds, b: Nanoseconds): bool {
  return a.high < b.high || (a.high === b.high && a.low < b.low);
}

/** out = a + milliseconds. */
export function nanosecondsAddMilliseconds(out: Nanoseconds, a: Nanoseconds, milliseconds: u32): void {
  multiplyWide(out, milliseconds, NANOSECONDS_PER_MILLISECOND);
  const low = a.low + out.low;
  out.high = a.high + out.high + (low < a.low ? 1 : 0);
  out.low = low;
}

/** Whole milliseconds of a 64-bit nanosecond count (for reports; exact below 49 days). */
export function nanosecondsToMilliseconds(a: Nanoseconds): u32 {
  if (a.high >= NANOSECONDS_PER_MILLISECOND) return 0xffffffff;
  return divideWide(a.high, a.low, NANOSECONDS_PER_MILLISECOND);
}

export function clockTicks(): u32 { return ticksLow; }
/** Tick periods whose interrupt was lost (interrupts off too long), counted from the TSC. */
export function clockLostTicks(): u32 { return lostTotal; }
export function clockTscKiloHertz(): u32 { return tscKiloHertz; }
export function clockTscPerTick(): u32 { return tscPerTick; }
