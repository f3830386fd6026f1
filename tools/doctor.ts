// `denali doctor` (issue 21 item 2): what each feature needs on this machine, checked one by one, and
// per feature either "ready" or what is missing with the Debian package or the change that supplies it
// (tools/setup.sh installs the same packages). Other commands that find a tool missing point here
// (missingTool). Exit status: 0 when every feature is ready, 1 otherwise.
import { accessSync, constants, existsSync, statfsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './build.ts';
import { tapUnavailable } from './net.ts';

/** A Debian package per tool (or file) a feature needs: what setup.sh would apt-get install. */
const PACKAGES: Record<string, string> = {
  'qemu-system-i386': 'qemu-system-x86', 'grub-mkrescue': 'grub-common', '/usr/lib/grub/i386-pc': 'grub-pc-bin',
  xorriso: 'xorriso', mformat: 'mtools', bochs: 'bochs', '/usr/share/bochs/BIOS-bochs-latest': 'bochsbios',
  '/usr/share/vgabios': 'vgabios', iptables: 'iptables', curl: 'curl', ab: 'apache2-utils',
  ping: 'iputils-ping', gdb: 'gdb', objdump: 'binutils', readelf: 'binutils', gcc: 'gcc-multilib',
};
/** The oldest QEMU the kernel and the tests are checked against (Debian 12's is 7.2). */
const QEMU_MAJOR_MIN = 7;
const NODE_MAJOR_MIN = 20;
/** Free space under out/ that `--swap` images and the benches' sparse disks want at least. */
const SWAP_FREE_MIN = 1 << 30;

/** The executable `name` on PATH, or null. */
function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try { accessSync(join(dir, name), constants.X_OK); return join(dir, name); } catch { /* not here */ }
  }
  return null;
}

/** For a command that needs `tool`: null when it is there, else a message that points to the doctor. */
export function missingTool(tool: string): string | null {
  if (which(tool)) return null;
  return `${tool} is not installed (Debian: apt-get install ${PACKAGES[tool] ?? tool}); ` +
    "'npx denali doctor' lists what each feature needs";
}

interface Finding { feature: string; problems: string[]; ready: string }

/** Tools (executables on PATH) and files (absolute paths) that must exist: a problem per missing one. */
function needs(items: string[]): string[] {
  const problems: string[] = [];
  for (const item of items) {
    const present = item.startsWith('/') ? existsSync(item) : which(item) !== null;
    if (!present) problems.push(`${item} missing: apt-get install ${PACKAGES[item] ?? item}`);
  }
  return problems;
}

function qemuVersion(): string | null {
  const r = spawnSync('qemu-system-i386', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? /version (\d+\.\d+(\.\d+)?)/.exec(r.stdout)?.[1] ?? null : null;
}

/** Every feature's findings, in the order a newcomer meets them. */
function diagnose(): Finding[] {
  const findings: Finding[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const toolchain: string[] = [];
  if (nodeMajor < NODE_MAJOR_MIN) {
    toolchain.push(`Node ${process.versions.node}: Node ${NODE_MAJOR_MIN} or later needed`);
  }
  for (const pkg of ['ts-morph', 'iced-x86', 'zod', 'ava']) {
    if (!existsSync(join(ROOT, 'node_modules', pkg))) toolchain.push(`npm package ${pkg} missing: npm ci`);
  }
  findings.push({ feature: 'toolchain (build, run --target interp|node)', problems: toolchain,
    ready: `Node ${process.versions.node}, npm packages installed` });

  const qemu = needs(['qemu-system-i386']);
  const version = qemu.length === 0 ? qemuVersion() : null;
  if (qemu.length === 0 && (version === null || Number(version.split('.')[0]) < QEMU_MAJOR_MIN)) {
    qemu.push(`QEMU ${version ?? 'of unknown version'}: ${QEMU_MAJOR_MIN}.0 or later needed (Debian 12: 7.2)`);
  }
  findings.push({ feature: 'QEMU (boot, run --target qemu, the tests)', problems: qemu, ready: `QEMU ${version}` });

  findings.push({ feature: 'ISO for CD and USB stick (build, boot --cdrom|--usb, make usb)',
    problems: needs(['grub-mkrescue', '/usr/lib/grub/i386-pc', 'xorriso', 'mformat']),
    ready: 'GRUB, xorriso, mtools' });
  findings.push({ feature: 'Bochs (boot --bochs)',
    problems: needs(['bochs', '/usr/share/bochs/BIOS-bochs-latest', '/usr/share/vgabios']),
    ready: 'Bochs and its BIOS' });

  const tap = tapUnavailable();              // what `boot --net tap` and the tap tests check themselves
  findings.push({ feature: 'tap networking (boot --net tap, the web tests and benches)', problems: tap ? [tap] : [],
    ready: 'root, /dev/net/tun, iproute2' });
  findings.push({ feature: 'network tests (loss, clients, hostile traffic)',
    problems: needs(['iptables', 'curl', 'ab', 'ping']), ready: 'iptables, curl, ab, ping' });

  const swap: string[] = [];
  const out = join(ROOT, 'out');
  mkdirSync(out, { recursive: true });
  const fs = statfsSync(out);
  const free = fs.bavail * fs.bsize;
  if (free < SWAP_FREE_MIN) swap.push(`${Math.floor(free / 2 ** 20)} MiB free under out/: 1 GiB or more wanted`);
  findings.push({ feature: 'swap images (boot --swap SIZE)', problems: swap,
    ready: `${Math.floor(free / 2 ** 30)} GiB free under out/ (images are sparse)` });
  findings.push({ feature: 'debugging and listings (gdb, objdump, readelf)',
    problems: needs(['gdb', 'objdump', 'readelf']), ready: 'gdb, binutils' });
  return findings;
}

/** `denali doctor`: a line per feature, then the count; 0 when all are ready. */
export function doctor(): number {
  const findings = diagnose();
  for (const f of findings) {
    if (f.problems.length === 0) { console.log(`doctor: ${f.feature}: ready (${f.ready})`); continue; }
    console.log(`doctor: ${f.feature}: NOT READY`);
    for (const p of f.problems) console.log(`  - ${p}`);
  }
  const ready = findings.filter(f => f.problems.length === 0).length;
  console.log(`doctor: ${ready} of ${findings.length} features ready` +
    (ready < findings.length ? " (as root, 'bash tools/setup.sh' installs the packages)" : ''));
  return ready === findings.length ? 0 : 1;
}
