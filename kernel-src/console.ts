// The kernel console: every message goes to COM1 (for the test harness and headless machines) and to
// the VGA text screen (for a PC without a serial port). Everyone prints through these functions.
import { i32, u8, u32, load8 } from "dsl";
import { serialInit, serialWriteByte } from "./serial.ts";
import { vgaInit, vgaWriteByte } from "./vga.ts";
import { formatString, formatDecimal, formatSignedDecimal, formatHex } from "../dsl/runtime/format.ts";

const NEWLINE = 10;

/** Must run before any other console function. */
export function consoleInit(): void {
  serialInit();
  vgaInit();
}

export function consoleWriteByte(byte: u8): void {
  serialWriteByte(byte);
  vgaWriteByte(byte);
}

export function consoleWriteString(s: string): void { formatString(consoleWriteByte, s); }
export function consoleWriteDecimal(x: u32): void { formatDecimal(consoleWriteByte, x); }
export function consoleWriteSignedDecimal(x: i32): void { formatSignedDecimal(consoleWriteByte, x); }
/** Eight hexadecimal digits, lower case, no prefix. */
export function consoleWriteHex(x: u32): void { formatHex(consoleWriteByte, x); }
export function consoleNewLine(): void { consoleWriteByte(NEWLINE); }

/** A 64-bit value given as two halves, as "0x" and 16 hexadecimal digits. */
export function consoleWriteHex64(high: u32, low: u32): void {
  consoleWriteString("0x");
  consoleWriteHex(high);
  consoleWriteHex(low);
}

/** Writes the NUL-terminated string at a physical address (at most `limit` bytes). */
export function consoleWriteCString(address: u32, limit: u32): void {
  for (let i: u32 = 0; i < limit; i++) {
    const byte = load8(address + i);
    if (byte === 0) break;
    consoleWriteByte(u8(byte));
  }
}
