// Test support for the VM tests (test/kernel/vm*.test.ts): builds the guests of this directory with
// their own small runtime (runtime.ts), writes manifests in the kernel's format (kernel-src/manifest.ts)
// and boots the kernel with them as multiboot modules (the manifest module's file is named `manifest`).
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { compileOrThrow, guestImage, bytecodeSpan } from "../../../tools/build.ts";
import { encodeModule } from "../../../compiler/bytecode/encode.ts";
import { packManifest, guaranteedKiBOf, defaultNetwork, type NetLimits } from "../../../tools/manifest.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const TEST_GUEST_RUNTIME = join(HERE, "runtime.ts");

/** Compiles guests/NAME.ts into dir/NAME.elf (linked at GUEST_BASE, entry guestMain). */
export function buildTestGuest(name: string, dir: string): string {
  const module = compileOrThrow({ files: [join(HERE, `${name}.ts`)], mode: "guest", entry: "guestMain", runtime: TEST_GUEST_RUNTIME, optimize: 2 });
  const image = guestImage(module);
  const path = join(dir, `${name}.elf`);
  writeFileSync(path, image.elf);
  return path;
}

/**
 * Compiles guests/NAME.ts into dir/NAME.dnbc, DNBC bytecode for a bytecode VM (docs/bytecode.md "Bytecode
 * VMs"); also the KiB of memory its VM needs (data, the interpreter's stack, the boot page).
 */
export function buildTestGuestBytecode(name: string, dir: string): { path: string; memoryKiB: number } {
  const module = compileOrThrow({
    files: [join(HERE, `${name}.ts`)], mode: "guest", entry: "guestMain", runtime: TEST_GUEST_RUNTIME, optimize: 2,
  });
  const path = join(dir, `${name}.dnbc`);
  writeFileSync(path, encodeModule(module));
  return { path, memoryKiB: Math.ceil((bytecodeSpan(module) + 4096) / 4096) * 4 };
}

/**
 * Compiles guests/control.ts (the control VM of control.test.ts) with the ELF file `imagePath` embedded
 * at build time: the module's zeroed array `pushedImage` becomes initialized data holding the file's
 * length (bytes 0..3) and its bytes (from 4). Writes dir/control.elf.
 */
export function buildControlGuest(dir: string, imagePath: string): string {
  const module = compileOrThrow({
    files: [join(HERE, "control.ts")], mode: "guest", entry: "guestMain", runtime: TEST_GUEST_RUNTIME, optimize: 2,
  });
  const symbol = module.data.find((d) => d.name === "pushedImage");
  const file = readFileSync(imagePath);
  const header = 4;                       // a typed array's length word (compiler/frontend/lower/globals.ts)
  if (!symbol || symbol.section !== "bss" || header + 4 + file.length > symbol.size) {
    throw new Error(`guests/control.ts: no bss array pushedImage large enough for ${imagePath} (${file.length} bytes)`);
  }
  const bytes = new Uint8Array(symbol.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, (symbol.size - header) >>> 0, true);   // the array's length, as __start would store it
  view.setUint32(header, file.length, true);
  bytes.set(file, header + 4);
  Object.assign(symbol, { section: "data", bytes });
  const path = join(dir, "control.elf");
  writeFileSync(path, guestImage(module).elf);
  return path;
}

/**
 * A group of the kernel's binary manifest, addresses as the tests write them: u32s whose bytes in memory
 * are a.b.c.d (network byte order read little-endian: 10.0.0.1 is 0x0100000a). Absent: ipBase 10.0.0.1,
 * guaranteedKiB, netmask and gateway tools/manifest.ts's defaults.
 */
export interface Group {
  moduleIndex: number; vmCount: number; memoryKiB: number; argument: number; ipBase?: number; guaranteedKiB?: number;
  netmask?: number; gateway?: number; control?: boolean; cpuWeight?: number; cpuCapPercent?: number;
  limits?: NetLimits; memoryCapKiB?: number;
  /** The module is DNBC bytecode: the group's VMs are bytecode VMs. */
  bytecode?: boolean;
}

/** a.b.c.d as the tests write it (bytes in memory) <-> as tools/manifest.ts does (a << 24 | ...). */
const swap = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/** The manifest module, packed by tools/manifest.ts's packManifest (the DNMF format's one writer). */
function manifestBytes(groups: Group[]): Uint8Array {
  return packManifest(groups.map((g) => {
    const ipBase = swap(g.ipBase ?? 0x0100000a);
    const defaults = defaultNetwork(ipBase);
    return {
      moduleIndex: g.moduleIndex, vmCount: g.vmCount, memoryKiB: g.memoryKiB, argument: g.argument, ipBase,
      guaranteedKiB: guaranteedKiBOf(g),
      netmask: g.netmask !== undefined ? swap(g.netmask) : defaults.netmask,
      gateway: g.gateway !== undefined ? swap(g.gateway) : defaults.gateway, control: g.control,
      cpuWeight: g.cpuWeight, cpuCapPercent: g.cpuCapPercent, limits: g.limits,
      memoryCapKiB: g.memoryCapKiB, bytecode: g.bytecode,
    };
  }));
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

export const MODE = {
  counter: 0, spinner: 1, compute: 2, attack: 3, efault: 4, bench: 5, ping: 6, management: 7, stopper: 8, yielder: 9,
  entry: 10, secret: 11,
} as const;

export interface VmSummary { id: number; kcycles: number; switches: number; outcome: string }

/** The scheduler's summary lines: `vm N: cpu K kcycles, switches S, OUTCOME`. */
export function vmSummaries(serial: string): Map<number, VmSummary> {
  const out = new Map<number, VmSummary>();
  for (const m of serial.replace(/\r/g, "").matchAll(/^vm (\d+): cpu (\d+) kcycles, switches (\d+), (.*)$/gm)) {
    out.set(Number(m[1]), { id: Number(m[1]), kcycles: Number(m[2]), switches: Number(m[3]), outcome: m[4] });
  }
  return out;
}
