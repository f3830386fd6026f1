// The two cascaded 8259A programmable interrupt controllers of the PC: IRQ 0-7 on the master, 8-15 on
// the slave (wired to the master's line 2). Remapped to vectors 32-47, clear of the CPU exceptions
// (0-31, SDM Vol. 3A §6.3), with a mask bit per line managed here.
// Reference: Intel 8259A datasheet (order 231468): "Initialization Command Words" (ICW1-ICW4, Figure 6),
// "Operation Command Words" (OCW1-OCW3, Figure 8); spurious interrupts: "Interrupt Sequence" (if the
// request is gone at the first INTA, the 8259A answers with IR7, and no ISR bit is set).
import { bool, u8, u32, inb, outb } from "dsl";

// I/O ports (IBM PC/AT Technical Reference): command (A0 = 0) and data (A0 = 1) of each chip.
const MASTER_COMMAND = 0x20;
const MASTER_DATA = 0x21;
const SLAVE_COMMAND = 0xa0;
const SLAVE_DATA = 0xa1;

export const IRQ_BASE_VECTOR = 32;
export const IRQ_LINES = 16;
export const IRQ_TIMER = 0;            // PIT channel 0
const IRQ_CASCADE = 2;          // the slave's INT output on the master
export const IRQ_COM1 = 4;
export const IRQ_MASTER_SPURIOUS = 7;  // the lowest-priority line of each chip is where spurious requests land
export const IRQ_SLAVE_SPURIOUS = 15;

// ICW1 (A0 = 0, D4 = 1): D0 IC4 (ICW4 needed), D1 SNGL = 0 (cascade), D3 LTIM = 0 (edge triggered).
const ICW1_INIT = 0x10;
const ICW1_ICW4_NEEDED = 0x01;
// ICW3: master - bit mask of the lines with a slave; slave - its cascade identity (the master's line).
const ICW3_MASTER_HAS_SLAVE_ON_2 = 1 << IRQ_CASCADE;
const ICW3_SLAVE_IDENTITY = IRQ_CASCADE;
// ICW4: D0 uPM = 1 (8086 mode), AEOI = 0 (the kernel sends EOIs), no buffered mode, not fully nested.
const ICW4_8086_MODE = 0x01;
// OCW2: non-specific end of interrupt (R = 0, SL = 0, EOI = 1).
const OCW2_END_OF_INTERRUPT = 0x20;
// OCW3 (D3 = 1): RR = 1, RIS = 1 -> the next command-port read returns the in-service register.
const OCW3_READ_IN_SERVICE = 0x0b;

const ALL_MASKED = 0xff;

// Invariant: the masks written to the chips (OCW1); a set bit masks its line.
let masterMask: u32 = ALL_MASKED;
let slaveMask: u32 = ALL_MASKED;

/**
 * ICW1..ICW4 on both chips: vectors 32-39 (master) and 40-47 (slave), every line masked except the
 * cascade line (a slave line needs both its own bit and line 2 of the master clear).
 */
export function picInit(): void {
  outb(MASTER_DATA, ALL_MASKED);
  outb(SLAVE_DATA, ALL_MASKED);
  outb(MASTER_COMMAND, ICW1_INIT | ICW1_ICW4_NEEDED);
  outb(SLAVE_COMMAND, ICW1_INIT | ICW1_ICW4_NEEDED);
  outb(MASTER_DATA, IRQ_BASE_VECTOR);             // ICW2: T7-T3 of the vector (8-aligned base)
  outb(SLAVE_DATA, IRQ_BASE_VECTOR + 8);
  outb(MASTER_DATA, ICW3_MASTER_HAS_SLAVE_ON_2);
  outb(SLAVE_DATA, ICW3_SLAVE_IDENTITY);
  outb(MASTER_DATA, ICW4_8086_MODE);
  outb(SLAVE_DATA, ICW4_8086_MODE);
  masterMask = ALL_MASKED & ~(1 << IRQ_CASCADE);
  slaveMask = ALL_MASKED;
  writeMasks();
}

function writeMasks(): void {
  outb(MASTER_DATA, u8(masterMask));              // OCW1
  outb(SLAVE_DATA, u8(slaveMask));
}

export function picUnmask(line: u32): void {
  if (line < 8) masterMask &= ~(1 << line);
  else slaveMask &= ~(1 << (line - 8));
  writeMasks();
}

export function picIsMasked(line: u32): bool {
  return line < 8 ? (masterMask & (1 << line)) !== 0 : (slaveMask & (1 << (line - 8))) !== 0;
}

function inService(commandPort: u32): u32 {
  outb(commandPort, OCW3_READ_IN_SERVICE);
  return inb(commandPort);
}

/**
 * True when the interrupt on line 7 or 15 is spurious: its in-service bit is clear (the request went
 * away before the acknowledge cycle, and the chip answered with its lowest-priority vector).
 */
export function picIsSpurious(line: u32): bool {
  if (line === IRQ_MASTER_SPURIOUS) return (inService(MASTER_COMMAND) & 0x80) === 0;
  if (line === IRQ_SLAVE_SPURIOUS) return (inService(SLAVE_COMMAND) & 0x80) === 0;
  return false;
}

/** The master's in-service register (self-tests). */
export function picMasterInService(): u32 { return inService(MASTER_COMMAND); }

/** End of a real interrupt: the slave's lines need an EOI on both chips, slave first. */
export function picEndOfInterrupt(line: u32): void {
  if (line >= 8) outb(SLAVE_COMMAND, OCW2_END_OF_INTERRUPT);
  outb(MASTER_COMMAND, OCW2_END_OF_INTERRUPT);
}

/**
 * After a spurious interrupt: none for a spurious 7 (no ISR bit is set on the master; an EOI would end
 * another line's service); for a spurious 15 the slave set nothing but the master did set line 2.
 */
export function picEndOfSpuriousInterrupt(line: u32): void {
  if (line === IRQ_SLAVE_SPURIOUS) outb(MASTER_COMMAND, OCW2_END_OF_INTERRUPT);
}
