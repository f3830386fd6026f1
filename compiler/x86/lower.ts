// Contract: lowers an IR Module (compiler/ir.ts) to one stream of iced-x86 Instructions: `_start`, every
// function, the interrupt entry stubs. -O0: every vreg lives in its frame home, ebp is the frame pointer.
// -O2: vregs get registers (below), constants become immediates, a comparison fuses into its branch
// (cmp; jcc) or its select (cmp; cmov), address arithmetic folds into addressing modes, a 32-bit load
// into its comparison, a self-recursive call in tail position becomes a jump (fusion.ts finds those
// patterns, one interface: find, skip, uses), and ebp is a seventh register wherever no
// readFramePointer needs the chain (the emitter then tracks esp for the linker's unwind table).
//
// Shape: each IR op has a small rule under a banner below (INSTR_RULES). A rule reads operands with
// `use(v, reg)`/`read(v)` and writes results with `def(v, reg)`; these FunctionContext helpers know
// where the allocation put each vreg (register, immediate or frame home), so the rules are the same at
// -O0 and -O2. Registers: linear scan (regalloc.ts) over ebx/esi/edi (callee-saved: saved in the
// prologue when used) and the scratch eax/ecx/edx, which a vreg keeps only where no instruction's code
// inside its interval writes them: a dry run of the lowering checks that (check.ts) and forbids what
// conflicts ("register allocation" below). Frames of a page or more are probed page by page (the
// guard pages under the stacks).
//
// Absolute addresses (globalAddress, functionAddress) come from an AddressResolver, so the linker
// can lower once with placeholders to learn the text size and once more with the final addresses;
// they are always encoded as imm32, so instruction sizes do not depend on them.

import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import type {
  Module, Function as IrFunction, Block, Instr, BinaryOp, UnaryOp, IntrinsicName, VReg, SourceLocation, Width,
  InterruptEntry,
} from "../ir.ts";
import { HYPERCALL_VECTOR, SYSENTER_FRAME_VECTOR, SYSENTER_CALL_BYTES } from "../../abi/hypercalls.ts";
import { USER_CODE_SELECTOR, USER_DATA_SELECTOR } from "../../abi/boot.ts";
import {
  INTRINSICS, OPS, TRAP_DIVIDE_BY_ZERO, definedRegister, usedRegisters, terminatorUses, propertiesOf, successors,
} from "../ir.ts";
import { Emitter, type Label, type FrameRow, type CallFrameRow } from "./emitter.ts";
import { variableHomes, type LoweredVariable, type InstructionIndices } from "./debug-info.ts";
import { lowerGuardSetup, lowerStackFault, STACK_FAULT_SYMBOL, type GuardAddresses } from "./guard.ts";
import { layoutFrame, FRAME_BASE_BELOW_CFA, type FrameLayout } from "./frame.ts";
import {
  allocateRegisters, liveIntervals, isConstant, SCRATCH, ALLOCATABLE, ALLOCATABLE_WITH_EBP,
  type Allocation, type Forbidden,
} from "./regalloc.ts";
import { codeNamed, byCondition } from "./conditions.ts";
import { findFusions, Fusions, type JumpTable } from "./fusion.ts";
import { splitAroundLoops } from "./split.ts";
import { simulateInstruction, checkAllocation, type InstrTrace, type OperandRead } from "./check.ts";

export interface AddressResolver {
  dataAddress(symbol: string): number;
  functionAddress(func: string): number;
  stackTop(): number;
  /** The unmapped page under a guarded program stack (LowerOptions.guardedStack). */
  stackGuard?(): number;
}

interface LoweredBlock { id: number; startIndex: number; loc?: SourceLocation }
interface LoweredFunction {
  name: string;
  startIndex: number; // first instruction (index into LoweredModule.instructions)
  endIndex: number;   // one past the last
  blocks: LoweredBlock[];
  frameSize: number;
  loc?: SourceLocation;
  /** A function without a frame pointer: the frame state from each row's instruction on (the linker's unwind table). */
  unwind?: FrameRow[];
  /** The full frame state from each row's instruction on (the linker's DWARF call frame information). */
  frame: CallFrameRow[];
  /** The source position of the code from each row's instruction on (the linker's DWARF line table). */
  lines: { index: number; loc: SourceLocation }[];
  /** The function's parameters and locals and where their values are (debug-info.ts). */
  variables: LoweredVariable[];
  /**
   * Its jump tables (fusion.ts, jumpTables): each a .rodata symbol of one word per target, the address of the
   * instruction at each index (the linker fills them in).
   */
  jumpTables: LoweredJumpTable[];
}
interface LoweredJumpTable { symbol: string; targets: number[] }
export interface LoweredModule { instructions: Instruction[]; functions: LoweredFunction[] }

export const START_SYMBOL = "_start";

// ---- operand helpers -----------------------------------------------------------------------------

// [base] with no displacement byte where the encoding has that form (ebp as base always needs one)
const mem = (base: Register, displacement: number): MemoryOperand =>
  displacement === 0 && base !== Register.EBP ? MemoryOperand.createBase(base) : MemoryOperand.createBaseDispl(base, BigInt(displacement));

/** Where a vreg's value is: an immediate (a constant vreg), a register, or its frame home. */
type Operand = { kind: "imm"; value: number } | { kind: "reg"; reg: Register } | { kind: "mem"; mem: MemoryOperand };

class FunctionContext {
  constructor(
    readonly e: Emitter,
    readonly module: Module,
    readonly f: IrFunction,
    readonly frame: FrameLayout,
    readonly alloc: Allocation,
    readonly blockLabels: Label[],
    readonly functionLabels: Map<string, Label>,
    readonly addresses: AddressResolver,
    /** What the rules emit together (fusion.ts): none at -O0. */
    readonly fusions: Fusions,
    options: { frameless: boolean; sysenterCall: Label | null },
  ) { this.frameless = options.frameless; this.sysenterCall = options.sysenterCall; }
  /** A guest's hypercalls call this (SYSENTER_CALL_SYMBOL); null: `int 0x80`. */
  readonly sysenterCall: Label | null;
  /** No frame pointer: the frame is addressed from esp (the emitter tracks esp's distance to the return address). */
  readonly frameless: boolean;
  /** Registers read as operands by the IR instruction being lowered (for the allocation checker, compiler/x86/check.ts). */
  reads: OperandRead[] = [];
  /** Emitter index where the IR instruction being lowered starts. */
  instrStart = 0;
  /**
   * The value of a constant vreg: a `const`, or a data symbol's address (a link-time constant; every
   * address is far above 127, in the linker's first pass too, so it always takes the imm32/disp32 forms
   * and both passes encode the same sizes).
   */
  constantOf(v: VReg): number | undefined {
    const c = this.alloc.constants.get(v);
    if (c !== undefined) return c;
    const address = this.alloc.addresses.get(v);
    return address === undefined ? undefined : (this.addresses.dataAddress(address.symbol) + address.offset) | 0;
  }
  /** Whether v is a constant (emits nothing where it is defined, an immediate where it is read). */
  isConstant(v: VReg): boolean { return isConstant(this.alloc, v); }
  home(v: VReg): MemoryOperand { return this.frameMem(this.frame.vregOffset(v)); }
  /**
   * The frame word at `offset` from the frame base: [ebp + offset], or without a frame pointer
   * [esp + cfa - 4 + offset] (the frame base is where `push ebp` would have put the caller's ebp).
   * The operand is valid for the next instruction emitted only (esp may move after it).
   */
  frameMem(offset: number): MemoryOperand {
    if (!this.frameless) return mem(Register.EBP, offset);
    const cfa = this.e.cfa;
    if (Number.isNaN(cfa)) throw new Error(`x86 lowering: ${this.f.name}: a frame reference where esp is not known`);
    return mem(Register.ESP, cfa - 4 + offset);
  }
  /** Where the prologue saves callee-saved register r: the save area, or for ebp the frame base's own word. */
  saveSlot(r: Register): number {
    if (r === Register.EBP) return 0;
    const k = this.alloc.used.filter(x => x !== Register.EBP).indexOf(r);
    return this.frame.saveOffsets[k];
  }
  /** Where v is, recorded as a read of v by the next instructions emitted (use for source operands). */
  read(v: VReg): Operand {
    const o = this.operand(v);
    if (o.kind === "reg") this.reads.push({ v, reg: o.reg, at: this.e.nextIndex - this.instrStart });
    return o;
  }
  /** Where v is (for destinations and decisions; a source operand is read with `read`). */
  operand(v: VReg): Operand {
    const c = this.constantOf(v);
    if (c !== undefined) return { kind: "imm", value: c };
    const r = this.alloc.registers.get(v);
    if (r !== undefined) return { kind: "reg", reg: r };
    return { kind: "mem", mem: this.home(v) };
  }
  /** reg <- vreg */
  use(v: VReg, reg: Register): void {
    const o = this.read(v);
    if (o.kind === "imm") this.e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, reg, o.value >>> 0));
    else if (o.kind === "reg") { if (o.reg !== reg) this.e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, reg, o.reg)); }
    else this.e.emit(Instruction.createRegMem(Code.Mov_r32_rm32, reg, o.mem));
  }
  /** vreg <- reg */
  def(v: VReg, reg: Register): void {
    const o = this.operand(v);
    if (o.kind === "imm") throw new Error(`x86 lowering: ${this.f.name}: v${v} is a constant and cannot be redefined`);
    if (o.kind === "reg") { if (o.reg !== reg) this.e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, o.reg, reg)); }
    else this.e.emit(Instruction.createMemReg(Code.Mov_rm32_r32, o.mem, reg));
  }
  /** reg op= vreg, with the r32, r/m32 form or the immediate form. */
  alu(rm: Code, imm32: Code, imm8: Code, reg: Register, v: VReg): void {
    const o = this.read(v);
    if (o.kind === "imm") this.e.emit(Instruction.createRegI32(fitsImm8(o.value) ? imm8 : imm32, reg, o.value | 0));
    else if (o.kind === "reg") this.e.emit(Instruction.createRegReg(rm, reg, o.reg));
    else this.e.emit(Instruction.createRegMem(rm, reg, o.mem));
  }
  push(v: VReg): void {
    const o = this.read(v);
    if (o.kind === "imm") this.e.emit(Instruction.createI32(fitsImm8(o.value) ? Code.Pushd_imm8 : Code.Pushd_imm32, o.value | 0));
    else if (o.kind === "reg") this.e.emit(Instruction.createReg(Code.Push_r32, o.reg));
    else this.e.emit(Instruction.createMem(Code.Push_rm32, o.mem));
  }
  emit(i: Instruction): void { this.e.emit(i); }
  functionLabel(name: string): Label {
    const l = this.functionLabels.get(name);
    if (l === undefined) throw new Error(`x86 lowering: ${this.f.name}: call to unknown function '${name}'`);
    return l;
  }
  /**
   * cdecl call sequence. With an outgoing argument area (-O2) the arguments are stored at [esp + 4*i]
   * (esp stays 16-aligned, nothing to pop; an argument in its home goes through the stack: push m32,
   * pop m32, which computes [esp + 4*i] after its increment, SDM Vol. 2B "POP"). Without one (-O0):
   * pad so esp is 16-aligned at the call, push args right to left, call, pop.
   */
  callWith(args: VReg[], emitCall: () => void): void {
    if (this.frame.outgoing >= 4 * args.length && this.frame.outgoing > 0) {
      args.forEach((v, i) => {
        const at = mem(Register.ESP, 4 * i);
        const o = this.read(v);
        if (o.kind === "imm") this.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, at, o.value | 0));
        else if (o.kind === "reg") this.emit(Instruction.createMemReg(Code.Mov_rm32_r32, at, o.reg));
        else { this.emit(Instruction.createMem(Code.Push_rm32, o.mem)); this.emit(Instruction.createMem(Code.Pop_rm32, at)); }
      });
      emitCall();
      return;
    }
    const argBytes = 4 * args.length;
    const pad = (16 - (argBytes % 16)) % 16;
    if (pad > 0) this.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESP, pad));
    for (let i = args.length - 1; i >= 0; i--) this.push(args[i]);
    emitCall();
    const pop = argBytes + pad;
    if (pop > 0) this.emit(Instruction.createRegI32(pop < 128 ? Code.Add_rm32_imm8 : Code.Add_rm32_imm32, Register.ESP, pop));
  }
  /**
   * trapHandler(kind), which never returns. With an outgoing argument area (-O2) the argument goes to
   * [esp]; else (esp is 16-aligned in a function body) 12 bytes of padding + the argument keep it so.
   */
  callTrap(kind: number): void {
    if (this.frame.outgoing >= 4) {
      this.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, mem(Register.ESP, 0), kind));
      this.e.branch(Code.Call_rel32_32, this.functionLabel(this.module.trapHandler));
      return;
    }
    this.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESP, 12));
    this.emit(Instruction.createI32(Code.Pushd_imm8, kind));
    this.e.branch(Code.Call_rel32_32, this.functionLabel(this.module.trapHandler));
  }
  /** Restores the callee-saved registers this function used (before every return). */
  restoreSaved(): void {
    for (const r of this.alloc.used) {
      this.emit(Instruction.createRegMem(Code.Mov_r32_rm32, r, this.frameMem(this.saveSlot(r))));
      if (r === Register.EBP) this.e.ebpSaved = false;
      else this.e.restored(r);
    }
  }
  /** Leaves the frame: `leave`, or without a frame pointer `add esp, frameBytes` (then esp points at the return address). */
  leaveFrame(frameBytes: number): void {
    if (!this.frameless) { // mov esp, ebp; pop ebp: esp points at the return address
      this.emit(Instruction.create(Code.Leaved));
      this.e.frameBase(Register.ESP);
      this.e.cfa = 0;
      this.e.ebpSaved = false;
      return;
    }
    if (frameBytes > 0) this.emit(Instruction.createRegI32(frameBytes < 128 ? Code.Add_rm32_imm8 : Code.Add_rm32_imm32, Register.ESP, frameBytes));
  }
  /** Bytes the prologue of a function without a frame pointer subtracts from esp (0 for a leaf that needs no stack). */
  frameBytes = 0;
  /** The jump tables lowered so far: their symbols and target block ids. */
  jumpTables: { symbol: string; blocks: number[] }[] = [];
}

const fitsImm8 = (x: number): boolean => x >= -128 && x <= 127;

// ---- binary ops: add sub mul and or xor ----------------------------------------------------------
// eax <- a; eax op= [b]: the second operand is read straight from its frame home (r32, r/m32 forms).

const ALU: Partial<Record<BinaryOp, [rm: Code, imm32: Code, imm8: Code]>> = {
  add: [Code.Add_r32_rm32, Code.Add_rm32_imm32, Code.Add_rm32_imm8],
  sub: [Code.Sub_r32_rm32, Code.Sub_rm32_imm32, Code.Sub_rm32_imm8],
  and: [Code.And_r32_rm32, Code.And_rm32_imm32, Code.And_rm32_imm8],
  or: [Code.Or_r32_rm32, Code.Or_rm32_imm32, Code.Or_rm32_imm8],
  xor: [Code.Xor_r32_rm32, Code.Xor_rm32_imm32, Code.Xor_rm32_imm8],
};
// mul: two-operand imul (low 32 bits, the same for signed and unsigned); by a constant: imul r32, r/m32, imm.
const CMP: [Code, Code, Code] = [Code.Cmp_r32_rm32, Code.Cmp_rm32_imm32, Code.Cmp_rm32_imm8];

// ---- binary ops: shifts --------------------------------------------------------------------------
// The count goes in cl; x86 masks a 32-bit shift count to 5 bits, which is exactly the IR's "mod 32".

const SHIFT_CL: Partial<Record<BinaryOp, Code>> = { shl: Code.Shl_rm32_CL, shrs: Code.Sar_rm32_CL, shru: Code.Shr_rm32_CL };
const SHIFT_IMM: Partial<Record<BinaryOp, Code>> = { shl: Code.Shl_rm32_imm8, shrs: Code.Sar_rm32_imm8, shru: Code.Shr_rm32_imm8 };

// ---- binary ops: comparisons ---------------------------------------------------------------------
// cmp eax, [b]; setcc al; movzx eax, al  -> 0 or 1. Signed conditions l/le/g/ge, unsigned b/be/a/ae.

const SETCC = byCondition(holds => codeNamed(`Set${holds}_rm8`));
// A comparison consumed only by the branch that ends its block fuses into cmp + jcc: [jump if true, jump if false].
const JCC = byCondition((holds, fails): [Code, Code] => [codeNamed(`J${holds}_rel32_32`), codeNamed(`J${fails}_rel32_32`)]);

// ---- binary ops: division ------------------------------------------------------------------------
// divs/rems: divisor 0 -> trap; divisor -1 -> handled without idiv (INT_MIN / -1 raises #DE on x86,
// the IR wants the wrapped negation for divs and 0 for rems); otherwise cdq; idiv ecx.
// divu/remu: divisor 0 -> trap; otherwise xor edx, edx; div ecx. Quotient in eax, remainder in edx.

function lowerDivision(cx: FunctionContext, kind: BinaryOp, dst: VReg, a: VReg, b: VReg): void {
  const e = cx.e;
  const nonZero = e.fresh(), done = e.fresh();
  cx.use(b, Register.ECX);
  cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, Register.ECX, Register.ECX));
  e.branch(Code.Jne_rel32_32, nonZero);
  cx.callTrap(TRAP_DIVIDE_BY_ZERO);
  e.bind(nonZero);
  cx.use(a, Register.EAX);
  const signed = kind === "divs" || kind === "rems";
  const wantsRemainder = kind === "rems" || kind === "remu";
  if (signed) {
    const general = e.fresh();
    cx.emit(Instruction.createRegI32(Code.Cmp_rm32_imm8, Register.ECX, -1)); // imm8 is sign-extended: compares with 0xFFFFFFFF
    e.branch(Code.Jne_rel32_32, general);
    if (wantsRemainder) cx.emit(Instruction.createRegReg(Code.Xor_r32_rm32, Register.EAX, Register.EAX)); // x rem -1 = 0
    else cx.emit(Instruction.createReg(Code.Neg_rm32, Register.EAX));                                     // x / -1 = -x, wrapping
    e.branch(Code.Jmp_rel32_32, done);
    e.bind(general);
    cx.emit(Instruction.create(Code.Cdq)); // edx:eax <- sign-extended eax
    cx.emit(Instruction.createReg(Code.Idiv_rm32, Register.ECX));
  } else {
    cx.emit(Instruction.createRegReg(Code.Xor_r32_rm32, Register.EDX, Register.EDX)); // edx:eax <- zero-extended eax
    cx.emit(Instruction.createReg(Code.Div_rm32, Register.ECX));
  }
  if (wantsRemainder) cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EAX, Register.EDX));
  e.bind(done);
  cx.def(dst, Register.EAX);
}

/** Flags for a comparison of a with b: `cmp a, b` straight from a's register (`test a, a` against 0), else through eax. */
function compare(cx: FunctionContext, a: VReg, b: VReg): void {
  const loadA = cx.fusions.loads.get(a);
  if (loadA) {
    // cmp size [a + k], imm (fusion.ts loadFolds: every register of the address is in a register)
    const k = cx.constantOf(b)!;
    const operand = addressOperand(cx, loadA.address, loadA.offset, Register.None);
    if (loadA.width === 1) cx.emit(Instruction.createMemI32(Code.Cmp_rm8_imm8, operand, (k << 24) >> 24));
    else cx.emit(Instruction.createMemI32(fitsImm8(k) ? Code.Cmp_rm32_imm8 : Code.Cmp_rm32_imm32, operand, k | 0));
    return;
  }
  const test = cx.fusions.tests.get(a);
  if (test) {
    // test x, y for `(x & y) cmp 0` (fusion.ts testFolds: y a register or a number)
    const [x, y] = cx.isConstant(test.a) ? [test.b, test.a] : [test.a, test.b];
    const k = cx.alloc.constants.get(y);
    const ox = cx.read(x) as { kind: "reg"; reg: Register } | { kind: "mem"; mem: MemoryOperand };
    if (k !== undefined) {
      if (ox.kind === "reg") cx.emit(Instruction.createRegI32(Code.Test_rm32_imm32, ox.reg, k | 0));
      else cx.emit(Instruction.createMemI32(Code.Test_rm32_imm32, ox.mem, k | 0));
    } else {
      const oy = cx.read(y) as { reg: Register };
      if (ox.kind === "reg") cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, ox.reg, oy.reg));
      else cx.emit(Instruction.createMemReg(Code.Test_rm32_r32, ox.mem, oy.reg));
    }
    return;
  }
  const oa = cx.read(a);
  const left = oa.kind === "reg" ? oa.reg : Register.EAX;
  if (oa.kind !== "reg") cx.use(a, Register.EAX);
  const load = cx.fusions.loads.get(b);
  if (load) cx.emit(Instruction.createRegMem(Code.Cmp_r32_rm32, left, addressOperand(cx, load.address, load.offset, left === Register.EAX ? Register.ECX : Register.EAX)));
  else if (cx.alloc.constants.get(b) === 0) cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, left, left)); // same flags as cmp with 0
  else cx.alu(CMP[0], CMP[1], CMP[2], left, b);
}

/**
 * dst = rol x, count (fusion.ts rotates): into dst's register (eax when it has none, or ecx, which takes a
 * variable count); x is moved first when it is in ecx, the count first otherwise.
 */
function lowerRotate(cx: FunctionContext, dst: VReg, x: VReg, count: VReg): void {
  const d = cx.operand(dst);
  const target = d.kind === "reg" && d.reg !== Register.ECX ? d.reg : Register.EAX;
  const k = cx.constantOf(count);
  if (k !== undefined) {
    cx.use(x, target);
    cx.emit(Instruction.createRegI32(Code.Rol_rm32_imm8, target, k & 31));
  } else {
    const ox = cx.operand(x);
    if (ox.kind === "reg" && ox.reg === Register.ECX) { cx.use(x, target); cx.use(count, Register.ECX); }
    else { cx.use(count, Register.ECX); cx.use(x, target); }
    cx.emit(Instruction.createRegReg(Code.Rol_rm32_CL, target, Register.CL));
  }
  if (d.kind !== "reg" || d.reg !== target) cx.def(dst, target);
}

function lowerBinary(cx: FunctionContext, i: Extract<Instr, { op: "binary" }>): void {
  const { kind, dst } = i;
  if (cx.alloc.addresses.has(dst)) return; // address + constant: a link-time constant, nothing to compute
  const scaled = cx.fusions.scaledAdds.get(i);
  if (scaled) {
    // lea r, [y + x*2^k] or [x*2^k + imm] (fusion.ts scaledAdds: dst, x and a register y in registers)
    const target = (cx.operand(dst) as { reg: Register }).reg;
    const index = (cx.read(scaled.index) as { reg: Register }).reg;
    const o = cx.read(scaled.other);
    const base = o.kind === "reg" ? o.reg : Register.None;
    const displacement = o.kind === "imm" ? o.value | 0 : 0;
    const size = base === Register.None ? 4 : displacement === 0 ? 0 : fitsImm8(displacement) ? 1 : 4;
    const operand = new MemoryOperand(base, index, scaled.scale, BigInt(displacement), size, false, Register.None);
    cx.emit(Instruction.createRegMem(Code.Lea_r32_m, target, operand));
    return;
  }
  const rotate = cx.fusions.rotates.get(i);
  if (rotate) return lowerRotate(cx, dst, rotate.x, rotate.count);
  const aluLoad = cx.fusions.aluLoads.get(i);
  if (aluLoad) {
    // op r, [a + k] (fusion.ts aluLoadFolds: r is dst's register and no register of the address)
    const target = (cx.operand(dst) as { reg: Register }).reg;
    cx.use(aluLoad.other, target);
    const operand = addressOperand(cx, aluLoad.load.address, aluLoad.load.offset, Register.None);
    cx.emit(Instruction.createRegMem(kind === "mul" ? Code.Imul_r32_rm32 : ALU[kind]![0], target, operand));
    return;
  }
  // a constant on the left of a commutative op goes right, where the immediate forms take it (50 + x: add x, 50);
  // only the ALU ops and mul: a comparison keeps its operands (a load may be folded into b, fusion.ts)
  // and mulhs/mulhu have no immediate form
  const immediateForm = ALU[kind] !== undefined || kind === "mul";
  const swap = OPS[kind].commutative && immediateForm && cx.isConstant(i.a) && !cx.isConstant(i.b);
  const a = swap ? i.b : i.a, b = swap ? i.a : i.b;
  const alu = ALU[kind], shift = SHIFT_CL[kind], setcc = SETCC[kind];
  const constantB = cx.constantOf(b);
  if (alu !== undefined) {
    // Straight into the destination's register when it has one (and b does not live there).
    const d = cx.operand(dst), ob = cx.operand(b), oa = cx.operand(a);
    // add into a third register: lea r, [a + b] or [a + imm] (one instruction instead of mov + add)
    // (a subtraction of a constant is an add of its negation: lea r, [a - imm])
    const leaAdd = kind === "add" && (ob.kind === "reg" || ob.kind === "imm");
    const leaSub = kind === "sub" && ob.kind === "imm" && ob.value !== -0x80000000;
    if ((leaAdd || leaSub) && d.kind === "reg" && oa.kind === "reg" && oa.reg !== d.reg) {
      cx.read(a); cx.read(b);
      const displacement = ob.kind === "imm" ? (kind === "sub" ? -ob.value : ob.value) | 0 : 0;
      const operand = ob.kind === "reg" ? new MemoryOperand(oa.reg, ob.reg, 1, 0n, 0, false, Register.None) : mem(oa.reg, displacement);
      cx.emit(Instruction.createRegMem(Code.Lea_r32_m, d.reg, operand));
      return;
    }
    // x & 0xff, x & 0xffff into another register: movzx d, x8/x16 (mov + and were two)
    const zeroExtend = kind === "and" && (constantB === 0xff || constantB === 0xffff) && d.kind === "reg"
      && !(oa.kind === "reg" && oa.reg === d.reg) && oa.kind !== "imm";
    const narrow = oa.kind === "reg" ? (constantB === 0xff ? NARROW.get(oa.reg)?.[0] : WORDS.get(oa.reg)) : undefined;
    if (zeroExtend && d.kind === "reg" && (oa.kind === "mem" || narrow !== undefined)) {
      cx.read(a);
      const code = constantB === 0xff ? Code.Movzx_r32_rm8 : Code.Movzx_r32_rm16;
      if (oa.kind === "mem") cx.emit(Instruction.createRegMem(code, d.reg, oa.mem));
      else cx.emit(Instruction.createRegReg(code, d.reg, narrow!));
      return;
    }
    // b already in the destination's register: a commutative op combines a into it (d op= a)
    if (d.kind === "reg" && ob.kind === "reg" && ob.reg === d.reg && kind !== "sub") {
      cx.read(b);
      cx.alu(alu[0], alu[1], alu[2], d.reg, a);
      return;
    }
    const target = d.kind === "reg" && !(ob.kind === "reg" && ob.reg === d.reg) ? d.reg : Register.EAX;
    cx.use(a, target);
    cx.alu(alu[0], alu[1], alu[2], target, b);
    if (target === Register.EAX) cx.def(dst, Register.EAX);
  } else if (kind === "mul") {
    if (constantB !== undefined) {
      const a_ = cx.read(a);
      // imul r, r/m32, imm: the source may be a register or the home directly; straight into dst's register
      const target = targetRegister(cx, dst);
      const code = fitsImm8(constantB) ? Code.Imul_r32_rm32_imm8 : Code.Imul_r32_rm32_imm32;
      if (a_.kind === "reg") cx.emit(Instruction.createRegRegI32(code, target, a_.reg, constantB | 0));
      else { cx.use(a, target); cx.emit(Instruction.createRegRegI32(code, target, target, constantB | 0)); }
      if (target !== Register.EAX) return;
    } else {
      // straight into the destination's register (imul d, b); b already there: imul d, a (commutative)
      const d = cx.operand(dst), ob = cx.operand(b);
      const bInTarget = d.kind === "reg" && ob.kind === "reg" && ob.reg === d.reg;
      const [first, second] = bInTarget ? [b, a] : [a, b];
      const target = d.kind === "reg" ? d.reg : Register.EAX;
      cx.use(first, target);
      const o = cx.read(second);
      if (o.kind === "reg") cx.emit(Instruction.createRegReg(Code.Imul_r32_rm32, target, o.reg));
      else if (o.kind === "mem") cx.emit(Instruction.createRegMem(Code.Imul_r32_rm32, target, o.mem));
      else throw new Error(`x86 lowering: ${cx.f.name}: mul by a constant takes the immediate form`);
      if (target !== Register.EAX) return;
    }
    cx.def(dst, Register.EAX);
  } else if (shift !== undefined) {
    const d = cx.operand(dst);
    if (constantB !== undefined && d.kind === "reg") {
      cx.use(a, d.reg);
      cx.emit(Instruction.createRegI32(SHIFT_IMM[kind]!, d.reg, constantB & 31));
      return;
    }
    cx.use(a, Register.EAX);
    if (constantB !== undefined) cx.emit(Instruction.createRegI32(SHIFT_IMM[kind]!, Register.EAX, constantB & 31));
    else { cx.use(b, Register.ECX); cx.emit(Instruction.createRegReg(shift, Register.EAX, Register.CL)); }
    cx.def(dst, Register.EAX);
  } else if (setcc !== undefined) {
    compare(cx, a, b);
    cx.emit(Instruction.createReg(setcc, Register.AL));
    const target = targetRegister(cx, dst);
    cx.emit(Instruction.createRegReg(Code.Movzx_r32_rm8, target, Register.AL));
    if (target === Register.EAX) cx.def(dst, Register.EAX);
  } else if (OPS[kind].cost === "divide") {
    lowerDivision(cx, kind, dst, a, b);
  } else if (kind === "mulhs" || kind === "mulhu") {
    // one-operand mul/imul: edx:eax <- eax * r/m32; the high half is edx. A constant goes through ecx.
    const code = kind === "mulhs" ? Code.Imul_rm32 : Code.Mul_rm32;
    const ob = cx.operand(b);
    if (ob.kind === "imm") {
      cx.use(a, Register.EAX);
      cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, ob.value >>> 0));
      cx.emit(Instruction.createReg(code, Register.ECX));
    } else if (ob.kind === "reg" && ob.reg !== Register.EAX) {
      cx.use(a, Register.EAX);
      cx.read(b);
      cx.emit(Instruction.createReg(code, ob.reg));
    } else {
      cx.use(b, Register.ECX);
      cx.use(a, Register.EAX);
      cx.emit(Instruction.createReg(code, Register.ECX));
    }
    cx.def(dst, Register.EDX);
  } else {
    throw new Error(`x86 lowering: unknown binary op '${kind}'`);
  }
}

// ---- unary ops -----------------------------------------------------------------------------------

const UNARY: Record<UnaryOp, Code> = { neg: Code.Neg_rm32, not: Code.Not_rm32 };

// ---- select: cmov --------------------------------------------------------------------------------
// dst = cond ? ifTrue : ifFalse without a branch: the flags first (`test cond, cond`, or `cmp a, b` of a
// comparison read only by this select, fusion.ts), then `mov r, ifFalse; cmovcc r, ifTrue`
// into dst's register (eax, then stored, when dst lives in memory). mov leaves the flags alone, so dst
// may share cond's register. cmov has no immediate form: a constant ifTrue becomes the mov instead (the
// condition inverted), and so does an ifTrue that already lives in dst's register (the mov would
// overwrite it), unless ifFalse is there already; a constant left for the cmov goes through ecx (edx
// when dst is in ecx).

// cmovcc for [the condition true, the condition false]: a select on a plain register tests it against 0.
const CMOV_NONZERO: [Code, Code] = [Code.Cmovne_r32_rm32, Code.Cmove_r32_rm32];
const CMOV = byCondition((holds, fails): [Code, Code] => [codeNamed(`Cmov${holds}_r32_rm32`), codeNamed(`Cmov${fails}_r32_rm32`)]);

function lowerSelect(cx: FunctionContext, i: Extract<Instr, { op: "select" }>): void {
  const fused = cx.fusions.selects.get(i);
  const d = cx.operand(i.dst);
  const target = d.kind === "reg" ? d.reg : Register.EAX;
  const ifTrue = cx.operand(i.ifTrue), ifFalse = cx.operand(i.ifFalse);
  const inTarget = (o: Operand) => o.kind === "reg" && o.reg === target;
  // swap: the mov takes ifTrue (already in place, or a constant) and the cmov ifFalse, on the inverted condition;
  // an ifFalse already in place never moves (a clamp `x = x > k ? k : x` is `mov ecx, k; cmovg x, ecx`)
  const swap = i.ifTrue !== i.ifFalse && !inTarget(ifFalse) && (inTarget(ifTrue) || (ifTrue.kind === "imm" && ifFalse.kind !== "imm"));
  const [first, second] = swap ? [i.ifTrue, i.ifFalse] : [i.ifFalse, i.ifTrue];
  const [whenTrue, whenFalse] = fused ? CMOV[fused.kind]! : CMOV_NONZERO;
  const cmov = swap ? whenFalse : whenTrue;
  const condition = cx.operand(i.cond);
  if (condition.kind === "imm" && !fused) {
    // a constant condition (fold makes these copies): the chosen operand is moved, the other one is not needed
    const [chosen, other] = condition.value !== 0 ? [i.ifTrue, i.ifFalse] : [i.ifFalse, i.ifTrue];
    cx.read(other);
    cx.use(chosen, target);
    if (d.kind !== "reg") cx.def(i.dst, target);
    return;
  }
  if (fused) compare(cx, fused.a, fused.b);
  else {
    const c = cx.read(i.cond);
    if (c.kind === "reg") cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, c.reg, c.reg));
    else cx.emit(Instruction.createMemI32(Code.Cmp_rm32_imm8, (c as { mem: MemoryOperand }).mem, 0));
  }
  cx.use(first, target);
  const o = cx.read(second);
  if (o.kind === "reg") cx.emit(Instruction.createRegReg(cmov, target, o.reg));
  else if (o.kind === "mem") cx.emit(Instruction.createRegMem(cmov, target, o.mem));
  else {
    const scratch = target === Register.ECX ? Register.EDX : Register.ECX;
    cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, scratch, o.value >>> 0));
    cx.emit(Instruction.createRegReg(cmov, target, scratch));
  }
  if (d.kind !== "reg") cx.def(i.dst, target);
}

// ---- memory: loads and stores --------------------------------------------------------------------
// Narrow loads widen with movzx/movsx; narrow stores write the low byte/word of ecx (cl/cx).

const LOAD: Record<Width, { signed: Code; unsigned: Code }> = {
  1: { signed: Code.Movsx_r32_rm8, unsigned: Code.Movzx_r32_rm8 },
  2: { signed: Code.Movsx_r32_rm16, unsigned: Code.Movzx_r32_rm16 },
  4: { signed: Code.Mov_r32_rm32, unsigned: Code.Mov_r32_rm32 },
};
const STORE: Record<Width, { code: Code; reg: Register }> = {
  1: { code: Code.Mov_rm8_r8, reg: Register.CL },
  2: { code: Code.Mov_rm16_r16, reg: Register.CX }, // 66-prefixed
  4: { code: Code.Mov_rm32_r32, reg: Register.ECX },
};

/** The byte and word forms of the registers that have them. */
const NARROW = new Map<Register, [Register, Register]>([
  [Register.EAX, [Register.AL, Register.AX]], [Register.EBX, [Register.BL, Register.BX]],
  [Register.ECX, [Register.CL, Register.CX]], [Register.EDX, [Register.DL, Register.DX]],
]);

/** The word forms of the registers (esi, edi and ebp have no byte form). */
const WORDS = new Map<Register, Register>([
  [Register.EAX, Register.AX], [Register.EBX, Register.BX], [Register.ECX, Register.CX], [Register.EDX, Register.DX],
  [Register.ESI, Register.SI], [Register.EDI, Register.DI], [Register.EBP, Register.BP],
]);

/** The destination's own register when it has one, else eax (then def() stores it). */
function targetRegister(cx: FunctionContext, dst: VReg): Register {
  const d = cx.operand(dst);
  return d.kind === "reg" ? d.reg : Register.EAX;
}

/** [base + offset] for an address vreg: its register, a constant address as disp32, or its value loaded into `scratch`. */
function addressOperand(cx: FunctionContext, address: VReg, offset: number, scratch: Register): MemoryOperand {
  const fold = cx.fusions.addresses.get(address);
  if (fold) {
    // [base + index*scale + offset]: the add (and the shift) that computed the address were not emitted
    const b = cx.read(fold.base);
    let base = Register.None, displacement = (offset + fold.displacement) | 0;
    if (b.kind === "reg") base = b.reg;
    else if (b.kind === "imm") displacement = (displacement + b.value) | 0;
    else { cx.use(fold.base, scratch); base = scratch; }
    let index = Register.None;
    if (fold.index !== null) {
      const ix = cx.read(fold.index);
      if (ix.kind === "reg") index = ix.reg;
      else { cx.use(fold.index, Register.EDX); index = Register.EDX; }
    }
    // [index*1 + disp32] is [index + disp]: the base form, whose displacement may take one byte
    const scale = index === Register.None ? 1 : fold.scale;
    if (base === Register.None && index !== Register.None && scale === 1) { base = index; index = Register.None; }
    const size = base === Register.None && index === Register.None ? 4 : displacement === 0 ? 0 : fitsImm8(displacement) ? 1 : 4;
    const absolute = base === Register.None && index === Register.None;
    const disp = BigInt(absolute ? displacement >>> 0 : displacement);
    return new MemoryOperand(base, index, index === Register.None ? 1 : scale, disp, size, false, Register.None);
  }
  const o = cx.read(address);
  if (o.kind === "reg") return mem(o.reg, offset | 0);
  if (o.kind === "imm") return new MemoryOperand(Register.None, Register.None, 1, BigInt(((o.value + offset) | 0) >>> 0), 4, false, Register.None);
  cx.use(address, scratch);
  return mem(scratch, offset | 0);
}

// ---- read-modify-write ---------------------------------------------------------------------------
// A store of `op(load of the same word, b)` (fusion.ts, readModifyWrites): `op dword [mem], b`, with b
// an immediate, a register, or (from its frame home) ecx.

const MEMORY_ALU: Partial<Record<BinaryOp, [rm32r32: Code, imm32: Code, imm8: Code]>> = {
  add: [Code.Add_rm32_r32, Code.Add_rm32_imm32, Code.Add_rm32_imm8],
  sub: [Code.Sub_rm32_r32, Code.Sub_rm32_imm32, Code.Sub_rm32_imm8],
  and: [Code.And_rm32_r32, Code.And_rm32_imm32, Code.And_rm32_imm8],
  or: [Code.Or_rm32_r32, Code.Or_rm32_imm32, Code.Or_rm32_imm8],
  xor: [Code.Xor_rm32_r32, Code.Xor_rm32_imm32, Code.Xor_rm32_imm8],
};

function lowerReadModifyWrite(
  cx: FunctionContext, store: Extract<Instr, { op: "store" }>, op: Extract<Instr, { op: "binary" }>,
): void {
  const [rm, imm32, imm8] = MEMORY_ALU[op.kind]!;
  const b = cx.operand(op.b);
  if (b.kind === "mem") cx.use(op.b, Register.ECX);
  else if (b.kind === "reg") cx.read(op.b);
  const at = addressOperand(cx, store.address, store.offset, Register.EAX);
  if (b.kind === "imm") cx.emit(Instruction.createMemI32(fitsImm8(b.value) ? imm8 : imm32, at, b.value | 0));
  else cx.emit(Instruction.createMemReg(rm, at, b.kind === "reg" ? b.reg : Register.ECX));
}

// ---- intrinsics ----------------------------------------------------------------------------------

type IntrinsicRule = (cx: FunctionContext, args: VReg[], dst: VReg | null) => void;

const defIf = (cx: FunctionContext, dst: VReg | null, reg: Register): void => { if (dst !== null) cx.def(dst, reg); };

/** in al/ax/eax, dx: the port is always in dx (the imm8 form only reaches ports < 256). */
const portIn = (code: Code, acc: Register, widen: Code | null): IntrinsicRule => (cx, [port], dst) => {
  cx.use(port, Register.EDX);
  cx.emit(Instruction.createRegReg(code, acc, Register.DX));
  if (widen !== null) cx.emit(Instruction.createRegReg(widen, Register.EAX, acc));
  defIf(cx, dst, Register.EAX);
};
const portOut = (code: Code, acc: Register): IntrinsicRule => (cx, [port, value]) => {
  cx.use(port, Register.EDX);
  cx.use(value, Register.EAX);
  cx.emit(Instruction.createRegReg(code, Register.DX, acc));
};
const bare = (code: Code): IntrinsicRule => (cx) => cx.emit(Instruction.create(code));
const readControl = (cr: Register): IntrinsicRule => (cx, _args, dst) => {
  cx.emit(Instruction.createRegReg(Code.Mov_r32_cr, Register.EAX, cr));
  defIf(cx, dst, Register.EAX);
};
const writeControl = (cr: Register): IntrinsicRule => (cx, [value]) => {
  cx.use(value, Register.EAX);
  cx.emit(Instruction.createRegReg(Code.Mov_cr_r32, cr, Register.EAX));
};
/** lgdt/lidt/invlpg take a memory operand: [eax] holding the address argument. */
const memoryOperandOf = (code: Code): IntrinsicRule => (cx, [address]) => {
  cx.use(address, Register.EAX);
  cx.emit(Instruction.createMem(code, MemoryOperand.createBase(Register.EAX)));
};

/**
 * memmove(dst, src, len), a word at a time: `rep movsd` for len / 4 words and `rep movsb` for the
 * len % 4 bytes left (an iteration of a rep string instruction is an instruction executed: 4x fewer).
 * Forward unless dst > src and the ranges overlap (dst < src + len, unsigned); then backward: esi/edi
 * at the last byte, std, the len % 4 tail bytes, then esi/edi 3 lower (at the last whole word), the
 * words, cld (the ABI keeps DF clear). Either direction reads every byte before it is overwritten:
 * forward, dst < src, so each write lands below what is still to be read; backward, dst > src, so
 * above it. esi/edi are callee-saved, so they are pushed and popped around; edx holds len.
 */
const memoryCopy: IntrinsicRule = (cx, [dst, src, len]) => {
  const constant = cx.constantOf(len);
  if (constant !== undefined && constant >= 0) { memoryCopyConstant(cx, dst, src, constant); return; }
  const e = cx.e;
  const forward = e.fresh(), done = e.fresh();
  cx.emit(Instruction.createReg(Code.Push_r32, Register.ESI));
  cx.emit(Instruction.createReg(Code.Push_r32, Register.EDI));
  // the arguments may live in esi/edi/ecx themselves: go through the stack
  cx.push(len); cx.push(src); cx.push(dst);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ESI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDX));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ECX, Register.EDX));
  cx.emit(Instruction.createRegReg(Code.Cmp_r32_rm32, Register.EDI, Register.ESI));
  e.branch(Code.Jbe_rel32_32, forward); // dst <= src: forward is always safe
  // [base + edx + displacement]
  const plusLength = (base: Register, displacement: bigint) =>
    new MemoryOperand(base, Register.EDX, 1, displacement, displacement === 0n ? 0 : 1, false, Register.None);
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EAX, plusLength(Register.ESI, 0n)));
  cx.emit(Instruction.createRegReg(Code.Cmp_r32_rm32, Register.EDI, Register.EAX));
  e.branch(Code.Jae_rel32_32, forward); // dst >= src + len: no overlap
  // backward: esi <- src + len - 1, edi <- dst + len - 1 (len >= 1 here since dst < src + len)
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.ESI, plusLength(Register.ESI, -1n)));
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EDI, plusLength(Register.EDI, -1n)));
  cx.emit(Instruction.create(Code.Std));
  cx.emit(Instruction.createRegI32(Code.And_rm32_imm8, Register.ECX, 3));
  cx.emit(Instruction.createRepMovsb(32));
  cx.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESI, 3));
  cx.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.EDI, 3));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ECX, Register.EDX));
  cx.emit(Instruction.createRegI32(Code.Shr_rm32_imm8, Register.ECX, 2));
  cx.emit(Instruction.createRepMovsd(32));
  cx.emit(Instruction.create(Code.Cld));
  e.branch(Code.Jmp_rel32_32, done);
  e.bind(forward);
  cx.emit(Instruction.createRegI32(Code.Shr_rm32_imm8, Register.ECX, 2));
  cx.emit(Instruction.createRepMovsd(32));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ECX, Register.EDX));
  cx.emit(Instruction.createRegI32(Code.And_rm32_imm8, Register.ECX, 3));
  cx.emit(Instruction.createRepMovsb(32));
  e.bind(done);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ESI));
};

/**
 * memoryCopy with a constant length (a struct, a frame): the same directions and order, the counts as
 * immediates (no len register, no rep of zero iterations), edi/esi set from the stack as above.
 */
function memoryCopyConstant(cx: FunctionContext, dst: VReg, src: VReg, length: number): void {
  if (length === 0) return;
  const e = cx.e;
  const forward = e.fresh(), done = e.fresh();
  const words = length >>> 2, tail = length & 3;
  const counted = (count: number, rep: () => Instruction) => {
    if (count === 0) return;
    cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, count));
    cx.emit(rep());
  };
  cx.emit(Instruction.createReg(Code.Push_r32, Register.ESI));
  cx.emit(Instruction.createReg(Code.Push_r32, Register.EDI));
  cx.push(src); cx.push(dst);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ESI));
  cx.emit(Instruction.createRegReg(Code.Cmp_r32_rm32, Register.EDI, Register.ESI));
  e.branch(Code.Jbe_rel32_32, forward);
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EAX, mem(Register.ESI, length)));
  cx.emit(Instruction.createRegReg(Code.Cmp_r32_rm32, Register.EDI, Register.EAX));
  e.branch(Code.Jae_rel32_32, forward);
  // backward: the tail bytes from the last one down, then the words from the last whole one down
  const last = tail > 0 ? length - 1 : length - 4;
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.ESI, mem(Register.ESI, last)));
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EDI, mem(Register.EDI, last)));
  cx.emit(Instruction.create(Code.Std));
  counted(tail, () => Instruction.createRepMovsb(32));
  if (tail > 0 && words > 0) {
    cx.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESI, 3));
    cx.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.EDI, 3));
  }
  counted(words, () => Instruction.createRepMovsd(32));
  cx.emit(Instruction.create(Code.Cld));
  e.branch(Code.Jmp_rel32_32, done);
  e.bind(forward);
  counted(words, () => Instruction.createRepMovsd(32));
  counted(tail, () => Instruction.createRepMovsb(32));
  e.bind(done);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ESI));
}

/**
 * memset(dst, byte, len), a word at a time: eax = the byte in all four lanes (movzx, imul 0x01010101),
 * `rep stosd` for len / 4 words, `rep stosb` for the rest; edi is saved around it, edx holds len.
 */
const memoryFill: IntrinsicRule = (cx, [dst, value, len]) => {
  cx.emit(Instruction.createReg(Code.Push_r32, Register.EDI));
  cx.push(len); cx.push(value); cx.push(dst);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EAX));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDX));
  cx.emit(Instruction.createRegReg(Code.Movzx_r32_rm8, Register.EAX, Register.AL));
  cx.emit(Instruction.createRegRegI32(Code.Imul_r32_rm32_imm32, Register.EAX, Register.EAX, 0x01010101));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ECX, Register.EDX));
  cx.emit(Instruction.createRegI32(Code.Shr_rm32_imm8, Register.ECX, 2));
  cx.emit(Instruction.createRepStosd(32));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ECX, Register.EDX));
  cx.emit(Instruction.createRegI32(Code.And_rm32_imm8, Register.ECX, 3));
  cx.emit(Instruction.createRepStosb(32));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDI));
};

/**
 * contextSwitch(saveAt, resume): push ebp, ebx, esi, edi; `call switch` pushes the address of a
 * `jmp done`; switch: [saveAt] <- esp, esp <- resume, ret (into the resumed context's `jmp done`, or
 * into a new context's entry); done: pop edi, esi, ebx, ebp. eax/ecx/edx are clobbered, as by a call.
 */
const contextSwitch: IntrinsicRule = (cx, [saveAt, resume]) => {
  const e = cx.e;
  const doSwitch = e.fresh(), done = e.fresh();
  const cfa = e.cfa; // `mov esp, ecx` leaves the tracking; the sequence as a whole leaves esp where it was
  cx.push(resume); cx.push(saveAt);   // the arguments may live anywhere: go through the stack
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EAX));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ECX));
  for (const r of [Register.EBP, Register.EBX, Register.ESI, Register.EDI]) cx.emit(Instruction.createReg(Code.Push_r32, r));
  e.branch(Code.Call_rel32_32, doSwitch);
  e.branch(Code.Jmp_rel32_32, done);
  e.bind(doSwitch);
  cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, MemoryOperand.createBase(Register.EAX), Register.ESP));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ESP, Register.ECX));
  cx.emit(Instruction.create(Code.Retnd));
  e.bind(done);
  for (const r of [Register.EDI, Register.ESI, Register.EBX, Register.EBP]) cx.emit(Instruction.createReg(Code.Pop_r32, r));
  e.cfa = cfa;
};

/**
 * contextCreate(base, size, entry, arg): t = (base + size) & ~15; [t-24] = entry, [t-20] = 0 (entry's
 * return address: it must not return), [t-16] = arg; the handle is t - 24. Resumed, `ret` pops entry
 * with esp = t - 20, which is 12 mod 16: the alignment of a function just called (16 at the call).
 */
const contextCreate: IntrinsicRule = (cx, [base, size, entry, arg], dst) => {
  cx.push(arg); cx.push(entry); cx.push(size); cx.push(base);
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EAX));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ECX));
  cx.emit(Instruction.createRegReg(Code.Add_r32_rm32, Register.EAX, Register.ECX));
  cx.emit(Instruction.createRegI32(Code.And_rm32_imm8, Register.EAX, -16));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ECX));   // entry
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EDX));   // arg
  cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, mem(Register.EAX, -16), Register.EDX));
  cx.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, mem(Register.EAX, -20), 0));
  cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, mem(Register.EAX, -24), Register.ECX));
  cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EAX, mem(Register.EAX, -24)));
  defIf(cx, dst, Register.EAX);
};

const INTRINSIC_RULES: Record<IntrinsicName, IntrinsicRule> = {
  inb: portIn(Code.In_AL_DX, Register.AL, Code.Movzx_r32_rm8),
  inw: portIn(Code.In_AX_DX, Register.AX, Code.Movzx_r32_rm16),
  inl: portIn(Code.In_EAX_DX, Register.EAX, null),
  outb: portOut(Code.Out_DX_AL, Register.AL),
  outw: portOut(Code.Out_DX_AX, Register.AX),
  outl: portOut(Code.Out_DX_EAX, Register.EAX),
  cli: bare(Code.Cli), sti: bare(Code.Sti), hlt: bare(Code.Hlt), pause: bare(Code.Pause),
  rdtsc: (cx, _a, dst) => { cx.emit(Instruction.create(Code.Rdtsc)); defIf(cx, dst, Register.EAX); },     // edx:eax <- TSC
  rdtscHigh: (cx, _a, dst) => { cx.emit(Instruction.create(Code.Rdtsc)); defIf(cx, dst, Register.EDX); }, // high half of a fresh reading
  readCr0: readControl(Register.CR0), writeCr0: writeControl(Register.CR0),
  readCr2: readControl(Register.CR2),
  readCr3: readControl(Register.CR3), writeCr3: writeControl(Register.CR3),
  readCr4: readControl(Register.CR4), writeCr4: writeControl(Register.CR4),
  lgdt: memoryOperandOf(Code.Lgdt_m1632), lidt: memoryOperandOf(Code.Lidt_m1632), // [eax] -> 6-byte limit:base
  ltr: (cx, [selector]) => { cx.use(selector, Register.EAX); cx.emit(Instruction.createReg(Code.Ltr_r32m16, Register.EAX)); }, // 0F 00 /3 with a 32-bit register: no 66 prefix
  invlpg: memoryOperandOf(Code.Invlpg_m),
  memoryCopy, memoryFill,
  // ebp of the calling function: [ebp] is its caller's ebp, [ebp + 4] its return address (backtraces)
  readFramePointer: (cx, _a, dst) => { cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EAX, Register.EBP)); defIf(cx, dst, Register.EAX); },
  readFlags: (cx, _a, dst) => { cx.emit(Instruction.create(Code.Pushfd)); cx.emit(Instruction.createReg(Code.Pop_r32, Register.EAX)); defIf(cx, dst, Register.EAX); },
  invalidOpcode: bare(Code.Ud2),
  loadSegments: lowerLoadSegments,
  // div without the zero check: a zero divisor raises #DE (SDM Vol. 3, 6.15 "Interrupt 0")
  hypercall: lowerHypercall,
  contextSwitch, contextCreate,
  lldt: (cx, [selector]) => {
    cx.use(selector, Register.EAX);
    cx.emit(Instruction.createReg(Code.Lldt_r32m16, Register.EAX));
  },
  clts: bare(Code.Clts),
  fnsave: memoryOperandOf(Code.Fnsave_m108byte),   // 32-bit protected-mode layout (SDM Vol. 1 §8.1.10, Figure 8-9)
  frstor: memoryOperandOf(Code.Frstor_m108byte),
  cpuid: lowerCpuid,
  crc32Word: lowerCrc32Word,
  // rdmsr/wrmsr (SDM Vol. 2B): ecx the register's index, edx:eax its value
  readMsr: (cx, [index], dst) => {
    cx.use(index, Register.ECX);
    cx.emit(Instruction.create(Code.Rdmsr));
    defIf(cx, dst, Register.EAX);
  },
  readMsrHigh: (cx, [index], dst) => {
    cx.use(index, Register.ECX);
    cx.emit(Instruction.create(Code.Rdmsr));
    defIf(cx, dst, Register.EDX);
  },
  writeMsr: lowerWriteMsr,
  divideUnchecked: (cx, [a, b], dst) => {
    cx.use(a, Register.EAX);
    cx.emit(Instruction.createRegReg(Code.Xor_r32_rm32, Register.EDX, Register.EDX));
    cx.use(b, Register.ECX);
    cx.emit(Instruction.createReg(Code.Div_rm32, Register.ECX));
    defIf(cx, dst, Register.EAX);
  },
};

/**
 * cpuid(leaf, subleaf, out): eax <- leaf, ecx <- subleaf, cpuid, then eax ebx ecx edx -> [out ..
 * out + 16). ebx and esi are callee-saved: saved first; the arguments go through the stack.
 */
function lowerCpuid(cx: FunctionContext, [leaf, subleaf, out]: VReg[]): void {
  cx.emit(Instruction.createReg(Code.Push_r32, Register.ESI));
  cx.emit(Instruction.createReg(Code.Push_r32, Register.EBX));
  for (const v of [out, subleaf, leaf]) cx.push(v);
  for (const r of [Register.EAX, Register.ECX, Register.ESI]) cx.emit(Instruction.createReg(Code.Pop_r32, r));
  cx.emit(Instruction.create(Code.Cpuid));
  [Register.EAX, Register.EBX, Register.ECX, Register.EDX].forEach((r, i) => {
    cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, mem(Register.ESI, 4 * i), r));
  });
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.EBX));
  cx.emit(Instruction.createReg(Code.Pop_r32, Register.ESI));
}

/** writeMsr(index, low, high): ecx, eax, edx <- the arguments (through the stack: they may sit in each other's
 * registers), wrmsr. */
function lowerWriteMsr(cx: FunctionContext, [index, low, high]: VReg[]): void {
  for (const v of [high, low, index]) cx.push(v);
  for (const r of [Register.ECX, Register.EAX, Register.EDX]) cx.emit(Instruction.createReg(Code.Pop_r32, r));
  cx.emit(Instruction.create(Code.Wrmsr));
}

/**
 * crc32Word(crc, word): `crc32 r32, r/m32` (SSE4.2; the caller checks CPUID), two-address like the ALU ops:
 * into the destination's register when it has one and `word` is not there, else eax; an immediate word
 * goes through ecx (the instruction has no immediate form); a 32-bit load right before it is its memory
 * operand (fusion.ts loadFolds).
 */
function lowerCrc32Word(cx: FunctionContext, [crc, word]: VReg[], dst: VReg | null): void {
  const d = dst === null ? undefined : cx.operand(dst), w = cx.operand(word);
  const load = cx.fusions.loads.get(word);
  const wordThere = !load && w.kind === "reg" && d?.kind === "reg" && w.reg === d.reg;
  const target = d?.kind === "reg" && !wordThere ? d.reg : Register.EAX;
  if (load) {
    cx.use(crc, target);
    const scratch = target === Register.EAX ? Register.ECX : Register.EAX;
    const operand = addressOperand(cx, load.address, load.offset, scratch);
    cx.emit(Instruction.createRegMem(Code.Crc32_r32_rm32, target, operand));
  } else if (w.kind === "imm" || (w.kind === "reg" && w.reg === target)) {
    cx.use(word, Register.ECX);
    cx.use(crc, target);
    cx.emit(Instruction.createRegReg(Code.Crc32_r32_rm32, target, Register.ECX));
  } else {
    cx.use(crc, target);
    const o = cx.read(word);
    if (o.kind === "reg") cx.emit(Instruction.createRegReg(Code.Crc32_r32_rm32, target, o.reg));
    else if (o.kind === "mem") cx.emit(Instruction.createRegMem(Code.Crc32_r32_rm32, target, o.mem));
  }
  if (dst !== null && target === Register.EAX) cx.def(dst, Register.EAX);
}

/**
 * hypercall(number, a, b, c, d): eax, ebx, ecx, edx, esi <- the arguments; int 0x80; result in eax.
 * ebx/esi are callee-saved (and may hold the arguments themselves): saved first, the arguments moved in
 * (through the stack when the moves would overwrite a register another argument is still to be read from),
 * ebx/esi are restored after the trap. A guest (LowerOptions.sysenterHypercalls) calls the module's
 * SYSENTER_CALL_SYMBOL instead of the `int`, which clobbers edi and ebp (abi/hypercalls.ts): saved and
 * restored too.
 */
function lowerHypercall(cx: FunctionContext, [number, a, b, c, d]: VReg[], dst: VReg | null): void {
  const saved = cx.sysenterCall !== null ? [Register.ESI, Register.EBX, Register.EDI, Register.EBP]
    : [Register.ESI, Register.EBX];
  for (const r of saved) cx.emit(Instruction.createReg(Code.Push_r32, r));
  const into = [Register.EAX, Register.EBX, Register.ECX, Register.EDX, Register.ESI];
  const order = moveOrder(cx, into, [number, a, b, c, d]);
  if (order) for (const k of order) cx.use([number, a, b, c, d][k], into[k]);
  else {
    for (const v of [d, c, b, a, number]) cx.push(v);
    for (const r of into) cx.emit(Instruction.createReg(Code.Pop_r32, r));
  }
  if (cx.sysenterCall !== null) cx.e.branch(Code.Call_rel32_32, cx.sysenterCall);
  else cx.emit(Instruction.createI32(Code.Int_imm8, HYPERCALL_VECTOR));
  for (const r of [...saved].reverse()) cx.emit(Instruction.createReg(Code.Pop_r32, r));
  defIf(cx, dst, Register.EAX);
}

const EFLAGS_IF = 0x200;
/** EFLAGS with only the reserved bit 1 set: NT, DF, AC, TF, IF clear. */
const EFLAGS_CLEAN = 2;

/**
 * The start of the `sysenter` entry stub: the frame `int 0x80` from ring 3 would have pushed, from the
 * registers of abi/hypercalls.ts's sequence (eip = ebp, esp = edi, cs and ss the ring-3 selectors, eflags
 * IF alone: what a VM's flags were is not kept across a call), error code 0, vector SYSENTER_FRAME_VECTOR, and
 * pushad. The kernel's own flags are made clean first: `sysenter` clears only IF, VM and RF, and a user's NT
 * would make the stub's iret a task return. A user's TF raises a debug exception in this stub
 * (kernel-src/hypercall.ts sysenterStep ends it).
 */
function lowerSysenterFrame(e: Emitter): void {
  e.startFrame({ cfa: 0, interrupted: true });
  e.cfa = NaN;                                         // nothing to unwind to until eip is pushed
  e.emit(Instruction.createI32(Code.Pushd_imm8, EFLAGS_CLEAN));
  e.emit(Instruction.create(Code.Popfd));
  e.emit(Instruction.createI32(Code.Pushd_imm8, USER_DATA_SELECTOR));         // ss
  e.emit(Instruction.createReg(Code.Push_r32, Register.EDI));                 // esp
  e.emit(Instruction.createI32(Code.Pushd_imm32, EFLAGS_IF | EFLAGS_CLEAN));  // eflags
  e.emit(Instruction.createI32(Code.Pushd_imm8, USER_CODE_SELECTOR));         // cs
  e.emit(Instruction.createReg(Code.Push_r32, Register.EBP));                 // eip
  e.cfa = 0;
  e.emit(Instruction.createI32(Code.Pushd_imm8, 0));                        // error code
  e.emit(Instruction.createI32(Code.Pushd_imm32, SYSENTER_FRAME_VECTOR));
  e.emit(Instruction.create(Code.Pushad));
}

/**
 * An order in which `into[k] <- values[k]` for every k can be done by moves, each source read before any
 * move overwrites it; null when the registers form a cycle.
 */
function moveOrder(cx: FunctionContext, into: Register[], values: VReg[]): number[] | null {
  const from = values.map(v => { const o = cx.operand(v); return o.kind === "reg" ? o.reg : null; });
  const left = values.map((_, k) => k), order: number[] = [];
  while (left.length) {
    const at = left.findIndex(k => !left.some(j => j !== k && from[j] === into[k]));
    if (at < 0) return null;
    order.push(left[at]);
    left.splice(at, 1);
  }
  return order;
}

/** The guest's way into the kernel by `sysenter` (lowerModule emits it with sysenterHypercalls). */
const SYSENTER_CALL_SYMBOL = "__sysenter_call";

/**
 * SYSENTER_CALL_SYMBOL: `mov edi, esp` (the caller's return address on top); `mov ebp, <the ret below>`;
 * `sysenter`; `ret`: the kernel irets to the `ret`, SYSENTER_CALL_BYTES after the start, so that it can
 * start a call over (its address: the symbol's, known in the linker's second pass, plus those bytes).
 */
function lowerSysenterCall(e: Emitter, start: Label, address: number): void {
  e.bind(start);
  e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EDI, Register.ESP));
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.EBP, (address + SYSENTER_CALL_BYTES) >>> 0));
  e.emit(Instruction.create(Code.Sysenter));
  e.emit(Instruction.create(Code.Retnd));
}

/**
 * loadSegments(code, data): ds es fs gs ss <- data; cs <- code by a far return (SDM Vol. 3, 3.4.3:
 * cs can only change through a far transfer). `call next` pushes the address of the `jmp` after it;
 * `retf` at `next` pops that address and the selector pushed before, landing on the `jmp` with the new cs.
 */
function lowerLoadSegments(cx: FunctionContext, [code, data]: VReg[]): void {
  const e = cx.e;
  cx.use(data, Register.EAX);
  for (const segment of [Register.DS, Register.ES, Register.FS, Register.GS, Register.SS]) {
    cx.emit(Instruction.createRegReg(Code.Mov_Sreg_r32m16, segment, Register.EAX));
  }
  cx.use(code, Register.ECX);
  const next = e.fresh(), done = e.fresh();
  const cfa = e.cfa; // the retf pops the pushed selector with the call's return address: esp ends where it was
  cx.emit(Instruction.createReg(Code.Push_r32, Register.ECX));
  e.branch(Code.Call_rel32_32, next);
  e.branch(Code.Jmp_rel32_32, done);
  e.bind(next);
  cx.emit(Instruction.create(Code.Retfd));
  e.bind(done);
  e.cfa = cfa;
}

// ---- instructions --------------------------------------------------------------------------------

type InstrRule<K extends Instr["op"]> = (cx: FunctionContext, i: Extract<Instr, { op: K }>) => void;

const INSTR_RULES: { [K in Instr["op"]]: InstrRule<K> } = {
  // mov dword [dst], imm32: no register needed
  // A constant vreg (defined once) is an immediate wherever it is used: nothing to emit here.
  const: (cx, i) => {
    const o = cx.operand(i.dst);
    if (o.kind === "reg") cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, o.reg, i.value >>> 0));
    else if (o.kind === "mem") cx.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, o.mem, i.value | 0));
  },
  copy: (cx, i) => {
    const d = cx.operand(i.dst), s = cx.operand(i.src);
    if (d.kind === "reg") cx.use(i.src, d.reg);
    else if (d.kind === "mem" && s.kind === "reg") { cx.read(i.src); cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, d.mem, s.reg)); }
    else if (d.kind === "mem" && s.kind === "imm") cx.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, d.mem, s.value | 0));
    else { cx.use(i.src, Register.EAX); cx.def(i.dst, Register.EAX); }
  },
  binary: lowerBinary,
  // neg/not in the destination's register (eax, then stored, when it lives in memory)
  unary: (cx, i) => {
    const target = targetRegister(cx, i.dst);
    cx.use(i.a, target);
    cx.emit(Instruction.createReg(UNARY[i.kind], target));
    if (target === Register.EAX) cx.def(i.dst, Register.EAX);
  },
  select: lowerSelect,
  // The address comes straight from its register when it has one: [reg + offset]; a constant address is [disp32].
  load: (cx, i) => {
    const rule = LOAD[i.width];
    const d = cx.operand(i.dst);
    const target = d.kind === "reg" ? d.reg : Register.EAX;
    cx.emit(Instruction.createRegMem(i.signed ? rule.signed : rule.unsigned, target, addressOperand(cx, i.address, i.offset, Register.EAX)));
    if (target === Register.EAX) cx.def(i.dst, Register.EAX);
  },
  store: (cx, i) => {
    const rmw = cx.fusions.readModifyWrites.get(i);
    if (rmw) return lowerReadModifyWrite(cx, i, rmw);
    const rule = STORE[i.width];
    const at = addressOperand(cx, i.address, i.offset, Register.EAX);
    const value = cx.constantOf(i.value);
    if (value !== undefined) {
      const code = i.width === 1 ? Code.Mov_rm8_imm8 : i.width === 2 ? Code.Mov_rm16_imm16 : Code.Mov_rm32_imm32;
      const wrapped = i.width === 1 ? value & 0xff : i.width === 2 ? value & 0xffff : value | 0;
      cx.emit(i.width === 4 ? Instruction.createMemI32(code, at, wrapped) : Instruction.createMemU32(code, at, wrapped));
      return;
    }
    // a value in a register is stored from it (narrow stores need a register with a byte/word form)
    const v = cx.operand(i.value);
    const narrow = v.kind === "reg" ? NARROW.get(v.reg) : undefined;
    if (v.kind === "reg" && (i.width === 4 || narrow)) {
      cx.read(i.value);
      cx.emit(Instruction.createMemReg(rule.code, at, i.width === 4 ? v.reg : i.width === 1 ? narrow![0] : narrow![1]));
      return;
    }
    cx.use(i.value, Register.ECX);
    cx.emit(Instruction.createMemReg(rule.code, at, rule.reg));
  },
  // A data address defined once is a constant: nothing to emit here (it is an imm32/disp32 where read).
  // Otherwise mov r32, imm32 with the absolute address (always imm32: the same size in both link passes).
  globalAddress: (cx, i) => {
    if (cx.alloc.addresses.has(i.dst)) return;
    const target = targetRegister(cx, i.dst);
    cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, target, cx.addresses.dataAddress(i.symbol) >>> 0));
    if (target === Register.EAX) cx.def(i.dst, Register.EAX);
  },
  functionAddress: (cx, i) => {
    cx.functionLabel(i.func); // checks the name
    cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.EAX, cx.addresses.functionAddress(i.func) >>> 0));
    cx.def(i.dst, Register.EAX);
  },
  slotAddress: (cx, i) => {
    const offset = cx.frame.slotOffsets[i.slot];
    if (offset === undefined) throw new Error(`x86 lowering: ${cx.f.name}: no frame slot ${i.slot}`);
    const target = targetRegister(cx, i.dst);
    cx.emit(Instruction.createRegMem(Code.Lea_r32_m, target, cx.frameMem(offset)));
    if (target === Register.EAX) cx.def(i.dst, Register.EAX);
  },
  // call rel32 to the callee's label; BlockEncoder resolves it within the single .text run
  call: (cx, i) => {
    cx.callWith(i.args, () => cx.e.branch(Code.Call_rel32_32, cx.functionLabel(i.func)));
    defIf(cx, i.dst, Register.EAX);
  },
  // the target is loaded after the pushes (push m32 does not touch eax): call eax
  callIndirect: (cx, i) => {
    cx.callWith(i.args, () => {
      cx.use(i.target, Register.EAX);
      cx.emit(Instruction.createReg(Code.Call_rm32, Register.EAX));
    });
    defIf(cx, i.dst, Register.EAX);
  },
  intrinsic: (cx, i) => {
    const spec = INTRINSICS[i.name];
    if (spec === undefined) throw new Error(`x86 lowering: ${cx.f.name}: unknown intrinsic '${i.name}'`);
    if (i.args.length !== spec.args) throw new Error(`x86 lowering: ${cx.f.name}: ${i.name} takes ${spec.args} arguments, got ${i.args.length}`);
    if (i.dst !== null && !spec.result) throw new Error(`x86 lowering: ${cx.f.name}: ${i.name} produces no value`);
    INTRINSIC_RULES[i.name](cx, i.args, i.dst);
  },
  trap: (cx, i) => cx.callTrap(i.kind),
};

// ---- terminators ---------------------------------------------------------------------------------
// A jump to the block laid out next is a fall-through and emits nothing.

function lowerTerminator(cx: FunctionContext, block: Block, nextBlock: number | null): void {
  const e = cx.e, t = block.term;
  const tail = cx.fusions.tailCalls.get(block);
  if (tail) return lowerTailCall(cx, tail);
  const table = cx.fusions.jumpTables.get(block);
  if (table) return lowerJumpTable(cx, table);
  switch (t.op) {
    case "jump":
      if (t.target !== nextBlock) e.branch(Code.Jmp_rel32_32, cx.blockLabels[t.target]);
      return;
    case "branch": {
      let [jumpIfTrue, jumpIfFalse] = [Code.Jne_rel32_32, Code.Je_rel32_32];
      const fused = cx.fusions.branches.get(block);
      if (fused) {
        compare(cx, fused.a, fused.b);
        [jumpIfTrue, jumpIfFalse] = JCC[fused.kind]!;
      } else {
        const o = cx.read(t.cond);
        if (o.kind === "reg") cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, o.reg, o.reg));
        else { cx.use(t.cond, Register.EAX); cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, Register.EAX, Register.EAX)); }
      }
      if (t.ifTrue === nextBlock) {
        e.branch(jumpIfFalse, cx.blockLabels[t.ifFalse]);
      } else {
        e.branch(jumpIfTrue, cx.blockLabels[t.ifTrue]);
        if (t.ifFalse !== nextBlock) e.branch(Code.Jmp_rel32_32, cx.blockLabels[t.ifFalse]);
      }
      return;
    }
    case "return":
      if (t.value !== null) cx.use(t.value, Register.EAX);
      cx.restoreSaved();
      cx.leaveFrame(cx.frameBytes);
      cx.emit(Instruction.create(Code.Retnd));
      return;
    case "unreachable":
      cx.emit(Instruction.create(Code.Ud2)); // #UD if control ever gets here
      return;
  }
}

/** The name of a function's k-th jump table: a .rodata symbol (a `.` never occurs in a DSL name). */
const jumpTableSymbol = (func: string, k: number): string => `${func}.switch${k}`;

/**
 * A chain of equality tests as a table (fusion.ts, jumpTables): `index = value - low` (in a register; eax
 * when value is not in one or low is not 0), `cmp index, n - 1; ja otherwise` (unsigned: below low too;
 * none for a value bounded to the table's range), `jmp [index*4 + table]`.
 */
function lowerJumpTable(cx: FunctionContext, table: JumpTable): void {
  const symbol = jumpTableSymbol(cx.f.name, cx.jumpTables.length);
  cx.jumpTables.push({ symbol, blocks: table.targets });
  let index = Register.EAX;
  const o = cx.operand(table.value);
  if (o.kind === "reg" && table.low === 0) { cx.read(table.value); index = o.reg; } else if (o.kind === "reg") {
    cx.read(table.value);
    cx.emit(Instruction.createRegMem(Code.Lea_r32_m, Register.EAX, mem(o.reg, -table.low | 0)));
  } else {
    cx.use(table.value, Register.EAX);
    const sub = fitsImm8(table.low) ? Code.Sub_rm32_imm8 : Code.Sub_rm32_imm32;
    if (table.low !== 0) cx.emit(Instruction.createRegI32(sub, Register.EAX, table.low | 0));
  }
  const last = table.targets.length - 1;
  if (table.checked) {
    cx.emit(Instruction.createRegI32(fitsImm8(last) ? Code.Cmp_rm32_imm8 : Code.Cmp_rm32_imm32, index, last));
    cx.e.branch(Code.Ja_rel32_32, cx.blockLabels[table.otherwise]);
  }
  const address = cx.addresses.dataAddress(symbol) >>> 0;
  const entry = new MemoryOperand(Register.None, index, 4, BigInt(address), 4, false, Register.None);
  cx.emit(Instruction.createMem(Code.Jmp_rm32, entry));
}

// ---- functions -----------------------------------------------------------------------------------

function lowerFunction(e: Emitter, module: Module, f: IrFunction, functionLabels: Map<string, Label>, addresses: AddressResolver, options: LowerOptions): LoweredFunction {
  if (options.registerAllocation) f = splitAroundLoops(f);
  const alloc = allocateFunction(module, f, functionLabels, addresses, options);
  return lowerWithAllocation(e, module, f, alloc, functionLabels, addresses, options, null);
}

/**
 * Stack probes: a frame of a page or more touches each page it spans, from the top down, before
 * anything writes it, so an overflow faults on the guard page under the stack (x86/guard.ts, the
 * kernel's stacks.ts, a VM's stack segment) instead of stepping over it into the data below. The
 * reads (test [esp + k], eax) are at most a page apart, starting within a page of the caller's esp.
 */
function probeFrame(cx: FunctionContext, bytes: number): void {
  if (bytes < STACK_PROBE_INTERVAL) return;
  for (let offset = bytes - STACK_PROBE_INTERVAL; offset > 0; offset -= STACK_PROBE_INTERVAL)
    cx.emit(Instruction.createMemReg(Code.Test_rm32_r32, mem(Register.ESP, offset), Register.EAX));
  cx.emit(Instruction.createMemReg(Code.Test_rm32_r32, mem(Register.ESP, 0), Register.EAX));
}
const STACK_PROBE_INTERVAL = 4096;

/** Lowers f with a given allocation; with `traces`, records each IR instruction's code per block (for the checker). */
function lowerWithAllocation(e: Emitter, module: Module, f: IrFunction, alloc: Allocation, functionLabels: Map<string, Label>, addresses: AddressResolver,
  options: LowerOptions, traces: InstrTrace[][] | null): LoweredFunction {
  // -O2: one outgoing argument area for every call of the function (no per-call esp adjustment); a trap's
  // argument goes there too (a division may trap)
  let outgoing = 0;
  if (options.registerAllocation) for (const b of f.blocks) for (const i of b.instrs) {
    if (i.op === "call" || i.op === "callIndirect") outgoing = Math.max(outgoing, 4 * i.args.length, 4);
    else if (i.op === "trap" || propertiesOf(i).cost === "divide") outgoing = Math.max(outgoing, 4);
  }
  const frameless = omitsFramePointer(f, options);
  let early: { early: number; body: number } | null = null;
  // -O2: homes only for the vregs with a lifetime that the allocator left in memory (-O0: every vreg)
  const homed = options.registerAllocation
    ? (v: VReg) => alloc.from[v] <= alloc.to[v] && !alloc.registers.has(v) && !alloc.constants.has(v) && !alloc.addresses.has(v) : undefined;
  const frame = layoutFrame(f, {
    savedRegisters: alloc.used.filter(r => r !== Register.EBP).length, outgoing, homed, homesAtBottom: frameless,
  });
  const blockLabels = f.blocks.map(() => e.fresh());
  const fusions = options.registerAllocation ? findFusions(f, alloc) : new Fusions();
  const cx = new FunctionContext(e, module, f, frame, alloc, blockLabels, functionLabels, addresses, fusions,
    { frameless, sysenterCall: options.sysenterHypercalls ? functionLabels.get(SYSENTER_CALL_SYMBOL)! : null });
  const startIndex = e.nextIndex;
  e.bind(functionLabels.get(f.name)!);
  if (frameless) {
    // prologue: sub esp, B (B = 4 + N: the frame base's word, where ebp is saved when it holds a value,
    // and the frame below it; nothing at all for a leaf that keeps everything in registers)
    let needsStack = outgoing > 0 || f.slots.length > 0 || alloc.used.length > 0;
    for (let v = f.params; v < f.vregCount && !needsStack; v++) needsStack = homed!(v);
    cx.frameBytes = needsStack ? frame.size + 4 : 0;
    e.startFrame();
    if (cx.frameBytes > 0) early = earlyReturn(cx);
    if (cx.frameBytes > 0) cx.emit(Instruction.createRegI32(cx.frameBytes < 128 ? Code.Sub_rm32_imm8 : Code.Sub_rm32_imm32, Register.ESP, cx.frameBytes));
    probeFrame(cx, cx.frameBytes);
  } else {
    // prologue: push ebp; mov ebp, esp; sub esp, N
    e.startFrame();
    cx.emit(Instruction.createReg(Code.Push_r32, Register.EBP));
    e.ebpSaved = true;
    cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EBP, Register.ESP));
    e.frameBase(Register.EBP, e.cfa + 4);
    if (frame.size > 0) cx.emit(Instruction.createRegI32(frame.size < 128 ? Code.Sub_rm32_imm8 : Code.Sub_rm32_imm32, Register.ESP, frame.size));
    probeFrame(cx, frame.size);
  }
  // save the callee-saved registers the allocation uses; parameters that live in registers are loaded once
  for (const r of alloc.used) {
    cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, cx.frameMem(cx.saveSlot(r)), r));
    if (r === Register.EBP) e.ebpSaved = true;
    else e.savedAt(r, cx.saveSlot(r) - FRAME_BASE_BELOW_CFA);
  }
  for (let p = 0; p < f.params; p++) {
    const r = alloc.registers.get(p);
    if (r !== undefined) cx.emit(Instruction.createRegMem(Code.Mov_r32_rm32, r, cx.frameMem(8 + 4 * p)));
  }
  const bodyCfa = e.cfa, body = e.frameState();
  const blocks: LoweredBlock[] = [];
  const lines: LoweredFunction["lines"] = f.loc ? [{ index: startIndex, loc: f.loc }] : [];
  const indices: InstructionIndices = { blocks: [], end: 0, body: e.nextIndex };
  // Each IR instruction's code, with the operand reads its rules recorded: the checker's input.
  const record = (into: InstrTrace[] | null, instr: Instr | null, uses: VReg[], dst: VReg | null, lower: () => void) => {
    cx.instrStart = e.nextIndex;
    cx.reads = [];
    lower();
    if (frameless && instr !== null && e.cfa !== bodyCfa) throw new Error(`x86 lowering: ${f.name}: the code of '${instr.op}' leaves esp moved by ${e.cfa - bodyCfa} bytes`);
    if (into) {
      const clobbersScratch = instr?.op === "intrinsic" && !PRECISE_INTRINSICS.has(instr.name);
      into.push({ instr, skipped: false, code: e.instructionsFrom(cx.instrStart), reads: cx.reads, uses: uses.filter(v => !cx.isConstant(v)), dst, clobbersScratch });
    }
  };
  // After an early return's test the entry block's outcome is known: it is a jump to the body's side, and
  // the early side, when nothing else reaches it, emits nothing (the test before the prologue returned).
  const silentEarly = early !== null && f.blocks.every(b => b.id === 0 || !successors(b.term).includes(early!.early));
  f.blocks.forEach((block: Block, index) => {
    if (block.id !== index) throw new Error(`x86 lowering: ${f.name}: block at index ${index} has id ${block.id}`);
    blocks.push({ id: block.id, startIndex: e.nextIndex, loc: block.loc });
    indices.blocks.push([]);
    e.bind(blockLabels[index]);
    e.restoreState(body); // the previous block may have ended in an epilogue
    const trace: InstrTrace[] | null = traces ? [] : null;
    traces?.push(trace!);
    if (fusions.silentBlocks.has(block) || (silentEarly && index === early!.early)) {
      // a later test of a jump table's chain: the head's table jumps past it, so it emits nothing at all
      for (const instr of [...block.instrs, null]) {
        indices.blocks[index].push(e.nextIndex);
        trace?.push({ instr, skipped: true, code: [], reads: [], uses: [], dst: null, clobbersScratch: false });
      }
      return;
    }
    const decided = index === 0 && early !== null;
    block.instrs.forEach(instr => {
      indices.blocks[index].push(e.nextIndex);
      if (fusions.skips(instr) || decided) {
        trace?.push({ instr, skipped: true, code: [], reads: [], uses: [], dst: null, clobbersScratch: false });
        return;
      }
      const rule = INSTR_RULES[instr.op] as InstrRule<typeof instr.op>;
      const uses = fusions.uses(instr, usedRegisters(instr));
      if (instr.loc) lines.push({ index: e.nextIndex, loc: instr.loc });
      record(trace, instr, uses, definedRegister(instr), () => rule(cx, instr as never));
    });
    let next = index + 1 < f.blocks.length ? index + 1 : null;
    if (block.term.loc) lines.push({ index: e.nextIndex, loc: block.term.loc });
    indices.blocks[index].push(e.nextIndex);
    if (decided) {
      if (silentEarly && next === early!.early) next = next + 1 < f.blocks.length ? next + 1 : null;
      const jump: Block = { ...block, instrs: [], term: { op: "jump", target: early!.body } };
      record(trace, null, [], null, () => lowerTerminator(cx, jump, next));
      return;
    }
    record(trace, null, fusions.uses(block, terminatorUses(block.term)), null, () => lowerTerminator(cx, block, next));
  });
  const rows = e.endFrame();
  indices.end = e.nextIndex;
  return {
    name: f.name, startIndex, endIndex: e.nextIndex, blocks, loc: f.loc,
    frameSize: frameless ? cx.frameBytes : frame.size,
    unwind: frameless ? unwindRows(rows) : undefined, frame: rows, lines,
    variables: traces ? [] : variableHomes(f, alloc, frame, indices, startIndex, addresses, homed),
    jumpTables: cx.jumpTables.map(t => ({ symbol: t.symbol, targets: t.blocks.map(id => blocks[id].startIndex) })),
  };
}

/**
 * Shrink-wrapping of an early return: when the entry block only compares a parameter with a constant or
 * another parameter (its branch fused with it) and one side is a block that only returns a parameter, a
 * constant or nothing, that test runs before the prologue, on the incoming arguments: `mov eax, [esp + 4 +
 * 4p]; cmp eax, k (or [esp + 4 + 4q]); jcc body; (mov eax, result;) ret` (fib's `if (n < 2) return n`:
 * four instructions where the prologue, the test and the epilogue were eleven; quicksort's `if (lo >= hi)
 * return`). The other side goes on into the prologue and on to the side the test chose (the entry block
 * does not test again). Nothing in the early path touches the stack or a callee-saved register. Returns
 * the early side's block and the other, or null when there is no such test.
 */
function earlyReturn(cx: FunctionContext): { early: number; body: number } | null {
  const f = cx.f, entry = f.blocks[0], compare = cx.fusions.branches.get(entry);
  if (!compare || entry.term.op !== "branch" || !cx.fusions.skips(compare)) return null;
  if (entry.instrs.some(i => i !== compare && !cx.isConstant(definedRegister(i)!))) return null;
  const parameter = compare.a;
  const k = cx.constantOf(compare.b);
  const other = k === undefined && compare.b < f.params ? compare.b : null;  // or a second parameter
  if (parameter >= f.params || (k === undefined && other === null)) return null;
  if (entry.term.ifTrue === entry.term.ifFalse) return null;
  const returnsAtOnce = (b: number): boolean => {
    const block = f.blocks[b];
    if (b === 0 || block.term.op !== "return") return false;
    if (block.instrs.some(i => !cx.isConstant(definedRegister(i)!))) return false;
    const v = block.term.value;
    return v === null || v < f.params || cx.constantOf(v) !== undefined;
  };
  const { ifTrue, ifFalse } = entry.term;
  const early = returnsAtOnce(ifTrue) ? ifTrue : returnsAtOnce(ifFalse) ? ifFalse : null;
  if (early === null) return null;
  const [whenTrue, whenFalse] = JCC[compare.kind]!;
  const body = cx.e.fresh();
  const argument = (p: VReg) => mem(Register.ESP, 4 + 4 * p);
  cx.emit(Instruction.createRegMem(Code.Mov_r32_rm32, Register.EAX, argument(parameter)));
  if (other !== null) cx.emit(Instruction.createRegMem(Code.Cmp_r32_rm32, Register.EAX, argument(other)));
  else cx.emit(Instruction.createRegI32(fitsImm8(k!) ? Code.Cmp_rm32_imm8 : Code.Cmp_rm32_imm32, Register.EAX, k!));
  cx.e.branch(early === ifTrue ? whenFalse : whenTrue, body);
  const term = f.blocks[early].term as Extract<Block["term"], { op: "return" }>;
  const v = term.value;
  if (v !== null && v !== parameter) {
    const c = cx.constantOf(v);
    if (c !== undefined) cx.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.EAX, c >>> 0));
    else cx.emit(Instruction.createRegMem(Code.Mov_r32_rm32, Register.EAX, argument(v)));
  }
  cx.emit(Instruction.create(Code.Retnd));
  cx.e.bind(body);
  return { early, body: early === ifTrue ? ifFalse : ifTrue };
}

/** The symbol table's unwind rows: cfa and ebpSaved from each change of either on (the kernel's backtraces). */
function unwindRows(rows: CallFrameRow[]): FrameRow[] {
  const out: FrameRow[] = [];
  for (const { index, cfa, ebpSaved } of rows) {
    const last = out[out.length - 1];
    if (!last || last.cfa !== cfa || last.ebpSaved !== ebpSaved) out.push({ index, cfa, ebpSaved });
  }
  return out;
}

/**
 * -O2 omits the frame pointer (ebp is then a seventh register) except in functions that read it: a
 * backtrace walks from readFramePointer's frame, which must be chained by ebp.
 */
function omitsFramePointer(f: IrFunction, options: LowerOptions): boolean {
  if (!options.registerAllocation) return false;
  return !f.blocks.some(b => b.instrs.some(i => i.op === "intrinsic" && i.name === "readFramePointer"));
}



/** Intrinsics whose rules below are ordinary instructions that iced-x86 describes fully; any other (one that switches threads, say) clobbers eax, ecx, edx. */
const PRECISE_INTRINSICS = new Set<string>([
  "inb", "inw", "inl", "outb", "outw", "outl", "cli", "sti", "hlt", "pause", "rdtsc", "rdtscHigh", "readCr0", "writeCr0", "readCr2", "readCr3",
  "writeCr3", "readCr4", "writeCr4", "lgdt", "lidt", "ltr", "invlpg", "memoryCopy", "memoryFill", "readFramePointer", "readFlags", "invalidOpcode",
  "loadSegments", "hypercall", "divideUnchecked", "lldt", "clts", "fnsave", "frstor", "crc32Word",
]);

// ---- register allocation -------------------------------------------------------------------------
// Linear scan (compiler/x86/regalloc.ts) over six registers, then a dry run of the lowering: where the
// code of an instruction overwrites a register holding a vreg that is live across it, or overwrites an
// operand's register before reading it (compiler/x86/check.ts, simulateInstruction), that vreg is
// forbidden that register and the allocation runs again. Each round only adds to the forbidden pairs;
// from the fourth round on a conflicting vreg loses all three scratch registers at once, so a few rounds
// suffice, and the end point (only callee-saved registers) is the allocation the rules were written for.

const MAX_ALLOCATION_ROUNDS = 12;

function allocateFunction(
  module: Module, f: IrFunction, functionLabels: Map<string, Label>, addresses: AddressResolver, options: LowerOptions,
): Allocation {
  if (!options.registerAllocation) return allocateRegisters(f, { liveness: false });
  const allocatable = omitsFramePointer(f, options) ? ALLOCATABLE_WITH_EBP : ALLOCATABLE;
  const forbidden: Forbidden = new Map();
  const forbid = (v: VReg, regs: readonly Register[]) => {
    let set = forbidden.get(v);
    if (!set) forbidden.set(v, set = new Set());
    for (const r of regs) set.add(r);
  };
  // Values live across a call, a trap, a division or an intrinsic never get a scratch register: these always clobber them.
  const intervals = liveIntervals(f);
  f.blocks.forEach((block, b) => block.instrs.forEach((i, k) => {
    const cost = propertiesOf(i).cost, clobbers = cost === "call" || cost === "divide";
    if (clobbers) for (const v of intervals.liveAfter[b][k]) if (v !== definedRegister(i)) forbid(v, SCRATCH);
  }));
  for (let round = 0; ; round++) {
    if (round === MAX_ALLOCATION_ROUNDS) for (let v = 0; v < f.vregCount; v++) forbid(v, SCRATCH);
    const alloc = allocateRegisters(f, { forbidden, allocatable });
    const traces = traceFunction(module, f, alloc, functionLabels, addresses, options);
    const conflicts = allocationConflicts(f, alloc, traces);
    if (conflicts.length === 0) return alloc;
    if (round > MAX_ALLOCATION_ROUNDS) throw new Error(`x86 lowering: ${f.name}: register allocation conflicts remain: ${conflicts.map(([v]) => `v${v}`).join(" ")}`);
    for (const [v, r] of conflicts) forbid(v, round >= 3 && SCRATCH.includes(r as typeof SCRATCH[number]) ? SCRATCH : [r]);
  }
}

/** Lowers f into a scratch stream and returns the per-instruction traces (compiler/x86/check.ts). */
function traceFunction(
  module: Module, f: IrFunction, alloc: Allocation, functionLabels: Map<string, Label>, addresses: AddressResolver,
  options: LowerOptions,
): InstrTrace[][] {
  const traces: InstrTrace[][] = [];
  lowerWithAllocation(new Emitter(), module, f, alloc, functionLabels, addresses, options, traces);
  return traces;
}

/** (vreg, register) pairs where an instruction's code breaks the allocation (see the banner above). */
function allocationConflicts(f: IrFunction, alloc: Allocation, traces: InstrTrace[][]): [VReg, Register][] {
  const conflicts: [VReg, Register][] = [];
  f.blocks.forEach((block, b) => {
    traces[b].forEach((t, k) => {
      if (t.skipped) return;
      const sim = simulateInstruction(t);
      for (const bad of sim.badReads) conflicts.push([bad.v, bad.reg]);
      // every vreg live after the code (after a terminator: live out of the block) must keep its register
      // (k counts the terminator as the block's last trace, whose live-after set is the live-out set)
      for (const v of alloc.liveAfter[b][Math.min(k, block.instrs.length)]) {
        const r = alloc.registers.get(v);
        if (r !== undefined && !sim.intact.has(r) && v !== t.dst) conflicts.push([v, r]);
      }
    });
  });
  return conflicts;
}

// ---- tail calls ----------------------------------------------------------------------------------
// The terminator of a block whose self-call was fused into it (fusion.ts, tailCalls): the arguments over
// the function's own incoming arguments, then `leave; jmp f`.

function lowerTailCall(cx: FunctionContext, call: Extract<Instr, { op: "call" }>): void {
  for (let i = call.args.length - 1; i >= 0; i--) cx.push(call.args[i]);
  for (let i = 0; i < call.args.length; i++) {
    // pop m32 computes an esp-relative address after its increment (SDM Vol. 2B "POP")
    if (cx.frameless) cx.emit(Instruction.createMem(Code.Pop_rm32, mem(Register.ESP, cx.e.cfa - 4 - 4 + 8 + 4 * i)));
    else cx.emit(Instruction.createMem(Code.Pop_rm32, mem(Register.EBP, 8 + 4 * i)));
  }
  cx.restoreSaved();
  cx.leaveFrame(cx.frameBytes);
  cx.e.branch(Code.Jmp_rel32_32, cx.functionLabel(call.func));
}

/** Code the lowering writes itself (no IR function): no blocks, lines or variables. */
function stubFunction(
  name: string, startIndex: number, endIndex: number, frame: CallFrameRow[], loc: SourceLocation | undefined,
): LoweredFunction {
  const lines = loc ? [{ index: startIndex, loc }] : [];
  return { name, startIndex, endIndex, blocks: [], frameSize: 0, frame, lines, variables: [], loc, jumpTables: [] };
}

// ---- _start --------------------------------------------------------------------------------------
// The multiboot loader jumps here with eax = magic, ebx = info, no usable stack, interrupts off.

function lowerStart(e: Emitter, module: Module, functionLabels: Map<string, Label>, addresses: AddressResolver,
  guard: GuardAddresses | null): LoweredFunction {
  const startIndex = e.nextIndex;
  const entry = functionLabels.get(module.entry);
  if (entry === undefined) throw new Error(`x86 lowering: entry function '${module.entry}' is not defined`);
  e.bind(functionLabels.get(START_SYMBOL)!);
  e.startFrame({ outermost: true }); // the loader jumps here: no caller to unwind to
  if (guard) lowerGuardSetup(e, guard);
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ESP, addresses.stackTop() >>> 0)); // stack top is 16-aligned
  e.emit(Instruction.createRegReg(Code.Xor_r32_rm32, Register.EBP, Register.EBP)); // ebp = 0 ends frame-pointer walks
  e.emit(Instruction.create(Code.Cld));                                             // the ABI keeps DF clear
  e.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESP, 8));            // 8 + 2 args = 16: aligned at the call
  e.emit(Instruction.createReg(Code.Push_r32, Register.EBX));                        // entry(magic, info): info first (right to left)
  e.emit(Instruction.createReg(Code.Push_r32, Register.EAX));
  e.branch(Code.Call_rel32_32, entry);
  e.emit(Instruction.create(Code.Cli));
  const halt = e.fresh();
  e.bind(halt);
  e.emit(Instruction.create(Code.Hlt));
  e.branch(Code.Jmp_rel32_32, halt); // an NMI can wake hlt: halt again
  const main = module.functions.find(f => f.name === module.entry);
  return stubFunction(START_SYMBOL, startIndex, e.nextIndex, e.endFrame(), main?.loc); // the debugger shows the entry's
}

// ---- interrupt entries ---------------------------------------------------------------------------
// The CPU pushes an error code for these vectors only (SDM Vol. 3, Table 6-1 "Protected-Mode
// Exceptions and Interrupts": #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21, #VC 29, #SX 30).
const VECTORS_WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
/** The registers pushad stores, from the lowest address up (SDM Vol. 2B "PUSHA/PUSHAD"). */
const PUSHAD_ORDER = [
  Register.EDI, Register.ESI, Register.EBP, Register.ESP, Register.EBX, Register.EDX, Register.ECX, Register.EAX,
] as const;

/**
 * One entry stub: make the frame uniform (a 0 error code where the CPU pushes none, then the vector),
 * pushad and the data segments, load ds/es/fs/gs from ss (the kernel's data selector, also after a
 * change of privilege, where the CPU loads ss from the TSS), call handler(frame) on a 16-aligned stack,
 * then resume the frame the handler returned (or the same one), popping everything and iret.
 */
function lowerInterruptEntry(e: Emitter, module: Module, entry: InterruptEntry, functionLabels: Map<string, Label>): LoweredFunction {
  const startIndex = e.nextIndex;
  const handler = module.functions.find(f => f.name === entry.handler);
  if (!handler) throw new Error(`x86 lowering: interrupt entry ${entry.name}: unknown handler '${entry.handler}'`);
  e.bind(functionLabels.get(entry.name)!);
  if (entry.vector === SYSENTER_FRAME_VECTOR) {
    lowerSysenterFrame(e);
  } else {
    // the debugger unwinds through the CPU's frame: the interrupted eip is this stub's "return address"
    e.startFrame({ cfa: VECTORS_WITH_ERROR_CODE.has(entry.vector) ? 4 : 0, interrupted: true });
    if (!VECTORS_WITH_ERROR_CODE.has(entry.vector)) e.emit(Instruction.createI32(Code.Pushd_imm8, 0));
    e.emit(Instruction.createI32(entry.vector < 128 ? Code.Pushd_imm8 : Code.Pushd_imm32, entry.vector));
    e.emit(Instruction.create(Code.Pushad));
  }
  // pushad's words from esp up: edi esi ebp (esp) ebx edx ecx eax, then the vector, the error code, eip
  const pushadCfa = e.cfa;
  PUSHAD_ORDER.forEach((r, k) => { if (r !== Register.ESP) e.savedAt(r, 4 * k - pushadCfa - 4); });
  if (entry.vector === SYSENTER_FRAME_VECTOR) {
    // the user's data selector in all four: a VM may have entered virtual-8086 mode (QEMU lets ring 3 iret
    // there) and `sysenter` from it, its segment registers then no selectors the return could load
    for (let k = 0; k < 4; k++) e.emit(Instruction.createI32(Code.Pushd_imm8, USER_DATA_SELECTOR));
  } else {
    const segments = [[Code.Pushd_DS, Register.DS], [Code.Pushd_ES, Register.ES], [Code.Pushd_FS, Register.FS],
      [Code.Pushd_GS, Register.GS]] as const;
    for (const [push, segment] of segments) e.emit(Instruction.createReg(push, segment));
  }
  e.emit(Instruction.createRegReg(Code.Mov_r32m16_Sreg, Register.EAX, Register.SS));
  for (const segment of [Register.DS, Register.ES, Register.FS, Register.GS]) e.emit(Instruction.createRegReg(Code.Mov_Sreg_r32m16, segment, Register.EAX));
  e.emit(Instruction.create(Code.Cld));
  e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EBX, Register.ESP));   // ebx = frame (callee-saved across the call)
  const frameCfa = e.cfa;
  e.frameBase(Register.EBX, frameCfa + 4);
  e.emit(Instruction.createRegI32(Code.And_rm32_imm8, Register.ESP, -16));           // the compiled code wants esp 16-aligned at calls
  e.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESP, 12));
  e.emit(Instruction.createReg(Code.Push_r32, Register.EBX));
  e.branch(Code.Call_rel32_32, functionLabels.get(entry.handler)!);
  if (handler.returnsValue) e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EBX, Register.EAX)); // the frame to resume
  e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ESP, Register.EBX));
  e.frameBase(Register.ESP);
  e.cfa = frameCfa; // the frame to resume, laid out as the one made above
  for (const [pop, segment] of [[Code.Popd_GS, Register.GS], [Code.Popd_FS, Register.FS], [Code.Popd_ES, Register.ES], [Code.Popd_DS, Register.DS]] as const) e.emit(Instruction.createReg(pop, segment));
  e.emit(Instruction.create(Code.Popad));
  for (const r of PUSHAD_ORDER) e.restored(r);
  e.emit(Instruction.createRegI32(Code.Add_rm32_imm8, Register.ESP, 8));             // vector and error code
  e.emit(Instruction.create(Code.Iretd));
  return stubFunction(entry.name, startIndex, e.nextIndex, e.endFrame(), handler.loc); // shown as the handler's
}

// ---- module --------------------------------------------------------------------------------------

/** Lowers every function (plus `_start`, first) into one instruction stream for a single BlockEncoder run. */
export interface LowerOptions {
  /** Keep vregs in ebx/esi/edi, constants as immediates, fuse compare+branch (-O2). Off: every vreg in its home (-O0). */
  registerAllocation: boolean;
  /** A standalone program with a guard page under its stack: _start turns paging on (x86/guard.ts). */
  guardedStack?: boolean;
  /** A guest: hypercalls by `sysenter` (lowerHypercall, SYSENTER_CALL_SYMBOL), not `int 0x80`. */
  sysenterHypercalls?: boolean;
}

export function lowerModule(module: Module, addresses: AddressResolver, options: LowerOptions = { registerAllocation: true }): LoweredModule {
  const e = new Emitter();
  const functionLabels = new Map<string, Label>();
  functionLabels.set(START_SYMBOL, e.fresh());
  for (const f of [...module.functions, ...(module.interruptEntries ?? [])]) {
    if (functionLabels.has(f.name)) throw new Error(`x86 lowering: function '${f.name}' defined twice (or clashes with ${START_SYMBOL})`);
    functionLabels.set(f.name, e.fresh());
  }
  if (!functionLabels.has(module.trapHandler)) throw new Error(`x86 lowering: trap handler '${module.trapHandler}' is not defined`);
  if (options.sysenterHypercalls) {
    if (functionLabels.has(SYSENTER_CALL_SYMBOL)) {
      throw new Error(`x86 lowering: '${SYSENTER_CALL_SYMBOL}' is defined twice`);
    }
    functionLabels.set(SYSENTER_CALL_SYMBOL, e.fresh());
  }
  const guard: GuardAddresses | null = options.guardedStack
    ? { guard: addresses.stackGuard!(), data: (symbol) => addresses.dataAddress(symbol) } : null;
  const functions = [lowerStart(e, module, functionLabels, addresses, guard)];
  for (const f of module.functions) functions.push(lowerFunction(e, module, f, functionLabels, addresses, options));
  for (const entry of module.interruptEntries ?? []) functions.push(lowerInterruptEntry(e, module, entry, functionLabels));
  if (options.sysenterHypercalls) {
    const startIndex = e.nextIndex;
    e.startFrame();
    lowerSysenterCall(e, functionLabels.get(SYSENTER_CALL_SYMBOL)!, addresses.functionAddress(SYSENTER_CALL_SYMBOL));
    functions.push(stubFunction(SYSENTER_CALL_SYMBOL, startIndex, e.nextIndex, e.endFrame(), undefined));
  }
  if (guard) {
    if (functionLabels.has(STACK_FAULT_SYMBOL)) throw new Error(`x86 lowering: function '${STACK_FAULT_SYMBOL}' clashes with the stack guard`);
    const startIndex = e.nextIndex, label = e.fresh();
    functionLabels.set(STACK_FAULT_SYMBOL, label);
    lowerStackFault(e, label, functionLabels.get(module.trapHandler)!, guard);
    const trap = module.functions.find(f => f.name === module.trapHandler);
    functions.push(stubFunction(STACK_FAULT_SYMBOL, startIndex, e.nextIndex, [], trap?.loc));
  }
  return { instructions: e.finish(), functions };
}

/** Runs the register-allocation checker (compiler/x86/check.ts) over every function of a module at -O2; returns the errors. */
export function checkModuleAllocation(module: Module): string[] {
  const e = new Emitter();
  const functionLabels = new Map<string, Label>([[START_SYMBOL, e.fresh()]]);
  for (const f of [...module.functions, ...(module.interruptEntries ?? [])]) functionLabels.set(f.name, e.fresh());
  const addresses: AddressResolver = { dataAddress: () => 0, functionAddress: () => 0, stackTop: () => 0 };
  const options = { registerAllocation: true };
  return module.functions.flatMap(original => {
    const f = splitAroundLoops(original);
    const alloc = allocateFunction(module, f, functionLabels, addresses, options);
    return checkAllocation(f, alloc, traceFunction(module, f, alloc, functionLabels, addresses, options));
  });
}
