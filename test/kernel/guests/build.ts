// Test support for the VM tests (test/kernel/vm*.test.ts): builds the guests of this directory with
// their own small runtime (runtime.ts), writes manifests in the kernel's format (kernel-src/manifest.ts)
// and boots the kernel with them as multiboot modules (the manifest module's file is named `manifest`).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { compileOrThrow, guestImage } from "../../../tools/build.ts";
import { MANIFEST_VERSION, MANIFEST_HEADER_BYTES, MANIFEST_GROUP_BYTES, guaranteedKiBOf }
  from "../../../tools/manifest.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const TEST_GUEST_RUNTIME = join(HERE, "runtime.ts");

/** Compiles guests/NAME.ts into dir/NAME.elf (linked at GUEST_BASE, entry guestMain). */
export function buildTestGuest(name: string, dir: string): string {
  const module = compileOrThrow({ files: [join(HERE, `${name}.ts`)], mode: "guest", entry: "guestMain", runtime: TEST_GUEST_RUNTIME, optimize: 2 });
  const image = guestImage(module);
  const path = join(dir, `${name}.elf`);
  writeFileSync(path, image.elf);
  return path;
}

/** guaranteedKiB: tools/manifest.ts's default when absent. */
export interface Group {
  moduleIndex: number; vmCount: number; memoryKiB: number; argument: number; ipBase?: number; guaranteedKiB?: number;
}

export const MANIFEST_MAGIC = 0x464d4e44;

/** The manifest bytes: magic, version, groupCount, then per group 6 u32 (little-endian). */
export function manifestBytes(groups: Group[]): Buffer {
  const b = Buffer.alloc(MANIFEST_HEADER_BYTES + MANIFEST_GROUP_BYTES * groups.length);
  b.writeUInt32LE(MANIFEST_MAGIC, 0);
  b.writeUInt32LE(MANIFEST_VERSION, 4);
  b.writeUInt32LE(groups.length, 8);
  groups.forEach((g, i) => {
    const at = MANIFEST_HEADER_BYTES + MANIFEST_GROUP_BYTES * i;
    b.writeUInt32LE(g.moduleIndex, at);
    b.writeUInt32LE(g.vmCount, at + 4);
    b.writeUInt32LE(g.memoryKiB, at + 8);
    b.writeUInt32LE(g.argument >>> 0, at + 12);
    b.writeUInt32LE((g.ipBase ?? 0x0100000a) >>> 0, at + 16);   // 10.0.0.1 in network byte order
    b.writeUInt32LE(guaranteedKiBOf(g), at + 20);
  });
  return b;
}

/** Writes dir/NAME/manifest and returns its path (the module's name must be `manifest`). */
export function writeManifest(dir: string, name: string, groups: Group[]): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  const path = join(sub, "manifest");
  writeFileSync(path, manifestBytes(groups));
  return path;
}

/** argument = mode | param << 8 (guests/worker.ts). */
export function workerArgument(mode: number, param = 0): number { return (mode | (param << 8)) >>> 0; }

export const MODE = { counter: 0, spinner: 1, compute: 2, attack: 3, efault: 4, bench: 5, ping: 6 } as const;

export interface VmSummary { id: number; kcycles: number; switches: number; outcome: string }

/** The scheduler's summary lines: `vm N: cpu K kcycles, switches S, OUTCOME`. */
export function vmSummaries(serial: string): Map<number, VmSummary> {
  const out = new Map<number, VmSummary>();
  for (const m of serial.replace(/\r/g, "").matchAll(/^vm (\d+): cpu (\d+) kcycles, switches (\d+), (.*)$/gm)) {
    out.set(Number(m[1]), { id: Number(m[1]), kcycles: Number(m[2]), switches: Number(m[3]), outcome: m[4] });
  }
  return out;
}
