// Contract: an append-only stream of iced-x86 Instructions with symbolic labels; labels become IPs that BlockEncoder
// resolves.
//
// The iced-x86 label technique: every created Instruction has ip 0; a label is a small nonzero
// number written into the `ip` of the instruction it marks, and a branch whose target equals that
// number is resolved by BlockEncoder to the marked instruction (and relaxed to rel8 when it fits).
// An instruction can carry one ip only, so when several labels land on the same instruction (an
// empty block falling through, a block that starts a function) the later ones become aliases of
// the first; branches are therefore materialized in `finish()`, once every alias is known.

import { Instruction, Code, Register, OpKind, FlowControl } from "iced-x86";

export type Label = bigint;

/**
 * One label namespace for a whole BlockEncoder run (the whole .text: one Emitter per module), so calls across functions
 * resolve.
 */
class LabelAllocator {
  private next = 1n;
  fresh(): Label { return this.next++; }
}

type Item = { kind: "instr"; instr: Instruction } | { kind: "branch"; code: Code; target: Label };

/**
 * The frame state at one instruction of a function without a frame pointer, before it executes: the
 * return address is at [esp + cfa]; with `ebpSaved`, the caller's ebp is at [esp + cfa - 4] (ebp holds
 * a value of this function). A row holds from its instruction to the next row's (docs/calling-convention.md).
 */
export interface FrameRow { index: number; cfa: number; ebpSaved: boolean }

/**
 * The full frame state at one instruction (any function, for the linker's DWARF call frame information):
 * the CFA (the caller's esp, the address above the return address) is esp + cfa + 4 while `base` is esp,
 * else base + baseOffset (ebp after `mov ebp, esp`; ebx in an interrupt entry); the caller's registers
 * saved in the frame, at CFA + offset; `interrupted`: the "return address" is a CPU interrupt frame's eip
 * (cs and eflags above it, then the interrupted esp when it came from ring 3); `outermost`: no caller.
 */
export interface CallFrameRow extends FrameRow {
  base: Register;
  baseOffset: number;
  saved: ReadonlyMap<Register, number>;
  interrupted: boolean;
  outermost: boolean;
}
type FrameState = Omit<CallFrameRow, "index">;

export class Emitter {
  private items: Item[] = [];
  private pending: Label[] = [];              // labels bound to the next emitted instruction
  private labelAt = new Map<Label, number>(); // label -> item index (after alias resolution)
  private alias = new Map<Label, Label>();
  // Frame tracking (functions without a frame pointer): esp's distance to the return address, changed
  // by every push, pop and add/sub esp emitted; calls and returns leave it alone (a cdecl callee returns
  // with esp where it was). NaN once esp is written any other way (mov esp, r): no frame reference may follow.
  private tracking = false;
  private rows: CallFrameRow[] = [];
  /** Bytes from esp to the return address at the next instruction emitted (tracked functions only). */
  cfa = 0;
  /** Whether the next instruction runs with the caller's ebp in [esp + cfa - 4]. */
  ebpSaved = false;
  /** The rest of the frame state (CallFrameRow), changed by the lowering through the methods below. */
  private base: Register = Register.ESP;
  private baseOffset = 0;
  private saved: ReadonlyMap<Register, number> = new Map();
  private interrupted = false;
  private outermost = false;

  constructor(readonly labels: LabelAllocator = new LabelAllocator()) {}

  fresh(): Label { return this.labels.fresh(); }

  get length(): number { return this.items.length; }

  /** Binds `label` to the next instruction emitted. */
  bind(label: Label): void { this.pending.push(label); }

  emit(instr: Instruction): void { this.push({ kind: "instr", instr }); }

  /** A rel32 branch/call to a label; BlockEncoder shortens it when the target is near. */
  branch(code: Code, target: Label): void { this.push({ kind: "branch", code, target }); }

  /** Index the next emitted instruction will have (for function and block boundaries). */
  get nextIndex(): number { return this.items.length; }

  /**
   * Starts tracking the frame of a function without a frame pointer: at its first instruction esp points at the return
   * address.
   */
  startFrame(options: { cfa?: number; interrupted?: boolean; outermost?: boolean } = {}): void {
    this.tracking = true; this.rows = [];
    this.restoreState({ cfa: options.cfa ?? 0, ebpSaved: false, base: Register.ESP, baseOffset: 0, saved: new Map(),
      interrupted: options.interrupted ?? false, outermost: options.outermost ?? false });
  }

  /** Ends tracking; the rows of the function's instructions (one per change of state). */
  endFrame(): CallFrameRow[] { this.tracking = false; const rows = this.rows; this.rows = []; return rows; }

  /** The frame state for the next instruction (to restore at a block that follows an epilogue). */
  frameState(): FrameState {
    const { cfa, ebpSaved, base, baseOffset, saved, interrupted, outermost } = this;
    return { cfa, ebpSaved, base, baseOffset, saved, interrupted, outermost };
  }

  restoreState(state: FrameState): void {
    ({ cfa: this.cfa, ebpSaved: this.ebpSaved, base: this.base, baseOffset: this.baseOffset, saved: this.saved,
      interrupted: this.interrupted, outermost: this.outermost } = state);
  }

  /** From the next instruction on the CFA is register + offset (esp: back to esp + cfa + 4). */
  frameBase(register: Register, offset = 0): void { this.base = register; this.baseOffset = offset; }

  /** From the next instruction on the caller's `register` is at CFA + offset (restored: where it was). */
  savedAt(register: Register, offset: number): void { this.saved = new Map([...this.saved, [register, offset]]); }

  restored(register: Register): void {
    const saved = new Map(this.saved);
    saved.delete(register);
    this.saved = saved;
  }

  private track(index: number, item: Item): void {
    const last = this.rows[this.rows.length - 1];
    if (!last || last.cfa !== this.cfa || last.ebpSaved !== this.ebpSaved || last.base !== this.base
        || last.baseOffset !== this.baseOffset || last.saved !== this.saved || last.interrupted !== this.interrupted
        || last.outermost !== this.outermost) {
      this.rows.push({ index, ...this.frameState() });
    }
    if (item.kind !== "instr") return; // jumps and calls to labels
    const i = item.instr;
    const isEsp = i.op0Kind === OpKind.Register && i.op0Register === Register.ESP;
    if (isEsp && (i.code === Code.Sub_rm32_imm8 || i.code === Code.Sub_rm32_imm32)) this.cfa += Number(i.immediate(1));
    else if (isEsp && (i.code === Code.Add_rm32_imm8 || i.code === Code.Add_rm32_imm32)) this.cfa -= Number(i.immediate(1));
    else if (i.flowControl === FlowControl.Next && i.isStackInstruction) this.cfa -= i.stackPointerIncrement;
    else if (isEsp) this.cfa = NaN;
  }

  private push(item: Item): void {
    const index = this.items.length;
    if (this.tracking) this.track(index, item);
    if (this.pending.length > 0) {
      const [first, ...rest] = this.pending;
      this.labelAt.set(first, index);
      for (const other of rest) this.alias.set(other, first);
      this.pending = [];
    }
    this.items.push(item);
  }

  /** The instructions emitted from `start` on, branches with their label as target (for analysis: not encodable). */
  instructionsFrom(start: number): Instruction[] {
    return this.items.slice(start).map(item => item.kind === "instr" ? item.instr : Instruction.createBranch(item.code, item.target));
  }

  /** Turns the stream into Instructions; every branch target must be bound by now. */
  finish(): Instruction[] {
    if (this.pending.length > 0) throw new Error(`x86 emitter: labels ${this.pending.join(",")} bound at end of stream`);
    const resolve = (l: Label): Label => this.alias.get(l) ?? l;
    const firstLabelOf = new Map<number, Label>();
    for (const [label, index] of this.labelAt) firstLabelOf.set(index, label);
    return this.items.map((item, index) => {
      let instr: Instruction;
      if (item.kind === "instr") instr = item.instr;
      else {
        const target = resolve(item.target);
        if (!this.labelAt.has(target)) throw new Error(`x86 emitter: branch to unbound label ${target}`);
        instr = Instruction.createBranch(item.code, target);
      }
      const label = firstLabelOf.get(index);
      if (label !== undefined) instr.ip = label;
      return instr;
    });
  }

}
