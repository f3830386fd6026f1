// Contract: test support for the x86 back end: a serial/exit runtime written in IR (compiler/builder.ts), and a
// QEMU boot runner.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DataSymbol, Function as IrFunction, Module, VReg } from "../../compiler/ir.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import { compileToImage, type Image } from "../../compiler/link/index.ts";
import { runQemu } from "../../tools/qemu.ts";

const COM1 = 0x3f8;
const DEBUG_EXIT_PORT = 0xf4;

// ---- test programs: IR built with compiler/builder.ts -----------------------------------------------

/** A builder whose function and blocks carry the location NAME.ts:1 (listings show it). */
export function testFunction(name: string, params: number, returnsValue: boolean): FunctionBuilder {
  return new FunctionBuilder(name, params, returnsValue, { file: `${name}.ts`, line: 1, column: 1 });
}
/** putc(c) of the runtime below, c a character code. */
export function putc(f: FunctionBuilder, c: number): void { f.callVoid("putc", [f.constant(c)]); }
export function puts(f: FunctionBuilder, s: string): void { for (const ch of s) putc(f, ch.charCodeAt(0)); }
/** putHex(v): 8 hex digits and a newline on COM1. */
export function putHex(f: FunctionBuilder, v: VReg): void { f.callVoid("putHex", [v]); }

/** Runtime in IR: putc(c), putHex(v) (8 hex digits + newline), exit(code) via isa-debug-exit, trap(kind). */
export function runtimeFunctions(): IrFunction[] {
  // putc(c): wait for the transmit holding register to be empty (LSR bit 5), then write c.
  // Without the wait QEMU drops bytes whenever its stdout pipe is slower than the guest.
  const putcFunction = testFunction("putc", 1, false);
  const wait = putcFunction.newBlock(), send = putcFunction.newBlock();
  putcFunction.jumpTo(wait);
  const lsr = putcFunction.intrinsic("inb", [putcFunction.constant(COM1 + 5)]);
  putcFunction.branch(putcFunction.binary("and", lsr, putcFunction.constant(0x20)), send, wait);
  putcFunction.switchTo(send);
  putcFunction.intrinsic("outb", [putcFunction.constant(COM1), putcFunction.param(0)]);
  putcFunction.ret();

  // putHex(v): for (i = 0; i != 8; i++) { n = (v >>> (28 - 4i)) & 15; putc(n + 48 + 39 * (n >u 9)) }; putc('\n')
  const hex = testFunction("putHex", 1, false);
  const i = hex.constant(0);
  const loop = hex.newBlock(), body = hex.newBlock(), done = hex.newBlock();
  hex.jumpTo(loop);
  hex.branch(hex.binary("ne", i, hex.constant(8)), body, done);
  hex.switchTo(body);
  const shift = hex.binary("sub", hex.constant(28), hex.binary("shl", i, hex.constant(2)));
  const nibble = hex.binary("and", hex.binary("shru", hex.param(0), shift), hex.constant(15));
  const letter = hex.binary("mul", hex.binary("gtu", nibble, hex.constant(9)), hex.constant(39));
  hex.callVoid("putc", [hex.binary("add", hex.binary("add", nibble, hex.constant(48)), letter)]);
  hex.copy(i, hex.binary("add", i, hex.constant(1)));
  hex.jump(loop);
  hex.switchTo(done);
  putc(hex, 10);
  hex.ret();

  const exit = testFunction("exit", 1, false);
  exit.intrinsic("outb", [exit.constant(DEBUG_EXIT_PORT), exit.param(0)]);
  const spin = exit.newBlock();
  exit.jumpTo(spin);
  exit.intrinsic("hlt", []);
  exit.jump(spin);

  // trap(kind): prints "TRAP k\n" and exits with code 0x70 + kind
  const trap = testFunction("trap", 1, false);
  puts(trap, "TRAP ");
  trap.callVoid("putc", [trap.binary("add", trap.param(0), trap.constant(48))]);
  putc(trap, 10);
  trap.callVoid("exit", [trap.binary("add", trap.param(0), trap.constant(0x70))]);
  trap.unreachable();

  return [putcFunction.finish(), hex.finish(), exit.finish(), trap.finish()];
}

/**
 * A module whose entry is `main` (built by `body`), with the runtime; main exits with code 0 after `body` unless it
 * exits itself.
 */
export function programModule(body: (main: FunctionBuilder) => void, extra: IrFunction[] = [], data: DataSymbol[] = []): Module {
  const main = testFunction("main", 2, false);
  body(main);
  main.callVoid("exit", [main.constant(0)]);
  main.unreachable();
  return { functions: [main.finish(), ...extra, ...runtimeFunctions()], data, entry: "main", trapHandler: "trap" };
}

// ---- booting -------------------------------------------------------------------------------------

interface BootResult {
  status: number | null; exitCode: number | null; serial: string; stderr: string; timedOut: boolean;
}

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
