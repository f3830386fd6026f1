// Contract: the register-allocation checker (regalloc2's checker is the model). Given one function's
// allocation and the machine code lowered for each IR instruction (a trace), it walks the code
// symbolically — which vreg each register holds, joined over the control-flow graph — and reports every
// operand read from a register that does not hold that vreg's latest definition. It trusts nothing the
// allocator computed (liveness, intervals, coalescing): only the IR, the locations, and what iced-x86
// says each machine instruction reads and writes (plus cdecl: a call or `int` clobbers eax, ecx, edx).
//
// `simulateInstruction` is the per-instruction part, shared with the allocator (compiler/x86/lower.ts),
// which uses it to find the registers an instruction's code overwrites.

import { Instruction, InstructionInfoFactory, OpAccess, Register, RegisterExt, Code } from "iced-x86";
import type { Function as IrFunction, Instr, VReg } from "../ir.ts";
import { successors } from "../ir.ts";
import type { Allocation } from "./regalloc.ts";

/**
 * v is read from `reg` by the first instruction at index >= `at` (relative to the IR instruction's code) that reads
 * `reg`.
 */
export interface OperandRead { v: VReg; reg: Register; at: number }

/** The machine code of one IR instruction (or, with instr null, of a block's terminator). */
export interface InstrTrace {
  instr: Instr | null;
  /**
   * Emitted nothing: folded into an addressing mode, fused into the branch, or lowered with the terminator (a tail
   * call).
   */
  skipped: boolean;
  code: Instruction[];
  reads: OperandRead[];
  /** vregs the IR says this code reads (for a folded access: the base and index instead of the address). */
  uses: VReg[];
  dst: VReg | null;
  /**
   * The code leaves eax, ecx and edx undefined although iced-x86 cannot see it (an intrinsic that switches threads,
   * say).
   */
  clobbersScratch: boolean;
}

/** Registers values may live in: tracked by the simulation. */
const TRACKED = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESI, Register.EDI, Register.EBP];
const SCRATCH = [Register.EAX, Register.ECX, Register.EDX];
const factory = new InstructionInfoFactory();
const accessCache = new Map<string, { reads: Register[]; writes: Register[] }>();

const READS = new Set([OpAccess.Read, OpAccess.CondRead, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);
const WRITES = new Set([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);

/** The tracked registers an instruction reads and writes (sub-registers count as their 32-bit register). */
function accessOf(i: Instruction): { reads: Register[]; writes: Register[] } {
  const key = `${i.code},${i.op0Register},${i.op1Register},${i.op2Register},${i.memoryBase},${i.memoryIndex}`;
  let cached = accessCache.get(key);
  if (cached) return cached;
  const info = factory.info(i);
  const reads = new Set<Register>(), writes = new Set<Register>();
  for (const used of info.usedRegisters()) {
    const full = RegisterExt.fullRegister32(used.register);
    if (!TRACKED.includes(full)) continue;
    if (READS.has(used.access)) reads.add(full);
    if (WRITES.has(used.access)) writes.add(full);
  }
  cached = { reads: [...reads], writes: [...writes] };
  accessCache.set(key, cached);
  return cached;
}

const CALLS = new Set([Code.Call_rel32_32, Code.Call_rm32, Code.Int_imm8, Code.Int3]);

/**
 * Runs one IR instruction's code over symbolic registers that start holding "their own value".
 * Returns the operand reads that found their register overwritten first, and the registers that
 * still hold their own value at the end (a push/pop pair restores one).
 */
export function simulateInstruction(trace: InstrTrace): { badReads: OperandRead[]; intact: Set<Register> } {
  const state = new Map<Register, number>(TRACKED.map(r => [r, r]));
  const stack: number[] = [];
  const pending = trace.reads.map(r => ({ ...r, done: false }));
  const badReads: OperandRead[] = [];
  trace.code.forEach((ins, k) => {
    const access = accessOf(ins);
    for (const r of pending) {
      if (r.done || r.at > k) continue;
      // the register must hold the value where the rule looked it up (an idiom such as `xor eax, eax`
      // writes without reading) and at the first instruction that reads it from there on
      if (r.at === k && state.get(r.reg) !== r.reg) { r.done = true; badReads.push({ v: r.v, reg: r.reg, at: r.at }); continue; }
      if (!access.reads.includes(r.reg)) continue;
      r.done = true;
      if (state.get(r.reg) !== r.reg) badReads.push({ v: r.v, reg: r.reg, at: r.at });
    }
    const code = ins.code;
    if (code === Code.Push_r32) stack.push(state.get(RegisterExt.fullRegister32(ins.op0Register)) ?? -1);
    else if (code === Code.Push_rm32 || code === Code.Pushd_imm8 || code === Code.Pushd_imm32 || code === Code.Pushfd) stack.push(-1);
    else if (code === Code.Pop_r32) {
      const value = stack.pop() ?? -1;
      const r = RegisterExt.fullRegister32(ins.op0Register);
      if (TRACKED.includes(r)) state.set(r, value);
    } else if (code === Code.Pop_rm32) stack.pop();
    else if ((code === Code.Sub_rm32_imm8 || code === Code.Sub_rm32_imm32) && ins.op0Register === Register.ESP) for (let n = 0; n < Number(ins.immediate(1)) / 4; n++) stack.push(-1);
    else if ((code === Code.Add_rm32_imm8 || code === Code.Add_rm32_imm32) && ins.op0Register === Register.ESP) stack.length = Math.max(0, stack.length - Number(ins.immediate(1)) / 4);
    else {
      for (const w of access.writes) state.set(w, -1);
      if (CALLS.has(code)) for (const r of SCRATCH) state.set(r, -1);
    }
  });
  if (trace.clobbersScratch) for (const r of SCRATCH) state.set(r, -1);
  return { badReads, intact: new Set(TRACKED.filter(r => state.get(r) === r)) };
}

const NAMES = new Map<Register, string>([[Register.EAX, "eax"], [Register.ECX, "ecx"], [Register.EDX, "edx"], [Register.EBX, "ebx"], [Register.ESI, "esi"], [Register.EDI, "edi"], [Register.EBP, "ebp"]]);
const UNKNOWN = -1, UNVISITED = -2;

/**
 * Checks one function. `traces[b]` holds one trace per IR instruction of block b, then one for its
 * terminator. Returns the errors found (empty: every register read holds the vreg the IR reads).
 */
export function checkAllocation(f: IrFunction, alloc: Allocation, traces: InstrTrace[][]): string[] {
  const errors: string[] = [];
  const n = f.blocks.length;
  const entry: Map<Register, number>[] = Array.from({ length: n }, () => new Map(TRACKED.map(r => [r, UNVISITED])));
  if (n === 0) return errors;
  // on entry the prologue has loaded the parameters that live in registers; nothing else is known
  for (const r of TRACKED) entry[0].set(r, UNKNOWN);
  for (let p = 0; p < f.params; p++) { const r = alloc.registers.get(p); if (r !== undefined) entry[0].set(r, p); }

  const run = (b: number, { report }: { report: boolean }): Map<Register, number> => {
    const state = new Map(entry[b]);
    const where = (k: number) => `${f.name}: block ${b} ${k < f.blocks[b].instrs.length ? `instruction ${k}` : "terminator"}`;
    traces[b].forEach((t, k) => {
      if (t.skipped) return;
      if (report) {
        for (const v of t.uses) {
          const r = alloc.registers.get(v);
          if (r !== undefined && !t.reads.some(x => x.v === v && x.reg === r)) errors.push(`${where(k)}: v${v} lives in ${NAMES.get(r)} but the code records no read of it`);
        }
        for (const read of t.reads) {
          const holds = state.get(read.reg)!;
          if (holds !== read.v) errors.push(`${where(k)}: v${read.v} read from ${NAMES.get(read.reg)}, which holds ${holds >= 0 ? `v${holds}` : "no known value"}`);
        }
      }
      const sim = simulateInstruction(t);
      if (report) for (const bad of sim.badReads) errors.push(`${where(k)}: v${bad.v} read from ${NAMES.get(bad.reg)} after the instruction's own code overwrote it`);
      for (const r of TRACKED) if (!sim.intact.has(r)) state.set(r, UNKNOWN);
      if (t.dst !== null) {
        for (const r of TRACKED) if (state.get(r) === t.dst) state.set(r, UNKNOWN);
        const r = alloc.registers.get(t.dst);
        if (r !== undefined) state.set(r, t.dst);
      }
    });
    return state;
  };

  // forward dataflow to a fixpoint: a register holds v at a block's entry only if it does at the end of every visited
  // predecessor
  const work = [0];
  const queued = new Set(work);
  while (work.length) {
    const b = work.shift()!;
    queued.delete(b);
    const out = run(b, { report: false });
    for (const s of successors(f.blocks[b].term)) {
      const into = entry[s];
      let changed = false;
      for (const r of TRACKED) {
        const old = into.get(r)!, mine = out.get(r)!;
        const next = old === UNVISITED ? mine : old === mine ? old : UNKNOWN;
        if (next !== old) { into.set(r, next); changed = true; }
      }
      if (changed && !queued.has(s)) { work.push(s); queued.add(s); }
    }
  }
  for (let b = 0; b < n; b++)
    if (b === 0 || [...entry[b].values()].some(x => x !== UNVISITED)) run(b, { report: true });
  return errors;
}
