// Symbolized backtraces: code addresses named "function+0xoffset" from the symbol table the linker
// embeds (compiler/link symbolTable(): u32 count, then count x {u32 address, u32 size, u32 name,
// u32 unwind} sorted by address; a name is a string whose u32 length precedes its bytes), and the walk
// of the frames (docs/calling-convention.md "Frames"): a function with unwind 0 chains its frame with
// ebp ([ebp] = the caller's ebp, [ebp + 4] = the return address); a function without a frame pointer
// has an unwind table, rows {u32 offset, u32 state} giving for each stretch of its code where the
// return address lies ([esp + cfa]) and whether the caller's ebp is saved at [esp + cfa - 4].
// _start sets ebp = 0, which ends the walk.
import { i32, u8, u32, load32, linkerAddress, stringAt } from "dsl";
import { consoleWriteByte, consoleWriteString, consoleWriteHex, consoleNewLine } from "./console.ts";

const SYMBOL_ENTRY_BYTES = 16;
const UNWIND_EBP_SAVED: u32 = 0x80000000;
const UNWIND_CFA_MASK: u32 = 0x7fffffff;
const UNWIND_UNKNOWN: u32 = 0x7fffffff;
/** unwindState's answer for code whose frame ebp chains (or code the table does not know). */
const FRAME_POINTER: u32 = 0xffffffff;
/** Frames printed at most: a runaway recursion (stack overflow) has thousands. */
const BACKTRACE_MAX_FRAMES = 16;
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
 * The frame state at code address `address` of the function with symbol `index`: FRAME_POINTER for a
 * function that chains its frame with ebp, else its unwind row's state (cfa | UNWIND_EBP_SAVED).
 */
function unwindState(index: i32, address: u32): u32 {
  const entry = symbolEntry(index);
  const table = load32(entry + 12);
  if (table === 0) return FRAME_POINTER;
  const offset = address - load32(entry);
  const rows = load32(table);
  let state = UNWIND_UNKNOWN;
  for (let k: u32 = 0; k < rows; k++) {
    const row = table + 4 + 8 * k;
    if (load32(row) > offset) break;
    state = load32(row + 4);
  }
  return state;
}

/**
 * "backtrace:" then the faulting instruction and every return address up the stack, innermost first,
 * from the interrupted eip, esp and ebp. A function without a frame pointer is unwound by its table
 * (return address at [esp + cfa], its caller's esp = esp + cfa + 4, its caller's ebp saved at
 * [esp + cfa - 4] when it used ebp); any other code by the ebp chain. The walk stops at ebp = 0, at a
 * return address 0, at a chain that does not go up the stack (corrupt), at code whose frame is not
 * known, or after BACKTRACE_MAX_FRAMES.
 */
export function writeBacktrace(eip: u32, esp: u32, ebp: u32): void {
  consoleWriteString("backtrace:");
  consoleNewLine();
  writeCodeAddress(eip, eip);
  let lookup = eip;
  let stack = esp;
  let frame = ebp;
  let printed: u32 = 1;
  let cut = false;
  while (true) {
    if (printed >= BACKTRACE_MAX_FRAMES) { cut = true; break; }
    const index = symbolIndex(lookup);
    const state = index < 0 ? FRAME_POINTER : unwindState(index, lookup);
    let returnAddress: u32 = 0;
    if (state === FRAME_POINTER) {
      if (frame === 0 || (frame & FRAME_ALIGNMENT_MASK) !== 0) break;
      returnAddress = load32(frame + 4);
      const caller = load32(frame);
      stack = frame + 8;
      frame = caller !== 0 && caller <= frame ? 0 : caller; // a chain going down: print this return address, then stop
    } else {
      const cfa = state & UNWIND_CFA_MASK;
      if (cfa === UNWIND_UNKNOWN || (stack & FRAME_ALIGNMENT_MASK) !== 0) break;
      returnAddress = load32(stack + cfa);
      if ((state & UNWIND_EBP_SAVED) !== 0) frame = load32(stack + cfa - 4);
      stack = stack + cfa + 4;
    }
    if (returnAddress === 0) break;
    writeCodeAddress(returnAddress, returnAddress - 1);
    printed++;
    lookup = returnAddress - 1;
  }
  if (cut) {
    consoleWriteString("  ...");
    consoleNewLine();
  }
}
