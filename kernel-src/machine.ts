// Leaving the machine: QEMU's isa-debug-exit device, or halting the CPU where that device is absent.
// Invariant: exitMachine never returns. On real hardware and in Bochs the port write does nothing
// (an unclaimed ISA port ignores writes), so the CPU halts with interrupts off and stays there.
import { u8, outb, cli, hlt } from "dsl";
import { consoleFlush } from "./console.ts";

// QEMU isa-debug-exit (hw/misc/debugexit.c), configured by the test harness as
// `-device isa-debug-exit,iobase=0xf4,iosize=4`: writing v exits QEMU with status (v << 1) | 1.
const DEBUG_EXIT_PORT = 0xf4;

/** Exit statuses written to the debug-exit port (QEMU reports (status << 1) | 1). */
export const EXIT_SUCCESS = 0x00;
export const EXIT_PANIC = 0x31;
export const EXIT_TRAP = 0x32;
/**
 * A CPU exception the kernel cannot resolve exits with EXIT_EXCEPTION_BASE + vector (exceptions.ts):
 * #DE 0x40, #UD 0x46, #DF 0x48, #GP 0x4d, #PF 0x4e (QEMU's status: 0x81, 0x8d, 0x91, 0x9b, 0x9d).
 */
export const EXIT_EXCEPTION_BASE = 0x40;

/** Stops the CPU for good: cli, then hlt in a loop (an NMI or SMI can wake hlt; we halt again). */
export function haltForever(): void {
  cli();
  while (true) hlt();
}

/** Writes out the console's queued output, then exits QEMU with `status`; elsewhere, halts. */
export function exitMachine(status: u8): void {
  consoleFlush();
  outb(DEBUG_EXIT_PORT, status);
  haltForever();
}
