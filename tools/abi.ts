// The guest ABI (abi/) as host code sees it. Its constants are plain TypeScript and are imported
// directly (GUEST_BASE, HYPERCALL_*, ...); a struct's layout is not written down twice: the compiler
// lays out abi/boot.ts's BootInfo here exactly as it does for the kernel and the guests, and host code
// (test/libos/harness.ts writes boot pages, test/abi/abi.test.ts checks the docs' table) reads field
// offsets from it. Requires: abi/boot.ts compiles. Guarantees: offsets equal the compiled code's.
import { join } from 'node:path';
import { loadProgram } from '../compiler/frontend/load.ts';
import { structLayouts } from '../compiler/frontend/lower.ts';
import { formatDiagnostic } from '../compiler/frontend/diagnostics.ts';
import type { StructDef } from '../compiler/frontend/types.ts';
import { ROOT } from './build.ts';

const ABI_BOOT = join(ROOT, 'abi', 'boot.ts');

let bootInfo: StructDef | undefined;

/** BootInfo's layout (fields, offsets, types, size) as the compiler computes it; cached. */
export function bootInfoLayout(): StructDef {
  if (bootInfo) return bootInfo;
  const loaded = loadProgram([ABI_BOOT]);
  const file = loaded.files.find(f => f.fileName === ABI_BOOT);
  const result = file ? structLayouts([file], loaded.checker) : undefined;
  const diagnostics = [...loaded.diagnostics, ...(result?.diagnostics ?? [])];
  const layout = result?.layouts.get('BootInfo');
  if (diagnostics.length || !layout)
    throw new Error(`${ABI_BOOT}: no BootInfo layout\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  bootInfo = layout;
  return layout;
}

/** The byte offset of BootInfo's field `name` (throws for a field the ABI does not have). */
export function bootInfoOffset(name: string): number {
  const field = bootInfoLayout().fields.get(name);
  if (!field) throw new Error(`abi/boot.ts BootInfo has no field '${name}'`);
  return field.offset;
}
