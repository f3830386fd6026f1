// Contract: the x86 rules of the IR's instructions (INSTR_RULES, one per op of compiler/ir.ts OPS; the intrinsics
// have theirs in intrinsics.ts): ALU ops, shifts, comparisons (fused into their branch or select at -O2:
// fusion.ts), division, rotates, unary ops, cmov, loads and stores (address arithmetic folded into the
// addressing mode), read-modify-write, calls. Each reads its operands and writes its result through
// FunctionContext (context.ts), so the rules are the same at -O0 and -O2; lower.ts drives them.
import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import type { Instr, BinaryOp, UnaryOp, VReg, Width } from "../ir.ts";
import { INTRINSICS, OPS, TRAP_DIVIDE_BY_ZERO } from "../ir.ts";
import { isConstant } from "./regalloc.ts";
import { codeNamed, byCondition } from "./conditions.ts";
import { FunctionContext, mem, fitsImm8, addressOperand, type Operand } from "./context.ts";
import { INTRINSIC_RULES, defIf } from "./intrinsics.ts";

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

const SHIFT_CL: Partial<Record<BinaryOp, Code>> = {
  shl: Code.Shl_rm32_CL, shrs: Code.Sar_rm32_CL, shru: Code.Shr_rm32_CL,
};
const SHIFT_IMM: Partial<Record<BinaryOp, Code>> = {
  shl: Code.Shl_rm32_imm8, shrs: Code.Sar_rm32_imm8, shru: Code.Shr_rm32_imm8,
};

// ---- binary ops: comparisons ---------------------------------------------------------------------
// cmp eax, [b]; setcc al; movzx eax, al  -> 0 or 1. Signed conditions l/le/g/ge, unsigned b/be/a/ae.

const SETCC = byCondition(holds => codeNamed(`Set${holds}_rm8`));
// A comparison consumed only by the branch that ends its block fuses into cmp + jcc: [jump if true, jump if false].
export const JCC = byCondition((holds, fails): [Code, Code] =>
  [codeNamed(`J${holds}_rel32_32`), codeNamed(`J${fails}_rel32_32`)]);

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
    // imm8 is sign-extended: compares with 0xFFFFFFFF
    cx.emit(Instruction.createRegI32(Code.Cmp_rm32_imm8, Register.ECX, -1));
    e.branch(Code.Jne_rel32_32, general);
    // x rem -1 = 0; x / -1 = -x, wrapping
    if (wantsRemainder) cx.emit(Instruction.createRegReg(Code.Xor_r32_rm32, Register.EAX, Register.EAX));
    else cx.emit(Instruction.createReg(Code.Neg_rm32, Register.EAX));
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

/**
 * Flags for a comparison of a with b: `cmp a, b` straight from a's register (`test a, a` against 0), else
 * through eax.
 */
export function compare(cx: FunctionContext, a: VReg, b: VReg): void {
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
  if (load) {
    const scratch = left === Register.EAX ? Register.ECX : Register.EAX;
    cx.emit(Instruction.createRegMem(Code.Cmp_r32_rm32, left, addressOperand(cx, load.address, load.offset, scratch)));
  } else if (cx.alloc.constants.get(b) === 0) {
    cx.emit(Instruction.createRegReg(Code.Test_rm32_r32, left, left));   // same flags as cmp with 0
  }
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
      const operand = ob.kind === "reg"
        ? new MemoryOperand(oa.reg, ob.reg, 1, 0n, 0, false, Register.None) : mem(oa.reg, displacement);
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
const CMOV = byCondition((holds, fails): [Code, Code] =>
  [codeNamed(`Cmov${holds}_r32_rm32`), codeNamed(`Cmov${fails}_r32_rm32`)]);

function lowerSelect(cx: FunctionContext, i: Extract<Instr, { op: "select" }>): void {
  const fused = cx.fusions.selects.get(i);
  const d = cx.operand(i.dst);
  const target = d.kind === "reg" ? d.reg : Register.EAX;
  const ifTrue = cx.operand(i.ifTrue), ifFalse = cx.operand(i.ifFalse);
  const inTarget = (o: Operand) => o.kind === "reg" && o.reg === target;
  // swap: the mov takes ifTrue (already in place, or a constant) and the cmov ifFalse, on the inverted condition;
  // an ifFalse already in place never moves (a clamp `x = x > k ? k : x` is `mov ecx, k; cmovg x, ecx`)
  const swap = i.ifTrue !== i.ifFalse && !inTarget(ifFalse)
    && (inTarget(ifTrue) || (ifTrue.kind === "imm" && ifFalse.kind !== "imm"));
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


// ---- instructions --------------------------------------------------------------------------------

export type InstrRule<K extends Instr["op"]> = (cx: FunctionContext, i: Extract<Instr, { op: K }>) => void;

export const INSTR_RULES: { [K in Instr["op"]]: InstrRule<K> } = {
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
    else if (d.kind === "mem" && s.kind === "reg") {
      cx.read(i.src);
      cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, d.mem, s.reg));
    } else if (d.kind === "mem" && s.kind === "imm") {
      cx.emit(Instruction.createMemI32(Code.Mov_rm32_imm32, d.mem, s.value | 0));
    }
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
    const code = i.signed ? rule.signed : rule.unsigned;
    cx.emit(Instruction.createRegMem(code, target, addressOperand(cx, i.address, i.offset, Register.EAX)));
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
      cx.emit(i.width === 4
        ? Instruction.createMemI32(code, at, wrapped) : Instruction.createMemU32(code, at, wrapped));
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
    if (i.args.length !== spec.args) {
      throw new Error(`x86 lowering: ${cx.f.name}: ${i.name} takes ${spec.args} arguments, got ${i.args.length}`);
    }
    if (i.dst !== null && !spec.result) throw new Error(`x86 lowering: ${cx.f.name}: ${i.name} produces no value`);
    INTRINSIC_RULES[i.name](cx, i.args, i.dst);
  },
  trap: (cx, i) => cx.callTrap(i.kind),
};
