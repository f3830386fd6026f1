// The runtime of standalone programs (`denali run --target interp|qemu`), written in the DSL.
// The compiler lowers print/write/panic/exit and traps to calls of these exports.
// Output goes to COM1; the host side (tools/cli.ts) reads it back:
//   a line starting with \x02 goes to stderr, a line "\x01EXIT n" ends the program with status n.
import { i32, u32, u8, inb, outb, hlt, cli } from "dsl";
import { formatDecimal, formatSignedDecimal, formatHex, formatString } from "./format.ts";

const COM1 = 0x3f8;
const LINE_STATUS = 5;            // 16550 UART line status register (COM1 + 5)
const TRANSMIT_EMPTY = 0x20;      // LSR bit 5: transmit holding register empty
const DEBUG_EXIT_PORT = 0xf4;     // QEMU isa-debug-exit: writing v exits with status (v << 1) | 1

function serialWrite(byte: u8): void {
  // Poll the line status register before each byte (Bochs drops bytes otherwise).
  while ((inb(COM1 + LINE_STATUS) & TRANSMIT_EMPTY) === 0) {}
  outb(COM1, byte);
}

export function programStart(): void {
  outb(COM1 + 1, 0x00);  // no interrupts
  outb(COM1 + 3, 0x80);  // DLAB on
  outb(COM1 + 0, 0x01);  // divisor 1: 115200 baud
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);  // 8 bits, no parity, one stop bit
  outb(COM1 + 2, 0xc7);  // FIFO on, cleared, 14-byte threshold
  outb(COM1 + 4, 0x03);  // DTR, RTS
}

export function writeString(s: string): void { formatString(serialWrite, s); }
export function writeU32(x: u32): void { formatDecimal(serialWrite, x); }
export function writeI32(x: i32): void { formatSignedDecimal(serialWrite, x); }
export function writeHex(x: u32): void { formatHex(serialWrite, x); }

export function printI32(x: i32): void { writeI32(x); serialWrite(10); }
export function printU32(x: u32): void { writeU32(x); serialWrite(10); }
export function printString(s: string): void { writeString(s); serialWrite(10); }

export function programExit(status: i32): void {
  serialWrite(1);
  writeString("EXIT ");
  writeI32(status & 255);
  serialWrite(10);
  outb(DEBUG_EXIT_PORT, u8(status & 0x7f));
  cli();
  while (true) hlt();
}

export function exit(status: i32): void { programExit(status); }

export function panicAt(message: string, func: string): void {
  serialWrite(2);
  writeString("panic: ");
  writeString(message);
  writeString(" (in ");
  writeString(func);
  writeString(")\n");
  programExit(101);
}

export function trap(kind: i32): void {
  serialWrite(2);
  writeString("trap: ");
  if (kind === 1) writeString("integer division by zero");
  else if (kind === 2) writeString("index out of bounds");
  else if (kind === 3) writeString("stack overflow");     // TRAP_STACK_OVERFLOW: the guard page (compiler/x86/guard.ts)
  else if (kind === 4) writeString("machine fault");      // TRAP_MACHINE_FAULT: any other CPU exception
  else writeString("unreachable code reached");
  serialWrite(10);
  programExit(101);
}
