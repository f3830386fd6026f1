// Small builders for hand-written IR modules (no front end involved), and a runner that collects the
// values a test program reports through port OUT_PORT.

import type {
  BinaryOp, Block, DataSymbol, FrameSlot, Function, Instr, IntrinsicName, Module, Terminator, TrapKind, UnaryOp, VReg, Width,
} from "../../compiler/ir.ts";
import { runModule, type RunOptions, type RunResult } from "../../compiler/bytecode/interpreter.ts";

/** Test programs report a value with outl(OUT_PORT, value). */
export const OUT_PORT = 0x500;
/** The default trap handler reports its kind with outl(TRAP_PORT, kind), then exits through port 0xf4. */
export const TRAP_PORT = 0x501;
export const TRAP_EXIT_VALUE = 0x7e;

export class FunctionBuilder {
  private vregCount: number;
  private readonly blocks: { instrs: Instr[]; term: Terminator | null }[] = [];
  private readonly slots: FrameSlot[] = [];
  private current = 0;

  constructor(readonly name: string, readonly params: number, readonly returnsValue: boolean) {
    this.vregCount = params;
    this.newBlock();
  }

  /** Parameter i's vreg. */
  param(i: number): VReg { return i; }
  reg(): VReg { return this.vregCount++; }

  newBlock(): number {
    this.blocks.push({ instrs: [], term: null });
    return this.blocks.length - 1;
  }

  /** Appends to `block` from now on. */
  at(block: number): this {
    this.current = block;
    return this;
  }

  slot(size: number, align: number, name = `slot${this.slots.length}`): number {
    this.slots.push({ size, align, name });
    return this.slots.length - 1;
  }

  emit(instr: Instr): void {
    const block = this.blocks[this.current];
    if (block.term) throw new Error(`block ${this.current} of ${this.name} is already terminated`);
    block.instrs.push(instr);
  }

  const(value: number): VReg { const dst = this.reg(); this.emit({ op: "const", dst, value: value | 0 }); return dst; }
  copy(src: VReg): VReg { const dst = this.reg(); this.emit({ op: "copy", dst, src }); return dst; }
  binary(kind: BinaryOp, a: VReg, b: VReg): VReg { const dst = this.reg(); this.emit({ op: "binary", kind, dst, a, b }); return dst; }
  unary(kind: UnaryOp, a: VReg): VReg { const dst = this.reg(); this.emit({ op: "unary", kind, dst, a }); return dst; }
  select(cond: VReg, ifTrue: VReg, ifFalse: VReg): VReg { const dst = this.reg(); this.emit({ op: "select", dst, cond, ifTrue, ifFalse }); return dst; }
  load(width: Width, signed: boolean, address: VReg, offset = 0): VReg {
    const dst = this.reg(); this.emit({ op: "load", width, signed, dst, address, offset }); return dst;
  }
  store(width: Width, address: VReg, value: VReg, offset = 0): void { this.emit({ op: "store", width, address, offset, value }); }
  globalAddress(symbol: string): VReg { const dst = this.reg(); this.emit({ op: "globalAddress", dst, symbol }); return dst; }
  functionAddress(func: string): VReg { const dst = this.reg(); this.emit({ op: "functionAddress", dst, func }); return dst; }
  slotAddress(slot: number): VReg { const dst = this.reg(); this.emit({ op: "slotAddress", dst, slot }); return dst; }
  call(func: string, args: VReg[]): VReg { const dst = this.reg(); this.emit({ op: "call", dst, func, args }); return dst; }
  callVoid(func: string, args: VReg[]): void { this.emit({ op: "call", dst: null, func, args }); }
  callIndirect(target: VReg, args: VReg[]): VReg { const dst = this.reg(); this.emit({ op: "callIndirect", dst, target, args }); return dst; }
  callIndirectVoid(target: VReg, args: VReg[]): void { this.emit({ op: "callIndirect", dst: null, target, args }); }
  intrinsic(name: IntrinsicName, args: VReg[]): VReg { const dst = this.reg(); this.emit({ op: "intrinsic", dst, name, args }); return dst; }
  intrinsicVoid(name: IntrinsicName, args: VReg[]): void { this.emit({ op: "intrinsic", dst: null, name, args }); }
  trap(kind: TrapKind): void { this.emit({ op: "trap", kind }); }

  /** outl(OUT_PORT, value): the test runner collects it. */
  report(value: VReg): void { this.intrinsicVoid("outl", [this.const(OUT_PORT), value]); }
  outb(port: number, value: VReg): void { this.intrinsicVoid("outb", [this.const(port), value]); }

  private terminate(term: Terminator): void {
    const block = this.blocks[this.current];
    if (block.term) throw new Error(`block ${this.current} of ${this.name} is already terminated`);
    block.term = term;
  }
  jump(target: number): void { this.terminate({ op: "jump", target }); }
  branch(cond: VReg, ifTrue: number, ifFalse: number): void { this.terminate({ op: "branch", cond, ifTrue, ifFalse }); }
  ret(value: VReg | null = null): void { this.terminate({ op: "return", value }); }
  unreachable(): void { this.terminate({ op: "unreachable" }); }

  build(): Function {
    const blocks: Block[] = this.blocks.map((b, id) => {
      if (!b.term) throw new Error(`block ${id} of ${this.name} has no terminator`);
      return { id, instrs: b.instrs, term: b.term };
    });
    return { name: this.name, params: this.params, returnsValue: this.returnsValue, vregCount: this.vregCount, slots: this.slots, blocks };
  }
}

/** The standard trap handler: reports its kind on TRAP_PORT, then exits with TRAP_EXIT_VALUE. */
export function trapHandlerFunction(name = "__trap"): Function {
  const f = new FunctionBuilder(name, 1, false);
  f.intrinsicVoid("outl", [f.const(TRAP_PORT), f.param(0)]);
  f.intrinsicVoid("outb", [f.const(0xf4), f.const(TRAP_EXIT_VALUE)]);
  f.unreachable();
  return f.build();
}

/** A module with `functions` (entry = the first unless named) plus the standard trap handler. */
export function makeModule(functions: Function[], data: DataSymbol[] = [], entry = functions[0].name): Module {
  return { functions: [...functions, trapHandlerFunction()], data, entry, trapHandler: "__trap" };
}

export interface TestRun extends RunResult {
  /** Values written to OUT_PORT, as signed int32. */
  values: number[];
  /** Trap kinds that reached the trap handler. */
  traps: number[];
}

/** Runs a module (from its bytecode) collecting OUT_PORT and TRAP_PORT writes. */
export function run(module: Module, options: RunOptions = {}): TestRun {
  const values: number[] = [];
  const traps: number[] = [];
  const result = runModule(module, {
    ...options,
    onOut(port, value, width) {
      if (port === OUT_PORT) { values.push(value | 0); return true; }
      if (port === TRAP_PORT) { traps.push(value | 0); return true; }
      return options.onOut?.(port, value, width) ?? false;
    },
  });
  return { ...result, values, traps };
}

/** An entry function built by `body`, ending with exit code 0 through port 0xf4. */
export function mainModule(body: (f: FunctionBuilder) => void, extra: Function[] = [], data: DataSymbol[] = []): Module {
  const f = new FunctionBuilder("main", 2, false);
  body(f);
  f.outb(0xf4, f.const(0));
  f.unreachable();
  return makeModule([f.build(), ...extra], data);
}
