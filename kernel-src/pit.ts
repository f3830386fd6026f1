// The 8254 programmable interval timer: channel 0 drives IRQ 0 at PIT_RATE_HZ (the kernel's tick,
// clock.ts); channel 2, whose gate and output the PC wires to port 0x61, times one interval by
// polling, without interrupts (TSC calibration).
// Reference: Intel 8254 datasheet (order 231164): "Control Word Format" (Figure 8), "Mode 0: Interrupt
// on Terminal Count", "Mode 2: Rate Generator", "Read/Write Operations"; IBM PC/AT Technical
// Reference, "System Timers" and "Port B" (0x61: bit 0 timer 2 gate, bit 1 speaker data, bit 5 OUT2).
import { bool, u8, u32, inb, outb } from "dsl";

/** The input clock of every channel: 14.31818 MHz / 12 (IBM PC/AT Technical Reference). */
export const PIT_INPUT_HZ = 1193182;
/** The tick rate: 1000 Hz nominal. */
const PIT_RATE_HZ = 1000;
/** Channel 0's divisor: round(1193182 / 1000) = 1193, so the real rate is 1000.152 Hz. */
export const PIT_TICK_DIVISOR = 1193;
/** One tick: 1193 / 1193182 Hz = 999847.1 ns (the clock counts this, not a nominal 1 ms). */
export const PIT_TICK_NANOSECONDS = 999847;

const CHANNEL_0_DATA = 0x40;
const CHANNEL_2_DATA = 0x42;
const MODE_COMMAND = 0x43;
const PORT_B = 0x61;

// Control word (Figure 8): SC1-SC0 channel (bits 7-6), RW1-RW0 access (bits 5-4), M2-M0 mode (bits 3-1), BCD (bit 0).
const SELECT_CHANNEL_0 = 0x00;
const SELECT_CHANNEL_2 = 0x80;
const ACCESS_LOW_THEN_HIGH = 0x30;
const MODE_0_TERMINAL_COUNT = 0x00;
const MODE_2_RATE_GENERATOR = 0x04;
const BINARY_COUNT = 0x00;

// Port B bits.
const PORT_B_TIMER_2_GATE = 0x01;
const PORT_B_SPEAKER_DATA = 0x02;
const PORT_B_TIMER_2_OUTPUT = 0x20;

/** Channel 0 as a rate generator: one IRQ 0 every PIT_TICK_DIVISOR input clocks. */
export function pitStartTicks(): void {
  outb(MODE_COMMAND, SELECT_CHANNEL_0 | ACCESS_LOW_THEN_HIGH | MODE_2_RATE_GENERATOR | BINARY_COUNT);
  outb(CHANNEL_0_DATA, u8(PIT_TICK_DIVISOR & 0xff));
  outb(CHANNEL_0_DATA, u8(PIT_TICK_DIVISOR >> 8));
}

/**
 * Arms channel 2 for one interval of `count` input clocks (mode 0: OUT2 goes low when the count is
 * written and high at terminal count), speaker off. Then pitIntervalDone() polls for the end.
 */
export function pitStartInterval(count: u32): void {
  outb(PORT_B, u8((inb(PORT_B) & ~PORT_B_SPEAKER_DATA) | PORT_B_TIMER_2_GATE));
  outb(MODE_COMMAND, SELECT_CHANNEL_2 | ACCESS_LOW_THEN_HIGH | MODE_0_TERMINAL_COUNT | BINARY_COUNT);
  outb(CHANNEL_2_DATA, u8(count & 0xff));
  outb(CHANNEL_2_DATA, u8(count >> 8));
}

export function pitIntervalDone(): bool {
  return (inb(PORT_B) & PORT_B_TIMER_2_OUTPUT) !== 0;
}

/** Closes channel 2's gate again. */
export function pitStopInterval(): void {
  outb(PORT_B, u8(inb(PORT_B) & ~PORT_B_TIMER_2_GATE));
}
