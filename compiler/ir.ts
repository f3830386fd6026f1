// The one IR of Denali/TS: functions of basic blocks over virtual registers.
//
// Every value is a 32-bit integer held in a virtual register (vreg, a number >= 0). Booleans are 0/1.
// Signedness and width live in the operations (divs/divu, lt/ltu, load width+signed), not in the
// registers, as in machine code. Memory is one flat 32-bit address space, little-endian.
// Function parameters are vregs 0..params-1 on entry. A block ends with exactly one terminator.
// Both back ends (compiler/x86, compiler/bytecode) read this and nothing else.

export type VReg = number;

export type BinaryOp =
  | "add" | "sub" | "mul"
  | "divs" | "divu" | "rems" | "remu" // division by zero traps; divs INT_MIN/-1 wraps to INT_MIN, rems gives 0
  | "and" | "or" | "xor"
  | "shl" | "shrs" | "shru"          // shift count taken modulo 32 (JavaScript and x86 agree)
  | "eq" | "ne" | "lts" | "les" | "gts" | "ges" | "ltu" | "leu" | "gtu" | "geu" // comparisons give 0 or 1
  | "mulhs" | "mulhu";               // the high 32 bits of the 64-bit product, signed or unsigned operands

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

export type UnaryOp = "neg" | "not"; // two's complement negation, bitwise not

export type Width = 1 | 2 | 4;

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
} as const;

/** The vector of the hypercall trap (docs/virtual-architecture.md). */
export const HYPERCALL_VECTOR = 0x80;
export type IntrinsicName = keyof typeof INTRINSICS;

export type Instr =
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
  | { op: "trap"; kind: TrapKind };                             // ends the program (see runtime)

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

export type Terminator =
  | { op: "jump"; target: number }
  | { op: "branch"; cond: VReg; ifTrue: number; ifFalse: number } // cond != 0 -> ifTrue
  | { op: "return"; value: VReg | null }
  | { op: "unreachable" };

export interface SourceLocation { file: string; line: number; column: number }

export interface Block {
  id: number;            // index into Function.blocks
  instrs: Instr[];
  term: Terminator;
  loc?: SourceLocation;  // the source line the block came from (for listings)
}

export interface FrameSlot { size: number; align: number; name: string }

export interface Function {
  name: string;          // unique in the module, also the ELF symbol
  params: number;        // vregs 0..params-1
  returnsValue: boolean;
  vregCount: number;
  slots: FrameSlot[];    // addressable frame storage (local arrays and structs)
  blocks: Block[];       // blocks[0] is the entry
  loc?: SourceLocation;
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
 */
export interface InterruptEntry { name: string; vector: number; handler: string }

/** Addresses only the linker knows; `globalAddress` may name them (see docs/calling-convention.md). */
export const LINKER_SYMBOLS = ['__image_start', '__image_end', '__stack_bottom', '__stack_top', '__symbol_table'] as const;
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
}

// ---- helpers used by lowering and passes ---------------------------------------------------------

export function definedRegister(i: Instr): VReg | null {
  switch (i.op) {
    case "store": case "trap": return null;
    case "call": case "callIndirect": case "intrinsic": return i.dst;
    default: return i.dst;
  }
}

export function usedRegisters(i: Instr): VReg[] {
  switch (i.op) {
    case "const": case "globalAddress": case "functionAddress": case "slotAddress": case "trap": return [];
    case "copy": return [i.src];
    case "binary": return [i.a, i.b];
    case "unary": return [i.a];
    case "select": return [i.cond, i.ifTrue, i.ifFalse];
    case "load": return [i.address];
    case "store": return [i.address, i.value];
    case "call": case "intrinsic": return i.args;
    case "callIndirect": return [i.target, ...i.args];
  }
}

export function terminatorUses(t: Terminator): VReg[] {
  if (t.op === "branch") return [t.cond];
  if (t.op === "return" && t.value !== null) return [t.value];
  return [];
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

export function successors(t: Terminator): number[] {
  if (t.op === "jump") return [t.target];
  if (t.op === "branch") return [t.ifTrue, t.ifFalse];
  return [];
}

/** Wraps any JS number to a signed 32-bit integer. */
export const toInt32 = (x: number): number => x | 0;
