// Contract: test support for the kernel: the kernel's ELF (kernel-src/ at -O2) in a temporary directory per
// test file, compiled once per `make test` run (KERNEL_CACHE_VARIABLE), and readers for the lines the kernel
// prints on COM1 (see kernel-src/main.ts).

import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernel, buildIso, type BuiltImage } from "../../tools/build.ts";

/** isa-debug-exit statuses written by the kernel (kernel-src/machine.ts). */
export const EXIT_SUCCESS = 0x00;
export const EXIT_PANIC = 0x31;
export const EXIT_TRAP = 0x32;
/** A CPU exception the kernel cannot resolve: EXIT_EXCEPTION_BASE + vector (kernel-src/exceptions.ts). */
export const EXIT_EXCEPTION_BASE = 0x40;

export const BANNER = /^Denali\/TS isolation kernel \d+\.\d+\.\d+$/m;

export interface KernelBuild { dir: string; elf: string; iso?: string; remove(): void }
/** A kernel compiled in the test's own process: its compiler's output too (symbols, entry, IR). */
export interface CompiledKernel extends KernelBuild { built: BuiltImage }

/**
 * The environment variable tools/test-summary.sh sets for a `make test` run: a directory of its own for the run
 * (removed at its end), where the first test file to need the kernel leaves its ELF for the others. The sources
 * do not change during a run, so every file boots the kernel it would have compiled, 39 compiles become one or two
 * (two files may start at once), and the run is several minutes shorter. Without it (ava run by hand) each file
 * compiles its own, as a run that edits the kernel between files needs.
 */
export const KERNEL_CACHE_VARIABLE = "DENALI_KERNEL_CACHE";

/** Compiles the kernel (-O2) and, when asked, the hybrid ISO, into a fresh temporary directory. */
export function compileKernelInTemp(withIso = false): CompiledKernel {
  const dir = mkdtempSync(join(tmpdir(), "denali-kernel-test-"));
  const built = buildKernel(2, dir, dir);
  const iso = withIso ? isoOf(built.elfPath, dir) : undefined;
  return { dir, built, elf: built.elfPath, iso, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The kernel's ELF (and the ISO, when asked) in a fresh temporary directory: the run's copy, or compiled. */
export function buildKernelInTemp(withIso: boolean): KernelBuild {
  const cache = process.env[KERNEL_CACHE_VARIABLE];
  const cached = cache ? join(cache, "denali.elf") : "";
  if (!cache || !existsSync(cached)) {
    const compiled = compileKernelInTemp(withIso);
    if (cache) {                       // written aside and renamed: another file reads all of it or nothing
      const partial = `${cached}.${process.pid}.partial`;
      copyFileSync(compiled.elf, partial);
      renameSync(partial, cached);
    }
    return compiled;
  }
  const dir = mkdtempSync(join(tmpdir(), "denali-kernel-test-"));
  const elf = join(dir, "denali.elf");
  copyFileSync(cached, elf);
  const iso = withIso ? isoOf(elf, dir) : undefined;
  return { dir, elf, iso, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function isoOf(elf: string, dir: string): string {
  const iso = join(dir, "denali.iso");
  buildIso(elf, iso);
  return iso;
}

/** The serial output without carriage returns (GRUB writes \n\r before the kernel's first line). */
export function serialLines(serial: string): string {
  return serial.replace(/\r/g, "");
}

/**
 * What VM `vm` printed, line by line, without the kernel's `[vm N] ` prefix (docs/virtual-architecture.md
 * "Console": the prefix is the kernel's, so a guest cannot forge another VM's lines or the kernel's).
 */
export function guestLines(out: string, vm: number): string[] {
  const prefix = `[vm ${vm}] `;
  return out.split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

interface MemoryMapLine { base: bigint; length: bigint; type: number; typeName: string }

const MMAP_LINE = /^mmap: base 0x([0-9a-f]{16}) length 0x([0-9a-f]{16}) type (\d+) \(([^)]*)\)$/gm;

export function memoryMap(serial: string): MemoryMapLine[] {
  return [...serialLines(serial).matchAll(MMAP_LINE)].map((m) => ({ base: BigInt(`0x${m[1]}`), length: BigInt(`0x${m[2]}`), type: Number(m[3]), typeName: m[4] }));
}

/** The "usable memory: N KiB (M MiB)" line, or null. */
export function usableMemory(serial: string): { kib: number; mib: number } | null {
  const m = /^usable memory: (\d+) KiB \((\d+) MiB\)$/m.exec(serialLines(serial));
  return m ? { kib: Number(m[1]), mib: Number(m[2]) } : null;
}

/** The "memory: lower L KiB, upper U KiB" line, or null. */
export function lowerUpperMemory(serial: string): { lower: number; upper: number } | null {
  const m = /^memory: lower (\d+) KiB, upper (\d+) KiB$/m.exec(serialLines(serial));
  return m ? { lower: Number(m[1]), upper: Number(m[2]) } : null;
}

/** The "boot instructions: N" line, or null. */
export function bootInstructions(serial: string): number | null {
  const m = /^boot instructions: (\d+)$/m.exec(serialLines(serial));
  return m ? Number(m[1]) : null;
}
