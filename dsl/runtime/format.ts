// Number formatting shared by the DSL's runtimes (standalone programs, the kernel, the guests): each
// formatter takes the output device's byte writer.
import { i32, u8, u32 } from "dsl";

/** Where formatted bytes go: the serial port, the kernel console, a guest's line buffer, ... */
type ByteSink = (byte: u8) => void;

const ASCII_ZERO = 48;
const ASCII_A_MINUS_10 = 87;     // 'a' - 10: hexadecimal digits 10..15 print as a..f
const ASCII_MINUS = 45;

/**
 * The digits live in the frame, not in a static buffer: a sink may itself format numbers (the kernel
 * console drains its ring from inside a write, prefixing guest lines with `[vm N] `), and a shared
 * buffer would then be overwritten under the caller's feet.
 */
export function formatDecimal(sink: ByteSink, x: u32): void {
  const decimalDigits = new Uint8Array(10);  // a u32 has at most 10 decimal digits
  let count = 0;
  do {
    decimalDigits[count] = ASCII_ZERO + (x % 10);
    x = x / 10;
    count++;
  } while (x !== 0);
  while (count > 0) { count--; sink(decimalDigits[count]); }
}

export function formatSignedDecimal(sink: ByteSink, x: i32): void {
  if (x < 0) { sink(ASCII_MINUS); formatDecimal(sink, u32(0 - x)); }
  else formatDecimal(sink, u32(x));
}

/** Eight hexadecimal digits, lower case, no prefix. */
export function formatHex(sink: ByteSink, x: u32): void {
  for (let shift = 28; shift >= 0; shift -= 4) {
    const digit = (x >>> shift) & 15;
    sink(u8(digit < 10 ? ASCII_ZERO + digit : ASCII_A_MINUS_10 + digit));
  }
}

export function formatString(sink: ByteSink, s: string): void {
  for (let i = 0; i < s.length; i++) sink(u8(s.charCodeAt(i)));
}
