// The DNBC bytecode format: constants shared by the encoder, the decoder and the interpreter.
// The byte-by-byte layout is documented in docs/bytecode.md; change both together and bump
// FORMAT_VERSION whenever a byte's meaning changes.

import { INTRINSICS, OPS, TRAP_NAMES, type BinaryOp, type IntrinsicName, type UnaryOp } from "../ir.ts";
import {
  BINARY_OPCODE_COUNT, BYTECODE_MAGIC, DATA_SECTION_BSS, DATA_SECTION_KIND_COUNT, FORMAT_VERSION,
  INTRINSIC_ARGUMENTS, INTRINSIC_COUNT, INTRINSIC_RESULTS, RELOCATION_DATA, RELOCATION_KIND_COUNT, TRAP_KIND_COUNT,
  UNARY_OPCODE_COUNT,
} from "../../abi/bytecode.ts";

// The numbers themselves (opcodes, section ids, flags) are abi/bytecode.ts, shared with the kernel's verifier.
export {
  FORMAT_VERSION, FUNCTION_HAS_LOCATION, FUNCTION_RETURNS_VALUE, OP_BINARY_BASE, OP_CALL, OP_CALL_INDIRECT,
  OP_CALL_INDIRECT_VOID, OP_CALL_VOID, OP_CONST, OP_COPY, OP_FUNCTION_ADDRESS, OP_GLOBAL_ADDRESS, OP_INTRINSIC,
  OP_INTRINSIC_VOID, OP_LOAD_BASE, LOAD_OPCODE_COUNT, OP_SELECT, OP_SLOT_ADDRESS, OP_STORE_BASE, STORE_OPCODE_COUNT,
  OP_TRAP, OP_UNARY_BASE,
  SECTION_DATA, SECTION_FUNCTIONS, SECTION_MODULE, SECTION_STRINGS, TERM_BRANCH, TERM_JUMP, TERM_RETURN,
  TERM_RETURN_VOID, TERM_UNREACHABLE, TRAP_KIND_COUNT,
} from "../../abi/bytecode.ts";

/** "DNBC" in ASCII: the bytes of BYTECODE_MAGIC. */
export const MAGIC = [0, 8, 16, 24].map(shift => (BYTECODE_MAGIC >>> shift) & 0xff);
/** Versions this decoder reads: 1 (no interrupt entries, 25 intrinsics) to FORMAT_VERSION (docs/bytecode.md). */
export const READABLE_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8] as const;
if (READABLE_VERSIONS[READABLE_VERSIONS.length - 1] !== FORMAT_VERSION) {
  throw new Error("compiler/bytecode/format.ts: READABLE_VERSIONS does not end with FORMAT_VERSION");
}

export const DATA_SECTION_KINDS = ["rodata", "data", "bss"] as const;
export const RELOCATION_KINDS = ["data", "function"] as const;

/** Binary ops: dst:u a:u b:u. Opcode = OP_BINARY_BASE + index in BINARY_OPS. */
export const BINARY_OPS: readonly BinaryOp[] = [
  "add", "sub", "mul", "divs", "divu", "rems", "remu",
  "and", "or", "xor", "shl", "shrs", "shru",
  "eq", "ne", "lts", "les", "gts", "ges", "ltu", "leu", "gtu", "geu",
  // version 4
  "mulhs", "mulhu",
];
/** Unary ops: dst:u a:u. Opcode = OP_UNARY_BASE + index in UNARY_OPS. */
export const UNARY_OPS: readonly UnaryOp[] = ["neg", "not"];
for (const [form, encoded] of [["binary", BINARY_OPS], ["unary", UNARY_OPS]] as const) {
  const names = encoded as readonly string[];
  const missing = Object.keys(OPS).filter(name => OPS[name as keyof typeof OPS].form === form && !names.includes(name));
  if (missing.length) throw new Error(`compiler/bytecode/format.ts: no encoding of the ${form} ops ${missing}`);
}

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
// The kernel's verifier reads the counts and the arity and result tables of abi/bytecode.ts: they must say what
// ir.ts and the lists above say.
const outOfStep = [
  INTRINSIC_COUNT !== INTRINSIC_NAMES.length || INTRINSIC_ARGUMENTS.length !== INTRINSIC_COUNT
    || INTRINSIC_RESULTS.length !== INTRINSIC_COUNT ? "INTRINSIC_COUNT and its tables" : "",
  ...INTRINSIC_NAMES.map((name, n) => INTRINSICS[name].args !== INTRINSIC_ARGUMENTS[n]
    || INTRINSICS[name].result !== INTRINSIC_RESULTS[n] ? `intrinsic ${n} (${name})` : ""),
  BINARY_OPCODE_COUNT !== BINARY_OPS.length ? "BINARY_OPCODE_COUNT" : "",
  UNARY_OPCODE_COUNT !== UNARY_OPS.length ? "UNARY_OPCODE_COUNT" : "",
  DATA_SECTION_KIND_COUNT !== DATA_SECTION_KINDS.length || DATA_SECTION_KINDS[DATA_SECTION_BSS] !== "bss"
    ? "DATA_SECTION_KIND_COUNT, DATA_SECTION_BSS" : "",
  RELOCATION_KIND_COUNT !== RELOCATION_KINDS.length || RELOCATION_KINDS[RELOCATION_DATA] !== "data"
    ? "RELOCATION_KIND_COUNT, RELOCATION_DATA" : "",
  TRAP_KIND_COUNT !== TRAP_NAMES.length ? "TRAP_KIND_COUNT" : "",
].filter(Boolean);
if (outOfStep.length) {
  throw new Error(`abi/bytecode.ts is out of step with ir.ts and format.ts: ${outOfStep.join(", ")}`);
}

/** Bad bytecode: wrong magic or version, truncated input, an index out of range. */
export class BytecodeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BytecodeFormatError";
  }
}
