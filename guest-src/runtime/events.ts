// Virtual interrupts (docs/virtual-architecture.md, "Virtual interrupts"): pending events are bits of a
// per-VM mask, delivered in one batch as idle's result. `waitForEvents(wanted)` idles until one of the
// wanted bits is pending, acknowledges the whole batch and returns it: the caller handles every bit it
// got (a WAKEUP is only a hint to re-read the clock; NET means "call netReceive until it returns 0").
// idle acknowledges the batch and writes the clock as it delivers it: a wake-up is one hypercall.
import { u32, bool, panic, addressOf } from "dsl";
import { idle, interruptMask, readClock } from "./hypercalls.ts";
import { INTERRUPT_ALL, INTERRUPT_LAZY_ACKS } from "../../abi/hypercalls.ts";

/** Whether the mask set last asks for INTERRUPT_LAZY_ACKS. */
let lazyAcks = false;

/** Enables every virtual interrupt (the kernel's initial mask may be anything). */
export function enableInterrupts(): void {
  let mask = INTERRUPT_ALL;
  if (lazyAcks) mask = mask | INTERRUPT_LAZY_ACKS;
  if (interruptMask(mask) < 0) panic("interruptMask failed");
}

/**
 * Every virtual interrupt enabled, and bare TCP ACKs held by the kernel without waking the VM (`on`) or not
 * (INTERRUPT_LAZY_ACKS): a hypercall only when it changes.
 */
export function setLazyAcks(on: bool): void {
  if (on === lazyAcks) return;
  lazyAcks = on;
  enableInterrupts();
}

/** The clock idle writes as it delivers a batch; its high word CLOCK_UNSET until it does. */
const wakeClock = new Uint32Array(2);
/** No clock: 2^32 * 2^32 ns is 584 years after boot. */
const CLOCK_UNSET: u32 = 0xffffffff;

/**
 * Idles until an event in `wanted` is pending; returns every pending bit, each acknowledged as idle
 * delivered it (no hypercall for that, nor for the clock: see clockMicrosecondsAtWake).
 */
export function waitForEvents(wanted: u32): u32 {
  while (true) {
    wakeClock[1] = CLOCK_UNSET;
    const pending = idle(INTERRUPT_ALL, addressOf(wakeClock));
    if (pending < 0) panic("idle failed");
    if ((u32(pending) & wanted) !== 0) return u32(pending);
  }
}

const clockBuffer = new Uint32Array(2);

/** The global clock in nanoseconds, low 32 bits (wraps every 4.3 s; differences stay correct). */
export function clockLow(): u32 {
  if (readClock(addressOf(clockBuffer)) < 0) panic("readClock failed");
  return clockBuffer[0];
}

/**
 * The clock microseconds() converted last, u64 nanoseconds (high, low): the libos keeps it beside the
 * microseconds and converts it to milliseconds (clockMilliseconds) only when TCP's timestamps ask.
 */
export let lastClockHigh: u32 = 0;
export let lastClockLow: u32 = 0;

/**
 * u64 nanoseconds (high * 2^32 + low) / 10^6, truncated to 32 bits (wraps after 49.7 days): the libos TCP's
 * timestamp clock (RFC 7323 §5.4). By long division in 16-bit digits.
 */
export function clockMilliseconds(high: u32, low: u32): u32 {
  // 10^6 = 2^6 * 15625: shift the 64-bit value right by 6, then divide by 15625 (high / 15625 only feeds bits
  // above 2^32 of the quotient, which are dropped; its remainder (< 2^14) carries into each 16-bit digit).
  const shiftedHigh = high >>> 6;
  const shiftedLow = u32((low >>> 6) | (high << 26));
  const upper = (shiftedHigh % 15625) * 65536 + (shiftedLow >>> 16);
  const lower = (upper % 15625) * 65536 + (shiftedLow & 0xffff);
  return u32((upper / 15625) * 65536 + lower / 15625);
}

/** u64 nanoseconds (high * 2^32 + low) / 1000, truncated to 32 bits: wraps after 71 minutes. */
function microseconds(high: u32, low: u32): u32 {
  lastClockHigh = high;
  lastClockLow = low;
  // In 32-bit pieces: 2^32 = 4294967 * 1000 + 296.
  const lowPart = low / 1000, lowRest = low % 1000;
  const carry = (high * 296 + lowRest) / 1000;
  return high * 4294967 + lowPart + carry;
}

/** The global clock in microseconds (u64 nanoseconds / 1000, truncated to 32 bits: wraps after 71 minutes). */
export function clockMicroseconds(): u32 {
  if (readClock(addressOf(clockBuffer)) < 0) panic("readClock failed");
  return microseconds(clockBuffer[1], clockBuffer[0]);
}

/**
 * Right after waitForEvents: the clock, in microseconds, when idle delivered the batch (what it wrote,
 * taken once), or else now, with readClock (its page was on the swap disk, or no idle since the last).
 */
export function clockMicrosecondsAtWake(): u32 {
  const high = wakeClock[1];
  if (high === CLOCK_UNSET) return clockMicroseconds();
  wakeClock[1] = CLOCK_UNSET;
  return microseconds(high, wakeClock[0]);
}
