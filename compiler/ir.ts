// The one IR of Denali/TS: functions of basic blocks over virtual registers.
//
// Every value is a 32-bit integer held in a virtual register (vreg, a number >= 0). Booleans are 0/1.
// Signedness and width live in the operations (divs/divu, lt/ltu, load width+signed), not in the
// registers, as in machine code. Memory is one flat 32-bit address space, little-endian.
// Function parameters are vregs 0..params-1 on entry. A block ends with exactly one terminator.
// Both back ends (compiler/x86, compiler/bytecode) read this and nothing else.

import {
  LINKER_IMAGE_END, LINKER_IMAGE_START, LINKER_STACK_BOTTOM, LINKER_STACK_TOP, LINKER_SYMBOL_TABLE,
} from "../abi/bytecode.ts";
import { SYSENTER_FRAME_VECTOR } from "../abi/hypercalls.ts";

export type VReg = number;

// ---- the op table ------------------------------------------------------------------------------
// What each operation is, in one place (QBE's ops.h, Cranelift's instruction metadata): its form (the
// Instr variant that carries it, hence its operands and result, see FORMS) and the properties passes
// ask about. A pass asks propertiesOf(i) (pure, mayTrap, cost ...), never keeps a list of ops; mapUses
// and mapDefs rename the registers of every form. How to add an op: docs/adding-an-op.md.

/** What an operation costs, in classes the passes weigh and the x86 back end honours. */
type CostClass =
  | "free"      // an immediate or a register move once registers are allocated (const, copy, a symbol's address)
  | "alu"       // one ALU instruction (add, cmp + setcc, lea, neg, cmov)
  | "multiply"  // imul / mul
  | "divide"    // div / idiv behind a zero check: slow, clobbers eax and edx, may call the trap handler
  | "memory"    // a load or a store
  | "call";     // a call, an intrinsic, a trap: clobbers the caller-saved registers

interface OpProperties {
  /** The Instr variant (`op`) that carries this operation; binary and unary ops are its `kind`. */
  readonly form: string;
  /**
   * Reads nothing but its operands and does nothing but define its result (no memory, no effect):
   * run again on the same operands it gives the same result, or the same trap (see mayTrap).
   */
  readonly pure: boolean;
  /** May end the program: division by a zero divisor (operand b), a memory fault, whatever a call does. */
  readonly mayTrap: boolean;
  /** Effects besides the result: memory writes, port I/O, machine state, the trap handler. */
  readonly sideEffects: boolean;
  /** `a op b` equals `b op a`. */
  readonly commutative: boolean;
  readonly cost: CostClass;
}

const pure = <F extends string>(form: F, cost: CostClass) =>
  ({ form, pure: true, mayTrap: false, sideEffects: false, commutative: false, cost }) as const;
const commutative = <F extends string>(form: F, cost: CostClass) =>
  ({ ...pure(form, cost), commutative: true }) as const;
/** Pure but for its trap: division (only by zero). */
const pureTrapping = <F extends string>(form: F, cost: CostClass) => ({ ...pure(form, cost), mayTrap: true }) as const;
/** Reads memory: not pure, may fault. */
const reading = <F extends string>(form: F, cost: CostClass) =>
  ({ ...pure(form, cost), pure: false, mayTrap: true }) as const;
const effect = <F extends string>(form: F, cost: CostClass) =>
  ({ form, pure: false, mayTrap: true, sideEffects: true, commutative: false, cost }) as const;

/** Every operation of the IR. Values are 32-bit; signedness lives in the op (divs/divu, lts/ltu), not in registers. */
export const OPS = {
  const: pure("const", "free"),                 // dst = value (an int32)
  copy: pure("copy", "free"),                   // dst = src
  add: commutative("binary", "alu"),
  sub: pure("binary", "alu"),
  mul: commutative("binary", "multiply"),       // the low 32 bits of the product (signed and unsigned alike)
  // division by zero traps; divs INT_MIN / -1 wraps to INT_MIN, rems gives 0; both round toward zero
  divs: pureTrapping("binary", "divide"),
  divu: pureTrapping("binary", "divide"),
  rems: pureTrapping("binary", "divide"),
  remu: pureTrapping("binary", "divide"),
  and: commutative("binary", "alu"),
  or: commutative("binary", "alu"),
  xor: commutative("binary", "alu"),
  shl: pure("binary", "alu"),                   // shift count taken modulo 32 (JavaScript and x86 agree)
  shrs: pure("binary", "alu"),
  shru: pure("binary", "alu"),
  eq: commutative("binary", "alu"),             // comparisons give 0 or 1
  ne: commutative("binary", "alu"),
  lts: pure("binary", "alu"), les: pure("binary", "alu"), gts: pure("binary", "alu"), ges: pure("binary", "alu"),
  ltu: pure("binary", "alu"), leu: pure("binary", "alu"), gtu: pure("binary", "alu"), geu: pure("binary", "alu"),
  mulhs: commutative("binary", "multiply"),     // the high 32 bits of the 64-bit product, signed operands
  mulhu: commutative("binary", "multiply"),     // ... unsigned operands
  neg: pure("unary", "alu"),                    // two's complement negation
  not: pure("unary", "alu"),                    // bitwise not
  select: pure("select", "alu"),                // dst = cond != 0 ? ifTrue : ifFalse
  load: reading("load", "memory"),
  store: effect("store", "memory"),
  globalAddress: pure("globalAddress", "free"), // a link-time constant
  functionAddress: pure("functionAddress", "free"),
  slotAddress: pure("slotAddress", "alu"),      // frame base + offset: one lea
  call: effect("call", "call"),
  callIndirect: effect("callIndirect", "call"),
  intrinsic: effect("intrinsic", "call"),       // INTRINSICS below; all are treated alike
  trap: effect("trap", "call"),                 // calls the trap handler, which never returns
} as const satisfies Record<string, OpProperties>;

export type Opcode = keyof typeof OPS;
type OpcodesOf<F extends string> = { [K in Opcode]: (typeof OPS)[K]["form"] extends F ? K : never }[Opcode];
export type BinaryOp = OpcodesOf<"binary">;
export type UnaryOp = OpcodesOf<"unary">;

/** High 32 bits of the unsigned 64-bit product, from 16-bit halves (every partial sum is exact in a double). */
export function mulHighUnsigned(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const low = al * bl, cross1 = al * bh, cross2 = ah * bl;
  const middle = (low >>> 16) + (cross1 & 0xffff) + (cross2 & 0xffff);
  return (ah * bh + Math.floor(cross1 / 0x10000) + Math.floor(cross2 / 0x10000) + Math.floor(middle / 0x10000)) | 0;
}

/** High 32 bits of the signed 64-bit product: the unsigned one minus b where a < 0 and minus a where b < 0. */
export function mulHighSigned(a: number, b: number): number {
  return (mulHighUnsigned(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/**
 * The crc32Word intrinsic: the CRC32C register (reflected polynomial 0x82f63b78, no inversions) after the
 * four bytes of `word`, low byte first; what SSE4.2's `crc32 r32, r/m32` computes (SDM Vol. 2A "CRC32").
 */
export function crc32cWord(crc: number, word: number): number {
  let c = (crc ^ word) >>> 0;
  for (let k = 0; k < 32; k++) c = c & 1 ? ((c >>> 1) ^ 0x82f63b78) >>> 0 : c >>> 1;
  return c | 0;
}

export type Width = 1 | 2 | 4;

/**
 * An array (or string) is [u32 length][elements], and its value points at the elements: its length is the
 * 4-byte word at offset -ARRAY_HEADER. The front end writes that word only where it creates the array, so
 * it changes only through a memory write (redundant-checks.ts relies on it between two writes).
 */
export const ARRAY_HEADER = 4;

/** Machine intrinsics with fixed argument counts; `result` says whether they produce a value. */
export const INTRINSICS = {
  inb: { args: 1, result: true }, inw: { args: 1, result: true }, inl: { args: 1, result: true },
  outb: { args: 2, result: false }, outw: { args: 2, result: false }, outl: { args: 2, result: false },
  cli: { args: 0, result: false }, sti: { args: 0, result: false },
  hlt: { args: 0, result: false }, pause: { args: 0, result: false },
  rdtsc: { args: 0, result: true }, rdtscHigh: { args: 0, result: true },
  readCr0: { args: 0, result: true }, writeCr0: { args: 1, result: false },
  readCr2: { args: 0, result: true },
  readCr3: { args: 0, result: true }, writeCr3: { args: 1, result: false },
  readCr4: { args: 0, result: true }, writeCr4: { args: 1, result: false },
  lgdt: { args: 1, result: false }, lidt: { args: 1, result: false },
  ltr: { args: 1, result: false }, invlpg: { args: 1, result: false },
  memoryCopy: { args: 3, result: false }, memoryFill: { args: 3, result: false },
  // added with bytecode format version 2 (append only: the bytecode numbers intrinsics in this order)
  readFramePointer: { args: 0, result: true },   // ebp: the frame-pointer chain, for backtraces
  readFlags: { args: 0, result: true },          // eflags
  invalidOpcode: { args: 0, result: false },     // ud2: raises #UD (fault tests)
  loadSegments: { args: 2, result: false },      // (codeSelector, dataSelector): reload cs by a far return, ds es fs gs ss
  divideUnchecked: { args: 2, result: true },    // unsigned div without the zero check: #DE on zero (fault tests)
  hypercall: { args: 5, result: true },          // (number, a, b, c, d): int 0x80 with eax, ebx, ecx, edx, esi; result eax
  // threads (docs/calling-convention.md "Contexts"): a context is a handle word, on x86 its saved esp
  contextSwitch: { args: 2, result: false },     // (saveAt, resume): store this context's handle at saveAt, resume `resume`
  contextCreate: { args: 4, result: true },      // (stackBase, stackSize, entry, arg) -> a handle that starts entry(arg)
  // version 6: isolation (kernel-src/fpu.ts, gdt.ts)
  lldt: { args: 1, result: false },              // (selector): load LDTR; 0 = no LDT
  clts: { args: 0, result: false },              // clear CR0.TS (the FPU is usable again)
  fnsave: { args: 1, result: false },            // (address): store the 108-byte x87 state, then reinitialize the FPU
  frstor: { args: 1, result: false },            // (address): load the 108-byte x87 state
  cpuid: { args: 3, result: false },             // (leaf, subleaf, out): eax ebx ecx edx -> the 16 bytes at out
  // version 7
  crc32Word: { args: 2, result: true },          // (crc, word): SSE4.2 `crc32 r32, r/m32`, crc32cWord below
  // version 8: model-specific registers (kernel-src/lapic.ts: IA32_APIC_BASE)
  readMsr: { args: 1, result: true },            // (index): rdmsr, the low half (eax)
  readMsrHigh: { args: 1, result: true },        // (index): rdmsr, the high half (edx)
  writeMsr: { args: 3, result: false },          // (index, low, high): wrmsr with edx:eax = high:low
} as const;

export type IntrinsicName = keyof typeof INTRINSICS;

/**
 * Where an instruction or terminator came from: the statement (or loop test, loop update) it was lowered
 * from. Debug information only (the linker's DWARF line table, compiler/link/dwarf-line.ts): no pass reads
 * it, passes that copy an instruction keep it, instructions a pass creates have none.
 */
interface Located { loc?: SourceLocation }

export type Instr = Located & (
  | { op: "const"; dst: VReg; value: number }                 // value is an int32 (-2^31..2^31-1)
  | { op: "copy"; dst: VReg; src: VReg }
  | { op: "binary"; kind: BinaryOp; dst: VReg; a: VReg; b: VReg }
  | { op: "unary"; kind: UnaryOp; dst: VReg; a: VReg }
  | { op: "select"; dst: VReg; cond: VReg; ifTrue: VReg; ifFalse: VReg } // dst = cond != 0 ? ifTrue : ifFalse (both read)
  | { op: "load"; width: Width; signed: boolean; dst: VReg; address: VReg; offset: number }
  | { op: "store"; width: Width; address: VReg; offset: number; value: VReg }
  | { op: "globalAddress"; dst: VReg; symbol: string }         // a data symbol of the module
  | { op: "functionAddress"; dst: VReg; func: string }
  | { op: "slotAddress"; dst: VReg; slot: number }             // address of a frame slot of this function
  | { op: "call"; dst: VReg | null; func: string; args: VReg[] }
  | { op: "callIndirect"; dst: VReg | null; target: VReg; args: VReg[] }
  | { op: "intrinsic"; dst: VReg | null; name: IntrinsicName; args: VReg[] }
  | { op: "trap"; kind: TrapKind }                              // ends the program (see runtime)
);

export type TrapKind = 0 | 1 | 2; // see TRAP_NAMES
export const TRAP_NAMES = ["unreachable", "integer division by zero", "index out of bounds"] as const;
export const TRAP_UNREACHABLE: TrapKind = 0;
export const TRAP_DIVIDE_BY_ZERO: TrapKind = 1;
export const TRAP_BOUNDS: TrapKind = 2;
/**
 * Trap kinds the machine raises, never a trap op: a standalone program's stack overflow (its guard
 * page, compiler/x86/guard.ts) and any other CPU exception. The runtimes' trap(kind) prints them as
 * "stack overflow" and "machine fault" (dsl/runtime/program.ts).
 */
export const TRAP_STACK_OVERFLOW = 3;
export const TRAP_MACHINE_FAULT = 4;

export type Terminator = Located & (
  | { op: "jump"; target: number }
  | { op: "branch"; cond: VReg; ifTrue: number; ifFalse: number } // cond != 0 -> ifTrue
  | { op: "return"; value: VReg | null }
  | { op: "unreachable" }
);

export interface SourceLocation { file: string; line: number; column: number }

export interface Block {
  id: number;            // index into Function.blocks
  instrs: Instr[];
  term: Terminator;
  loc?: SourceLocation;  // the source line the block came from (for listings)
}

export interface FrameSlot { size: number; align: number; name: string }

// ---- debug information ---------------------------------------------------------------------------
// What a debugger needs to show the DSL's variables (the linker writes it as DWARF, compiler/link/dwarf.ts).
// No pass reads it; a pass that makes one register stand for another renames the variables too
// (copy-propagation.ts), and a variable whose register no longer lives anywhere is shown "optimized out".

/**
 * A variable's DSL type as the debugger shows it: integers and booleans by value; an array, a string, a
 * struct or a function is a 4-byte reference (to the elements, the string's bytes, the struct, the code).
 */
export type DebugType =
  | { kind: "int"; bits: 8 | 16 | 32; signed: boolean }
  | { kind: "bool" }
  | { kind: "char" }                                         // a string's bytes
  | { kind: "pointer"; to: DebugType | null }                // null: to code (a function reference)
  | { kind: "struct"; name: string }                         // by name: Module.debugStructs
  | { kind: "array"; element: DebugType; length: number };   // inline in a struct only

/** A class (or overlay) as a record: each field at its byte offset. */
export interface DebugStruct { name: string; size: number; fields: { name: string; offset: number; type: DebugType }[] }

/** A parameter (vreg = its index) or a local of the function, in the register that holds its value. */
export interface DebugVariable { name: string; vreg: VReg; type: DebugType; parameter: boolean; loc?: SourceLocation }

export interface Function {
  name: string;          // unique in the module, also the ELF symbol
  params: number;        // vregs 0..params-1
  returnsValue: boolean;
  vregCount: number;
  slots: FrameSlot[];    // addressable frame storage (local arrays and structs)
  blocks: Block[];       // blocks[0] is the entry
  loc?: SourceLocation;
  variables?: DebugVariable[]; // the DSL's parameters and locals (debug information only)
  noInline?: boolean;    // calls to it stay calls (C's noinline: bench:codegen's measured function)
}

/** Initialized or zeroed static storage. `relocations` patch 32-bit words with symbol addresses. */
export interface DataSymbol {
  name: string;
  section: "rodata" | "data" | "bss";
  align: number;
  size: number;
  bytes?: Uint8Array;                                  // absent for bss
  relocations: { offset: number; symbol: string; kind: "data" | "function" }[];
}

/**
 * A machine entry point for an interrupt or exception vector: saves every register, calls
 * `handler(frameAddress)` and returns with iret. When the handler returns a value, that value is the
 * address of the frame to resume (a context switch); otherwise the same frame is resumed.
 * Frame layout at frameAddress, low to high: gs fs es ds, edi esi ebp esp(ignored) ebx edx ecx eax
 * (pushad order), vector, error code (0 when the CPU pushes none), eip cs eflags [esp ss from ring 3].
 * Vector SYSENTER_FRAME_VECTOR (256) is the `sysenter` entry: the stub builds that frame of a ring-3 trap
 * from the registers the ABI's sequence sets (abi/hypercalls.ts) and records that vector in it.
 */
export interface InterruptEntry { name: string; vector: number; handler: string }
/** The highest vector an interrupt entry may have: 0..255 are the IDT's, 256 the `sysenter` entry. */
export const INTERRUPT_ENTRY_VECTOR_MAX = SYSENTER_FRAME_VECTOR;

/** Addresses only the linker knows; `globalAddress` may name them (see docs/calling-convention.md). */
const LINKER_SYMBOLS = [
  LINKER_IMAGE_START, LINKER_IMAGE_END, LINKER_STACK_BOTTOM, LINKER_STACK_TOP, LINKER_SYMBOL_TABLE,
] as const;
export type LinkerSymbol = typeof LINKER_SYMBOLS[number];
export const isLinkerSymbol = (name: string): name is LinkerSymbol => (LINKER_SYMBOLS as readonly string[]).includes(name);

export interface Module {
  functions: Function[];
  /** Interrupt entry points; `functionAddress` and function relocations may name them. */
  interruptEntries?: InterruptEntry[];
  data: DataSymbol[];
  /** The function the machine enters: called as entry(multibootMagic, multibootInfo) on a fresh stack. */
  entry: string;
  /** Names of the functions the runtime provides to lowering (trap handler). */
  trapHandler: string;  // called as trapHandler(kind) — must not return
  /** The structs DebugVariable types name (debug information only). */
  debugStructs?: DebugStruct[];
}

// ---- operands and results of each form --------------------------------------------------------

type InstrOf<F extends Instr["op"]> = Extract<Instr, { op: F }>;
/**
 * The fields of one form: the registers it reads (in this order), a list of registers read after them,
 * whether it defines `dst`, and its other operands (immediates, names, the binary or unary `kind`).
 */
interface Shape<I extends Instr> {
  readonly reads: readonly Exclude<keyof I, "op" | "dst">[];
  readonly list: Exclude<keyof I, "op" | "dst"> | null;
  /** "always": dst is a register; "optional": dst may be null (a call or intrinsic without result); "none": no dst. */
  readonly defines: "always" | "optional" | "none";
  readonly immediates: readonly Exclude<keyof I, "op" | "dst">[];
}
export const FORMS: { readonly [F in Instr["op"]]: Shape<InstrOf<F>> } = {
  const: { reads: [], list: null, defines: "always", immediates: ["value"] },
  copy: { reads: ["src"], list: null, defines: "always", immediates: [] },
  binary: { reads: ["a", "b"], list: null, defines: "always", immediates: ["kind"] },
  unary: { reads: ["a"], list: null, defines: "always", immediates: ["kind"] },
  select: { reads: ["cond", "ifTrue", "ifFalse"], list: null, defines: "always", immediates: [] },
  load: { reads: ["address"], list: null, defines: "always", immediates: ["width", "signed", "offset"] },
  store: { reads: ["address", "value"], list: null, defines: "none", immediates: ["width", "offset"] },
  globalAddress: { reads: [], list: null, defines: "always", immediates: ["symbol"] },
  functionAddress: { reads: [], list: null, defines: "always", immediates: ["func"] },
  slotAddress: { reads: [], list: null, defines: "always", immediates: ["slot"] },
  call: { reads: [], list: "args", defines: "optional", immediates: ["func"] },
  callIndirect: { reads: ["target"], list: "args", defines: "optional", immediates: [] },
  intrinsic: { reads: [], list: "args", defines: "optional", immediates: ["name"] },
  trap: { reads: [], list: null, defines: "none", immediates: ["kind"] },
};

/** The values of i's immediate operands (FORMS' `immediates`), in order. */
export function immediatesOf(i: Instr): unknown[] {
  return (FORMS[i.op] as Shape<Instr>).immediates.map(field => (i as unknown as Fields)[field]);
}

/** The op table's name of an instruction: its `kind` for binary and unary ops, else its `op`. */
export const opcodeOf = (i: Instr): Opcode => (i.op === "binary" || i.op === "unary" ? i.kind : i.op);
export const propertiesOf = (i: Instr): OpProperties => OPS[opcodeOf(i)];
/** Whether i may run where it did not (hoisted out of a loop, both arms of an if): pure, and it cannot trap. */
export const isSpeculatable = (i: Instr): boolean => { const p = propertiesOf(i); return p.pure && !p.mayTrap; };

type Fields = Record<string, unknown>;

export function definedRegister(i: Instr): VReg | null {
  return FORMS[i.op].defines === "none" ? null : (i as { dst: VReg | null }).dst;
}

/** The registers i reads, in the order of its form's fields. */
export function usedRegisters(i: Instr): VReg[] {
  const shape: Shape<Instr> = FORMS[i.op] as Shape<Instr>;
  const regs = shape.reads.map(field => (i as unknown as Fields)[field] as VReg);
  return shape.list === null ? regs : [...regs, ...(i as unknown as Fields)[shape.list] as VReg[]];
}

/** A copy of i with every register it reads renamed by `read`. */
export function mapUses(i: Instr, read: (r: VReg) => VReg): Instr {
  const shape: Shape<Instr> = FORMS[i.op] as Shape<Instr>;
  const out: Fields = { ...i };
  for (const field of shape.reads) out[field] = read(out[field] as VReg);
  if (shape.list !== null) out[shape.list] = (out[shape.list] as VReg[]).map(read);
  return out as unknown as Instr;
}

/** A copy of i with the register it defines (if any) renamed by `define`. */
export function mapDefs(i: Instr, define: (r: VReg) => VReg): Instr {
  const d = definedRegister(i);
  return d === null ? { ...i } : { ...i, dst: define(d) } as Instr;
}

export function terminatorUses(t: Terminator): VReg[] {
  if (t.op === "branch") return [t.cond];
  if (t.op === "return" && t.value !== null) return [t.value];
  return [];
}

/** A copy of t with every register it reads renamed by `read`. */
export function mapTerminatorUses(t: Terminator, read: (r: VReg) => VReg): Terminator {
  if (t.op === "branch") return { ...t, cond: read(t.cond) };
  if (t.op === "return" && t.value !== null) return { ...t, value: read(t.value) };
  return { ...t };
}

/** Registers defined exactly once, by a `const`, and not parameters: their value holds everywhere. */
export function singleDefinitionConstants(f: Function): Map<VReg, number> {
  const defs = new Map<VReg, number>(), value = new Map<VReg, number>();
  for (const b of f.blocks) for (const i of b.instrs) {
    const d = definedRegister(i);
    if (d === null) continue;
    defs.set(d, (defs.get(d) ?? 0) + 1);
    if (i.op === "const") value.set(d, i.value);
  }
  for (const [r, n] of defs) if (n !== 1 || r < f.params) value.delete(r);
  return value;
}

/**
 * Lays `f`'s blocks out in `order` (a permutation of their ids, the entry first): each block takes its
 * index as id and every jump and branch target is renamed. Nothing changes when `order` is the identity.
 */
export function reorderBlocks(f: Function, order: number[]): void {
  if (order.every((b, i) => b === i)) return;
  const newId = new Map(order.map((b, i) => [b, i]));
  const rename = (t: Terminator): Terminator => {
    if (t.op === "jump") return { ...t, target: newId.get(t.target)! };
    if (t.op === "branch") return { ...t, ifTrue: newId.get(t.ifTrue)!, ifFalse: newId.get(t.ifFalse)! };
    return t;
  };
  f.blocks = order.map((old, i) => ({ ...f.blocks[old], id: i, term: rename(f.blocks[old].term) }));
}

export function successors(t: Terminator): number[] {
  if (t.op === "jump") return [t.target];
  if (t.op === "branch") return [t.ifTrue, t.ifFalse];
  return [];
}

/**
 * The blocks the entry reaches, in reverse postorder of a depth-first walk that visits each block's
 * successors in the order `visit` gives (by block id, whatever the blocks' positions).
 */
export function reversePostorder(f: Function, visit: (t: Terminator) => number[] = successors): number[] {
  const byId = new Map(f.blocks.map(b => [b.id, b]));
  const entry = f.blocks[0].id;
  const seen = new Set<number>([entry]);
  const post: number[] = [];
  // iterative DFS: each entry is a block and the successors still to visit
  const stack: [number, number[]][] = [[entry, visit(f.blocks[0].term)]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const next = top[1].shift();
    if (next === undefined) { post.push(top[0]); stack.pop(); continue; }
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push([next, visit(byId.get(next)!.term)]);
  }
  return post.reverse();
}
