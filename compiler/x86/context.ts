// Contract: the x86 lowering's view of one function being lowered (lower.ts): FunctionContext knows where
// the allocation put each vreg (register, immediate or frame home) and emits the moves, calls and frame
// accesses every rule shares; addressOperand folds an address vreg (and the add and shift fusion.ts found
// behind it) into an addressing mode. Absolute addresses come from the AddressResolver (the linker's).
import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import type { Module, Function as IrFunction, VReg } from "../ir.ts";
import { Emitter, type Label } from "./emitter.ts";
import { type FrameLayout } from "./frame.ts";
import { isConstant, type Allocation } from "./regalloc.ts";
import { Fusions } from "./fusion.ts";
import { type OperandRead } from "./check.ts";

export interface AddressResolver {
  dataAddress(symbol: string): number;
  functionAddress(func: string): number;
  stackTop(): number;
  /** The unmapped page under a guarded program stack (LowerOptions.guardedStack). */
  stackGuard?(): number;
}

// ---- operand helpers -----------------------------------------------------------------------------

// [base] with no displacement byte where the encoding has that form (ebp as base always needs one)
export const mem = (base: Register, displacement: number): MemoryOperand =>
  displacement === 0 && base !== Register.EBP
    ? MemoryOperand.createBase(base) : MemoryOperand.createBaseDispl(base, BigInt(displacement));

/** Where a vreg's value is: an immediate (a constant vreg), a register, or its frame home. */
export type Operand =
  { kind: "imm"; value: number } | { kind: "reg"; reg: Register } | { kind: "mem"; mem: MemoryOperand };

export class FunctionContext {
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
  /** Registers read as operands by the IR instruction being lowered (for the allocation checker, check.ts). */
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
    else if (o.kind === "reg") {
      if (o.reg !== reg) this.e.emit(Instruction.createRegReg(Code.Mov_r32_rm32, reg, o.reg));
    }
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
    if (o.kind === "imm") {
      this.e.emit(Instruction.createI32(fitsImm8(o.value) ? Code.Pushd_imm8 : Code.Pushd_imm32, o.value | 0));
    }
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
        else {
          this.emit(Instruction.createMem(Code.Push_rm32, o.mem));
          this.emit(Instruction.createMem(Code.Pop_rm32, at));
        }
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
    if (pop > 0) {
      this.emit(Instruction.createRegI32(pop < 128 ? Code.Add_rm32_imm8 : Code.Add_rm32_imm32, Register.ESP, pop));
    }
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
  /**
   * Leaves the frame: `leave`, or without a frame pointer `add esp, frameBytes` (then esp points at the
   * return address).
   */
  leaveFrame(frameBytes: number): void {
    if (!this.frameless) { // mov esp, ebp; pop ebp: esp points at the return address
      this.emit(Instruction.create(Code.Leaved));
      this.e.frameBase(Register.ESP);
      this.e.cfa = 0;
      this.e.ebpSaved = false;
      return;
    }
    if (frameBytes > 0) {
      const code = frameBytes < 128 ? Code.Add_rm32_imm8 : Code.Add_rm32_imm32;
      this.emit(Instruction.createRegI32(code, Register.ESP, frameBytes));
    }
  }
  /** Bytes the prologue of a function without a frame pointer subtracts from esp (0 for a leaf that needs no stack). */
  frameBytes = 0;
  /** The jump tables lowered so far: their symbols and target block ids. */
  jumpTables: { symbol: string; blocks: number[] }[] = [];
}

export const fitsImm8 = (x: number): boolean => x >= -128 && x <= 127;

/**
 * [base + offset] for an address vreg: its register, a constant address as disp32, or its value loaded into
 * `scratch`.
 */
export function addressOperand(cx: FunctionContext, address: VReg, offset: number, scratch: Register): MemoryOperand {
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
    const size = base === Register.None && index === Register.None ? 4
      : displacement === 0 ? 0 : fitsImm8(displacement) ? 1 : 4;
    const absolute = base === Register.None && index === Register.None;
    const disp = BigInt(absolute ? displacement >>> 0 : displacement);
    return new MemoryOperand(base, index, index === Register.None ? 1 : scale, disp, size, false, Register.None);
  }
  const o = cx.read(address);
  if (o.kind === "reg") return mem(o.reg, offset | 0);
  if (o.kind === "imm") {
    const absolute = BigInt(((o.value + offset) | 0) >>> 0);
    return new MemoryOperand(Register.None, Register.None, 1, absolute, 4, false, Register.None);
  }
  cx.use(address, scratch);
  return mem(scratch, offset | 0);
}
