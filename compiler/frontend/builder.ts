// Builds one IR function block by block; lowering calls it, nothing else does.
import type { Block, FrameSlot, Function, Instr, SourceLocation, Terminator, VReg } from '../ir.ts';

export class FunctionBuilder {
  readonly blocks: Block[] = [];
  readonly slots: FrameSlot[] = [];
  vregCount: number;
  current: Block;

  constructor(readonly name: string, readonly params: number, readonly returnsValue: boolean, readonly loc?: SourceLocation) {
    this.vregCount = params;
    this.current = this.newBlock(loc);
  }

  newReg(): VReg { return this.vregCount++; }

  newBlock(loc?: SourceLocation): Block {
    const block: Block = { id: this.blocks.length, instrs: [], term: { op: 'unreachable' }, loc };
    (block as { terminated?: boolean }).terminated = false;
    this.blocks.push(block);
    return block;
  }

  newSlot(size: number, align: number, name: string): number {
    this.slots.push({ size, align, name });
    return this.slots.length - 1;
  }

  emit(instr: Instr): void {
    if (this.isTerminated()) this.current = this.newBlock(this.current.loc); // dead code after return/break
    this.current.instrs.push(instr);
  }

  isTerminated(block = this.current): boolean { return (block as { terminated?: boolean }).terminated === true; }

  terminate(term: Terminator): void {
    if (this.isTerminated()) return; // dead code: nothing after a terminator runs
    this.current.term = term;
    (this.current as { terminated?: boolean }).terminated = true;
  }

  /** Continues emission in `block` (which must not be terminated yet). */
  switchTo(block: Block): void { this.current = block; }

  jumpTo(block: Block): void { this.terminate({ op: 'jump', target: block.id }); this.switchTo(block); }

  // ---- small emit helpers that return the destination register ----
  constant(value: number): VReg { const dst = this.newReg(); this.emit({ op: 'const', dst, value: value | 0 }); return dst; }
  binary(kind: Extract<Instr, { op: 'binary' }>['kind'], a: VReg, b: VReg): VReg {
    const dst = this.newReg(); this.emit({ op: 'binary', kind, dst, a, b }); return dst;
  }
  unary(kind: 'neg' | 'not', a: VReg): VReg { const dst = this.newReg(); this.emit({ op: 'unary', kind, dst, a }); return dst; }
  copy(dst: VReg, src: VReg): void { if (dst !== src) this.emit({ op: 'copy', dst, src }); }

  finish(): Function {
    for (const b of this.blocks) delete (b as { terminated?: boolean }).terminated;
    return {
      name: this.name, params: this.params, returnsValue: this.returnsValue, vregCount: this.vregCount,
      slots: this.slots, blocks: this.blocks, loc: this.loc,
    };
  }
}
