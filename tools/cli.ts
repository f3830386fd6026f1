// `denali` — the command line: build the kernel image, run a DSL program on a target, boot the image.
// The options' shapes and help are tools/cli-options.ts's (an unknown option, a missing value: exit 2);
// every value is validated with zod; a bad one prints zod's message with the option's name.
import { z } from 'zod';
import {
  existsSync, mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, statSync, readFileSync,
} from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { compile } from '../compiler/pipeline.ts';
import { formatDiagnostic, CompileError } from '../compiler/frontend/diagnostics.ts';
import { runModule } from '../compiler/bytecode/interpreter.ts';
import { printModule } from '../compiler/print.ts';
import {
  runQemu, parseProgramSerial, interpreterOutcome, userNetArgs, tapNetArgs, ConsoleLine, createSwapImage, swapDiskArgs,
  NIC_MODELS, DISK_KINDS, DISK_DRIVER_NAMES, type DiskKind,
} from './qemu.ts';
import { createInterface, type Interface } from 'node:readline';
import {
  NET_MODES, DEFAULT_HOST_PORT, TAP_HOST_ADDRESS, MAX_FORWARDS, vmAddresses, userForwards, describeUserNet,
  tapUnavailable, createTapNamespace, type TapNamespace,
} from './net.ts';
import { formatIp } from './manifest.ts';
import { runBochs } from './bochs.ts';
import { ROOT, buildKernel, buildIso, programImage } from './build.ts';
import { buildManifest, describeManifest, ManifestError, type ManifestBuild } from './manifest.ts';
import { COMMANDS, overallHelp, commandHelp, parseCommandLine } from './cli-options.ts';
import { doctor, missingTool } from './doctor.ts';
import { kernelSymbols, runDebugSession } from './debug.ts';
import { PushOptions, ListOptions, StopOptions, push, listVms, stopVm } from './control-cli.ts';
import { controlKeyFile } from './control-client.ts';

const optimizeFlag = z.enum(['-O0', '-O2']).default('-O2').transform(s => (s === '-O0' ? 0 : 2) as 0 | 2);

const TIMEOUT_MESSAGE = '--timeout must be a whole number of seconds from 1 to 3600';
const BOOT_TIMEOUT_MESSAGE = '--timeout must be a whole number of seconds from 0 (until stopped) to 86400';
const MEMORY_MESSAGE = '--memory must be a whole number of MiB from 16 to 3072';
const RunOptions = z.object({
  target: z.enum(['interp', 'qemu', 'node'], { message: "--target must be one of 'interp', 'qemu', 'node'" }),
  optimize: optimizeFlag,
  emitIr: z.boolean().default(false),
  plain: z.boolean().default(false),
  file: z.string({ message: 'a FILE.ts to run is required' }).min(1),
  timeout: z.coerce.number({ message: TIMEOUT_MESSAGE }).int({ message: TIMEOUT_MESSAGE })
    .positive({ message: TIMEOUT_MESSAGE }).max(3600, { message: TIMEOUT_MESSAGE }).default(60),
}).superRefine((o, ctx) => {
  if (o.plain && o.target !== 'node') ctx.addIssue({ code: 'custom', path: ['plain'], message: '--plain applies to --target node only' });
});
/** --manifest FILE: a VM manifest (tools/manifest.ts validates its contents). */
const manifestOption = z.string({ message: '--manifest needs a FILE' }).min(1, { message: '--manifest needs a FILE' })
  .refine(f => existsSync(resolve(f)), { message: 'no such file' }).optional();
const BuildOptions = z.object({ optimize: optimizeFlag, iso: z.boolean().default(true), manifest: manifestOption });
/** Binary units of --swap sizes. */
const SIZE_UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
const SWAP_SIZE_MESSAGE =
  '--swap must be a size such as 64M or 8G (a whole number and K, M, G or T; whole 4K pages), from 1M to 1T';
/** --swap SIZE: bytes of the swap disk (a whole number of 4 KiB pages; the kernel's sectors are u32). */
const swapOption = z.string({ message: SWAP_SIZE_MESSAGE })
  .regex(/^[0-9]+[KMGT]$/i, { message: SWAP_SIZE_MESSAGE })
  .transform(s => Number(s.slice(0, -1)) * SIZE_UNITS[s.slice(-1).toUpperCase()])
  .refine(bytes => bytes >= SIZE_UNITS.M && bytes <= SIZE_UNITS.T && bytes % 4096 === 0, { message: SWAP_SIZE_MESSAGE })
  .optional();
const VM_MESSAGE = '--vm must be a VM number (0 for the first VM of the manifest)';
const DebugOptions = z.object({
  manifest: manifestOption,
  vm: z.coerce.number({ message: VM_MESSAGE }).int({ message: VM_MESSAGE }).min(0, { message: VM_MESSAGE }).optional(),
  memory: z.coerce.number({ message: MEMORY_MESSAGE }).int({ message: MEMORY_MESSAGE })
    .min(16, { message: MEMORY_MESSAGE }).max(3072, { message: MEMORY_MESSAGE }).default(128),
  commands: z.string().refine(f => existsSync(resolve(f)), { message: 'no such file' }).optional(),
}).superRefine((o, ctx) => {
  if (o.vm !== undefined && o.manifest === undefined) {
    ctx.addIssue({ code: 'custom', path: ['vm'], message: '--vm needs a --manifest (the VMs come from it)' });
  }
});
const BootOptions = z.object({
  medium: z.enum(['kernel', 'cdrom', 'usb', 'bochs']).default('kernel'),
  /** Seconds; 0 = until interrupted. Default: 30, or 0 with --net (servers keep serving). */
  timeout: z.coerce.number({ message: BOOT_TIMEOUT_MESSAGE }).int({ message: BOOT_TIMEOUT_MESSAGE })
    .min(0, { message: BOOT_TIMEOUT_MESSAGE }).max(86400, { message: BOOT_TIMEOUT_MESSAGE }).optional(),
  memory: z.coerce.number({ message: MEMORY_MESSAGE }).int({ message: MEMORY_MESSAGE })
    .min(16, { message: MEMORY_MESSAGE }).max(3072, { message: MEMORY_MESSAGE }).default(128),
  manifest: manifestOption,
  net: z.enum(NET_MODES, { message: "--net must be one of 'user', 'tap', 'none'" }).optional(),
  nic: z.enum(NIC_MODELS, { message: "--nic must be one of 'virtio', 'e1000', 'e1000e'" }).optional(),
  'host-port': z.coerce.number().int().min(1024, { message: '--host-port must be a port number from 1024 to 65535' })
    .max(65535, { message: '--host-port must be a port number from 1024 to 65535' }).default(DEFAULT_HOST_PORT),
  swap: swapOption,
  disk: z.enum(DISK_KINDS, { message: "--disk must be one of 'virtio', 'ahci', 'nvme'" }).optional(),
}).superRefine((o, ctx) => {
  if (o.net !== undefined && o.net !== 'none' && o.medium === 'bochs') {
    ctx.addIssue({ code: 'custom', path: ['net'], message: '--net needs QEMU (not --bochs)' });
  }
  if (o.nic !== undefined && (o.net === 'none' || o.medium === 'bochs')) {
    ctx.addIssue({ code: 'custom', path: ['nic'], message: '--nic needs QEMU with --net user or tap' });
  }
  if (o.swap !== undefined && o.medium === 'bochs') {
    ctx.addIssue({ code: 'custom', path: ['swap'], message: '--swap needs QEMU (not --bochs)' });
  }
  if (o.disk !== undefined && o.swap === undefined) {
    ctx.addIssue({ code: 'custom', path: ['disk'], message: '--disk needs --swap SIZE (the disk is the swap disk)' });
  }
}).transform(o => ({
  ...o,
  // `--nic` alone: the card on QEMU user networking.
  net: o.net ?? (o.nic !== undefined ? 'user' : 'none'),
  nic: o.nic ?? 'virtio',
}));

function validate<T>(command: string, schema: z.ZodType<T>, input: unknown): T | null {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  for (const issue of r.error.issues) console.error(`denali: ${issue.path.length ? `--${issue.path.join('.')}: ` : ''}${issue.message}`);
  console.error(`run 'denali ${command} --help' for its options`);
  return null;
}

/** `denali-ts 0.1.0 (commit abc1234)`: package.json's version and the checkout's commit, when it is one. */
function version(): string {
  const { version: v } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const git = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return `denali-ts ${v} (commit ${git.status === 0 ? git.stdout.trim() : 'unknown: not a git checkout'})`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(overallHelp());
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-V') { console.log(version()); return 0; }
  if (!(command in COMMANDS)) { console.error(`denali: unknown command '${command}'\n\n${overallHelp()}`); return 2; }
  const parsed = parseCommandLine(command, rest);
  if (parsed instanceof Error) {
    console.error(`denali ${command}: ${parsed.message}\nrun 'denali ${command} --help' for its options`);
    return 2;
  }
  if (parsed.help) { console.log(commandHelp(command)); return 0; }
  // The zod schemas' input: each option by its name without dashes, flags as booleans.
  const flag = (name: string) => parsed.options.get(name) === true;
  const value = (name: string) => { const v = parsed.options.get(name); return typeof v === 'string' ? v : undefined; };
  const optimize = flag('-O0') ? '-O0' : flag('-O2') ? '-O2' : undefined;
  try {
    switch (command) {
      case 'run': {
        const o = validate(command, RunOptions, {
          target: value('--target'), optimize, emitIr: flag('--emit-ir'), plain: flag('--plain'),
          file: parsed.positional, timeout: value('--timeout'),
        });
        return o ? await run(o) : 2;
      }
      case 'doctor': return doctor();
      case 'build': {
        const o = validate(command, BuildOptions, { optimize, iso: !flag('--no-iso'), manifest: value('--manifest') });
        return o ? build(o) : 2;
      }
      case 'boot': {
        const medium = flag('--cdrom') ? 'cdrom' : flag('--usb') ? 'usb' : flag('--bochs') ? 'bochs' : 'kernel';
        const o = validate(command, BootOptions, { medium, timeout: value('--timeout'), memory: value('--memory'),
          manifest: value('--manifest'), net: value('--net'), nic: value('--nic'), 'host-port': value('--host-port'),
          swap: value('--swap'), disk: value('--disk') });
        return o ? await boot(o) : 2;
      }
      case 'push': {
        const o = validate(command, PushOptions, { to: value('--to'), key: value('--key'), file: parsed.positional,
          count: value('--count'), memory: value('--memory'), argument: value('--argument'), weight: value('--weight'),
          cap: value('--cap'), 'tx-packets': value('--tx-packets'), 'tx-bytes': value('--tx-bytes'),
          'rx-packets': value('--rx-packets'), 'rx-bytes': value('--rx-bytes'), 'memory-cap': value('--memory-cap') });
        return o ? await push(o) : 2;
      }
      case 'vms': {
        const o = validate(command, ListOptions, { to: value('--to'), key: value('--key') });
        return o ? await listVms(o) : 2;
      }
      case 'stop': {
        const o = validate(command, StopOptions, { to: value('--to'), key: value('--key'), id: parsed.positional });
        return o ? await stopVm(o) : 2;
      }
      case 'debug': {
        const o = validate(command, DebugOptions, { manifest: value('--manifest'), vm: value('--vm'),
          memory: value('--memory'), commands: value('--commands') });
        return o ? await debug(o) : 2;
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof CompileError) { console.error(e.message); return 2; }
    if (e instanceof ManifestError) { for (const line of e.issues) console.error(`denali: ${line}`); return 2; }
    throw e;
  }
}

async function run(o: z.infer<typeof RunOptions>): Promise<number> {
  const file = resolve(o.file);
  if (!existsSync(file)) { console.error(`denali: --file: no such file: ${o.file}`); return 2; }
  if (o.target === 'node') {
    // NODE_PATH lets a program outside any package (loaded as CommonJS) find "dsl" in our node_modules.
    const env = { ...process.env, NODE_PATH: join(ROOT, 'node_modules') };
    const r = spawnSync(process.execPath, [join(ROOT, 'tools', 'node-run.mjs'), ...(o.plain ? ['--plain'] : []), file],
      { stdio: 'inherit', env });
    return r.status ?? 101;
  }
  const result = compile({ files: [file], optimize: o.optimize });
  if (!result.module) { console.error(result.diagnostics.map(formatDiagnostic).join('\n')); return 2; }
  if (o.emitIr) process.stderr.write(printModule(result.module));
  let serial: string;
  if (o.target === 'interp') {
    const r = runModule(result.module);
    if (r.stop === 'error') {
      const o = interpreterOutcome(r);
      process.stdout.write(o.stdout);
      process.stderr.write(o.stderr);
      return 101;
    }
    serial = r.serial;
  } else {
    const missing = missingTool('qemu-system-i386');
    if (missing) { console.error(`denali: ${missing}`); return 2; }
    const image = programImage(result.module, o.optimize);
    const dir = mkdtempSync(join(tmpdir(), 'denali-run-'));
    try {
      const elf = join(dir, 'program.elf');
      writeFileSync(elf, image.elf);
      const r = await runQemu({ kernel: elf }, { timeoutMs: o.timeout * 1000 });
      if (r.timedOut) { process.stdout.write(parseProgramSerial(r.serial).stdout); console.error(`qemu: no exit after ${o.timeout} s`); return 124; }
      serial = r.serial;
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }
  const { stdout, stderr, status } = parseProgramSerial(serial);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  if (status === null) { console.error('denali: the program stopped without an exit status (machine fault)'); return 101; }
  return status;
}

/**
 * The control VM's key file: out/control-key, created on first use. Its name is the boot module's
 * the kernel gives the control VM (kernel-src/vmstart.ts CONTROL_KEY_MODULE).
 */
const CONTROL_KEY_FILE = join(ROOT, 'out', 'control-key');

/**
 * Validates and packs a manifest, compiling its images; prints what it made. A manifest with a control
 * VM gets the key file as its last module (created on first use).
 */
function buildVms(file: string, optimize: 0 | 2): ManifestBuild {
  const started = performance.now();
  const b = buildManifest(resolve(file), { optimize, progress: process.stderr });
  if (b.groups.some(g => g.control)) b.modules.push(controlKeyFile(CONTROL_KEY_FILE));
  for (const line of describeManifest(b)) console.log(line);
  console.log(`modules (${Math.round(performance.now() - started)} ms): ${b.modules.map(m => m.startsWith(ROOT) ? m.slice(ROOT.length + 1) : m).join(' ')}`);
  return b;
}

/** The ISO that boots the kernel with a manifest's modules. */
const MANIFEST_ISO = join(ROOT, 'images', 'denali-vms.iso');

function build(o: z.infer<typeof BuildOptions>): number {
  // The manifest first: a bad one fails fast, before the kernel is compiled.
  const vms = o.manifest ? buildVms(o.manifest, o.optimize) : null;
  const started = performance.now();
  const built = buildKernel(o.optimize);
  console.log(`images/denali.elf: ${built.image.elf.length} bytes, .text ${built.image.textSize} bytes, ${built.module.functions.length} functions (${Math.round(performance.now() - started)} ms)`);
  console.log(`out/denali.lst, out/denali.ir`);
  if (o.iso) {
    const missing = missingTool('grub-mkrescue');
    if (missing) { console.error(`denali: the ISO: ${missing} (--no-iso builds the ELF alone)`); return 2; }
    buildIso(built.elfPath, join(ROOT, 'images', 'denali.iso'));
    console.log('images/denali.iso (hybrid: CD or USB stick)');
    if (vms) {
      buildIso(built.elfPath, MANIFEST_ISO, vms.modules);
      console.log('images/denali-vms.iso (with the manifest and its images as modules)');
    }
  }
  return 0;
}

async function boot(o: z.infer<typeof BootOptions>): Promise<number> {
  const missing = missingTool(o.medium === 'bochs' ? 'bochs' : 'qemu-system-i386');
  if (missing) { console.error(`denali: ${missing}`); return 2; }
  if (o.net !== 'none') return bootNet(o);
  const elf = join(ROOT, 'images', 'denali.elf');
  let iso = join(ROOT, 'images', 'denali.iso');
  // The manifest first: a bad one fails fast, before anything is built.
  const vms = o.manifest ? buildVms(o.manifest, 2) : undefined;
  const initrd = vms?.modules;
  if (vms && controlVm(vms)) console.log('control: no network to reach it: boot with --net user or --net tap');
  buildIfStale(elf, iso, o.medium);
  if (initrd && o.medium !== 'kernel') { buildIso(elf, MANIFEST_ISO, initrd); iso = MANIFEST_ISO; }
  const timeout = o.timeout ?? 30;
  const disk = swapDisk(o.swap, o.disk);
  try {
    const medium = o.medium === 'kernel' ? { kernel: elf, initrd }
      : o.medium === 'cdrom' ? { cdrom: iso } : { usb: iso };
    const r = o.medium === 'bochs'
      ? await runBochs(iso, { timeoutMs: timeout * 1000 })
      : await runQemu(medium, { timeoutMs: timeout * 1000, memoryMiB: o.memory, icount: true, extraArgs: disk.args });
    process.stdout.write(r.serial);
    if (r.timedOut) console.error(`\n[denali boot: stopped after ${timeout} s]`);
    return r.debugExit ?? (r.timedOut ? 124 : 0);
  } finally {
    disk.remove();
  }
}

/** `denali debug` (tools/debug.ts): QEMU stopped at the first instruction, gdb with the symbols and helpers. */
async function debug(o: z.infer<typeof DebugOptions>): Promise<number> {
  for (const tool of ['qemu-system-i386', 'gdb', 'nm']) {
    const missing = missingTool(tool);
    if (missing) { console.error(`denali: ${missing}`); return 2; }
  }
  const vms = o.manifest ? buildVms(o.manifest, 2) : undefined;
  let vm: { index: number; elf: string } | undefined;
  if (vms && o.vm !== undefined) {
    let first = 0;
    const group = vms.groups.find(g => (first += g.vmCount) > o.vm!);
    const total = vms.groups.reduce((n, g) => n + g.vmCount, 0);
    if (!group) { console.error(`denali: --vm: the manifest has ${total} VMs (0 to ${total - 1})`); return 2; }
    const image = vms.images[group.moduleIndex - 1];
    if (image.isolation === 'bytecode') {
      console.error(`denali: --vm: vm ${o.vm} is a bytecode VM (no ELF to debug)`);
      return 2;
    }
    vm = { index: o.vm, elf: image.built.elfPath };
    console.log(`vm ${o.vm}: ${relative(ROOT, vm.elf)} at its link address (the guest base)`);
  }
  const elf = join(ROOT, 'images', 'denali.elf');
  buildIfStale(elf, join(ROOT, 'images', 'denali.iso'), 'kernel');
  const target = { kernel: elf, symbols: kernelSymbols(elf), vm };
  return runDebugSession({ kernel: elf, initrd: vms?.modules }, target,
    { memoryMiB: o.memory, commands: o.commands && resolve(o.commands) });
}

/** Builds images/denali.elf and the ISO when missing, or when kernel-src/ or compiler/ is newer than the ELF. */
function buildIfStale(elf: string, iso: string, medium: z.infer<typeof BootOptions>['medium']): void {
  const missing = !existsSync(elf) || (medium !== 'kernel' && !existsSync(iso));
  const sources = Math.max(newest(join(ROOT, 'kernel-src')), newest(join(ROOT, 'compiler')));
  if (missing || statSync(elf).mtimeMs < sources) build({ optimize: 2, iso: true });
}

/**
 * `--swap SIZE [--disk virtio|ahci|nvme]`: a fresh sparse raw image out/swap-PID.img (one per boot, so boots
 * side by side never share one) and the QEMU flags that attach it as the kernel's swap disk on that
 * controller (tools/qemu.ts swapDiskArgs); `remove` deletes it (swap holds nothing worth keeping once the
 * kernel has stopped).
 */
function swapDisk(bytes: number | undefined, disk: DiskKind = 'virtio'): { args: string[]; remove(): void } {
  if (bytes === undefined) return { args: [], remove: () => {} };
  const image = join(ROOT, 'out', `swap-${process.pid}.img`);
  mkdirSync(join(ROOT, 'out'), { recursive: true });
  createSwapImage(image, bytes);
  console.log(`swap image: ${relative(ROOT, image)}, ${bytes / 2 ** 20} MiB sparse, ${DISK_DRIVER_NAMES[disk]}; `
    + 'removed at exit');
  return { args: swapDiskArgs(image, disk), remove: () => rmSync(image, { force: true }) };
}


/** The manifest's control VM: its index, address (a.b.c.d = a << 24 | ...) and API port; undefined without one. */
function controlVm(vms: ManifestBuild): { vm: number; ip: number; port: number } | undefined {
  let first = 0;
  for (const g of vms.groups) {
    if (g.control) return { vm: first, ip: g.ipBase, port: g.argument === 0 ? 80 : g.argument };
    first += g.vmCount;
  }
  return undefined;
}

/** The addresses after the control VM's that the manifest's VMs do not have (forwarded for pushed VMs). */
function pushedAddresses(controlIp: number, addresses: number[]): number[] {
  const taken = new Set(addresses);
  return Array.from({ length: MAX_FORWARDS }, (_, k) => (controlIp + 1 + k) >>> 0).filter(ip => !taken.has(ip))
    .slice(0, Math.max(0, MAX_FORWARDS - addresses.length));
}

/** A path as a user types it here: relative to the working directory when inside it. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith('..') ? path : r;
}

/** The newest modification time of the files under `dir` (ms). */
function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/**
 * `boot --net user|tap [--nic virtio|e1000|e1000e]`: a network card (virtio-net unless --nic says) on
 * QEMU user networking (ports forwarded to the first VMs) or on a tap device in a network namespace of
 * its own (root). Real time, not -icount: real clients talk to the VMs. Ctrl-C, SIGTERM and the timeout
 * stop QEMU; the namespace (and the swap image) are removed in every case.
 */
async function bootNet(o: z.infer<typeof BootOptions>): Promise<number> {
  if (o.net === 'tap') {
    const why = tapUnavailable();
    if (why) { console.error(`denali: --net: ${why} ('npx denali doctor' lists what each feature needs)`); return 2; }
  }
  const elf = join(ROOT, 'images', 'denali.elf');
  let iso = join(ROOT, 'images', 'denali.iso');
  const vms = o.manifest ? buildVms(o.manifest, 2) : undefined;
  const initrd = vms?.modules;
  buildIfStale(elf, iso, o.medium);
  if (initrd && o.medium !== 'kernel') { buildIso(elf, MANIFEST_ISO, initrd); iso = MANIFEST_ISO; }
  const addresses = vms ? vmAddresses(vms.groups) : [];
  let extraArgs: string[], prefix: string[] | undefined, namespace: TapNamespace | undefined;
  let consoleDir: string | undefined, lines: Interface | undefined, disk: ReturnType<typeof swapDisk> | undefined;
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => { interrupted = signal; controller.abort(); };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  try {
    const control = vms ? controlVm(vms) : undefined;
    if (o.net === 'user') {
      // With a control VM, the addresses after its own get ports too: the VMs it will start.
      const pushed = control ? pushedAddresses(control.ip, addresses) : [];
      const forwards = userForwards([...addresses, ...pushed], o['host-port']);
      for (const line of describeUserNet(addresses, forwards.filter(f => f.vm < addresses.length))) console.log(line);
      for (const f of forwards.filter(f => f.vm >= addresses.length)) {
        console.log(`net user: ${f.ip}:${f.guestPort} <- http://localhost:${f.hostPort}/ (a VM pushed at run time)`);
      }
      const own = forwards.find(f => control && f.vm === control.vm);
      if (control && own && control.port === own.guestPort) {
        console.log(`control: http://localhost:${own.hostPort} key ${shown(CONTROL_KEY_FILE)}`);
      } else if (control) {
        console.log('control: not reachable: give the control group an address in 10.0.2.0/24 and argument 0 '
          + '(port 80)');
      }
      extraArgs = userNetArgs(forwards, o.nic);
    } else {
      namespace = createTapNamespace(`denali-boot-${process.pid}`);
      console.log(`net tap: namespace ${namespace.name}, ${namespace.device} ${TAP_HOST_ADDRESS}; removed on exit`);
      for (const [vm, ip] of addresses.slice(0, 16).entries()) console.log(`net tap: vm ${vm} ${formatIp(ip)}: ip netns exec ${namespace.name} curl http://${formatIp(ip)}/`);
      if (addresses.length > 16) console.log(`net tap: ... ${addresses.length} VMs in all, up to ${formatIp(addresses[addresses.length - 1])}`);
      extraArgs = tapNetArgs(namespace.device, o.nic);
      prefix = namespace.exec;
      if (control) {
        console.log(`control: http://${formatIp(control.ip)}:${control.port} key ${shown(CONTROL_KEY_FILE)}`);
        console.log(`control: from inside the namespace: ip netns exec ${namespace.name} npx denali push --to ...`);
      }
    }
    disk = swapDisk(o.swap, o.disk);
    extraArgs = [...extraArgs, ...disk.args];      // after the card's: it keeps PCI slot 00:03.0
    const medium = o.medium === 'kernel' ? { kernel: elf, initrd } : o.medium === 'cdrom' ? { cdrom: iso } : { usb: iso };
    // The console is live: COM1's output as it comes, and lines typed here go to the kernel's monitor
    // (vms, net, stop: kernel-src/shell.ts).
    consoleDir = mkdtempSync(join(tmpdir(), 'denali-console-'));
    const line = new ConsoleLine(consoleDir);
    if (addresses.length) console.log('console: type vms, net or stop (the summary, then exit); Ctrl-C stops at once');
    lines = createInterface({ input: process.stdin, terminal: false });
    lines.on('line', text => { line.send(text + '\n').catch(() => {}); });
    const timeout = o.timeout ?? 0;
    const r = await runQemu(medium, {
      timeoutMs: timeout * 1000, memoryMiB: o.memory, extraArgs, prefix, signal: controller.signal, console: line,
      onOutput: text => process.stdout.write(text),
    });
    if (r.status !== 0 && r.status !== null && r.debugExit === null && !r.serial) process.stderr.write(r.stderr);
    if (interrupted) { console.error(`\n[denali boot: stopped by ${interrupted}]`); return 130; }
    if (r.timedOut) console.error(`\n[denali boot: stopped after ${timeout} s]`);
    return r.debugExit ?? (r.timedOut ? 124 : 0);
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    lines?.close();
    process.stdin.pause();
    namespace?.remove();
    disk?.remove();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  }
}
