// Contract: the one IR builder: builds a Function block by block, for the front end (frontend/lower.ts)
// and for every test that writes IR by hand. Registers are numbered from `params` up; block 0 is the
// entry. Emission after a terminator starts a new block (dead code after return/break: unreachable), a
// second terminator of a block is ignored (nothing after the first runs), and finish() leaves a block
// never terminated `unreachable`. Each helper below emits one instruction and returns the register it
// defines; the instruction set itself is compiler/ir.ts (emit() takes any Instr). Debug information: each
// instruction and terminator emitted takes `at` (the statement being lowered) as its `loc`, and the
// variables declared go to the function's `variables`.
import {
  INTRINSICS, type BinaryOp, type Block, type DebugVariable, type FrameSlot, type Function, type Instr,
  type IntrinsicName, type SourceLocation, type Terminator, type TrapKind, type UnaryOp, type VReg, type Width,
} from './ir.ts';

/** An intrinsic's result: a register when INTRINSICS says it produces a value, else null. */
type IntrinsicResult<N extends IntrinsicName> = (typeof INTRINSICS)[N]['result'] extends true ? VReg : null;

export class FunctionBuilder {
  readonly blocks: Block[] = [];
  readonly slots: FrameSlot[] = [];
  readonly variables: DebugVariable[] = [];
  vregCount: number;
  current: Block;
  /** The source position the next instructions come from (undefined: none). */
  at?: SourceLocation;
  private readonly terminated = new Set<Block>();

  constructor(
    readonly name: string, readonly params: number, readonly returnsValue: boolean, readonly loc?: SourceLocation,
  ) {
    this.vregCount = params;
    this.current = this.newBlock(loc);
  }

  newReg(): VReg { return this.vregCount++; }

  /** Parameter `index`'s register (parameters are registers 0..params-1 on entry). */
  param(index: number): VReg {
    if (!Number.isInteger(index) || index < 0 || index >= this.params) {
      throw new RangeError(`${this.name} has no parameter ${index}`);
    }
    return index;
  }

  newBlock(loc?: SourceLocation): Block {
    const block: Block = { id: this.blocks.length, instrs: [], term: { op: 'unreachable' } };
    if (loc) block.loc = loc;
    this.blocks.push(block);
    return block;
  }

  newSlot(size: number, align: number, name: string): number {
    this.slots.push({ size, align, name });
    return this.slots.length - 1;
  }

  emit(instr: Instr): void {
    if (this.isTerminated()) this.current = this.newBlock(this.current.loc); // dead code after return/break
    if (this.at && !instr.loc) instr.loc = this.at;
    this.current.instrs.push(instr);
  }

  isTerminated(block = this.current): boolean { return this.terminated.has(block); }

  terminate(term: Terminator): void {
    if (this.isTerminated()) return; // dead code: nothing after a terminator runs
    if (this.at && !term.loc) term.loc = this.at;
    this.current.term = term;
    this.terminated.add(this.current);
  }

  /** Continues emission in `block` (which must not be terminated yet). */
  switchTo(block: Block): void { this.current = block; }

  jumpTo(block: Block): void { this.jump(block); this.switchTo(block); }

  // ---- instructions that define a register ----
  constant(value: number): VReg { return this.define(dst => ({ op: 'const', dst, value: value | 0 })); }
  binary(kind: BinaryOp, a: VReg, b: VReg): VReg { return this.define(dst => ({ op: 'binary', kind, dst, a, b })); }
  unary(kind: UnaryOp, a: VReg): VReg { return this.define(dst => ({ op: 'unary', kind, dst, a })); }
  select(cond: VReg, ifTrue: VReg, ifFalse: VReg): VReg {
    return this.define(dst => ({ op: 'select', dst, cond, ifTrue, ifFalse }));
  }
  load(width: Width, signed: boolean, address: VReg, offset = 0): VReg {
    return this.define(dst => ({ op: 'load', width, signed, dst, address, offset }));
  }
  globalAddress(symbol: string): VReg { return this.define(dst => ({ op: 'globalAddress', dst, symbol })); }
  functionAddress(func: string): VReg { return this.define(dst => ({ op: 'functionAddress', dst, func })); }
  slotAddress(slot: number): VReg { return this.define(dst => ({ op: 'slotAddress', dst, slot })); }
  call(func: string, args: VReg[]): VReg { return this.define(dst => ({ op: 'call', dst, func, args })); }
  callIndirect(target: VReg, args: VReg[]): VReg {
    return this.define(dst => ({ op: 'callIndirect', dst, target, args }));
  }
  /** An intrinsic, with a result register exactly when it produces a value (INTRINSICS). */
  intrinsic<N extends IntrinsicName>(name: N, args: VReg[]): IntrinsicResult<N> {
    const dst = INTRINSICS[name].result ? this.newReg() : null;
    this.emit({ op: 'intrinsic', dst, name, args });
    return dst as IntrinsicResult<N>;
  }
  private define(make: (dst: VReg) => Instr): VReg { const dst = this.newReg(); this.emit(make(dst)); return dst; }

  // ---- instructions without a result ----
  /** dst = src into an existing register (none when they are the same). */
  copy(dst: VReg, src: VReg): void { if (dst !== src) this.emit({ op: 'copy', dst, src }); }
  store(width: Width, address: VReg, value: VReg, offset = 0): void {
    this.emit({ op: 'store', width, address, offset, value });
  }
  callVoid(func: string, args: VReg[]): void { this.emit({ op: 'call', dst: null, func, args }); }
  callIndirectVoid(target: VReg, args: VReg[]): void { this.emit({ op: 'callIndirect', dst: null, target, args }); }
  trap(kind: TrapKind): void { this.emit({ op: 'trap', kind }); }

  // ---- terminators of the current block ----
  jump(target: Block): void { this.terminate({ op: 'jump', target: target.id }); }
  branch(cond: VReg, ifTrue: Block, ifFalse: Block): void {
    this.terminate({ op: 'branch', cond, ifTrue: ifTrue.id, ifFalse: ifFalse.id });
  }
  ret(value: VReg | null = null): void { this.terminate({ op: 'return', value }); }
  unreachable(): void { this.terminate({ op: 'unreachable' }); }

  finish(): Function {
    const f: Function = {
      name: this.name, params: this.params, returnsValue: this.returnsValue, vregCount: this.vregCount,
      slots: this.slots, blocks: this.blocks,
    };
    if (this.loc) f.loc = this.loc;
    if (this.variables.length > 0) f.variables = this.variables;
    return f;
  }
}
