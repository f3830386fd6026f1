// Contract: the x86 rules of the IR's intrinsics (compiler/ir.ts INTRINSICS), one per name in INTRINSIC_RULES:
// port I/O, control registers and descriptor tables, memory copies and fills, thread contexts, cpuid, MSRs,
// crc32, hypercalls (`int 0x80`, or a guest's `sysenter` through SYSENTER_CALL_SYMBOL, whose stub and
// frame lowerModule emits with lowerSysenterCall and lowerSysenterFrame), segment loads. Each rule reads
// its operands and writes its result through FunctionContext (context.ts), the same at -O0 and -O2.


import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import type { IntrinsicName, VReg } from "../ir.ts";
import { HYPERCALL_VECTOR, SYSENTER_FRAME_VECTOR, SYSENTER_CALL_BYTES } from "../../abi/hypercalls.ts";
import { USER_CODE_SELECTOR, USER_DATA_SELECTOR } from "../../abi/boot.ts";
import { INTRINSICS } from "../ir.ts";
import { Emitter, type Label } from "./emitter.ts";
import { FunctionContext, mem, addressOperand } from "./context.ts";

// ---- intrinsics ----------------------------------------------------------------------------------

type IntrinsicRule = (cx: FunctionContext, args: VReg[], dst: VReg | null) => void;

export const defIf = (cx: FunctionContext, dst: VReg | null, reg: Register): void => {
  if (dst !== null) cx.def(dst, reg);
};

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
  for (const r of [Register.EBP, Register.EBX, Register.ESI, Register.EDI]) {
    cx.emit(Instruction.createReg(Code.Push_r32, r));
  }
  e.branch(Code.Call_rel32_32, doSwitch);
  e.branch(Code.Jmp_rel32_32, done);
  e.bind(doSwitch);
  cx.emit(Instruction.createMemReg(Code.Mov_rm32_r32, MemoryOperand.createBase(Register.EAX), Register.ESP));
  cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.ESP, Register.ECX));
  cx.emit(Instruction.create(Code.Retnd));
  e.bind(done);
  for (const r of [Register.EDI, Register.ESI, Register.EBX, Register.EBP]) {
    cx.emit(Instruction.createReg(Code.Pop_r32, r));
  }
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

export const INTRINSIC_RULES: Record<IntrinsicName, IntrinsicRule> = {
  inb: portIn(Code.In_AL_DX, Register.AL, Code.Movzx_r32_rm8),
  inw: portIn(Code.In_AX_DX, Register.AX, Code.Movzx_r32_rm16),
  inl: portIn(Code.In_EAX_DX, Register.EAX, null),
  outb: portOut(Code.Out_DX_AL, Register.AL),
  outw: portOut(Code.Out_DX_AX, Register.AX),
  outl: portOut(Code.Out_DX_EAX, Register.EAX),
  cli: bare(Code.Cli), sti: bare(Code.Sti), hlt: bare(Code.Hlt), pause: bare(Code.Pause),
  // edx:eax <- TSC; rdtscHigh: the high half of a fresh reading
  rdtsc: (cx, _a, dst) => { cx.emit(Instruction.create(Code.Rdtsc)); defIf(cx, dst, Register.EAX); },
  rdtscHigh: (cx, _a, dst) => { cx.emit(Instruction.create(Code.Rdtsc)); defIf(cx, dst, Register.EDX); },
  readCr0: readControl(Register.CR0), writeCr0: writeControl(Register.CR0),
  readCr2: readControl(Register.CR2),
  readCr3: readControl(Register.CR3), writeCr3: writeControl(Register.CR3),
  readCr4: readControl(Register.CR4), writeCr4: writeControl(Register.CR4),
  lgdt: memoryOperandOf(Code.Lgdt_m1632), lidt: memoryOperandOf(Code.Lidt_m1632), // [eax] -> 6-byte limit:base
  // 0F 00 /3 with a 32-bit register: no 66 prefix
  ltr: (cx, [selector]) => {
    cx.use(selector, Register.EAX);
    cx.emit(Instruction.createReg(Code.Ltr_r32m16, Register.EAX));
  },
  invlpg: memoryOperandOf(Code.Invlpg_m),
  memoryCopy, memoryFill,
  // ebp of the calling function: [ebp] is its caller's ebp, [ebp + 4] its return address (backtraces)
  readFramePointer: (cx, _a, dst) => {
    cx.emit(Instruction.createRegReg(Code.Mov_r32_rm32, Register.EAX, Register.EBP));
    defIf(cx, dst, Register.EAX);
  },
  readFlags: (cx, _a, dst) => {
    cx.emit(Instruction.create(Code.Pushfd));
    cx.emit(Instruction.createReg(Code.Pop_r32, Register.EAX));
    defIf(cx, dst, Register.EAX);
  },
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
export function lowerSysenterFrame(e: Emitter): void {
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
export const SYSENTER_CALL_SYMBOL = "__sysenter_call";

/**
 * SYSENTER_CALL_SYMBOL: `mov edi, esp` (the caller's return address on top); `mov ebp, <the ret below>`;
 * `sysenter`; `ret`: the kernel irets to the `ret`, SYSENTER_CALL_BYTES after the start, so that it can
 * start a call over (its address: the symbol's, known in the linker's second pass, plus those bytes).
 */
export function lowerSysenterCall(e: Emitter, start: Label, address: number): void {
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
