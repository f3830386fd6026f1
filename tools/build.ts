// Builds images: DSL -> IR -> x86 -> ELF (compiler/pipeline.ts, compiler/link), plus listings, IR dumps
// and the bootable ISO (grub-mkrescue). Used by the CLI, the tests and the benchmarks.
import { mkdirSync, writeFileSync, mkdtempSync, copyFileSync, rmSync, renameSync } from 'node:fs';
import { join, resolve, dirname, basename } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compile, type CompileOptions } from '../compiler/pipeline.ts';
import { compileToImage, type Image } from '../compiler/link/index.ts';
import { GUEST_BASE } from '../abi/boot.ts';
import { printModule } from '../compiler/print.ts';
import { encodeModule } from '../compiler/bytecode/encode.ts';
import { BYTECODE_DATA_OFFSET, BYTECODE_DATA_ALIGN } from '../abi/bytecode.ts';
import { CompileError } from '../compiler/frontend/diagnostics.ts';
import type * as ir from '../compiler/ir.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KERNEL_MAIN = join(ROOT, 'kernel-src', 'main.ts');
export const KERNEL_RUNTIME = join(ROOT, 'kernel-src', 'runtime.ts');

/** Standalone programs get a 1 MiB stack (deep recursion at -O0) over an unmapped guard page (x86/guard.ts). */
const PROGRAM_STACK_SIZE = 1 << 20;

/** -O0 keeps every value in its frame home (for debugging); -O2 allocates registers. */
export function programImage(module: ir.Module, optimize: 0 | 2 = 2): Image {
  return compileToImage(module, { stackSize: PROGRAM_STACK_SIZE, registerAllocation: optimize >= 2,
    stackGuard: 'program' });
}

/** Compiles DSL files to a Module or throws CompileError with the diagnostics. */
export function compileOrThrow(options: CompileOptions): ir.Module {
  const result = compile(options);
  if (!result.module) throw new CompileError(result.diagnostics);
  return result.module;
}

export interface BuiltImage { module: ir.Module; image: Image; elfPath: string; listingPath: string; irPath: string }

/** Compiles and links; writes NAME.elf to `imagesDir`, NAME.lst and NAME.ir to `outDir`. */
function buildImage(
  name: string, options: CompileOptions, imagesDir = join(ROOT, 'images'), outDir = join(ROOT, 'out'),
): BuiltImage {
  const module = compileOrThrow(options);
  const image = compileToImage(module, { registerAllocation: (options.optimize ?? 2) >= 2 });
  mkdirSync(imagesDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const elfPath = join(imagesDir, `${name}.elf`), listingPath = join(outDir, `${name}.lst`), irPath = join(outDir, `${name}.ir`);
  // Written aside and renamed: a QEMU booting the previous image (a boot that found it stale while
  // another rebuilds it) reads either the old file or the new one, never a half-written one.
  const partial = `${elfPath}.${process.pid}.partial`;
  writeFileSync(partial, image.elf);
  renameSync(partial, elfPath);
  writeFileSync(listingPath, image.listing);
  writeFileSync(irPath, printModule(module));
  return { module, image, elfPath, listingPath, irPath };
}

export const GUEST_RUNTIME = join(ROOT, 'guest-src', 'runtime', 'runtime.ts');
/**
 * A guest's stack is a segment of its own above an unmapped guard page (private to each VM; the kernel
 * ends a VM that touches the guard with "stack overflow"): small, since thousands of VMs share RAM.
 */
const GUEST_STACK_SIZE = 16 * 1024;

/** Links a guest module: at GUEST_BASE, no multiboot header, a guarded stack (docs/virtual-architecture.md). */
export function guestImage(module: ir.Module, optimize: 0 | 2 = 2): Image {
  return compileToImage(module, { registerAllocation: optimize >= 2, baseAddress: GUEST_BASE, multiboot: false,
    stackSize: GUEST_STACK_SIZE, stackGuard: 'guest' });
}

/**
 * A guest image (docs/virtual-architecture.md): linked at GUEST_BASE with no multiboot header, entry
 * `guestMain(magic, bootInfo)`, the guest runtime; written to imagesDir/guest-NAME.elf.
 */
export function buildGuest(name: string, mainFile: string, optimize: 0 | 2 = 2, imagesDir = join(ROOT, 'images'), outDir = join(ROOT, 'out')): BuiltImage {
  const module = compileOrThrow({ files: [mainFile], mode: 'guest', entry: 'guestMain', runtime: GUEST_RUNTIME, optimize });
  const image = guestImage(module, optimize);
  mkdirSync(imagesDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const elfPath = join(imagesDir, `guest-${name}.elf`), listingPath = join(outDir, `guest-${name}.lst`), irPath = join(outDir, `guest-${name}.ir`);
  writeFileSync(elfPath, image.elf);
  writeFileSync(listingPath, image.listing);
  writeFileSync(irPath, printModule(module));
  return { module, image, elfPath, listingPath, irPath };
}

/** A guest compiled to DNBC bytecode for a bytecode VM (docs/bytecode.md "Bytecode VMs"). */
export interface BuiltBytecode {
  module: ir.Module; bytes: Uint8Array; path: string; irPath: string;
  /** Bytes of its memory before the boot page: its data laid out from GUEST_BASE, then its stack. */
  spanBytes: number;
}

/**
 * The same guest as buildGuest (the same compiler, -O2 passes, runtime and entry), encoded as DNBC
 * instead of linked: imagesDir/guest-NAME.dnbc, the module a bytecode group's VMs run.
 */
export function buildGuestBytecode(name: string, mainFile: string, imagesDir = join(ROOT, 'images'),
  outDir = join(ROOT, 'out')): BuiltBytecode {
  const module = compileOrThrow({ files: [mainFile], mode: 'guest', entry: 'guestMain', runtime: GUEST_RUNTIME,
    optimize: 2 });
  const bytes = encodeModule(module);
  mkdirSync(imagesDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const path = join(imagesDir, `guest-${name}.dnbc`), irPath = join(outDir, `guest-${name}.bytecode.ir`);
  writeFileSync(path, bytes);
  writeFileSync(irPath, printModule(module));
  return { module, bytes, path, irPath, spanBytes: bytecodeSpan(module) };
}

/**
 * Bytes from GUEST_BASE to the end of a bytecode VM's data (abi/bytecode.ts "a bytecode VM's memory"): the
 * stack and the boot information, then the data from BYTECODE_DATA_OFFSET aligned up to its largest alignment.
 */
export function bytecodeSpan(module: ir.Module): number {
  let end = 0, align = BYTECODE_DATA_ALIGN;
  for (const d of module.data) {
    end = Math.ceil(end / d.align) * d.align + d.size;
    align = Math.max(align, d.align);
  }
  const base = Math.ceil(BYTECODE_DATA_OFFSET / align) * align;
  return base + Math.ceil(end / BYTECODE_DATA_ALIGN) * BYTECODE_DATA_ALIGN;
}

export function buildKernel(optimize: 0 | 2 = 2, imagesDir?: string, outDir?: string): BuiltImage {
  return buildImage('denali', { files: [KERNEL_MAIN], mode: 'kernel', entry: 'kmain', runtime: KERNEL_RUNTIME, optimize }, imagesDir, outDir);
}

/**
 * Makes a hybrid ISO (boots from CD and, written to a USB stick, as a disk) with GRUB loading the ELF
 * as a multiboot kernel; GRUB talks on the serial line and the screen. `commandLine` (e.g. "test=selftest")
 * is appended to GRUB's `multiboot` line: the kernel reads it as its command line, as with QEMU -append.
 */
export function buildIso(elfPath: string, isoPath: string, modules: string[] = [], commandLine = ''): void {
  if (/[\n"'$\\;]/.test(commandLine)) throw new Error(`buildIso: unsafe characters in the kernel command line: ${JSON.stringify(commandLine)}`);
  const dir = mkdtempSync(join(tmpdir(), 'denali-iso-'));
  try {
    mkdirSync(join(dir, 'boot', 'grub'), { recursive: true });
    copyFileSync(elfPath, join(dir, 'boot', 'denali.elf'));
    // Each module's command line is its file name, as with QEMU -initrd (the kernel finds the VM
    // manifest by the name `manifest`).
    const moduleLines = modules.map((m, i) => {
      const file = `module${i}`;
      const name = basename(m);
      if (/[\s"'$\\;]/.test(name)) throw new Error(`buildIso: unsafe characters in a module file name: ${JSON.stringify(name)}`);
      copyFileSync(m, join(dir, 'boot', file));
      return `  module /boot/${file} ${name}`;
    });
    writeFileSync(join(dir, 'boot', 'grub', 'grub.cfg'), [
      'serial --unit=0 --speed=115200',
      'terminal_input serial console',
      'terminal_output serial console',
      'set timeout=0',
      'set default=0',
      'menuentry "Denali/TS" {',
      `  multiboot /boot/denali.elf${commandLine ? ` ${commandLine}` : ''}`,
      ...moduleLines,
      '  boot',
      '}',
      '',
    ].join('\n'));
    mkdirSync(dirname(isoPath), { recursive: true });
    execFileSync('grub-mkrescue', ['-o', isoPath, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
