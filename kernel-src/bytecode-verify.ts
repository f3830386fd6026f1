// The load-time verifier of DNBC bytecode (docs/bytecode.md, "The kernel's verifier"): before the kernel
// uses a bytecode image it calls verifyBytecode(address, length), which returns VERIFY_OK or the code of
// the first problem, with `verdict` (kernel-src/bytecode-reader.ts) naming the function and the byte
// offset and bytecodeErrorName the reason.
// Two readings: the first walks the header and the four sections in order and checks the encoding and
// everything local (kernel-src/bytecode-strings.ts section 1, this file sections 2 and 4,
// kernel-src/bytecode-code.ts section 3); the second walks sections 2 to 4 again and resolves every
// name (relocation targets, calls, function and data addresses, the entry and the trap handler). So a
// structural problem is reported before any unresolved name, each the first in byte order.
// Guarantees, when it returns VERIFY_OK: the host's decodeModule + checkModule accept the same bytes
// (test/bytecode/verifier-fuzz.test.ts checks that direction), and beyond them every limit below and in
// the other files holds and the image uses only what a guest may (no kernel-only intrinsic, no interrupt
// entry, no native symbol table; the entry takes (magic, bootInfo)).
// Never reads outside [address, address + length); time linear in the length, plus the string sort
// (bytecode-strings.ts); memory: fixed tables sized by STRING_LIMIT (about 64 KiB), nothing allocated.
import { bool, u32 } from "dsl";
import {
  BYTECODE_MAGIC, DATA_SECTION_BSS, DATA_SECTION_KIND_COUNT, FORMAT_VERSION, RELOCATION_DATA,
  RELOCATION_KIND_COUNT, SECTION_DATA, SECTION_FUNCTIONS, SECTION_MODULE, SECTION_STRINGS,
} from "../abi/bytecode.ts";
import { IMAGE_BYTES_LIMIT } from "../abi/hypercalls.ts";
import {
  ERROR_ALIGNMENT, ERROR_DATA_BYTES, ERROR_DATA_KIND, ERROR_DATA_SIZE, ERROR_DUPLICATE_DATA, ERROR_ENTRY,
  ERROR_IMAGE_SIZE, ERROR_INTERRUPT_ENTRIES, ERROR_MAGIC, ERROR_RELOCATION_KIND, ERROR_RELOCATION_OFFSET,
  ERROR_SECTION_ID, ERROR_SECTION_LENGTH, ERROR_SECTION_UNREAD, ERROR_TRAILING_BYTES, ERROR_TRAP_HANDLER,
  ERROR_UNKNOWN_DATA, ERROR_UNKNOWN_FUNCTION, ERROR_VERSION, alignUp, fail, here, imageByte, imageBytes,
  powerOfTwoUpTo, readByte, readCount, readFlag, readUnsigned, readerStart, readerWindow, skipBytes, verdict,
  verifying, windowLeft,
} from "./bytecode-reader.ts";
import { dataNamed, functionNamed, nameData, readString, readStringTable } from "./bytecode-strings.ts";
import { functionParameters, readFunctions } from "./bytecode-code.ts";

/** Bytes of one data symbol and of all of them laid out in order, each aligned; and their alignment. */
export const DATA_BYTES_LIMIT: u32 = 0x4000000;
export const DATA_ALIGN_LIMIT: u32 = 4096;
/** The entry's parameters: entry(magic, bootInfo), as a hardware guest's (docs/virtual-architecture.md). */
const ENTRY_PARAMETERS: u32 = 2;
/** The trap handler's: trap(kind). */
const TRAP_HANDLER_PARAMETERS: u32 = 1;

/** Where sections 1..4 lie (offsets in the image), recorded by the first reading for the second. */
const sectionStart = new Uint32Array(5);
const sectionEnd = new Uint32Array(5);
/** Bytes of the data symbols read so far, laid out in order and aligned. */
let dataBytes: u32 = 0;

/**
 * After verifyBytecode returned VERIFY_OK: the bytes its data symbols take laid out in order from an
 * aligned base, each aligned as it asks (a bytecode VM's memory starts with them: abi/bytecode.ts).
 */
export function bytecodeDataBytes(): u32 { return dataBytes; }

/** Verifies the DNBC image of `length` bytes at `address`: VERIFY_OK or the first problem's code (verdict). */
export function verifyBytecode(address: u32, length: u32): u32 {
  readerStart(address, length);
  if (length > IMAGE_BYTES_LIMIT || length > 0xffffffff - address) {
    fail(ERROR_IMAGE_SIZE, 0);
    return verdict.error;
  }
  readHeader();
  for (let id: u32 = SECTION_STRINGS; id <= SECTION_MODULE && verifying(); id++) readSection(id);
  if (verifying() && here() !== length) fail(ERROR_TRAILING_BYTES, here());
  for (let id: u32 = SECTION_DATA; id <= SECTION_MODULE && verifying(); id++) {
    readerWindow(sectionStart[id], sectionEnd[id]);
    readSectionContents(id, true);
  }
  return verdict.error;
}

/** magic:"DNBC" version:u16, the only version read being FORMAT_VERSION. */
function readHeader(): void {
  if (imageBytes() < 4) return fail(ERROR_MAGIC, 0);
  const magic = u32(imageByte(0) | (imageByte(1) << 8) | (imageByte(2) << 16) | (imageByte(3) << 24));
  if (magic !== BYTECODE_MAGIC) return fail(ERROR_MAGIC, 0);
  skipBytes(4);
  const version = readByte() | (readByte() << 8);
  if (verifying() && version !== FORMAT_VERSION) fail(ERROR_VERSION, 4);
}

/** section = id:u8 length:uleb contents, which must be read exactly. */
function readSection(id: u32): void {
  const at = here();
  const found = readByte();
  if (!verifying()) return;
  if (found !== id) return fail(ERROR_SECTION_ID, at);
  const length = readUnsigned();
  if (!verifying()) return;
  if (length > windowLeft()) return fail(ERROR_SECTION_LENGTH, at);
  const start = here(), end = start + length;
  sectionStart[id] = start;
  sectionEnd[id] = end;
  readerWindow(start, end);
  readSectionContents(id, false);
  if (verifying() && here() !== end) fail(ERROR_SECTION_UNREAD, here());
  readerWindow(end, imageBytes());
}

function readSectionContents(id: u32, resolve: bool): void {
  switch (id) {
    case SECTION_STRINGS: readStringTable(); return;
    case SECTION_DATA: readData(resolve); return;
    case SECTION_FUNCTIONS: readFunctions(resolve); return;
    case SECTION_MODULE: readModule(resolve); return;
  }
}

// ---- section 2: data symbols ----------------------------------------------------------------------

function readData(resolve: bool): void {
  dataBytes = 0;
  const count = readCount();
  for (let i: u32 = 0; i < count && verifying(); i++) readDataSymbol(resolve);
}

/** symbol = name:str section:u8 align:uleb size:uleb hasBytes:bool [bytes] relocation* */
function readDataSymbol(resolve: bool): void {
  const nameAt = here();
  const name = readString();
  if (!verifying()) return;
  if (!resolve) {
    if (dataNamed(name)) return fail(ERROR_DUPLICATE_DATA, nameAt);
    nameData(name);
  }
  const kindAt = here();
  const kind = readByte();
  if (verifying() && kind >= DATA_SECTION_KIND_COUNT) return fail(ERROR_DATA_KIND, kindAt);
  const alignAt = here();
  const align = readUnsigned();
  if (verifying() && !powerOfTwoUpTo(align, DATA_ALIGN_LIMIT)) return fail(ERROR_ALIGNMENT, alignAt);
  const sizeAt = here();
  const size = readUnsigned();
  if (!verifying()) return;
  if (size > DATA_BYTES_LIMIT) return fail(ERROR_DATA_SIZE, sizeAt);
  dataBytes = alignUp(dataBytes, align) + size;   // <= 2 * 2^26 + 2^12: no wrap
  if (dataBytes > DATA_BYTES_LIMIT) return fail(ERROR_DATA_SIZE, sizeAt);
  if (readFlag()) {
    const countAt = here();
    const count = readUnsigned();
    if (verifying() && (kind === DATA_SECTION_BSS || count !== size)) return fail(ERROR_DATA_BYTES, countAt);
    skipBytes(count);
  }
  const relocations = readCount();
  for (let i: u32 = 0; i < relocations && verifying(); i++) readRelocation(size, resolve);
}

/** relocation = offset:uleb symbol:str kind:u8; the patched word lies inside the symbol. */
function readRelocation(size: u32, resolve: bool): void {
  const offsetAt = here();
  const offset = readUnsigned();
  const targetAt = here();
  const target = readString();
  const kindAt = here();
  const kind = readByte();
  if (!verifying()) return;
  if (kind >= RELOCATION_KIND_COUNT) return fail(ERROR_RELOCATION_KIND, kindAt);
  if (size < 4 || offset > size - 4) return fail(ERROR_RELOCATION_OFFSET, offsetAt);
  if (!resolve) return;
  if (kind === RELOCATION_DATA) {
    if (!dataNamed(target)) fail(ERROR_UNKNOWN_DATA, targetAt);
  } else if (functionNamed(target) === 0) fail(ERROR_UNKNOWN_FUNCTION, targetAt);
}

// ---- section 4: the module ------------------------------------------------------------------------

/** module = entry:str trapHandler:str entries:uleb (none in a guest: interrupt entries are IDT stubs). */
function readModule(resolve: bool): void {
  const entryAt = here();
  const entry = readString();
  const trapAt = here();
  const trapHandler = readString();
  const entriesAt = here();
  if (readUnsigned() !== 0) return fail(ERROR_INTERRUPT_ENTRIES, entriesAt);
  if (!verifying() || !resolve) return;
  const entryIndex = functionNamed(entry), trapIndex = functionNamed(trapHandler);
  if (entryIndex === 0 || functionParameters(entryIndex - 1) !== ENTRY_PARAMETERS) return fail(ERROR_ENTRY, entryAt);
  if (trapIndex === 0 || functionParameters(trapIndex - 1) !== TRAP_HANDLER_PARAMETERS) {
    fail(ERROR_TRAP_HANDLER, trapAt);
  }
}
