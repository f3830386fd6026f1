// The bytecode verifier's section 3 (docs/bytecode.md "Section 3", "Instructions", "Terminators"):
// every function header, slot, block, instruction and terminator of a DNBC image, read operand by
// operand. Read twice (kernel-src/bytecode-verify.ts): the first reading checks the encoding and
// everything local to a function (registers below its register count, slots, branch targets inside
// it, return kinds, intrinsic numbers, arities and the guest policy) and records each function's name
// and shape; the second, once every function is known, resolves the names instructions use (calls and
// their argument counts and results, function and data addresses).
// The guest policy: a guest may use only the intrinsics whose effect stays inside its own VM
// (GUEST_INTRINSICS below; docs/bytecode.md "The kernel's verifier" gives the reasons).
// Bounds: each loop runs over a count no larger than the bytes left (readCount) and ends at the first
// error; the only tables are per function (functionShape, STRING_LIMIT bytes).
import { bool, u32 } from "dsl";
import {
  FUNCTION_HAS_LOCATION, FUNCTION_RETURNS_VALUE, INTRINSIC_ARGUMENTS, INTRINSIC_COUNT, INTRINSIC_RESULTS,
  LINKER_IMAGE_END, LINKER_IMAGE_START, LINKER_STACK_BOTTOM, LINKER_STACK_TOP, LINKER_SYMBOL_TABLE,
  BINARY_OPCODE_COUNT, LOAD_OPCODE_COUNT, STORE_OPCODE_COUNT, TRAP_KIND_COUNT, UNARY_OPCODE_COUNT,
  OP_BINARY_BASE, OP_CALL, OP_CALL_INDIRECT, OP_CALL_INDIRECT_VOID, OP_CALL_VOID, OP_CONST, OP_COPY,
  OP_FUNCTION_ADDRESS, OP_GLOBAL_ADDRESS, OP_INTRINSIC, OP_INTRINSIC_VOID, OP_LOAD_BASE, OP_SELECT,
  OP_SLOT_ADDRESS, OP_STORE_BASE, OP_TRAP, OP_UNARY_BASE,
  TERM_BRANCH, TERM_JUMP, TERM_RETURN, TERM_RETURN_VOID, TERM_UNREACHABLE,
} from "../abi/bytecode.ts";
import {
  ERROR_ALIGNMENT, ERROR_ARGUMENT_LIMIT, ERROR_BLOCK_LIMIT, ERROR_BLOCK_TARGET, ERROR_CALL_ARGUMENTS,
  ERROR_CALL_RESULT, ERROR_DUPLICATE_FUNCTION, ERROR_FORBIDDEN_INTRINSIC, ERROR_FORBIDDEN_SYMBOL,
  ERROR_FRAME_SIZE, ERROR_FUNCTION_FLAGS, ERROR_INTRINSIC, ERROR_INTRINSIC_ARGUMENTS, ERROR_INTRINSIC_RESULT,
  ERROR_NO_BLOCKS, ERROR_OPCODE, ERROR_PARAMETERS, ERROR_REGISTER_LIMIT, ERROR_RETURN,
  ERROR_SLOT, ERROR_SLOT_LIMIT, ERROR_TERMINATOR, ERROR_TRAP_KIND, ERROR_UNKNOWN_DATA, ERROR_UNKNOWN_FUNCTION,
  NO_FUNCTION, alignUp, fail, here, powerOfTwoUpTo, readByte, readCount, readFlag, readRegister, readUnsigned,
  readerFunction, skipSigned, verifying,
} from "./bytecode-reader.ts";
import { STRING_LIMIT, dataNamed, functionNamed, nameFunction, readString, stringIs } from "./bytecode-strings.ts";

/** Virtual registers of one function (the corpus's largest has 6,252). */
export const REGISTER_LIMIT: u32 = 65536;
/** Parameters of a function, and arguments of a call (the DSL allows 8). */
export const PARAMETER_LIMIT: u32 = 16;
/** Frame slots of one function, their alignment, and their bytes together, aligned as the interpreter lays them. */
export const SLOT_LIMIT: u32 = 256;
export const SLOT_ALIGN_LIMIT: u32 = 4096;
export const FRAME_BYTES_LIMIT: u32 = 0x100000;
/** Blocks of one function. */
export const BLOCK_LIMIT: u32 = 65536;

/**
 * The intrinsics a guest may use, by number (abi/bytecode.ts): those whose effect stays inside the VM
 * (memory through its own checked addresses, its own threads, a hypercall into the dispatcher, a trap
 * that ends it alone). Refused: port I/O, the interrupt flag and hlt, control and descriptor-table
 * registers, the TLB, segments, the FPU's state and CR0.TS, cpuid, the machine's flags and frame pointer.
 */
const GUEST_INTRINSICS: bool[] = [
  false, false, false, false, false, false,   //  0 inb inw inl outb outw outl
  false, false, false, true, true, true,      //  6 cli sti hlt | pause rdtsc rdtscHigh
  false, false, false, false, false, false, false, // 12 readCr0 writeCr0 readCr2 readCr3 writeCr3 readCr4 writeCr4
  false, false, false, false, true, true,     // 19 lgdt lidt ltr invlpg | memoryCopy memoryFill
  false, false, true, false, true, true,      // 25 readFramePointer readFlags | invalidOpcode | loadSegments |
                                              //    divideUnchecked hypercall
  true, true,                                 // 31 contextSwitch contextCreate
  false, false, false, false, false,          // 33 lldt clts fnsave frstor cpuid
  true,                                       // 38 crc32Word
];

/** Per function index: its parameter count, and FUNCTION_RETURNS_VALUE << RETURNS_SHIFT. */
const functionShape = new Uint8Array(STRING_LIMIT);
const PARAMETERS_MASK: u32 = 0x7f;
const RETURNS_SHIFT = 7;

/** The second reading: names are resolved (every function's header has been read once). */
let resolving = false;
// The function being read.
let registerCount: u32 = 0;
let slotCount: u32 = 0;
let blockCount: u32 = 0;
let returnsValue = false;

export function functionParameters(index: u32): u32 { return functionShape[index] & PARAMETERS_MASK; }

/** Reads section 3 (the window); `resolve` on the second reading. */
export function readFunctions(resolve: bool): void {
  resolving = resolve;
  const count = readCount();
  // Each function's name is a string no other function has, so index < the string count <= STRING_LIMIT
  // by the time functionShape[index] is written.
  for (let index: u32 = 0; index < count && verifying(); index++) {
    readerFunction(index);
    readFunction(index);
  }
  readerFunction(NO_FUNCTION);
}

function readFunction(index: u32): void {
  const nameAt = here();
  const name = readString();
  if (!verifying()) return;
  if (!resolving) {
    if (functionNamed(name) !== 0) return fail(ERROR_DUPLICATE_FUNCTION, nameAt);
    nameFunction(name, index);
  }
  const flagsAt = here();
  const flags = readByte();
  if ((flags & ~(FUNCTION_RETURNS_VALUE | FUNCTION_HAS_LOCATION)) !== 0) fail(ERROR_FUNCTION_FLAGS, flagsAt);
  const parametersAt = here();
  const parameters = readUnsigned();
  const registersAt = here();
  registerCount = readUnsigned();
  if (!verifying()) return;
  if (registerCount > REGISTER_LIMIT) return fail(ERROR_REGISTER_LIMIT, registersAt);
  if (parameters > registerCount || parameters > PARAMETER_LIMIT) return fail(ERROR_PARAMETERS, parametersAt);
  returnsValue = (flags & FUNCTION_RETURNS_VALUE) !== 0;
  functionShape[index] = parameters | ((flags & FUNCTION_RETURNS_VALUE) << RETURNS_SHIFT);
  if ((flags & FUNCTION_HAS_LOCATION) !== 0) readLocation();
  readSlots();
  const blocksAt = here();
  blockCount = readCount();
  if (!verifying()) return;
  if (blockCount === 0) return fail(ERROR_NO_BLOCKS, blocksAt);
  if (blockCount > BLOCK_LIMIT) return fail(ERROR_BLOCK_LIMIT, blocksAt);
  for (let block: u32 = 0; block < blockCount && verifying(); block++) readBlock();
}

/** loc = file:str line:uleb column:uleb */
function readLocation(): void {
  readString();
  readUnsigned();
  readUnsigned();
}

/** slot* = count, then name:str size:uleb align:uleb each. */
function readSlots(): void {
  const countAt = here();
  slotCount = readCount();
  if (verifying() && slotCount > SLOT_LIMIT) return fail(ERROR_SLOT_LIMIT, countAt);
  let frameBytes: u32 = 0;
  for (let slot: u32 = 0; slot < slotCount && verifying(); slot++) {
    readString();
    const sizeAt = here();
    const size = readUnsigned();
    const alignAt = here();
    const align = readUnsigned();
    if (!verifying()) return;
    if (!powerOfTwoUpTo(align, SLOT_ALIGN_LIMIT)) return fail(ERROR_ALIGNMENT, alignAt);
    if (size > FRAME_BYTES_LIMIT) return fail(ERROR_FRAME_SIZE, sizeAt);
    frameBytes = alignUp(frameBytes, align) + size;          // both terms <= 2^20 + 2^12: no wrap
    if (frameBytes > FRAME_BYTES_LIMIT) return fail(ERROR_FRAME_SIZE, sizeAt);
  }
}

/** block = hasLoc:bool [loc] instr* terminator */
function readBlock(): void {
  if (readFlag()) readLocation();
  const count = readCount();
  for (let i: u32 = 0; i < count && verifying(); i++) readInstruction();
  readTerminator();
}


/** args = count, then that many registers; returns the count. */
function readArguments(): u32 {
  const at = here();
  const count = readCount();
  if (verifying() && count > PARAMETER_LIMIT) fail(ERROR_ARGUMENT_LIMIT, at);
  for (let i: u32 = 0; i < count && verifying(); i++) readRegister(registerCount);
  return count;
}

function readInstruction(): void {
  const at = here();
  const opcode = readByte();
  if (!verifying()) return;
  // The ranges first: binary ops, loads and stores are most of the code.
  if (opcode >= OP_BINARY_BASE && opcode < OP_BINARY_BASE + BINARY_OPCODE_COUNT) {
    readRegister(registerCount); readRegister(registerCount); readRegister(registerCount);   // dst a b
    return;
  }
  if (opcode >= OP_LOAD_BASE && opcode < OP_LOAD_BASE + LOAD_OPCODE_COUNT) {
    readRegister(registerCount); readRegister(registerCount); skipSigned();                  // dst address offset
    return;
  }
  if (opcode >= OP_STORE_BASE && opcode < OP_STORE_BASE + STORE_OPCODE_COUNT) {
    readRegister(registerCount); skipSigned(); readRegister(registerCount);                  // address offset value
    return;
  }
  if (opcode >= OP_UNARY_BASE && opcode < OP_UNARY_BASE + UNARY_OPCODE_COUNT) {
    readRegister(registerCount); readRegister(registerCount);                                // dst a
    return;
  }
  switch (opcode) {
    case OP_CONST: readRegister(registerCount); skipSigned(); return;
    case OP_COPY: readRegister(registerCount); readRegister(registerCount); return;
    case OP_SELECT:                                           // dst cond ifTrue ifFalse
      readRegister(registerCount); readRegister(registerCount);
      readRegister(registerCount); readRegister(registerCount);
      return;
    case OP_GLOBAL_ADDRESS: readRegister(registerCount); readDataUse(); return;
    case OP_FUNCTION_ADDRESS: readRegister(registerCount); readFunctionUse(); return;
    case OP_SLOT_ADDRESS: readRegister(registerCount); readSlotUse(); return;
    case OP_CALL: readCall(at, true); return;
    case OP_CALL_VOID: readCall(at, false); return;
    case OP_CALL_INDIRECT: readRegister(registerCount); readRegister(registerCount); readArguments(); return;
    case OP_CALL_INDIRECT_VOID: readRegister(registerCount); readArguments(); return;
    case OP_INTRINSIC: readIntrinsic(at, true); return;
    case OP_INTRINSIC_VOID: readIntrinsic(at, false); return;
    case OP_TRAP: {
      const kindAt = here();
      if (readByte() >= TRAP_KIND_COUNT) fail(ERROR_TRAP_KIND, kindAt);
      return;
    }
  }
  fail(ERROR_OPCODE, at);
}

function readSlotUse(): void {
  const at = here();
  const slot = readUnsigned();
  if (verifying() && slot >= slotCount) fail(ERROR_SLOT, at);
}

/** call: [dst] function:str args; resolved: the callee exists, takes that many arguments, has the result. */
function readCall(at: u32, withResult: bool): void {
  if (withResult) readRegister(registerCount);
  const calleeAt = here();
  const callee = readString();
  const count = readArguments();
  if (!verifying() || !resolving) return;
  const index = functionNamed(callee);
  if (index === 0) return fail(ERROR_UNKNOWN_FUNCTION, calleeAt);
  const shape: u32 = functionShape[index - 1];
  if ((shape & PARAMETERS_MASK) !== count) fail(ERROR_CALL_ARGUMENTS, at);
  else if (withResult && (shape >> RETURNS_SHIFT) === 0) fail(ERROR_CALL_RESULT, at);
}

/** intrinsic: [dst] number:u8 args; a known number the guest policy allows, its arity, its result. */
function readIntrinsic(at: u32, withResult: bool): void {
  if (withResult) readRegister(registerCount);
  const numberAt = here();
  const number = readByte();
  if (!verifying()) return;
  if (number >= INTRINSIC_COUNT) return fail(ERROR_INTRINSIC, numberAt);
  // An intrinsic added to the format after this table is refused until the table says otherwise.
  const allowed = number < u32(GUEST_INTRINSICS.length) && GUEST_INTRINSICS[number];
  if (!allowed) return fail(ERROR_FORBIDDEN_INTRINSIC, numberAt);
  const count = readArguments();
  if (!verifying()) return;
  if (count !== INTRINSIC_ARGUMENTS[number]) fail(ERROR_INTRINSIC_ARGUMENTS, at);
  else if (withResult && !INTRINSIC_RESULTS[number]) fail(ERROR_INTRINSIC_RESULT, at);
}

/**
 * globalAddress's symbol: a data symbol, else one of the linker's symbols that mean something in a
 * bytecode VM (its image and stack bounds); the native symbol table does not.
 */
function readDataUse(): void {
  const at = here();
  const symbol = readString();
  if (!verifying() || !resolving || dataNamed(symbol)) return;
  if (stringIs(symbol, LINKER_IMAGE_START) || stringIs(symbol, LINKER_IMAGE_END)) return;
  if (stringIs(symbol, LINKER_STACK_BOTTOM) || stringIs(symbol, LINKER_STACK_TOP)) return;
  fail(stringIs(symbol, LINKER_SYMBOL_TABLE) ? ERROR_FORBIDDEN_SYMBOL : ERROR_UNKNOWN_DATA, at);
}

function readFunctionUse(): void {
  const at = here();
  const callee = readString();
  if (verifying() && resolving && functionNamed(callee) === 0) fail(ERROR_UNKNOWN_FUNCTION, at);
}

/** A block index operand: inside the function. */
function readTarget(): void {
  const at = here();
  const target = readUnsigned();
  if (verifying() && target >= blockCount) fail(ERROR_BLOCK_TARGET, at);
}

function readTerminator(): void {
  const at = here();
  const opcode = readByte();
  if (!verifying()) return;
  switch (opcode) {
    case TERM_JUMP: readTarget(); return;
    case TERM_BRANCH: readRegister(registerCount); readTarget(); readTarget(); return;
    case TERM_RETURN:
      readRegister(registerCount);
      if (!returnsValue) fail(ERROR_RETURN, at);
      return;
    case TERM_RETURN_VOID:
      if (returnsValue) fail(ERROR_RETURN, at);
      return;
    case TERM_UNREACHABLE: return;
  }
  fail(ERROR_TERMINATOR, at);
}
