// The DNBC bytecode format: constants shared by the encoder, the decoder and the interpreter.
// The byte-by-byte layout is documented in docs/bytecode.md; change both together and bump
// FORMAT_VERSION whenever a byte's meaning changes.

import { INTRINSICS, OPS, type BinaryOp, type IntrinsicName, type UnaryOp } from "../ir.ts";

/** "DNBC" in ASCII. */
export const MAGIC = [0x44, 0x4e, 0x42, 0x43] as const;
export const FORMAT_VERSION = 8;
/** Versions this decoder reads: 1 (no interrupt entries, 25 intrinsics) to 8 (docs/bytecode.md "History"). */
export const READABLE_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

/** Section ids, in the order they must appear. */
export const SECTION_STRINGS = 1;
export const SECTION_DATA = 2;
export const SECTION_FUNCTIONS = 3;
export const SECTION_MODULE = 4;

export const DATA_SECTION_KINDS = ["rodata", "data", "bss"] as const;
export const RELOCATION_KINDS = ["data", "function"] as const;

// ---- instruction opcodes (one byte each) -------------------------------------------------------

export const OP_CONST = 0x01;              // dst:u  value:s
export const OP_COPY = 0x02;               // dst:u  src:u
export const OP_GLOBAL_ADDRESS = 0x03;     // dst:u  symbol:string
export const OP_FUNCTION_ADDRESS = 0x04;   // dst:u  function:string
export const OP_SLOT_ADDRESS = 0x05;       // dst:u  slot:u
export const OP_CALL = 0x06;               // dst:u  function:string  argc:u  args:u*
export const OP_CALL_VOID = 0x07;          //        function:string  argc:u  args:u*
export const OP_CALL_INDIRECT = 0x08;      // dst:u  target:u  argc:u  args:u*
export const OP_CALL_INDIRECT_VOID = 0x09; //        target:u  argc:u  args:u*
export const OP_INTRINSIC = 0x0a;          // dst:u  intrinsic:byte  argc:u  args:u*
export const OP_INTRINSIC_VOID = 0x0b;     //        intrinsic:byte  argc:u  args:u*
export const OP_TRAP = 0x0c;               // kind:byte
export const OP_SELECT = 0x0d;             // dst:u  cond:u  ifTrue:u  ifFalse:u (version 5)

/** Loads: dst:u address:u offset:s. Index = (log2 width) * 2 + (signed ? 0 : 1). */
export const OP_LOAD_BASE = 0x10;          // 0x10 load8s 0x11 load8u 0x12 load16s 0x13 load16u 0x14 load32s 0x15 load32u
/** Stores: address:u offset:s value:u. Index = log2 width. */
export const OP_STORE_BASE = 0x18;         // 0x18 store8 0x19 store16 0x1a store32

/** Binary ops: dst:u a:u b:u. Opcode = OP_BINARY_BASE + index in BINARY_OPS. */
export const OP_BINARY_BASE = 0x20;
export const BINARY_OPS: readonly BinaryOp[] = [
  "add", "sub", "mul", "divs", "divu", "rems", "remu",
  "and", "or", "xor", "shl", "shrs", "shru",
  "eq", "ne", "lts", "les", "gts", "ges", "ltu", "leu", "gtu", "geu",
  // version 4
  "mulhs", "mulhu",
];
/** Unary ops: dst:u a:u. Opcode = OP_UNARY_BASE + index in UNARY_OPS. */
export const OP_UNARY_BASE = 0x40;
export const UNARY_OPS: readonly UnaryOp[] = ["neg", "not"];
for (const [form, encoded] of [["binary", BINARY_OPS], ["unary", UNARY_OPS]] as const) {
  const names = encoded as readonly string[];
  const missing = Object.keys(OPS).filter(name => OPS[name as keyof typeof OPS].form === form && !names.includes(name));
  if (missing.length) throw new Error(`compiler/bytecode/format.ts: no encoding of the ${form} ops ${missing}`);
}

// ---- terminator opcodes ------------------------------------------------------------------------

export const TERM_JUMP = 0x60;        // target:u
export const TERM_BRANCH = 0x61;      // cond:u ifTrue:u ifFalse:u
export const TERM_RETURN = 0x62;      // value:u
export const TERM_RETURN_VOID = 0x63;
export const TERM_UNREACHABLE = 0x64;

/** Intrinsic numbers: the index in this list (the order of INTRINSICS in ir.ts at version 1). */
export const INTRINSIC_NAMES: readonly IntrinsicName[] = [
  "inb", "inw", "inl", "outb", "outw", "outl",
  "cli", "sti", "hlt", "pause", "rdtsc", "rdtscHigh",
  "readCr0", "writeCr0", "readCr2", "readCr3", "writeCr3", "readCr4", "writeCr4",
  "lgdt", "lidt", "ltr", "invlpg", "memoryCopy", "memoryFill",
  // version 2
  "readFramePointer", "readFlags", "invalidOpcode", "loadSegments", "divideUnchecked", "hypercall",
  // version 3
  "contextSwitch", "contextCreate",
  // version 6
  "lldt", "clts", "fnsave", "frstor", "cpuid",
  // version 7
  "crc32Word",
  // version 8
  "readMsr", "readMsrHigh", "writeMsr",
];
if (INTRINSIC_NAMES.length !== Object.keys(INTRINSICS).length) {
  throw new Error("compiler/bytecode/format.ts: INTRINSIC_NAMES is out of date with ir.ts INTRINSICS");
}

/** Flags of a function header. */
export const FUNCTION_RETURNS_VALUE = 1;
export const FUNCTION_HAS_LOCATION = 2;

/** Bad bytecode: wrong magic or version, truncated input, an index out of range. */
export class BytecodeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BytecodeFormatError";
  }
}
