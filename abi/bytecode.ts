// The DNBC bytecode format's numbers (docs/bytecode.md): the one definition of its magic, version,
// section ids, opcodes, flags and intrinsic numbers. Written in the DSL so that both sides import it:
// the compiler's encoder, decoder and host interpreter (through compiler/bytecode/format.ts, which adds
// the names of the ops and intrinsics) and the kernel's load-time verifier (kernel-src/bytecode-*.ts).
// Each intrinsic's arity and result are ir.ts INTRINSICS, by name; the two tables at the end hold the
// same facts by number for the kernel, and format.ts refuses to load when they disagree.
// Bump FORMAT_VERSION whenever the meaning of any byte changes (docs/bytecode.md "History").
import { u8, u32, bool } from "dsl";

/** "DNBC" (44 4E 42 43), the file's first four bytes, read as a little-endian word. */
export const BYTECODE_MAGIC: u32 = 0x43424e44;
export const FORMAT_VERSION = 8;

/** Section ids, in the order they must appear, each exactly once. */
export const SECTION_STRINGS = 1;
export const SECTION_DATA = 2;
export const SECTION_FUNCTIONS = 3;
export const SECTION_MODULE = 4;

/** A data symbol's section byte is below this (0 rodata, 1 data, 2 bss). */
export const DATA_SECTION_KIND_COUNT = 3;
/** The section byte of a zero-filled symbol, which holds no bytes. */
export const DATA_SECTION_BSS = 2;
/** A relocation's kind byte is below this: RELOCATION_DATA patches in a data symbol's address, 1 a function's. */
export const RELOCATION_KIND_COUNT = 2;
export const RELOCATION_DATA = 0;
/** A trap instruction's kind byte is below this (0 unreachable, 1 division by zero, 2 bounds). */
export const TRAP_KIND_COUNT = 3;

/** Flags of a function header; no other bit may be set. */
export const FUNCTION_RETURNS_VALUE = 1;
export const FUNCTION_HAS_LOCATION = 2;

/**
 * The symbols the linker defines (compiler/link), which `globalAddress` may name without a data symbol
 * of that name (format version 2).
 */
export const LINKER_IMAGE_START = "__image_start";
export const LINKER_IMAGE_END = "__image_end";
export const LINKER_STACK_BOTTOM = "__stack_bottom";
export const LINKER_STACK_TOP = "__stack_top";
export const LINKER_SYMBOL_TABLE = "__symbol_table";

// ---- a bytecode VM's memory (docs/bytecode.md "Bytecode VMs") ---------------------------------------

/**
 * A bytecode VM's linear memory is [GUEST_BASE, GUEST_BASE + memorySize), as a hardware VM's, laid out so
 * that a small VM's busy bytes share one page (kernel-src/linear.ts: it holds only the pages it touched):
 * from GUEST_BASE + BYTECODE_STACK_OFFSET its stack of BYTECODE_STACK_BYTES (frame slots, growing down; the
 * registers are the interpreter's), then its boot information (abi/boot.ts BootInfo, in
 * BYTECODE_BOOT_INFO_BYTES), then from BYTECODE_DATA_OFFSET, aligned up to the largest alignment of its
 * symbols (16 at least), the data symbols in module order, each aligned as it asks; at least one page
 * after them. tools/build.ts bytecodeSpan sizes a group by it, the kernel checks a group's memory against it.
 */
export const BYTECODE_STACK_BYTES: u32 = 16 * 1024;
export const BYTECODE_STACK_OFFSET: u32 = 2048;
export const BYTECODE_BOOT_INFO_OFFSET: u32 = BYTECODE_STACK_OFFSET + BYTECODE_STACK_BYTES;
export const BYTECODE_BOOT_INFO_BYTES: u32 = 256;
export const BYTECODE_DATA_OFFSET: u32 = BYTECODE_BOOT_INFO_OFFSET + BYTECODE_BOOT_INFO_BYTES;
/** The data's base is aligned to at least this (and its size rounded up to it). */
export const BYTECODE_DATA_ALIGN: u32 = 16;
/**
 * The value `functionAddress(f)` gives: FUNCTION_ADDRESS_BASE + 16 * (f's index in section 3), on the host
 * interpreter and in the kernel's alike; callIndirect takes no other value.
 */
export const FUNCTION_ADDRESS_BASE: u32 = 0x7f000000;
export const FUNCTION_ADDRESS_STRIDE: u32 = 16;

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

/** Loads: dst:u address:u offset:s. Opcode = OP_LOAD_BASE + (log2 width) * 2 + (signed ? 0 : 1). */
export const OP_LOAD_BASE = 0x10;          // load8s load8u load16s load16u load32s load32u: 0x10..0x15
export const LOAD_OPCODE_COUNT = 6;
/** Stores: address:u offset:s value:u. Opcode = OP_STORE_BASE + log2 width. */
export const OP_STORE_BASE = 0x18;         // 0x18 store8 0x19 store16 0x1a store32
export const STORE_OPCODE_COUNT = 3;
/** Binary ops: dst:u a:u b:u. Opcode = OP_BINARY_BASE + index in format.ts BINARY_OPS. */
export const OP_BINARY_BASE = 0x20;
export const BINARY_OPCODE_COUNT = 25;
/** Unary ops: dst:u a:u. Opcode = OP_UNARY_BASE + index in format.ts UNARY_OPS. */
export const OP_UNARY_BASE = 0x40;
export const UNARY_OPCODE_COUNT = 2;

// ---- terminator opcodes ------------------------------------------------------------------------

export const TERM_JUMP = 0x60;        // target:u
export const TERM_BRANCH = 0x61;      // cond:u ifTrue:u ifFalse:u
export const TERM_RETURN = 0x62;      // value:u
export const TERM_RETURN_VOID = 0x63;
export const TERM_UNREACHABLE = 0x64;

// ---- intrinsics, by number (format.ts INTRINSIC_NAMES names them) ------------------------------

export const INTRINSIC_COUNT = 42;

// The intrinsics a bytecode VM may call, by number (kernel-src/bytecode-code.ts GUEST_INTRINSICS): the
// in-kernel interpreter's cases (test/bytecode/encoding.test.ts checks them against INTRINSIC_NAMES).
export const INTRINSIC_PAUSE = 9;
export const INTRINSIC_RDTSC = 10;
export const INTRINSIC_RDTSC_HIGH = 11;
export const INTRINSIC_MEMORY_COPY = 23;
export const INTRINSIC_MEMORY_FILL = 24;
export const INTRINSIC_INVALID_OPCODE = 27;
export const INTRINSIC_DIVIDE_UNCHECKED = 29;
export const INTRINSIC_HYPERCALL = 30;
export const INTRINSIC_CONTEXT_SWITCH = 31;
export const INTRINSIC_CONTEXT_CREATE = 32;
export const INTRINSIC_CRC32_WORD = 38;

/** Arguments of intrinsic n (ir.ts INTRINSICS[name].args). */
export const INTRINSIC_ARGUMENTS: u8[] = [
  1, 1, 1, 2, 2, 2,           //  0 inb inw inl outb outw outl
  0, 0, 0, 0, 0, 0,           //  6 cli sti hlt pause rdtsc rdtscHigh
  0, 1, 0, 0, 1, 0, 1,        // 12 readCr0 writeCr0 readCr2 readCr3 writeCr3 readCr4 writeCr4
  1, 1, 1, 1, 3, 3,           // 19 lgdt lidt ltr invlpg memoryCopy memoryFill
  0, 0, 0, 2, 2, 5,           // 25 readFramePointer readFlags invalidOpcode loadSegments divideUnchecked hypercall
  2, 4,                       // 31 contextSwitch contextCreate
  1, 0, 1, 1, 3,              // 33 lldt clts fnsave frstor cpuid
  2,                          // 38 crc32Word
  1, 1, 3,                    // 39 readMsr readMsrHigh writeMsr
];

/** Whether intrinsic n produces a value (ir.ts INTRINSICS[name].result). */
export const INTRINSIC_RESULTS: bool[] = [
  true, true, true, false, false, false,                 //  0 inb inw inl outb outw outl
  false, false, false, false, true, true,                //  6 cli sti hlt pause rdtsc rdtscHigh
  true, false, true, true, false, true, false,           // 12 readCr0 writeCr0 readCr2 readCr3 writeCr3 readCr4 ...
  false, false, false, false, false, false,              // 19 lgdt lidt ltr invlpg memoryCopy memoryFill
  true, true, false, false, true, true,                  // 25 readFramePointer readFlags invalidOpcode loadSegments ...
  false, true,                                           // 31 contextSwitch contextCreate
  false, false, false, false, false,                     // 33 lldt clts fnsave frstor cpuid
  true,                                                  // 38 crc32Word
  true, true, false,                                     // 39 readMsr readMsrHigh writeMsr
];
