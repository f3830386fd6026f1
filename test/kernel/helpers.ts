// Contract: test support for the kernel: one build of kernel-src/ into a temporary directory per test
// file, and readers for the lines the kernel prints on COM1 (see kernel-src/main.ts).

import { mkdtempSync, rmSync } from "node:fs";
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

export interface KernelBuild { dir: string; built: BuiltImage; elf: string; iso?: string; remove(): void }

/** Builds the kernel (-O2) and, when asked, the hybrid ISO, into a fresh temporary directory. */
export function buildKernelInTemp(withIso: boolean): KernelBuild {
  const dir = mkdtempSync(join(tmpdir(), "denali-kernel-test-"));
  const built = buildKernel(2, dir, dir);
  let iso: string | undefined;
  if (withIso) {
    iso = join(dir, "denali.iso");
    buildIso(built.elfPath, iso);
  }
  return { dir, built, elf: built.elfPath, iso, remove: () => rmSync(dir, { recursive: true, force: true }) };
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
