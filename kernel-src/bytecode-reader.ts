// The bytecode verifier's cursor (kernel-src/bytecode-verify.ts is the entry point): reads the bytes,
// LEB128 integers and counts of a DNBC image (docs/bytecode.md "Notation") inside a window, and keeps
// the verdict: the first problem found, as an error code, the function being read and a byte offset.
// Invariants: every byte read lies in [windowStart, windowEnd) of the image, itself checked to lie in
// memory without wrapping; once an error is recorded it stays, and every reader returns 0 without
// moving, so a loop that tests `verifying()` each round ends at the first error. Not reentrant: one
// image is verified at a time (static state).
import { bool, u32, load8 } from "dsl";

/** verdict.functionIndex when the problem lies outside section 3 (functions). */
export const NO_FUNCTION: u32 = 0xffffffff;

/** The result of verifyBytecode: error (VERIFY_OK or a code below), where it was found. */
class BytecodeVerdict {
  error: u32 = 0;
  functionIndex: u32 = 0;    // index in section 3 of the function being read, or NO_FUNCTION
  offset: u32 = 0;           // byte offset from the image's start of the field at fault
}
export const verdict = new BytecodeVerdict();

// ---- error codes (bytecodeErrorName says each in words; docs/bytecode.md "The kernel's verifier") ------
export const VERIFY_OK = 0;
export const ERROR_IMAGE_SIZE = 1;
export const ERROR_MAGIC = 2;
export const ERROR_VERSION = 3;
export const ERROR_TRUNCATED = 4;
export const ERROR_LEB_TOO_LONG = 5;
export const ERROR_LEB_TOO_LARGE = 6;
export const ERROR_SECTION_ID = 7;
export const ERROR_SECTION_LENGTH = 8;
export const ERROR_SECTION_UNREAD = 9;
export const ERROR_TRAILING_BYTES = 10;
export const ERROR_COUNT = 11;
export const ERROR_BOOL = 12;
export const ERROR_STRING_LIMIT = 13;
export const ERROR_STRING_LENGTH = 14;
export const ERROR_UTF8 = 15;
export const ERROR_DUPLICATE_STRING = 16;
export const ERROR_STRING_INDEX = 17;
export const ERROR_DATA_KIND = 18;
export const ERROR_ALIGNMENT = 19;
export const ERROR_DATA_SIZE = 20;
export const ERROR_DATA_BYTES = 21;
export const ERROR_RELOCATION_KIND = 22;
export const ERROR_RELOCATION_OFFSET = 23;
export const ERROR_UNKNOWN_DATA = 24;
export const ERROR_DUPLICATE_DATA = 25;
export const ERROR_FUNCTION_FLAGS = 26;
export const ERROR_REGISTER_LIMIT = 27;
export const ERROR_PARAMETERS = 28;
export const ERROR_SLOT_LIMIT = 29;
export const ERROR_FRAME_SIZE = 30;
export const ERROR_NO_BLOCKS = 31;
export const ERROR_BLOCK_LIMIT = 32;
export const ERROR_DUPLICATE_FUNCTION = 33;
export const ERROR_OPCODE = 34;
export const ERROR_TERMINATOR = 35;
export const ERROR_REGISTER = 36;
export const ERROR_BLOCK_TARGET = 37;
export const ERROR_SLOT = 38;
export const ERROR_ARGUMENT_LIMIT = 39;
export const ERROR_INTRINSIC = 40;
export const ERROR_FORBIDDEN_INTRINSIC = 41;
export const ERROR_INTRINSIC_ARGUMENTS = 42;
export const ERROR_INTRINSIC_RESULT = 43;
export const ERROR_TRAP_KIND = 44;
export const ERROR_UNKNOWN_FUNCTION = 45;
export const ERROR_CALL_ARGUMENTS = 46;
export const ERROR_CALL_RESULT = 47;
export const ERROR_RETURN = 48;
export const ERROR_FORBIDDEN_SYMBOL = 49;
export const ERROR_INTERRUPT_ENTRIES = 50;
export const ERROR_ENTRY = 51;
export const ERROR_TRAP_HANDLER = 52;

/** The reason, in words, of an error code of the verdict. */
export function bytecodeErrorName(error: u32): string {
  switch (error) {
    case VERIFY_OK: return "ok";
    case ERROR_IMAGE_SIZE: return "image larger than the verifier's limit, or wrapping around memory";
    case ERROR_MAGIC: return "bad magic (not DNBC bytecode)";
    case ERROR_VERSION: return "unsupported format version";
    case ERROR_TRUNCATED: return "truncated: a field runs past the end of its section or of the image";
    case ERROR_LEB_TOO_LONG: return "LEB128 integer longer than 5 bytes";
    case ERROR_LEB_TOO_LARGE: return "LEB128 integer outside 32 bits";
    case ERROR_SECTION_ID: return "section missing or out of order";
    case ERROR_SECTION_LENGTH: return "section length runs past the end of the image";
    case ERROR_SECTION_UNREAD: return "section has unread bytes at its end";
    case ERROR_TRAILING_BYTES: return "trailing bytes after the last section";
    case ERROR_COUNT: return "count larger than the bytes left in its section";
    case ERROR_BOOL: return "flag byte neither 0 nor 1";
    case ERROR_STRING_LIMIT: return "more strings than the verifier's limit";
    case ERROR_STRING_LENGTH: return "string longer than the verifier's limit";
    case ERROR_UTF8: return "string is not valid UTF-8";
    case ERROR_DUPLICATE_STRING: return "string stored twice in the string table";
    case ERROR_STRING_INDEX: return "string index out of range";
    case ERROR_DATA_KIND: return "unknown data section kind";
    case ERROR_ALIGNMENT: return "alignment not a power of two or above the limit";
    case ERROR_DATA_SIZE: return "data symbol or all data larger than the limit";
    case ERROR_DATA_BYTES: return "data bytes disagree with the size, or bytes given to a bss symbol";
    case ERROR_RELOCATION_KIND: return "unknown relocation kind";
    case ERROR_RELOCATION_OFFSET: return "relocation does not fit in its symbol";
    case ERROR_UNKNOWN_DATA: return "unknown data symbol";
    case ERROR_DUPLICATE_DATA: return "data symbol defined twice";
    case ERROR_FUNCTION_FLAGS: return "unknown function flags";
    case ERROR_REGISTER_LIMIT: return "register count above the limit";
    case ERROR_PARAMETERS: return "parameter count above the register count or the limit";
    case ERROR_SLOT_LIMIT: return "more frame slots than the limit";
    case ERROR_FRAME_SIZE: return "frame slots larger than the limit";
    case ERROR_NO_BLOCKS: return "function has no blocks";
    case ERROR_BLOCK_LIMIT: return "more blocks than the limit";
    case ERROR_DUPLICATE_FUNCTION: return "function defined twice";
    case ERROR_OPCODE: return "unknown instruction opcode";
    case ERROR_TERMINATOR: return "unknown terminator opcode";
    case ERROR_REGISTER: return "register out of range";
    case ERROR_BLOCK_TARGET: return "branch target outside the function";
    case ERROR_SLOT: return "slot index out of range";
    case ERROR_ARGUMENT_LIMIT: return "more call arguments than the limit";
    case ERROR_INTRINSIC: return "unknown intrinsic number";
    case ERROR_FORBIDDEN_INTRINSIC: return "intrinsic not allowed in a guest";
    case ERROR_INTRINSIC_ARGUMENTS: return "wrong intrinsic argument count";
    case ERROR_INTRINSIC_RESULT: return "result taken from an intrinsic that has none";
    case ERROR_TRAP_KIND: return "unknown trap kind";
    case ERROR_UNKNOWN_FUNCTION: return "call or address of an unknown function";
    case ERROR_CALL_ARGUMENTS: return "call argument count differs from the callee's parameters";
    case ERROR_CALL_RESULT: return "result taken from a function that returns none";
    case ERROR_RETURN: return "return disagrees with the function's result";
    case ERROR_FORBIDDEN_SYMBOL: return "linker symbol not available to a guest";
    case ERROR_INTERRUPT_ENTRIES: return "interrupt entries are not allowed in a guest";
    case ERROR_ENTRY: return "entry missing or not a function of two parameters";
    case ERROR_TRAP_HANDLER: return "trap handler missing or not a function of one parameter";
  }
  return "unknown error";
}

let imageBase: u32 = 0;
/** The image's bytes, all windows inside it. */
let imageLength: u32 = 0;
/** The next byte to read, as an offset from the image's start. */
let position: u32 = 0;
let windowEnd: u32 = 0;
let functionIndex: u32 = NO_FUNCTION;

/** Starts over on the image at base (the caller has checked that base + length does not wrap). */
export function readerStart(base: u32, length: u32): void {
  imageBase = base;
  imageLength = length;
  position = 0;
  windowEnd = length;
  functionIndex = NO_FUNCTION;
  verdict.error = VERIFY_OK;
  verdict.functionIndex = NO_FUNCTION;
  verdict.offset = 0;
}

/** Reads [start, end) next: end <= the image's length, start <= end. */
export function readerWindow(start: u32, end: u32): void {
  position = start;
  windowEnd = end;
}

/** The offset of the next byte to read. */
export function here(): u32 { return position; }
export function windowLeft(): u32 { return windowEnd - position; }
export function imageBytes(): u32 { return imageLength; }
/** The byte at `offset` of the image, which the caller has checked is below its length. */
export function imageByte(offset: u32): u32 { return load8(imageBase + offset); }
/** The function that errors from now on name (NO_FUNCTION outside section 3). */
export function readerFunction(index: u32): void { functionIndex = index; }

export function verifying(): bool { return verdict.error === VERIFY_OK; }

/** Records `error` at offset `at` unless a problem is already recorded; stops every reader. */
export function fail(error: u32, at: u32): void {
  if (verdict.error !== VERIFY_OK) return;
  verdict.error = error;
  verdict.functionIndex = functionIndex;
  verdict.offset = at;
}

export function readByte(): u32 {
  if (verdict.error !== VERIFY_OK) return 0;
  if (position >= windowEnd) {
    fail(ERROR_TRUNCATED, position);
    return 0;
  }
  const value: u32 = load8(imageBase + position);
  position++;
  return value;
}

/** Skips `count` bytes of the window (truncated when fewer are left). */
export function skipBytes(count: u32): void {
  if (verdict.error !== VERIFY_OK) return;
  if (count > windowEnd - position) fail(ERROR_TRUNCATED, position);
  else position += count;
}

/** An unsigned LEB128 of at most 5 bytes whose value fits in 32 bits. */
export function readUnsigned(): u32 {
  // Most operands are one byte: read it here (a third of the verifier's time goes into operands).
  const start = position;
  if (start < windowEnd && verdict.error === VERIFY_OK) {
    const first: u32 = load8(imageBase + start);
    if (first < 0x80) {
      position = start + 1;
      return first;
    }
  }
  return readLongUnsigned();
}

function readLongUnsigned(): u32 {
  const start = position;
  let value: u32 = 0;
  for (let shift: u32 = 0; shift < 35; shift += 7) {
    const byte = readByte();
    if (verdict.error !== VERIFY_OK) return 0;
    if (shift === 28 && byte > 0x0f) {
      // The fifth byte holds bits 28..31: a continuation bit or any higher bit is refused.
      fail((byte & 0x80) !== 0 ? ERROR_LEB_TOO_LONG : ERROR_LEB_TOO_LARGE, start);
      return 0;
    }
    value = u32(value | ((byte & 0x7f) << shift));
    if ((byte & 0x80) === 0) return value;
  }
  return 0;
}

/** A `v` operand: an unsigned LEB128 below `registerCount` (ERROR_REGISTER at its offset). */
export function readRegister(registerCount: u32): void {
  const start = position;
  if (start < windowEnd && verdict.error === VERIFY_OK) {
    const first: u32 = load8(imageBase + start);
    if (first < 0x80) {
      position = start + 1;
      if (first >= registerCount) fail(ERROR_REGISTER, start);
      return;
    }
  }
  const register = readLongUnsigned();
  if (verdict.error === VERIFY_OK && register >= registerCount) fail(ERROR_REGISTER, start);
}

/**
 * A signed LEB128 of at most 5 bytes whose value is an int32 (the value itself is not needed). A fifth
 * byte holds bits 28..31 and the sign (bit 6): 0x00..0x07 (0 <= v < 2^31) or 0x78..0x7f (-2^31 <= v < 0).
 */
export function skipSigned(): void {
  const start = position;
  if (start < windowEnd && verdict.error === VERIFY_OK && load8(imageBase + start) < 0x80) {
    position = start + 1;
    return;
  }
  for (let index: u32 = 0; index < 5; index++) {
    const byte = readByte();
    if (verdict.error !== VERIFY_OK) return;
    if (index === 4) {
      if ((byte & 0x80) !== 0) fail(ERROR_LEB_TOO_LONG, start);
      else if (byte > 0x07 && byte < 0x78) fail(ERROR_LEB_TOO_LARGE, start);
      return;
    }
    if ((byte & 0x80) === 0) return;
  }
}

/** A `bool` byte: 0 or 1. */
export function readFlag(): bool {
  const at = position;
  const value = readByte();
  if (value > 1) fail(ERROR_BOOL, at);
  return value === 1;
}

/**
 * A count of items that follow in the window, each at least one byte: no more than the bytes left,
 * so that every loop over it ends within the window.
 */
export function readCount(): u32 {
  const at = position;
  const count = readUnsigned();
  if (count > windowEnd - position) {
    fail(ERROR_COUNT, at);
    return 0;
  }
  return count;
}

/** True when x is a power of two no larger than limit. */
export function powerOfTwoUpTo(x: u32, limit: u32): bool {
  return x !== 0 && x <= limit && (x & (x - 1)) === 0;
}

/** x rounded up to a multiple of `alignment` (a power of two; the caller keeps x + alignment below 2^32). */
export function alignUp(x: u32, alignment: u32): u32 {
  return u32((x + alignment - 1) & ~(alignment - 1));
}
