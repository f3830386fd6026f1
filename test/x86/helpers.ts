// Contract: test support for the x86 back end: a small IR builder, a serial/exit runtime written in IR, and a QEMU boot runner.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BinaryOp, Block, DataSymbol, FrameSlot, Function as IrFunction, Instr, IntrinsicName, Module, TrapKind, UnaryOp, VReg, Width } from "../../compiler/ir.ts";
import { compileToImage, type Image } from "../../compiler/link/index.ts";
import { runQemu } from "../../tools/qemu.ts";

export const COM1 = 0x3f8;
export const DEBUG_EXIT_PORT = 0xf4;

// ---- IR builder ----------------------------------------------------------------------------------

export class FunctionBuilder {
  private vregs: number;
  readonly blocks: Block[] = [];
  readonly slots: FrameSlot[] = [];
  private current: Block;

  constructor(readonly name: string, readonly params: number, readonly returnsValue: boolean) {
    this.vregs = params;
    this.current = this.newBlock();
  }
  param(i: number): VReg { return i; }
  fresh(): VReg { return this.vregs++; }
  newBlock(): Block {
    const b: Block = { id: this.blocks.length, instrs: [], term: { op: "unreachable" }, loc: { file: `${this.name}.ts`, line: this.blocks.length + 1, column: 1 } };
    this.blocks.push(b);
    return b;
  }
  switchTo(b: Block): void { this.current = b; }
  push(i: Instr): void { this.current.instrs.push(i); }

  const(value: number): VReg { const dst = this.fresh(); this.push({ op: "const", dst, value: value | 0 }); return dst; }
  copy(src: VReg): VReg { const dst = this.fresh(); this.push({ op: "copy", dst, src }); return dst; }
  copyInto(dst: VReg, src: VReg): void { this.push({ op: "copy", dst, src }); }
  bin(kind: BinaryOp, a: VReg, b: VReg): VReg { const dst = this.fresh(); this.push({ op: "binary", kind, dst, a, b }); return dst; }
  un(kind: UnaryOp, a: VReg): VReg { const dst = this.fresh(); this.push({ op: "unary", kind, dst, a }); return dst; }
  load(width: Width, signed: boolean, address: VReg, offset = 0): VReg { const dst = this.fresh(); this.push({ op: "load", width, signed, dst, address, offset }); return dst; }
  store(width: Width, address: VReg, value: VReg, offset = 0): void { this.push({ op: "store", width, address, offset, value }); }
  globalAddress(symbol: string): VReg { const dst = this.fresh(); this.push({ op: "globalAddress", dst, symbol }); return dst; }
  functionAddress(func: string): VReg { const dst = this.fresh(); this.push({ op: "functionAddress", dst, func }); return dst; }
  slot(size: number, align: number, name = `slot${this.slots.length}`): number { this.slots.push({ size, align, name }); return this.slots.length - 1; }
  slotAddress(slot: number): VReg { const dst = this.fresh(); this.push({ op: "slotAddress", dst, slot }); return dst; }
  call(func: string, args: VReg[], result = true): VReg | null { const dst = result ? this.fresh() : null; this.push({ op: "call", dst, func, args }); return dst; }
  callIndirect(target: VReg, args: VReg[], result = true): VReg | null { const dst = result ? this.fresh() : null; this.push({ op: "callIndirect", dst, target, args }); return dst; }
  intrinsic(name: IntrinsicName, args: VReg[], result = false): VReg | null { const dst = result ? this.fresh() : null; this.push({ op: "intrinsic", dst, name, args }); return dst; }
  trap(kind: TrapKind): void { this.push({ op: "trap", kind }); }

  jump(target: Block): void { this.current.term = { op: "jump", target: target.id }; }
  branch(cond: VReg, ifTrue: Block, ifFalse: Block): void { this.current.term = { op: "branch", cond, ifTrue: ifTrue.id, ifFalse: ifFalse.id }; }
  ret(value: VReg | null = null): void { this.current.term = { op: "return", value }; }
  unreachable(): void { this.current.term = { op: "unreachable" }; }

  // conveniences for tests
  putc(c: number | VReg, isConst = true): void { this.call("putc", [isConst ? this.const(c) : c], false); }
  puts(s: string): void { for (const ch of s) this.putc(ch.charCodeAt(0)); }
  putHex(v: VReg): void { this.call("putHex", [v], false); }
  exit(code: number): void { this.call("exit", [this.const(code)], false); }

  build(): IrFunction {
    return { name: this.name, params: this.params, returnsValue: this.returnsValue, vregCount: this.vregs, slots: this.slots, blocks: this.blocks, loc: { file: `${this.name}.ts`, line: 1, column: 1 } };
  }
}

/** Runtime in IR: putc(c), putHex(v) (8 hex digits + newline), exit(code) via isa-debug-exit, trap(kind). */
export function runtimeFunctions(): IrFunction[] {
  // putc(c): wait for the transmit holding register to be empty (LSR bit 5), then write c.
  // Without the wait QEMU drops bytes whenever its stdout pipe is slower than the guest.
  const putc = new FunctionBuilder("putc", 1, false);
  const wait = putc.newBlock(), send = putc.newBlock();
  putc.jump(wait);
  putc.switchTo(wait);
  const lsr = putc.intrinsic("inb", [putc.const(COM1 + 5)], true)!;
  putc.branch(putc.bin("and", lsr, putc.const(0x20)), send, wait);
  putc.switchTo(send);
  putc.intrinsic("outb", [putc.const(COM1), putc.param(0)]);
  putc.ret();

  // putHex(v): for (i = 0; i != 8; i++) { n = (v >>> (28 - 4i)) & 15; putc(n + 48 + 39 * (n >u 9)) }; putc('\n')
  const hex = new FunctionBuilder("putHex", 1, false);
  const i = hex.const(0);
  const loop = hex.newBlock(), body = hex.newBlock(), done = hex.newBlock();
  hex.jump(loop);
  hex.switchTo(loop);
  hex.branch(hex.bin("ne", i, hex.const(8)), body, done);
  hex.switchTo(body);
  const shift = hex.bin("sub", hex.const(28), hex.bin("shl", i, hex.const(2)));
  const nibble = hex.bin("and", hex.bin("shru", hex.param(0), shift), hex.const(15));
  const letter = hex.bin("mul", hex.bin("gtu", nibble, hex.const(9)), hex.const(39));
  hex.putc(hex.bin("add", hex.bin("add", nibble, hex.const(48)), letter), false);
  hex.copyInto(i, hex.bin("add", i, hex.const(1)));
  hex.jump(loop);
  hex.switchTo(done);
  hex.putc(10);
  hex.ret();

  const exit = new FunctionBuilder("exit", 1, false);
  exit.intrinsic("outb", [exit.const(DEBUG_EXIT_PORT), exit.param(0)]);
  const spin = exit.newBlock();
  exit.jump(spin);
  exit.switchTo(spin);
  exit.intrinsic("hlt", []);
  exit.jump(spin);

  // trap(kind): prints "TRAP k\n" and exits with code 0x70 + kind
  const trap = new FunctionBuilder("trap", 1, false);
  trap.puts("TRAP ");
  trap.putc(trap.bin("add", trap.param(0), trap.const(48)), false);
  trap.putc(10);
  trap.call("exit", [trap.bin("add", trap.param(0), trap.const(0x70))], false);
  trap.unreachable();

  return [putc.build(), hex.build(), exit.build(), trap.build()];
}

/** A module whose entry is `main` (built by `body`), with the runtime; main exits with code 0 after `body` unless it exits itself. */
export function programModule(body: (main: FunctionBuilder) => void, extra: IrFunction[] = [], data: DataSymbol[] = []): Module {
  const main = new FunctionBuilder("main", 2, false);
  body(main);
  main.exit(0);
  main.unreachable();
  return { functions: [main.build(), ...extra, ...runtimeFunctions()], data, entry: "main", trapHandler: "trap" };
}

// ---- booting -------------------------------------------------------------------------------------

export interface BootResult { status: number | null; exitCode: number | null; serial: string; stderr: string; timedOut: boolean }

const scratch = mkdtempSync(join(tmpdir(), "denali-x86-test-"));
let imageCounter = 0;

export function writeImage(image: Image, name = "image"): string {
  const file = join(scratch, `${name}-${process.pid}-${imageCounter++}.elf`);
  writeFileSync(file, image.elf);
  return file;
}

/** Boots an ELF in QEMU (TCG) with COM1 captured and isa-debug-exit; exitCode = the value written to port 0xf4. */
export async function boot(file: string, timeoutMs = 10_000): Promise<BootResult> {
  const r = await runQemu({ kernel: file }, { timeoutMs, memoryMiB: 32 });
  return { status: r.status, exitCode: r.debugExit, serial: r.serial, stderr: r.stderr, timedOut: r.timedOut };
}

export async function compileAndBoot(module: Module, name = "image"): Promise<BootResult & { image: Image }> {
  const image = compileToImage(module);
  const result = await boot(writeImage(image, name));
  return { ...result, image };
}
