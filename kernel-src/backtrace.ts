// Symbolized backtraces: code addresses named "function+0xoffset" from the symbol table the linker
// embeds (compiler/link symbolTable(): u32 count, then count x {u32 address, u32 size, u32 name}
// sorted by address; a name is a string whose u32 length precedes its bytes), and the walk of the
// frame-pointer chain every compiled function keeps: [ebp] = the caller's ebp, [ebp + 4] = the return
// address; _start sets ebp = 0, which ends the chain (docs/calling-convention.md).
import { i32, u8, u32, load32, linkerAddress, stringAt } from "dsl";
import { consoleWriteByte, consoleWriteString, consoleWriteHex, consoleNewLine } from "./console.ts";

const SYMBOL_ENTRY_BYTES = 12;
/** Frames printed at most: a runaway recursion (stack overflow) has thousands. */
export const BACKTRACE_MAX_FRAMES = 16;
const FRAME_ALIGNMENT_MASK = 3;

/** The index of the function containing `address`, or -1 (binary search over the sorted table). */
function symbolIndex(address: u32): i32 {
  const table = linkerAddress("symbolTable");
  let low: u32 = 0;
  let high = load32(table);
  while (low < high) {
    const middle = (low + high) >>> 1;
    const entry = table + 4 + SYMBOL_ENTRY_BYTES * middle;
    const start = load32(entry);
    if (address < start) high = middle;
    else if (address - start >= load32(entry + 4)) low = middle + 1;
    else return i32(middle);
  }
  return -1;
}

function symbolEntry(index: i32): u32 { return linkerAddress("symbolTable") + 4 + SYMBOL_ENTRY_BYTES * u32(index); }

/** The name of the function containing `address`, or "?". */
export function symbolName(address: u32): string {
  const index = symbolIndex(address);
  return index < 0 ? "?" : stringAt(load32(symbolEntry(index) + 8));
}

/** The start address of the function containing `address`, or 0. */
export function symbolStart(address: u32): u32 {
  const index = symbolIndex(address);
  return index < 0 ? 0 : load32(symbolEntry(index));
}

/**
 * "0xADDRESS name+0xoffset". `lookup` is the address to look up: for a return address, the one before
 * it (a call that ends a function returns to the next function's first byte).
 */
function writeCodeAddress(address: u32, lookup: u32): void {
  consoleWriteString("  0x");
  consoleWriteHex(address);
  consoleWriteString(" ");
  const index = symbolIndex(lookup);
  if (index < 0) { consoleWriteString("?"); consoleNewLine(); return; }
  consoleWriteString(stringAt(load32(symbolEntry(index) + 8)));
  consoleWriteString("+0x");
  writeShortHex(address - load32(symbolEntry(index)));
  consoleNewLine();
}

/** Hexadecimal without leading zeros. */
function writeShortHex(x: u32): void {
  let shift = 28;
  while (shift > 0 && ((x >>> shift) & 15) === 0) shift -= 4;
  for (; shift >= 0; shift -= 4) {
    const digit = (x >>> shift) & 15;
    consoleWriteByte(u8(digit < 10 ? ASCII_ZERO + digit : ASCII_A_MINUS_10 + digit));
  }
}
const ASCII_ZERO = 48;
const ASCII_A_MINUS_10 = 87;

/**
 * "backtrace:" then the faulting instruction and every return address up the ebp chain, innermost
 * first. The walk stops at ebp = 0, at a frame that does not lie above the previous one (a corrupt
 * chain), or after BACKTRACE_MAX_FRAMES.
 */
export function writeBacktrace(eip: u32, ebp: u32): void {
  consoleWriteString("backtrace:");
  consoleNewLine();
  writeCodeAddress(eip, eip);
  let frame = ebp;
  let printed: u32 = 1;
  while (frame !== 0 && (frame & FRAME_ALIGNMENT_MASK) === 0 && printed < BACKTRACE_MAX_FRAMES) {
    const returnAddress = load32(frame + 4);
    if (returnAddress === 0) break;
    writeCodeAddress(returnAddress, returnAddress - 1);
    printed++;
    const caller = load32(frame);
    if (caller <= frame) break;
    frame = caller;
  }
  if (frame !== 0 && printed === BACKTRACE_MAX_FRAMES) {
    consoleWriteString("  ...");
    consoleNewLine();
  }
}
