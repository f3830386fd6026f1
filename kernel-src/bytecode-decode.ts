// Pre-decoding of a verified DNBC image (issue 18, docs/bytecode.md "Bytecode VMs"): once per bytecode
// group, right after verifyBytecode accepted its module (the verifier's name tables, bytecode-strings.ts,
// still describe that image), into a compact internal form the interpreter (bytecode-interp.ts) runs:
//   - a function table: per function FUNCTION_WORDS words (its code's address, parameters, register bytes,
//     the guest stack a call takes and its alignment mask, whether it returns a value);
//   - code: u32 words, an internal opcode (bytecode-ops.ts) then its operands, every operand resolved:
//     registers as byte offsets into the register file, names as function indices or addresses in the VM
//     (the data base + offset, FUNCTION_ADDRESS_BASE + 16 * index), slots as offsets in the frame, block
//     targets as code addresses; a call, intrinsic or return without a result carries NO_REGISTER; pairs
//     or triples of one block fused into superinstructions (a comparison and the branch on it, an add and
//     the load or store at its result, a shift or multiply and the add of its result, ...: bytecode-ops.ts);
//   - the data image: the data symbols laid out from 0 in order, each aligned, bytes copied, relocations
//     patched; every VM of the group starts with a copy at its data base (abi/bytecode.ts: a bytecode
//     VM's memory, its stack and boot information below the data).
// Requires: a verified image (every index in range, every count consistent); the reader's bounds checks
// still apply, so a byte misread cannot run past the image. Guarantees: the code of a function is at most
// twice its bytes in words; targets are addresses of instruction starts in the same function.
// Memory: frames from allocFrameRun, kept while the kernel runs (a group's image is never unloaded yet).
import { bool, u32, load32, store32, memoryCopy, memoryFill, structArray } from "dsl";
import {
  OP_CONST, OP_COPY, OP_GLOBAL_ADDRESS, OP_FUNCTION_ADDRESS, OP_SLOT_ADDRESS, OP_CALL, OP_CALL_VOID, OP_CALL_INDIRECT,
  OP_CALL_INDIRECT_VOID, OP_INTRINSIC, OP_INTRINSIC_VOID, OP_TRAP, OP_SELECT, OP_LOAD_BASE, LOAD_OPCODE_COUNT,
  OP_STORE_BASE, STORE_OPCODE_COUNT, OP_BINARY_BASE, BINARY_OPCODE_COUNT, OP_UNARY_BASE, UNARY_OPCODE_COUNT, TERM_JUMP,
  TERM_BRANCH, TERM_RETURN, TERM_RETURN_VOID, TERM_UNREACHABLE, FUNCTION_RETURNS_VALUE, FUNCTION_HAS_LOCATION,
  SECTION_DATA, SECTION_FUNCTIONS, SECTION_MODULE, RELOCATION_DATA, LINKER_IMAGE_START, LINKER_IMAGE_END,
  LINKER_STACK_BOTTOM, LINKER_STACK_TOP, BYTECODE_STACK_BYTES, BYTECODE_STACK_OFFSET, BYTECODE_DATA_OFFSET,
  BYTECODE_DATA_ALIGN, FUNCTION_ADDRESS_BASE, FUNCTION_ADDRESS_STRIDE, INTRINSIC_HYPERCALL,
} from "../abi/bytecode.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { readerStart, readerWindow, readByte, readUnsigned, skipBytes, here, alignUp } from "./bytecode-reader.ts";
import { functionNamed, stringIs, STRING_LIMIT } from "./bytecode-strings.ts";
import { allocFrameRun, FRAME_NONE, PAGE_SHIFT, PAGE_OFFSET_MASK } from "./frames.ts";
import {
  I_BINARY, I_LOAD, I_STORE, I_NEG, I_CONST, I_COPY, I_SLOT, I_SELECT, I_CALL, I_CALL_INDIRECT, I_INTRINSIC, I_TRAP,
  I_JUMP, I_BRANCH, I_RETURN, I_UNREACHABLE, I_COMPARE_BRANCH, I_ADD_LOAD, I_ADD_STORE, I_SHIFT_ADD, I_FUEL,
  FUEL_CHUNK, BINARY_ADD, BINARY_SHL, BINARY_EQ, BINARY_GEU, BINARY_LTS, BINARY_LTU, I_CONST_CONST, I_ADD_LTS_BRANCH,
  I_ADD_LTU_BRANCH, I_MUL_ADD, BINARY_MUL, I_SHIFT_ADD_LOAD32, I_SHIFT_ADD_STORE32, I_SHRU_AND, I_CONST_ADD,
  I_CONST_SUB, BINARY_SUB, BINARY_AND, BINARY_SHRU, I_HYPERCALL,
} from "./bytecode-ops.ts";

/** The register operand of an instruction that has no result. */
export const NO_REGISTER: u32 = 0xffffffff;
/** Words of a function record: FUNCTION_CODE .. FUNCTION_RETURNS. */
export const FUNCTION_WORDS: u32 = 6;
export const FUNCTION_CODE: u32 = 0;       // the address of its first code word
export const FUNCTION_PARAMETERS: u32 = 1;
export const FUNCTION_REGISTER_BYTES: u32 = 2;   // its registers, 4 bytes each
export const FUNCTION_STACK_BYTES: u32 = 3;      // the guest stack a call takes: its slots' frame and CALL_OVERHEAD
export const FUNCTION_STACK_MASK: u32 = 4;       // ~(its frame's alignment - 1): the stack pointer is anded with it
export const FUNCTION_RETURNS: u32 = 5;
/** A call takes this much of the guest's stack besides its slots (the reference's native return address). */
const CALL_OVERHEAD: u32 = 16;
/** Frame offset of each slot of the function being decoded (bytecode-code.ts SLOT_LIMIT). */
const slotOffsets = new Uint32Array(256);
/** Blocks of one function the pre-decoder takes (the verifier's limit is higher: such an image is refused). */
const DECODE_BLOCK_LIMIT: u32 = 8192;
/** Frame slots are aligned to at least this (a native frame's alignment: docs/bytecode.md "Stack"). */
const FRAME_MIN_ALIGN: u32 = 16;

/** What the interpreter needs of one group's image. */
class DecodedImage {
  functions: u32 = 0;        // address of the function table
  functionCount: u32 = 0;
  entry: u32 = 0;            // function index of the entry (magic, bootInfo)
  trapHandler: u32 = 0;      // function index of trap(kind)
  dataImage: u32 = 0;        // address of the data image (dataBytes bytes)
  dataBytes: u32 = 0;        // rounded up to BYTECODE_DATA_ALIGN
  copyBytes: u32 = 0;        // the data image's bytes up to its last word not 0: what a VM's start copies
  dataBase: u32 = 0;         // where the data goes in the VM (abi/bytecode.ts: a bytecode VM's memory)
  stackBottom: u32 = 0;      // GUEST_BASE + BYTECODE_STACK_OFFSET
  stackTop: u32 = 0;         // stackBottom + BYTECODE_STACK_BYTES: the boot information's address
}

export const decodedImages = structArray(DecodedImage, 64);   // elf.ts IMAGE_LIMIT, one per group

/** Data offset (from the data's start) of the data symbol named by string s (valid while decoding). */
const dataOffsetOfString = new Uint32Array(STRING_LIMIT);
/** Code address of each block of the function being decoded. */
const blockStart = new Uint32Array(DECODE_BLOCK_LIMIT);
/** Where the next code word goes, and the end of the code area. */
let out: u32 = 0;
/** The last instruction decoded in the current block (0: none), which the next may fuse with. */
let previous: u32 = 0;
/** Dispatches decoded in the current block since its start or its last I_FUEL (bytecode-ops.ts "fuel"). */
let uncharged: u32 = 0;
let group: u32 = 0;
let decodeFailed = false;

function emit(word: u32): void {
  store32(out, word);
  out += 4;
}

/** A signed LEB128 (verified: at most 5 bytes, an int32). */
function readSigned(): u32 {
  let value: u32 = 0, shift: u32 = 0, byte: u32 = 0x80;
  while ((byte & 0x80) !== 0) {
    byte = readByte();
    value = u32(value | ((byte & 0x7f) << shift));
    shift += 7;
  }
  if (shift < 32 && (byte & 0x40) !== 0) value = u32(value | (0xffffffff << shift));
  return value;
}

/** A register operand as its byte offset in the register file. */
function readRegisterOffset(): u32 { return readUnsigned() << 2; }

/** Where sections 2..4 start and end (the verifier read them; the framing is trusted now). */
const sectionStart = new Uint32Array(5);
const sectionEnd = new Uint32Array(5);

function locateSections(length: u32): void {
  readerStart(sectionBase, length);
  readerWindow(6, length);
  for (let id: u32 = 1; id <= SECTION_MODULE; id++) {
    readByte();
    const size = readUnsigned();
    sectionStart[id] = here();
    sectionEnd[id] = here() + size;
    skipBytes(size);
  }
}
let sectionBase: u32 = 0;

/**
 * Pre-decodes the image of `length` bytes at `address` (verifyBytecode accepted it just now) for group `g`:
 * false when the kernel has no frames for it or a function has more blocks than DECODE_BLOCK_LIMIT.
 */
export function bytecodeDecode(g: u32, address: u32, length: u32): bool {
  group = g;
  decodeFailed = false;
  sectionBase = address;
  locateSections(length);
  const image = decodedImages[g];
  if (!decodeData(image)) return false;
  readerWindow(sectionStart[SECTION_FUNCTIONS], sectionEnd[SECTION_FUNCTIONS]);
  const count = readUnsigned();
  // Code words: at most two a byte of section 3 (no layout of bytecode-ops.ts takes more words than twice
  // its instruction's bytes, a terminator's block header counted; an I_FUEL after 64 dispatches, >= 128 bytes).
  const bytes = count * FUNCTION_WORDS * 4 + 8 * (sectionEnd[SECTION_FUNCTIONS] - sectionStart[SECTION_FUNCTIONS]);
  const frames = (bytes + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  const table = allocFrameRun(frames);
  if (table === FRAME_NONE) return false;
  image.functions = table;
  image.functionCount = count;
  out = table + count * FUNCTION_WORDS * 4;
  for (let i: u32 = 0; i < count && !decodeFailed; i++) decodeFunction(table + i * FUNCTION_WORDS * 4);
  if (decodeFailed) return false;
  readerWindow(sectionStart[SECTION_MODULE], sectionEnd[SECTION_MODULE]);
  image.entry = functionNamed(readUnsigned()) - 1;
  image.trapHandler = functionNamed(readUnsigned()) - 1;
  return true;
}

// ---- data ----------------------------------------------------------------------------------------

/** Lays the data out (first reading: offsets; second: bytes and relocations into the data image). */
function decodeData(image: DecodedImage): bool {
  readerWindow(sectionStart[SECTION_DATA], sectionEnd[SECTION_DATA]);
  let count = readUnsigned(), end: u32 = 0, largest = BYTECODE_DATA_ALIGN;
  for (let i: u32 = 0; i < count; i++) {
    const name = readUnsigned();
    readByte();
    const align = readUnsigned(), size = readUnsigned();
    if (align > largest) largest = align;
    end = alignUp(end, align);
    dataOffsetOfString[name] = end;
    end += size;
    if (readByte() === 1) skipBytes(readUnsigned());
    const relocations = readUnsigned();
    for (let r: u32 = 0; r < relocations; r++) { readUnsigned(); readUnsigned(); readByte(); }
  }
  image.dataBytes = alignUp(end, BYTECODE_DATA_ALIGN);
  image.dataBase = GUEST_BASE + alignUp(BYTECODE_DATA_OFFSET, largest);   // tools/build.ts bytecodeSpan
  image.stackBottom = GUEST_BASE + BYTECODE_STACK_OFFSET;
  image.stackTop = image.stackBottom + BYTECODE_STACK_BYTES;
  const frames = (image.dataBytes + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  image.dataImage = frames === 0 ? 0 : allocFrameRun(frames);
  if (frames !== 0 && image.dataImage === FRAME_NONE) return false;
  if (frames !== 0) memoryFill(image.dataImage, 0, frames << PAGE_SHIFT);
  readerWindow(sectionStart[SECTION_DATA], sectionEnd[SECTION_DATA]);
  count = readUnsigned();
  for (let i: u32 = 0; i < count; i++) {
    const at = image.dataImage + dataOffsetOfString[readUnsigned()];
    readByte();
    readUnsigned();
    readUnsigned();
    if (readByte() === 1) {
      const length = readUnsigned();
      memoryCopy(at, sectionBase + here(), length);
      skipBytes(length);
    }
    const relocations = readUnsigned();
    for (let r: u32 = 0; r < relocations; r++) {
      const offset = readUnsigned(), symbol = readUnsigned(), kind = readByte();
      store32(at + offset, kind === RELOCATION_DATA ? symbolAddress(image, symbol) : functionAddress(symbol));
    }
  }
  // What a VM's start copies: up to the last word not 0 (the zeros after it, bss mostly, stay demand-zero).
  let copy = image.dataBytes;
  while (copy !== 0 && load32(image.dataImage + copy - 4) === 0) copy -= 4;
  image.copyBytes = copy;
  return true;
}

/** The address in the VM of data symbol or linker symbol `s` (the verifier allowed only these). */
function symbolAddress(image: DecodedImage, s: u32): u32 {
  if (stringIs(s, LINKER_IMAGE_START)) return GUEST_BASE;
  if (stringIs(s, LINKER_STACK_BOTTOM)) return image.stackBottom;
  if (stringIs(s, LINKER_STACK_TOP)) return image.stackTop;
  if (stringIs(s, LINKER_IMAGE_END)) return image.dataBase + image.dataBytes;
  return image.dataBase + dataOffsetOfString[s];
}

function functionAddress(s: u32): u32 {
  return FUNCTION_ADDRESS_BASE + (functionNamed(s) - 1) * FUNCTION_ADDRESS_STRIDE;
}

// ---- code ----------------------------------------------------------------------------------------

function skipLocation(): void { readUnsigned(); readUnsigned(); readUnsigned(); }

/** One function into its record at `record` and code at `out`. */
function decodeFunction(record: u32): void {
  readUnsigned();                                   // name
  const flags = readByte();
  store32(record + FUNCTION_PARAMETERS * 4, readUnsigned());
  const registers = readUnsigned();
  store32(record + FUNCTION_REGISTER_BYTES * 4, registers << 2);
  store32(record + FUNCTION_RETURNS * 4, (flags & FUNCTION_RETURNS_VALUE) !== 0 ? 1 : 0);
  if ((flags & FUNCTION_HAS_LOCATION) !== 0) skipLocation();
  const slots = readUnsigned();
  let frameBytes: u32 = 0, frameAlign = FRAME_MIN_ALIGN;
  for (let s: u32 = 0; s < slots; s++) {
    readUnsigned();
    const size = readUnsigned(), align = readUnsigned();
    frameBytes = alignUp(frameBytes, align);
    slotOffsets[s] = frameBytes;
    frameBytes += size;
    if (align > frameAlign) frameAlign = align;
  }
  store32(record + FUNCTION_STACK_BYTES * 4, alignUp(frameBytes, frameAlign) + CALL_OVERHEAD);
  store32(record + FUNCTION_STACK_MASK * 4, u32(~(frameAlign - 1)));
  const blocks = readUnsigned();
  if (blocks > DECODE_BLOCK_LIMIT) { decodeFailed = true; return; }
  const code = out;
  store32(record + FUNCTION_CODE * 4, code);
  for (let b: u32 = 0; b < blocks; b++) {
    blockStart[b] = out;
    previous = 0;
    beforePrevious = 0;
    uncharged = 0;
    if (readByte() === 1) skipLocation();
    const instructions = readUnsigned();
    for (let i: u32 = 0; i < instructions; i++) {
      if (uncharged >= FUEL_CHUNK) {
        emit(I_FUEL); emit(uncharged + 1);
        uncharged = 0;
        previous = 0;
        beforePrevious = 0;
      }
      const at = out;
      decodeInstruction();
      if (previous === at) uncharged++;                      // not fused into the one before
    }
    decodeTerminator();
  }
  patchTargets(code, out);
}

function decodeArguments(): void {
  const count = readUnsigned();
  emit(count);
  for (let a: u32 = 0; a < count; a++) emit(readRegisterOffset());
}

/** Where the instruction before `previous` in the block starts (0: none): an add that a compare-branch joins. */
let beforePrevious: u32 = 0;

/** The binary kind of the instruction at `previous` when it is a binary operation writing `dst`, else 0xff. */
function previousBinary(dst: u32): u32 {
  if (previous === 0) return 0xff;
  const op = load32(previous);
  if (op >= I_BINARY + BINARY_OPCODE_COUNT || load32(previous + 4) !== dst) return 0xff;
  return op - I_BINARY;
}

/** The 32-bit load and store opcodes (OP_LOAD_BASE + 2 log2(width) + unsigned, OP_STORE_BASE + log2(width)). */
const OP_LOAD_32: u32 = OP_LOAD_BASE + 4;
const OP_STORE_32: u32 = OP_STORE_BASE + 2;

/** True when `previous` is an I_SHIFT_ADD (left unfused by the add) whose sum goes to register `d`. */
function shiftAddInto(d: u32): bool {
  return previous !== 0 && load32(previous) === I_SHIFT_ADD && load32(previous + 16) === d;
}

function decodeInstruction(): void {
  const op = readByte();
  const at = out;
  if (op >= OP_LOAD_BASE && op < OP_LOAD_BASE + LOAD_OPCODE_COUNT) {
    const dst = readRegisterOffset(), address = readRegisterOffset(), offset = readSigned();
    if (shiftAddInto(address) && op >= OP_LOAD_32) {       // shl t x k; add d base t; load32 dst [d + offset]
      store32(previous, I_SHIFT_ADD_LOAD32);
      emit(dst); emit(offset);
      previous = 0;
      return;
    }
    if (previousBinary(address) === BINARY_ADD) {          // add t a b; load dst [t + offset]
      store32(previous, I_ADD_LOAD + op - OP_LOAD_BASE);
      emit(dst); emit(offset);
      previous = 0;
      return;
    }
    emit(I_LOAD + op - OP_LOAD_BASE); emit(dst); emit(address); emit(offset);
    previous = at;
    return;
  }
  if (op >= OP_STORE_BASE && op < OP_STORE_BASE + STORE_OPCODE_COUNT) {
    const address = readRegisterOffset(), offset = readSigned(), value = readRegisterOffset();
    if (shiftAddInto(address) && op === OP_STORE_32) {     // shl t x k; add d base t; store32 [d + offset] value
      store32(previous, I_SHIFT_ADD_STORE32);
      emit(offset); emit(value);
      previous = 0;
      return;
    }
    if (previousBinary(address) === BINARY_ADD) {          // add t a b; store [t + offset] value
      store32(previous, I_ADD_STORE + op - OP_STORE_BASE);
      emit(offset); emit(value);
      previous = 0;
      return;
    }
    emit(I_STORE + op - OP_STORE_BASE); emit(address); emit(offset); emit(value);
    previous = at;
    return;
  }
  if (op >= OP_BINARY_BASE && op < OP_BINARY_BASE + BINARY_OPCODE_COUNT) {
    const dst = readRegisterOffset(), a = readRegisterOffset(), b = readRegisterOffset();
    const first = previous === 0 ? 0 : load32(previous);
    if (op === OP_BINARY_BASE + BINARY_ADD && (first === I_BINARY + BINARY_SHL || first === I_BINARY + BINARY_MUL)) {
      const t = load32(previous + 4);
      if (a === t || b === t) {                            // shl (mul) t x k; add dst other t (or t other)
        store32(previous, first === I_BINARY + BINARY_SHL ? I_SHIFT_ADD : I_MUL_ADD);
        emit(dst); emit(a === t ? b : a);
        if (first !== I_BINARY + BINARY_SHL) previous = 0;   // a shift-add stays: a load or store may join it
        return;
      }
    }
    if (op === OP_BINARY_BASE + BINARY_AND && first === I_BINARY + BINARY_SHRU) {
      const t = load32(previous + 4);
      if (a === t || b === t) {                            // shru t x k; and dst other t (or t other)
        store32(previous, I_SHRU_AND);
        emit(dst); emit(a === t ? b : a);
        previous = 0;
        return;
      }
    }
    if ((op === OP_BINARY_BASE + BINARY_ADD || op === OP_BINARY_BASE + BINARY_SUB) && first === I_CONST) {
      store32(previous, op === OP_BINARY_BASE + BINARY_ADD ? I_CONST_ADD : I_CONST_SUB);   // const c v; add d a b
      emit(dst); emit(a); emit(b);
      previous = 0;
      return;
    }
    emit(I_BINARY + op - OP_BINARY_BASE); emit(dst); emit(a); emit(b);
    beforePrevious = previous;
    previous = at;
    return;
  }
  const last = previous;
  previous = at;
  if (op === OP_CONST && last !== 0 && load32(last) === I_CONST) {        // const; const
    store32(last, I_CONST_CONST);
    emit(readRegisterOffset()); emit(readSigned());
    previous = 0;
    return;
  }
  if (op >= OP_UNARY_BASE && op < OP_UNARY_BASE + UNARY_OPCODE_COUNT) {
    emit(I_NEG + op - OP_UNARY_BASE); emit(readRegisterOffset()); emit(readRegisterOffset());
    return;
  }
  switch (op) {
    case OP_CONST: emit(I_CONST); emit(readRegisterOffset()); emit(readSigned()); return;
    case OP_COPY: emit(I_COPY); emit(readRegisterOffset()); emit(readRegisterOffset()); return;
    case OP_GLOBAL_ADDRESS:
      emit(I_CONST); emit(readRegisterOffset()); emit(symbolAddress(decodedImages[group], readUnsigned()));
      return;
    case OP_FUNCTION_ADDRESS: emit(I_CONST); emit(readRegisterOffset()); emit(functionAddress(readUnsigned())); return;
    case OP_SLOT_ADDRESS: {
      emit(I_SLOT); emit(readRegisterOffset());
      emit(slotOffsets[readUnsigned()]);
      return;
    }
    case OP_CALL: case OP_CALL_VOID: {
      emit(I_CALL); emit(op === OP_CALL ? readRegisterOffset() : NO_REGISTER);
      emit(functionNamed(readUnsigned()) - 1);
      decodeArguments();
      return;
    }
    case OP_CALL_INDIRECT: case OP_CALL_INDIRECT_VOID: {
      emit(I_CALL_INDIRECT); emit(op === OP_CALL_INDIRECT ? readRegisterOffset() : NO_REGISTER);
      emit(readRegisterOffset());
      decodeArguments();
      return;
    }
    case OP_INTRINSIC: case OP_INTRINSIC_VOID: {
      const at = out;
      emit(I_INTRINSIC); emit(op === OP_INTRINSIC ? readRegisterOffset() : NO_REGISTER);
      const number = readByte();
      emit(number);
      decodeArguments();
      if (number === INTRINSIC_HYPERCALL) store32(at, I_HYPERCALL);      // the interpreter's inline case
      return;
    }
    case OP_TRAP: emit(I_TRAP); emit(readByte()); return;
    case OP_SELECT:
      emit(I_SELECT); emit(readRegisterOffset()); emit(readRegisterOffset()); emit(readRegisterOffset());
      emit(readRegisterOffset());
      return;
  }
}

function decodeTerminator(): void {
  const op = readByte();
  switch (op) {
    case TERM_JUMP: emit(I_JUMP); emit(readUnsigned()); emit(uncharged + 1); return;
    case TERM_BRANCH: {
      const cond = readRegisterOffset(), ifTrue = readUnsigned(), ifFalse = readUnsigned();
      const kind = previousBinary(cond);
      const add = beforePrevious;
      if ((kind === BINARY_LTS || kind === BINARY_LTU) && add !== 0 && add + 16 === previous
        && load32(add) === I_BINARY + BINARY_ADD) {         // add t a b; compare dst x y; branch dst
        store32(add, kind === BINARY_LTS ? I_ADD_LTS_BRANCH : I_ADD_LTU_BRANCH);
        out = previous;                                     // the comparison's dst x y, without its opcode
        emit(load32(previous + 4)); emit(load32(previous + 8)); emit(load32(previous + 12));
        emit(ifTrue); emit(ifFalse); emit(uncharged - 1);
        return;
      }
      if (kind >= BINARY_EQ && kind <= BINARY_GEU) {        // compare dst a b; branch dst: one dispatch
        store32(previous, I_COMPARE_BRANCH + kind - BINARY_EQ);
        emit(ifTrue); emit(ifFalse); emit(uncharged);
      } else {
        emit(I_BRANCH); emit(cond); emit(ifTrue); emit(ifFalse); emit(uncharged + 1);
      }
      return;
    }
    case TERM_RETURN: emit(I_RETURN); emit(readRegisterOffset()); emit(uncharged + 1); return;
    case TERM_RETURN_VOID: emit(I_RETURN); emit(NO_REGISTER); emit(uncharged + 1); return;
    case TERM_UNREACHABLE: emit(I_UNREACHABLE); return;
  }
}

/** Words of the instruction at `at` (its opcode and operands). */
function instructionWords(at: u32): u32 {
  const op = load32(at);
  if (op < I_NEG) return 4;                               // binary, load, store
  if (op >= I_COMPARE_BRANCH && op < I_ADD_LOAD) return 7;
  if (op >= I_ADD_LOAD && op <= I_SHIFT_ADD) return 6;
  if (op === I_CONST_CONST) return 5;
  if (op === I_MUL_ADD) return 6;
  if (op === I_SHIFT_ADD_LOAD32 || op === I_SHIFT_ADD_STORE32) return 8;
  if (op >= I_SHRU_AND && op <= I_CONST_SUB) return 6;
  if (op === I_ADD_LTS_BRANCH || op === I_ADD_LTU_BRANCH) return 10;
  switch (op) {
    case I_CALL: case I_CALL_INDIRECT: case I_INTRINSIC: case I_HYPERCALL: return 4 + load32(at + 12);
    case I_TRAP: case I_FUEL: return 2;
    case I_JUMP: case I_RETURN: return 3;
    case I_SELECT: case I_BRANCH: return 5;
    case I_UNREACHABLE: return 1;
  }
  return 3;                                   // neg, not, const, copy, slotAddress
}

/** Block indices of the function's jumps and branches in [code, end) become code addresses. */
function patchTargets(code: u32, end: u32): void {
  for (let at = code; at < end; at += instructionWords(at) * 4) {
    const op = load32(at);
    if (op === I_JUMP) store32(at + 4, blockStart[load32(at + 4)]);
    if (op === I_BRANCH) {
      store32(at + 8, blockStart[load32(at + 8)]);
      store32(at + 12, blockStart[load32(at + 12)]);
    }
    if (op === I_ADD_LTS_BRANCH || op === I_ADD_LTU_BRANCH) {
      store32(at + 28, blockStart[load32(at + 28)]);
      store32(at + 32, blockStart[load32(at + 32)]);
    }
    if (op >= I_COMPARE_BRANCH && op < I_ADD_LOAD) {
      store32(at + 16, blockStart[load32(at + 16)]);
      store32(at + 20, blockStart[load32(at + 20)]);
    }
  }
}
