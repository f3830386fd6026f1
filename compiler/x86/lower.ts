// Contract: lowers an IR Module (compiler/ir.ts) to one stream of iced-x86 Instructions: `_start`, every
// function, the interrupt entry stubs. -O0: every vreg lives in its frame home, ebp is the frame pointer.
// -O2: vregs get registers (below), constants become immediates, a comparison fuses into its branch
// (cmp; jcc) or its select (cmp; cmov), address arithmetic folds into addressing modes, a 32-bit load
// into its comparison, a self-recursive call in tail position becomes a jump (fusion.ts finds those
// patterns, one interface: find, skip, uses), and ebp is a seventh register wherever no
// readFramePointer needs the chain (the emitter then tracks esp for the linker's unwind table).
//
// Shape: each IR op has a small rule (rules.ts INSTR_RULES; intrinsics.ts INTRINSIC_RULES). A rule reads
// operands with `use(v, reg)`/`read(v)` and writes results with `def(v, reg)`; these FunctionContext
// helpers (context.ts) know where the allocation put each vreg (register, immediate or frame home), so the
// rules are the same at -O0 and -O2. This file drives them: functions (prologue, blocks, terminators, jump
// tables, epilogue), `_start`, the interrupt entries, the module. Registers: linear scan (regalloc.ts)
// over ebx/esi/edi (callee-saved: saved in the prologue when used) and the scratch eax/ecx/edx, which a
// vreg keeps only where no instruction's code inside its interval writes them: a dry run of the lowering
// checks that (check.ts) and forbids what conflicts ("register allocation" below). Frames of a page or
// more are probed page by page (the guard pages under the stacks).
//
// Absolute addresses (globalAddress, functionAddress) come from an AddressResolver, so the linker
// can lower once with placeholders to learn the text size and once more with the final addresses;
// they are always encoded as imm32, so instruction sizes do not depend on them.
import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import type { Module, Function as IrFunction, Block, Instr, VReg, SourceLocation, InterruptEntry } from "../ir.ts";
import { SYSENTER_FRAME_VECTOR } from "../../abi/hypercalls.ts";
import { USER_DATA_SELECTOR } from "../../abi/boot.ts";
import { definedRegister, usedRegisters, terminatorUses, propertiesOf, successors } from "../ir.ts";
import { Emitter, type Label, type FrameRow, type CallFrameRow } from "./emitter.ts";
import { variableHomes, type LoweredVariable, type InstructionIndices } from "./debug-info.ts";
import { lowerGuardSetup, lowerStackFault, STACK_FAULT_SYMBOL, type GuardAddresses } from "./guard.ts";
import { layoutFrame, FRAME_BASE_BELOW_CFA } from "./frame.ts";
import {
  allocateRegisters, liveIntervals, isConstant, SCRATCH, ALLOCATABLE, ALLOCATABLE_WITH_EBP, type Allocation,
  type Forbidden,
} from "./regalloc.ts";
import { findFusions, Fusions, type JumpTable } from "./fusion.ts";
import { splitAroundLoops } from "./split.ts";
import { simulateInstruction, checkAllocation, type InstrTrace } from "./check.ts";
import { FunctionContext, mem, fitsImm8, type AddressResolver } from "./context.ts";
import { SYSENTER_CALL_SYMBOL, lowerSysenterCall, lowerSysenterFrame } from "./intrinsics.ts";
import { INSTR_RULES, JCC, compare, type InstrRule } from "./rules.ts";

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
  // Values live across a call, a trap, a division or an intrinsic never get a scratch register: these always
  // clobber them.
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
