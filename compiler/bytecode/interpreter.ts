// The host interpreter of DNBC bytecode: the REFERENCE SEMANTICS of the IR (compiler/ir.ts).
// Every native x86 result is checked against what this file computes.
//
// Requires: bytecode that decodes (decode.ts verifies every index). Runs it from the bytes: the module
// is decoded, then each function is pre-decoded into one flat Int32Array of internal opcodes and
// operands (block targets resolved to code offsets, data and function addresses resolved to constants)
// and executed by one loop with a switch. Registers of all frames live in one Int32Array.
//
// The machine (docs/bytecode.md, "The reference machine"):
//  - memory: a flat little-endian byte array of `memorySize` bytes at address 0; every access is
//    checked, an access outside it ends the run with "memory access out of range at 0x..., in function F";
//  - data symbols from `dataBase` (0x00200000) in module order, each aligned; relocations patched;
//  - a multiboot info struct (flags = 0) at `multibootInfoAddress` (0x9000); entry is called as
//    entry(0x2BADB002, multibootInfoAddress);
//  - the stack grows down from the top of memory; each call reserves CALL_OVERHEAD bytes (standing
//    for the return address) and then its frame slots, aligned as they ask; it may not reach below
//    the end of the data;
//  - function addresses are FUNCTION_ADDRESS_BASE + 16 * (index in Module.functions);
//  - division by zero and `trap` call trapHandler(kind), which must never return;
//  - rdtsc reads the count of IR instructions (terminators included) executed so far, this one included.

import type { Function, Module } from "../ir.ts";
import { TRAP_DIVIDE_BY_ZERO, crc32cWord, mulHighSigned, mulHighUnsigned } from "../ir.ts";
import { decodeModule } from "./decode.ts";
import { encodeModule } from "./encode.ts";
import { BINARY_OPS, INTRINSIC_NAMES } from "./format.ts";

const DEFAULT_MEMORY_SIZE = 32 * 1024 * 1024;
export const DEFAULT_DATA_BASE = 0x00200000;
export const DEFAULT_MULTIBOOT_INFO_ADDRESS = 0x00009000;
const DEFAULT_STEP_LIMIT = 2e9;
export const MULTIBOOT_MAGIC = 0x2badb002;
export { FUNCTION_ADDRESS_BASE } from "../../abi/bytecode.ts";
import { FUNCTION_ADDRESS_BASE } from "../../abi/bytecode.ts";
/** Bytes of stack every call consumes besides its slots (the native return address, rounded up). */
const CALL_OVERHEAD = 16;
/** Size of the multiboot information structure (Multiboot Specification 0.6.96, section 3.3). */
const MULTIBOOT_INFO_SIZE = 116;

const COM1 = 0x3f8;
const COM1_LINE_STATUS = 0x3fd;
/** Line status: transmitter holding register empty (bit 5) and transmitter empty (bit 6). */
const COM1_LINE_STATUS_READY = 0x60;
const DEBUG_EXIT_PORT = 0xf4;

export interface RunOptions {
  /** Bytes of memory (default 32 MiB); a multiple of 16, at most 2 GiB. */
  memorySize?: number;
  /** Address of the first data symbol (default 0x00200000). */
  dataBase?: number;
  /** Address of the multiboot info struct passed to entry (default 0x9000). */
  multibootInfoAddress?: number;
  /** The run ends with an error after this many IR instructions (default 2e9). */
  stepLimit?: number;
  /** Called for every out*; return true to say the write was handled (the default devices are then skipped). */
  onOut?: (port: number, value: number, width: 1 | 2 | 4) => boolean | void;
  /** Answers the hypercall intrinsic (number, a, b, c, d) -> result, for running guests on the host. */
  onHypercall?: (number: number, a: number, b: number, c: number, d: number) => number;
  /** Called for every in*; return a number to answer the read, undefined for the default devices. */
  onIn?: (port: number, width: 1 | 2 | 4) => number | undefined | void;
}

type StopReason = "exit" | "halt" | "return" | "error";

export interface RunResult {
  /** Bytes written to COM1's data register, as latin1. */
  serial: string;
  /** v of the last write to the isa-debug-exit port 0xf4 (QEMU would exit with (v << 1) | 1), or null. */
  exitPortValue: number | null;
  /** True when the run ended on hlt. */
  halted: boolean;
  /** IR instructions executed (terminators included). */
  instructions: number;
  /** Set when the run ended on an interpreter error (bad memory access, step limit, ...). */
  error?: string;
  /** Why the run ended: port 0xf4, hlt, entry returned, or an error. */
  stop: StopReason;
  /** The value entry returned, when stop is "return" and entry returns a value; else null. */
  returnValue: number | null;
}

/** A run-time fault of the program: ends the run with RunResult.error. */
class InterpreterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InterpreterError";
  }
}

// ---- internal opcodes of the pre-decoded code ---------------------------------------------------

const I_CONST = 0;        // dst value
const I_COPY = 1;         // dst src
const I_BINARY = 2;       // 2..26: dst a b, in BINARY_OPS order
const I_ADD = 2, I_SUB = 3, I_MUL = 4, I_DIVS = 5, I_DIVU = 6, I_REMS = 7, I_REMU = 8;
const I_AND = 9, I_OR = 10, I_XOR = 11, I_SHL = 12, I_SHRS = 13, I_SHRU = 14;
const I_EQ = 15, I_NE = 16, I_LTS = 17, I_LES = 18, I_GTS = 19, I_GES = 20, I_LTU = 21, I_LEU = 22, I_GTU = 23, I_GEU = 24;
const I_MULHS = 25, I_MULHU = 26;
const I_NEG = 30, I_NOT = 31; // dst a
const I_SELECT = 32;      // dst cond ifTrue ifFalse
const I_LOAD8S = 40, I_LOAD8U = 41, I_LOAD16S = 42, I_LOAD16U = 43, I_LOAD32 = 44; // dst address offset
const I_STORE8 = 46, I_STORE16 = 47, I_STORE32 = 48; // address offset value
const I_SLOT = 50;        // dst offsetFromFrameBase
const I_CALL = 51;        // function dst argc args...
const I_CALL_INDIRECT = 52; // target dst argc args...
const I_INTRINSIC = 53;   // intrinsic dst argc args...
const I_TRAP = 54;        // kind
const I_JUMP = 60;        // pc
const I_BRANCH = 61;      // cond pcTrue pcFalse
const I_RETURN = 62;      // value
const I_RETURN_VOID = 63;
const I_UNREACHABLE = 64; // block

if (BINARY_OPS[I_GEU - I_BINARY] !== "geu" || BINARY_OPS[I_DIVS - I_BINARY] !== "divs" || BINARY_OPS[I_MULHU - I_BINARY] !== "mulhu") {
  throw new Error("interpreter.ts: internal binary opcodes are out of step with BINARY_OPS");
}
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error("interpreter.ts: the host must be little-endian");
}

const NO_DESTINATION = -1;
const TRAP_FRAME = -2;    // destination marker of a trap handler's frame: returning from it is an error
const FRAME_WORDS = 5;    // saved pc, rb, fp, function, destination

const INTRINSIC_IDS = new Map(INTRINSIC_NAMES.map((name, id) => [name, id]));
const intrinsicId = (name: string): number => INTRINSIC_IDS.get(name as never)!;
const X_INB = intrinsicId("inb"), X_INW = intrinsicId("inw"), X_INL = intrinsicId("inl");
const X_OUTB = intrinsicId("outb"), X_OUTW = intrinsicId("outw"), X_OUTL = intrinsicId("outl");
const X_HLT = intrinsicId("hlt"), X_RDTSC = intrinsicId("rdtsc"), X_RDTSC_HIGH = intrinsicId("rdtscHigh");
const X_READ_CR0 = intrinsicId("readCr0"), X_WRITE_CR0 = intrinsicId("writeCr0"), X_READ_CR2 = intrinsicId("readCr2");
const X_READ_CR3 = intrinsicId("readCr3"), X_WRITE_CR3 = intrinsicId("writeCr3");
const X_READ_CR4 = intrinsicId("readCr4"), X_WRITE_CR4 = intrinsicId("writeCr4");
const X_MEMORY_COPY = intrinsicId("memoryCopy"), X_MEMORY_FILL = intrinsicId("memoryFill");
const X_READ_FRAME_POINTER = intrinsicId("readFramePointer"), X_READ_FLAGS = intrinsicId("readFlags");
const X_INVALID_OPCODE = intrinsicId("invalidOpcode"), X_DIVIDE_UNCHECKED = intrinsicId("divideUnchecked");
const X_HYPERCALL = intrinsicId("hypercall");
const X_CONTEXT_SWITCH = intrinsicId("contextSwitch");
const X_CONTEXT_CREATE = intrinsicId("contextCreate");
const X_FNSAVE = intrinsicId("fnsave"), X_FRSTOR = intrinsicId("frstor"), X_CPUID = intrinsicId("cpuid");
const X_READ_MSR = intrinsicId("readMsr"), X_READ_MSR_HIGH = intrinsicId("readMsrHigh");
const X_WRITE_MSR = intrinsicId("writeMsr");
const X_CLI = intrinsicId("cli"), X_STI = intrinsicId("sti"), X_CRC32_WORD = intrinsicId("crc32Word");
/** Intrinsics that change only what the interpreter does not model (descriptor tables, the TLB, segments, CR0.TS). */
const NO_MODELLED_EFFECT = new Set(
  ["pause", "lgdt", "lidt", "ltr", "invlpg", "loadSegments", "lldt", "clts"].map(intrinsicId));
const EFLAGS_RESERVED_ONE = 0x2, EFLAGS_INTERRUPT_ENABLE = 0x200;
const THREAD_EXIT = -3;   // destination marker of a context's first frame: its entry must not return

/** A suspended context (contextSwitch): the interpreter's own state of that thread, by handle. */
interface SavedContext { pc: number; registerBase: number; framePointer: number; currentFunction: number; stackLimit: number; frames: Int32Array; registers: Int32Array }

const hex32 = (x: number): string => "0x" + (x >>> 0).toString(16).padStart(8, "0");
const alignUp = (x: number, align: number): number => Math.ceil(x / align) * align;

/** The program loaded into a fresh machine, ready to run once. */
export class Machine {
  readonly memory: Uint8Array;
  private readonly memory32: Int32Array;
  private readonly memorySize: number;
  private readonly module: Module;
  private readonly options: RunOptions;
  private readonly symbolAddresses = new Map<string, number>();
  private readonly functionIndices = new Map<string, number>();
  /** The lowest address the running context's stack may use (the main stack's, or a thread's base). */
  private stackLimit: number;
  /** Suspended contexts by handle, and the stack bases of created ones not yet started. */
  private readonly savedContexts = new Map<number, SavedContext>();
  private readonly createdStacks = new Map<number, number>();

  // pre-decoded program
  private code = new Int32Array(0);
  private readonly entryPcs: Int32Array;
  private readonly vregCounts: Int32Array;
  private readonly frameSizes: Int32Array;
  private readonly frameMasks: Int32Array;
  private readonly paramCounts: Int32Array;
  private readonly returnsValue: Uint8Array;

  // machine state
  private registers = new Int32Array(1 << 16);
  private frames = new Int32Array(FRAME_WORDS * 1024);
  private frameCount = 0;
  private pc = 0;
  private registerBase = 0;
  private framePointer = 0;
  private currentFunction = 0;
  private controlRegisters = [0x00000011, 0, 0, 0, 0]; // cr0 (PE | ET, as multiboot leaves it) .. cr4
  private interruptsEnabled = false;                   // EFLAGS.IF: clear at a multiboot entry; cli/sti
  private serialBytes: number[] = [];
  private uartLineControl = 0;
  private readonly pendingArgs = new Int32Array(2); // arguments 4 and 5 of an intrinsic (hypercall)
  private exitPortValue: number | null = null;
  private stopReason: StopReason | null = null;
  private returnValue: number | null = null;
  private ran = false;

  /** Decodes (and so verifies) the bytecode and loads it. Throws BytecodeFormatError on bad bytes. */
  static fromBytecode(bytes: Uint8Array, options: RunOptions = {}): Machine {
    return new Machine(decodeModule(bytes), options);
  }

  private constructor(module: Module, options: RunOptions) {
    this.module = module;
    this.options = options;
    const memorySize = options.memorySize ?? DEFAULT_MEMORY_SIZE;
    if (!Number.isInteger(memorySize) || memorySize % 16 !== 0 || memorySize < 0x10000 || memorySize > 0x80000000) {
      throw new RangeError(`memorySize ${memorySize} must be a multiple of 16 between 64 KiB and 2 GiB`);
    }
    this.memorySize = memorySize;
    this.memory = new Uint8Array(memorySize);
    this.memory32 = new Int32Array(this.memory.buffer);

    const functions = module.functions;
    functions.forEach((func, index) => this.functionIndices.set(func.name, index));
    const count = functions.length;
    this.entryPcs = new Int32Array(count);
    this.vregCounts = new Int32Array(count);
    this.frameSizes = new Int32Array(count);
    this.frameMasks = new Int32Array(count);
    this.paramCounts = new Int32Array(count);
    this.returnsValue = new Uint8Array(count);

    // data layout
    const infoAddress = options.multibootInfoAddress ?? DEFAULT_MULTIBOOT_INFO_ADDRESS;
    let address = options.dataBase ?? DEFAULT_DATA_BASE;
    for (const symbol of module.data) {
      address = alignUp(address, symbol.align);
      this.symbolAddresses.set(symbol.name, address);
      address += symbol.size;
    }
    // Linker symbols (ir.ts LINKER_SYMBOLS): an empty symbol table (count 0) after the data, the image's bounds.
    address = alignUp(address, 4);
    this.symbolAddresses.set("__symbol_table", address);
    address += 4;
    this.symbolAddresses.set("__image_start", options.dataBase ?? DEFAULT_DATA_BASE);
    this.symbolAddresses.set("__image_end", alignUp(address, 4096));
    const dataEnd = address;
    this.stackLimit = Math.max(alignUp(dataEnd, 16), infoAddress + MULTIBOOT_INFO_SIZE);
    if (this.stackLimit + 0x1000 > memorySize) {
      throw new RangeError(`memory of ${memorySize} bytes is too small for data ending at ${hex32(dataEnd)} and a stack`);
    }
    for (const symbol of module.data) {
      const base = this.symbolAddresses.get(symbol.name)!;
      if (symbol.bytes) this.memory.set(symbol.bytes, base);
      for (const relocation of symbol.relocations) {
        const target = relocation.kind === "data"
          ? this.symbolAddresses.get(relocation.symbol)!
          : this.functionAddress(relocation.symbol);
        this.writeWord(base + relocation.offset, target);
      }
    }
    this.memory.fill(0, infoAddress, infoAddress + MULTIBOOT_INFO_SIZE); // flags = 0: no optional fields
    this.symbolAddresses.set("__stack_bottom", this.stackLimit);
    this.symbolAddresses.set("__stack_top", memorySize);

    functions.forEach((func, index) => this.layoutFrame(func, index));
    this.predecode();
  }

  /** Address of a data symbol in this machine's memory. */
  symbolAddress(name: string): number {
    const address = this.symbolAddresses.get(name);
    if (address === undefined) throw new Error(`no data symbol ${name}`);
    return address;
  }

  /** The value functionAddress gives for a function. */
  functionAddress(name: string): number {
    let index = this.functionIndices.get(name);
    // Interrupt entries get addresses after the functions; they cannot be called from here.
    const entry = this.module.interruptEntries?.findIndex(e => e.name === name) ?? -1;
    if (index === undefined && entry >= 0) index = this.module.functions.length + entry;
    if (index === undefined) throw new Error(`no function ${name}`);
    return (FUNCTION_ADDRESS_BASE + 16 * index) | 0;
  }

  private writeWord(address: number, value: number): void {
    const m = this.memory;
    m[address] = value; m[address + 1] = value >>> 8; m[address + 2] = value >>> 16; m[address + 3] = value >>> 24;
  }

  // ---- pre-decoding ------------------------------------------------------------------------------

  private slotOffsets: number[][] = [];

  private layoutFrame(func: Function, index: number): void {
    let offset = 0;
    let maxAlign = 16;
    const offsets: number[] = [];
    for (const slot of func.slots) {
      offset = alignUp(offset, slot.align);
      offsets.push(offset);
      offset += slot.size;
      maxAlign = Math.max(maxAlign, slot.align);
    }
    this.slotOffsets[index] = offsets;
    this.frameSizes[index] = CALL_OVERHEAD + offset;
    this.frameMasks[index] = ~(maxAlign - 1);
    this.vregCounts[index] = func.vregCount;
    this.paramCounts[index] = func.params;
    this.returnsValue[index] = func.returnsValue ? 1 : 0;
  }

  private predecode(): void {
    const out: number[] = [];
    const emit = (...words: number[]): void => { for (const word of words) out.push(word); };
    this.module.functions.forEach((func, index) => {
      this.entryPcs[index] = out.length;
      const blockPcs: number[] = [];
      const fixups: number[] = []; // positions in `out` that hold a block index, to become a pc
      const block = (target: number): void => { fixups.push(out.length); out.push(target); };
      for (const b of func.blocks) {
        blockPcs.push(out.length);
        for (const instr of b.instrs) {
          switch (instr.op) {
            case "const": emit(I_CONST, instr.dst, instr.value); break;
            case "copy": emit(I_COPY, instr.dst, instr.src); break;
            case "binary": emit(I_BINARY + BINARY_OPS.indexOf(instr.kind), instr.dst, instr.a, instr.b); break;
            case "unary": emit(instr.kind === "neg" ? I_NEG : I_NOT, instr.dst, instr.a); break;
            case "select": emit(I_SELECT, instr.dst, instr.cond, instr.ifTrue, instr.ifFalse); break;
            case "load": {
              const op = instr.width === 4 ? I_LOAD32
                : instr.width === 2 ? (instr.signed ? I_LOAD16S : I_LOAD16U)
                : (instr.signed ? I_LOAD8S : I_LOAD8U);
              emit(op, instr.dst, instr.address, instr.offset);
              break;
            }
            case "store":
              emit(instr.width === 4 ? I_STORE32 : instr.width === 2 ? I_STORE16 : I_STORE8, instr.address, instr.offset, instr.value);
              break;
            case "globalAddress": emit(I_CONST, instr.dst, this.symbolAddress(instr.symbol) | 0); break;
            case "functionAddress": emit(I_CONST, instr.dst, this.functionAddress(instr.func)); break;
            case "slotAddress": emit(I_SLOT, instr.dst, this.slotOffsets[index][instr.slot]); break;
            case "call":
              emit(I_CALL, this.functionIndices.get(instr.func)!, instr.dst ?? NO_DESTINATION, instr.args.length, ...instr.args);
              break;
            case "callIndirect":
              emit(I_CALL_INDIRECT, instr.target, instr.dst ?? NO_DESTINATION, instr.args.length, ...instr.args);
              break;
            case "intrinsic":
              emit(I_INTRINSIC, intrinsicId(instr.name), instr.dst ?? NO_DESTINATION, instr.args.length, ...instr.args);
              break;
            case "trap": emit(I_TRAP, instr.kind); break;
          }
        }
        const term = b.term;
        switch (term.op) {
          case "jump": emit(I_JUMP); block(term.target); break;
          case "branch": emit(I_BRANCH, term.cond); block(term.ifTrue); block(term.ifFalse); break;
          case "return": if (term.value === null) emit(I_RETURN_VOID); else emit(I_RETURN, term.value); break;
          case "unreachable": emit(I_UNREACHABLE, b.id); break;
        }
      }
      for (const position of fixups) out[position] = blockPcs[out[position]];
    });
    this.code = Int32Array.from(out);
  }

  // ---- running -----------------------------------------------------------------------------------

  /** Runs entry(0x2BADB002, multibootInfoAddress) to its end. A machine runs once. */
  run(): RunResult {
    if (this.ran) throw new Error("a Machine runs once; load the bytecode again");
    this.ran = true;
    let error: string | undefined;
    let instructions = 0;
    try {
      const entry = this.functionIndices.get(this.module.entry)!;
      this.currentFunction = entry;
      this.registerBase = 0;
      this.framePointer = this.memorySize;
      this.enterFunction(entry);
      const info = this.options.multibootInfoAddress ?? DEFAULT_MULTIBOOT_INFO_ADDRESS;
      const args = [MULTIBOOT_MAGIC | 0, info];
      for (let i = 0; i < Math.min(2, this.paramCounts[entry]); i++) this.registers[i] = args[i];
      instructions = this.execute();
    } catch (e) {
      if (!(e instanceof InterpreterError)) throw e;
      error = e.message;
      instructions = this.executed;
      this.stopReason = "error";
    }
    const result: RunResult = {
      serial: Buffer.from(this.serialBytes).toString("latin1"),
      exitPortValue: this.exitPortValue,
      halted: this.stopReason === "halt",
      instructions,
      stop: this.stopReason!,
      returnValue: this.returnValue,
    };
    if (error !== undefined) result.error = error;
    return result;
  }

  /** Instructions executed so far, kept up to date whenever execute() leaves its loop or calls out. */
  private executed = 0;

  private functionName(index = this.currentFunction): string {
    return this.module.functions[index].name;
  }

  private outOfRange(address: number, fn = this.currentFunction): never {
    throw new InterpreterError(`memory access out of range at ${hex32(address)}, in function ${this.functionName(fn)}`);
  }

  /** Sets up the frame of `callee` below the current one (registers zeroed, slots reserved); pc at its entry. */
  private enterFunction(callee: number): void {
    const fp = (this.framePointer - this.frameSizes[callee]) & this.frameMasks[callee];
    if (fp < this.stackLimit) {
      throw new InterpreterError(`stack overflow calling ${this.functionName(callee)} (stack pointer ${hex32(fp)}), in function ${this.functionName()}`);
    }
    this.ensureRegisters(this.registerBase + this.vregCounts[callee]);
    this.registers.fill(0, this.registerBase, this.registerBase + this.vregCounts[callee]);
    this.framePointer = fp;
    this.currentFunction = callee;
    this.pc = this.entryPcs[callee];
  }

  private ensureRegisters(size: number): void {
    if (size <= this.registers.length) return;
    let length = this.registers.length * 2;
    while (length < size) length *= 2;
    const bigger = new Int32Array(length);
    bigger.set(this.registers);
    this.registers = bigger;
  }

  private pushFrame(returnPc: number, destination: number): void {
    if (this.frameCount + FRAME_WORDS > this.frames.length) {
      const bigger = new Int32Array(this.frames.length * 2);
      bigger.set(this.frames);
      this.frames = bigger;
    }
    const f = this.frames;
    let n = this.frameCount;
    f[n++] = returnPc; f[n++] = this.registerBase; f[n++] = this.framePointer; f[n++] = this.currentFunction; f[n++] = destination;
    this.frameCount = n;
  }

  /** Calls trapHandler(kind) from the current frame; its frame is marked so that returning is an error. */
  private enterTrap(kind: number): void {
    const handler = this.functionIndices.get(this.module.trapHandler)!;
    this.pushFrame(this.pc, TRAP_FRAME);
    const base = this.registerBase + this.vregCounts[this.currentFunction];
    this.registerBase = base;
    this.enterFunction(handler);
    this.registers[base] = kind;
  }

  /** The interpreter loop. Returns the count of instructions executed when the run stops. */
  private execute(): number {
    const code = this.code;
    const memory = this.memory;
    const memory32 = this.memory32;
    const memorySize = this.memorySize;
    const vregCounts = this.vregCounts;
    const limit = this.options.stepLimit ?? DEFAULT_STEP_LIMIT;
    let registers = this.registers;
    let pc = this.pc;
    let rb = this.registerBase;
    let fp = this.framePointer;
    let fn = this.currentFunction;
    let count = 0;

    try {
      for (;;) {
        if (++count > limit) {
          count--;
          throw new InterpreterError(`step limit of ${limit} instructions reached, in function ${this.functionName(fn)}`);
        }
        switch (code[pc]) {
          case I_CONST: registers[rb + code[pc + 1]] = code[pc + 2]; pc += 3; break;
          case I_COPY: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]]; pc += 3; break;

          case I_ADD: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] + registers[rb + code[pc + 3]]; pc += 4; break;
          case I_SUB: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] - registers[rb + code[pc + 3]]; pc += 4; break;
          case I_MUL: registers[rb + code[pc + 1]] = Math.imul(registers[rb + code[pc + 2]], registers[rb + code[pc + 3]]); pc += 4; break;
          case I_MULHS: registers[rb + code[pc + 1]] = mulHighSigned(registers[rb + code[pc + 2]], registers[rb + code[pc + 3]]); pc += 4; break;
          case I_MULHU: registers[rb + code[pc + 1]] = mulHighUnsigned(registers[rb + code[pc + 2]], registers[rb + code[pc + 3]]); pc += 4; break;
          case I_DIVS: case I_DIVU: case I_REMS: case I_REMU: {
            const op = code[pc];
            const a = registers[rb + code[pc + 2]];
            const b = registers[rb + code[pc + 3]];
            if (b === 0) {
              // the trap handler never returns; the saved pc only matters for the frame it pushes
              this.pc = pc + 4; this.registerBase = rb; this.framePointer = fp; this.currentFunction = fn;
              this.enterTrap(TRAP_DIVIDE_BY_ZERO);
              pc = this.pc; rb = this.registerBase; fp = this.framePointer; fn = this.currentFunction; registers = this.registers;
              break;
            }
            let value: number;
            if (op === I_DIVS) value = b === -1 ? -a : a / b;           // INT_MIN / -1 wraps to INT_MIN
            else if (op === I_REMS) value = b === -1 ? 0 : a % b;       // sign of the dividend, like idiv
            else if (op === I_DIVU) value = (a >>> 0) / (b >>> 0);
            else value = (a >>> 0) % (b >>> 0);
            registers[rb + code[pc + 1]] = value; // Int32Array stores truncate toward zero and wrap
            pc += 4;
            break;
          }
          case I_AND: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] & registers[rb + code[pc + 3]]; pc += 4; break;
          case I_OR: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] | registers[rb + code[pc + 3]]; pc += 4; break;
          case I_XOR: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] ^ registers[rb + code[pc + 3]]; pc += 4; break;
          case I_SHL: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] << registers[rb + code[pc + 3]]; pc += 4; break;
          case I_SHRS: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] >> registers[rb + code[pc + 3]]; pc += 4; break;
          case I_SHRU: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] >>> registers[rb + code[pc + 3]]; pc += 4; break;
          case I_EQ: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] === registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_NE: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] !== registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_LTS: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] < registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_LES: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] <= registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_GTS: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] > registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_GES: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] >= registers[rb + code[pc + 3]] ? 1 : 0; pc += 4; break;
          case I_LTU: registers[rb + code[pc + 1]] = (registers[rb + code[pc + 2]] >>> 0) < (registers[rb + code[pc + 3]] >>> 0) ? 1 : 0; pc += 4; break;
          case I_LEU: registers[rb + code[pc + 1]] = (registers[rb + code[pc + 2]] >>> 0) <= (registers[rb + code[pc + 3]] >>> 0) ? 1 : 0; pc += 4; break;
          case I_GTU: registers[rb + code[pc + 1]] = (registers[rb + code[pc + 2]] >>> 0) > (registers[rb + code[pc + 3]] >>> 0) ? 1 : 0; pc += 4; break;
          case I_GEU: registers[rb + code[pc + 1]] = (registers[rb + code[pc + 2]] >>> 0) >= (registers[rb + code[pc + 3]] >>> 0) ? 1 : 0; pc += 4; break;

          case I_NEG: registers[rb + code[pc + 1]] = -registers[rb + code[pc + 2]]; pc += 3; break;
          case I_NOT: registers[rb + code[pc + 1]] = ~registers[rb + code[pc + 2]]; pc += 3; break;
          case I_SELECT: registers[rb + code[pc + 1]] = registers[rb + code[pc + 2]] !== 0 ? registers[rb + code[pc + 3]] : registers[rb + code[pc + 4]]; pc += 5; break;

          case I_LOAD8S: case I_LOAD8U: {
            const address = (registers[rb + code[pc + 2]] + code[pc + 3]) >>> 0;
            if (address >= memorySize) this.outOfRange(address, fn);
            const byte = memory[address];
            registers[rb + code[pc + 1]] = code[pc] === I_LOAD8S ? (byte << 24) >> 24 : byte;
            pc += 4;
            break;
          }
          case I_LOAD16S: case I_LOAD16U: {
            const address = (registers[rb + code[pc + 2]] + code[pc + 3]) >>> 0;
            if (address + 2 > memorySize) this.outOfRange(address, fn);
            const half = memory[address] | (memory[address + 1] << 8);
            registers[rb + code[pc + 1]] = code[pc] === I_LOAD16S ? (half << 16) >> 16 : half;
            pc += 4;
            break;
          }
          case I_LOAD32: {
            const address = (registers[rb + code[pc + 2]] + code[pc + 3]) >>> 0;
            if (address + 4 > memorySize) this.outOfRange(address, fn);
            registers[rb + code[pc + 1]] = (address & 3) === 0
              ? memory32[address >>> 2]
              : memory[address] | (memory[address + 1] << 8) | (memory[address + 2] << 16) | (memory[address + 3] << 24);
            pc += 4;
            break;
          }
          case I_STORE8: {
            const address = (registers[rb + code[pc + 1]] + code[pc + 2]) >>> 0;
            if (address >= memorySize) this.outOfRange(address, fn);
            memory[address] = registers[rb + code[pc + 3]];
            pc += 4;
            break;
          }
          case I_STORE16: {
            const address = (registers[rb + code[pc + 1]] + code[pc + 2]) >>> 0;
            if (address + 2 > memorySize) this.outOfRange(address, fn);
            const value = registers[rb + code[pc + 3]];
            memory[address] = value;
            memory[address + 1] = value >> 8;
            pc += 4;
            break;
          }
          case I_STORE32: {
            const address = (registers[rb + code[pc + 1]] + code[pc + 2]) >>> 0;
            if (address + 4 > memorySize) this.outOfRange(address, fn);
            const value = registers[rb + code[pc + 3]];
            if ((address & 3) === 0) {
              memory32[address >>> 2] = value;
            } else {
              memory[address] = value; memory[address + 1] = value >> 8; memory[address + 2] = value >> 16; memory[address + 3] = value >> 24;
            }
            pc += 4;
            break;
          }

          case I_SLOT: registers[rb + code[pc + 1]] = fp + code[pc + 2]; pc += 3; break;

          case I_CALL: case I_CALL_INDIRECT: {
            const argc = code[pc + 3];
            const destination = code[pc + 2];
            let callee: number;
            if (code[pc] === I_CALL) {
              callee = code[pc + 1];
            } else {
              const target = registers[rb + code[pc + 1]];
              const offset = (target >>> 0) - FUNCTION_ADDRESS_BASE;
              callee = offset >>> 4;
              if (offset < 0 || (offset & 15) !== 0 || callee >= vregCounts.length) {
                throw new InterpreterError(`callIndirect to ${hex32(target)}, which is not a function address, in function ${this.functionName(fn)}`);
              }
              if (argc !== this.paramCounts[callee] || (destination !== NO_DESTINATION && !this.returnsValue[callee])) {
                throw new InterpreterError(`callIndirect to ${this.functionName(callee)} with ${argc} arguments` +
                  `${destination !== NO_DESTINATION ? " expecting a value" : ""}, but it takes ${this.paramCounts[callee]}` +
                  `${this.returnsValue[callee] ? " and returns a value" : " and returns none"}, in function ${this.functionName(fn)}`);
              }
            }
            const base = rb + vregCounts[fn];
            const calleeRegisters = vregCounts[callee];
            if (base + calleeRegisters > registers.length) { this.ensureRegisters(base + calleeRegisters); registers = this.registers; }
            for (let i = 0; i < argc; i++) registers[base + i] = registers[rb + code[pc + 4 + i]];
            registers.fill(0, base + argc, base + calleeRegisters);
            const newFp = (fp - this.frameSizes[callee]) & this.frameMasks[callee];
            if (newFp < this.stackLimit) {
              throw new InterpreterError(`stack overflow calling ${this.functionName(callee)} (stack pointer ${hex32(newFp)}), in function ${this.functionName(fn)}`);
            }
            this.currentFunction = fn; this.registerBase = rb; this.framePointer = fp;
            this.pushFrame(pc + 4 + argc, destination);
            rb = base;
            fp = newFp;
            fn = callee;
            pc = this.entryPcs[callee];
            break;
          }

          case I_INTRINSIC: {
            const id = code[pc + 1];
            const destination = code[pc + 2];
            const argc = code[pc + 3];
            const a0 = argc > 0 ? registers[rb + code[pc + 4]] : 0;
            const a1 = argc > 1 ? registers[rb + code[pc + 5]] : 0;
            const a2 = argc > 2 ? registers[rb + code[pc + 6]] : 0;
            if (argc > 3) { this.pendingArgs[0] = registers[rb + code[pc + 7]]; this.pendingArgs[1] = argc > 4 ? registers[rb + code[pc + 8]] : 0; }
            this.currentFunction = fn;
            if (id === X_CONTEXT_SWITCH) {
              this.pc = pc + 4 + argc; this.registerBase = rb; this.framePointer = fp;
              this.contextSwitch(a0 >>> 0, a1 >>> 0);
              pc = this.pc; rb = this.registerBase; fp = this.framePointer; fn = this.currentFunction; registers = this.registers;
              break;
            }
            const value = this.intrinsic(id, a0, a1, a2, count);
            if (destination !== NO_DESTINATION) registers[rb + destination] = value;
            pc += 4 + argc;
            if (this.stopReason !== null) return count;
            break;
          }

          case I_TRAP:
            this.pc = pc + 2; this.registerBase = rb; this.framePointer = fp; this.currentFunction = fn;
            this.enterTrap(code[pc + 1]);
            pc = this.pc; rb = this.registerBase; fp = this.framePointer; fn = this.currentFunction; registers = this.registers;
            break;

          case I_JUMP: pc = code[pc + 1]; break;
          case I_BRANCH: pc = registers[rb + code[pc + 1]] !== 0 ? code[pc + 2] : code[pc + 3]; break;

          case I_RETURN: case I_RETURN_VOID: {
            const value = code[pc] === I_RETURN ? registers[rb + code[pc + 1]] : 0;
            if (this.frameCount === 0) {
              this.stopReason = "return";
              this.returnValue = code[pc] === I_RETURN ? value : null;
              return count;
            }
            const f = this.frames;
            let n = this.frameCount;
            const returning = fn;
            const destination = f[--n];
            fn = f[--n]; fp = f[--n]; rb = f[--n]; pc = f[--n];
            this.frameCount = n;
            if (destination >= 0) {
              registers[rb + destination] = value;
            } else if (destination === TRAP_FRAME) {
              throw new InterpreterError(`trap handler ${this.module.trapHandler} returned (it must not), in function ${this.functionName(returning)}`);
            } else if (destination === THREAD_EXIT) {
              throw new InterpreterError(`the entry function of a context returned (it must not), in function ${this.functionName(returning)}`);
            }
            break;
          }

          case I_UNREACHABLE:
            throw new InterpreterError(`reached an unreachable terminator (block ${code[pc + 1]}), in function ${this.functionName(fn)}`);

          default:
            throw new Error(`interpreter: bad internal opcode ${code[pc]} at ${pc}`);
        }
      }
    } finally {
      this.executed = count;
    }
  }

  // ---- contexts ----------------------------------------------------------------------------------

  /**
   * contextSwitch(saveAt, resume) with the machine state synced into the fields (pc after the
   * intrinsic). The running context's handle is its frame pointer (unique: each context has a stack
   * of its own); its frames and register window are copied aside under it. `resume` is a saved
   * handle, or one made by contextCreate (entry and arg read back from the words it wrote).
   */
  private contextSwitch(saveAt: number, resume: number): void {
    const handle = this.framePointer >>> 0;
    if (saveAt + 4 > this.memorySize) this.outOfRange(saveAt);
    const used = this.registerBase + this.vregCounts[this.currentFunction];
    this.savedContexts.set(handle, {
      pc: this.pc, registerBase: this.registerBase, framePointer: this.framePointer, currentFunction: this.currentFunction,
      stackLimit: this.stackLimit, frames: this.frames.slice(0, this.frameCount), registers: this.registers.slice(0, used),
    });
    this.writeWord(saveAt, handle);
    const saved = this.savedContexts.get(resume);
    if (saved !== undefined) {
      this.savedContexts.delete(resume);
      this.ensureRegisters(saved.registers.length);
      this.registers.set(saved.registers);
      if (saved.frames.length > this.frames.length) this.frames = new Int32Array(saved.frames.length * 2);
      this.frames.set(saved.frames);
      this.frameCount = saved.frames.length;
      this.pc = saved.pc; this.registerBase = saved.registerBase; this.framePointer = saved.framePointer;
      this.currentFunction = saved.currentFunction; this.stackLimit = saved.stackLimit;
      return;
    }
    const base = this.createdStacks.get(resume);
    const entryAddress = resume + 12 <= this.memorySize ? this.memory32[resume >>> 2] : 0;
    const entry = ((entryAddress - FUNCTION_ADDRESS_BASE) | 0) / 16;
    if (base === undefined || resume % 4 !== 0 || !Number.isInteger(entry) || entry < 0 || entry >= this.module.functions.length) {
      this.savedContexts.delete(handle);
      throw new InterpreterError(`contextSwitch to ${hex32(resume)}: not a context handle, in function ${this.functionName()}`);
    }
    this.createdStacks.delete(resume);
    const arg = this.memory32[(resume >>> 2) + 2];
    this.frameCount = 0;
    this.registerBase = 0;
    this.framePointer = resume;
    this.stackLimit = base;
    this.pushFrame(0, THREAD_EXIT);
    this.enterFunction(entry);
    if (this.paramCounts[entry] > 0) this.registers[0] = arg;
  }

  /** contextCreate(base, size, entry, arg): the words x86 writes (x86/intrinsics.ts), the handle t - 24. */
  private contextCreate(base: number, size: number, entry: number, arg: number): number {
    const top = ((base + size) & ~15) >>> 0;
    const handle = top - 24;
    if (base >= top || handle < base || top > this.memorySize) {
      throw new InterpreterError(`contextCreate: bad stack ${hex32(base)} + ${size >>> 0}, in function ${this.functionName()}`);
    }
    this.writeWord(handle, entry); this.writeWord(handle + 4, 0); this.writeWord(handle + 8, arg);
    this.createdStacks.set(handle, base);
    return handle | 0;
  }

  // ---- intrinsics --------------------------------------------------------------------------------

  private intrinsic(id: number, a0: number, a1: number, a2: number, count: number): number {
    switch (id) {
      case X_INB: return this.portIn(a0 & 0xffff, 1);
      case X_INW: return this.portIn(a0 & 0xffff, 2);
      case X_INL: return this.portIn(a0 & 0xffff, 4);
      case X_OUTB: this.portOut(a0 & 0xffff, a1 & 0xff, 1); return 0;
      case X_OUTW: this.portOut(a0 & 0xffff, a1 & 0xffff, 2); return 0;
      case X_OUTL: this.portOut(a0 & 0xffff, a1 >>> 0, 4); return 0;
      case X_HLT: this.stopReason = "halt"; return 0; // nothing can wake it: no interrupts are modelled
      case X_RDTSC: return count % 0x100000000 | 0;
      case X_RDTSC_HIGH: return Math.floor(count / 0x100000000) | 0;
      case X_READ_CR0: return this.controlRegisters[0];
      case X_WRITE_CR0: this.controlRegisters[0] = a0; return 0;
      case X_READ_CR2: return this.controlRegisters[2];
      case X_READ_CR3: return this.controlRegisters[3];
      case X_WRITE_CR3: this.controlRegisters[3] = a0; return 0;
      case X_READ_CR4: return this.controlRegisters[4];
      case X_WRITE_CR4: this.controlRegisters[4] = a0; return 0;
      case X_MEMORY_COPY: {
        const destination = a0 >>> 0, source = a1 >>> 0, length = a2 >>> 0;
        if (length === 0) return 0;
        if (destination + length > this.memorySize) this.outOfRange(Math.max(destination, this.memorySize));
        if (source + length > this.memorySize) this.outOfRange(Math.max(source, this.memorySize));
        this.memory.copyWithin(destination, source, source + length); // memmove semantics
        return 0;
      }
      case X_MEMORY_FILL: {
        const destination = a0 >>> 0, length = a2 >>> 0;
        if (length === 0) return 0;
        if (destination + length > this.memorySize) this.outOfRange(Math.max(destination, this.memorySize));
        this.memory.fill(a1 & 0xff, destination, destination + length);
        return 0;
      }
      case X_READ_FRAME_POINTER:
        throw new InterpreterError(
          `readFramePointer: the interpreter has no machine frame chain, in function ${this.functionName()}`);
      case X_READ_FLAGS: return EFLAGS_RESERVED_ONE | (this.interruptsEnabled ? EFLAGS_INTERRUPT_ENABLE : 0);
      case X_CLI: this.interruptsEnabled = false; return 0;
      case X_STI: this.interruptsEnabled = true; return 0;   // no interrupt source is modelled
      case X_INVALID_OPCODE: throw new InterpreterError(`invalid opcode (ud2), in function ${this.functionName()}`);
      case X_HYPERCALL: {
        if (!this.options.onHypercall) throw new InterpreterError(`hypercall ${a0} with no kernel to answer it, in function ${this.functionName()}`);
        return this.options.onHypercall(a0, a1, a2, this.pendingArgs[0], this.pendingArgs[1]) | 0;
      }
      case X_CONTEXT_CREATE: return this.contextCreate(a0 >>> 0, a1 >>> 0, a2, this.pendingArgs[0]);
      case X_DIVIDE_UNCHECKED:
        if (a1 === 0) throw new InterpreterError(`divide error (unchecked division by zero), in function ${this.functionName()}`);
        return ((a0 >>> 0) / (a1 >>> 0)) | 0;
      case X_CRC32_WORD: return crc32cWord(a0, a1);
      case X_FNSAVE: case X_FRSTOR: case X_CPUID:
        throw new InterpreterError(
          `${INTRINSIC_NAMES[id]}: the interpreter has no x87 unit or CPUID, in function ${this.functionName()}`);
      case X_READ_MSR: case X_READ_MSR_HIGH: case X_WRITE_MSR:
        throw new InterpreterError(
          `${INTRINSIC_NAMES[id]}: the interpreter has no model-specific registers, in function ${this.functionName()}`,
        );
      default:
        if (NO_MODELLED_EFFECT.has(id)) return 0;
        throw new InterpreterError(
          `${INTRINSIC_NAMES[id]}: not implemented by the interpreter, in function ${this.functionName()}`);
    }
  }

  private portIn(port: number, width: 1 | 2 | 4): number {
    const mask = width === 4 ? -1 : (1 << (8 * width)) - 1;
    const answer = this.options.onIn?.(port, width);
    if (typeof answer === "number") return answer & mask;
    if (port === COM1_LINE_STATUS) return COM1_LINE_STATUS_READY;
    if (port >= COM1 && port <= COM1 + 7) return 0;
    return mask; // nothing on the bus: all ones, as QEMU answers for an unassigned port
  }

  private portOut(port: number, value: number, width: 1 | 2 | 4): void {
    if (this.options.onOut?.(port, value, width) === true) return;
    if (port === COM1 + 3) {
      this.uartLineControl = value & 0xff; // LCR: bit 7 (DLAB) turns COM1+0/+1 into the divisor latch
    } else if (port === COM1) {
      if ((this.uartLineControl & 0x80) === 0) this.serialBytes.push(value & 0xff);
    } else if (port === DEBUG_EXIT_PORT) {
      this.exitPortValue = value;
      this.stopReason = "exit";
    }
    // COM1 + 1 .. COM1 + 7 and every other port: ignored
  }
}

/** Runs bytecode on a fresh machine. Throws BytecodeFormatError if the bytes do not decode. */
export function runBytecode(bytes: Uint8Array, options: RunOptions = {}): RunResult {
  return Machine.fromBytecode(bytes, options).run();
}

/** Encodes the module, then runs it from its bytecode (so the encoding is exercised every time). */
export function runModule(module: Module, options: RunOptions = {}): RunResult {
  return runBytecode(encodeModule(module), options);
}
