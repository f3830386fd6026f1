// Virtual interrupts (docs/virtual-architecture.md, "Virtual interrupts"): pending events are bits of a
// per-VM mask, delivered in one batch as idle's result. `waitForEvents(wanted)` idles until one of the
// wanted bits is pending, acknowledges the whole batch and returns it: the caller handles every bit it
// got (a WAKEUP is only a hint to re-read the clock; NET means "call netReceive until it returns 0").
import { u32, panic, addressOf } from "dsl";
import { idle, interruptAcknowledge, interruptMask, readClock } from "./hypercalls.ts";
import { INTERRUPT_ALL } from "../../abi/hypercalls.ts";

/** Enables every virtual interrupt (the kernel's initial mask may be anything). */
export function enableInterrupts(): void {
  if (interruptMask(INTERRUPT_ALL) < 0) panic("interruptMask failed");
}

/** Idles until an event in `wanted` is pending; acknowledges and returns every pending bit. */
export function waitForEvents(wanted: u32): u32 {
  while (true) {
    const pending = idle();
    if (pending < 0) panic("idle failed");
    if (pending !== 0) interruptAcknowledge(u32(pending));
    if ((u32(pending) & wanted) !== 0) return u32(pending);
  }
}

const clockBuffer = new Uint32Array(2);

/** The global clock in nanoseconds, low 32 bits (wraps every 4.3 s; differences stay correct). */
export function clockLow(): u32 {
  if (readClock(addressOf(clockBuffer)) < 0) panic("readClock failed");
  return clockBuffer[0];
}

/** The global clock in microseconds (u64 nanoseconds / 1000, truncated to 32 bits: wraps after 71 minutes). */
export function clockMicroseconds(): u32 {
  if (readClock(addressOf(clockBuffer)) < 0) panic("readClock failed");
  // (high * 2^32 + low) / 1000 in 32-bit pieces: 2^32 = 4294967 * 1000 + 296.
  const high = clockBuffer[1], low = clockBuffer[0];
  const lowPart = low / 1000, lowRest = low % 1000;
  const carry = (high * 296 + lowRest) / 1000;
  return high * 4294967 + lowPart + carry;
}
