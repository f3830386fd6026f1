// npm run bench:net — the cost of receiving one packet, by stage (the Denali paper's Figure 2), in
// instructions: QEMU runs with `-icount shift=0,sleep=off`, where rdtsc counts guest instructions, so
// every figure is exact and the same on every run of the same build (checked: two runs must agree).
//
// Setup: the kernel (kernel-src/, -O2) with `-append bench` and one VM, the echo app in bench mode
// (guest-src/apps/echo.ts, argument bit 16: its UDP port 7 hands each datagram to an application that
// copies the data into its own buffer, and does not reply), on QEMU user networking with the host's UDP
// port forwarded to the VM (10.0.2.15:7). The host sends UDP datagrams in Ethernet frames of 100 and of
// 1400 bytes (UDP data 58 and 1358 bytes: 14 Ethernet + 20 IPv4 + 8 UDP headers), PACKETS of each, one
// at a time (each its own NIC interrupt and its own wake-up of the VM). Stages:
//   driver  kernel: the virtio-net interrupt (ISR read, used ring, buffer swap and refill, notify) without
//           the switch (kernel-src/virtio-net.ts: `bench net-rx-driver`, the last frame of the size);
//   switch  kernel: the switch's handling of a frame from the wire (destination VM by MAC, spoof checks,
//           its queue, the virtual interrupt) (kernel-src/switch.ts: `bench net-rx-switch`);
//   wakeup  from the end of that interrupt to the guest calling netReceive (`bench-tsc net-rx-interrupt-end`
//           from the kernel and `bench-tsc net-rx-vnic-start` from the guest, raw TSC values paired by frame):
//           leaving the interrupt, the switch to the idle VM, idle returning the batch, the guest's
//           acknowledge and clock read (libos/stack.ts), the call of netReceive;
//   copy    the netReceive hypercall as the guest sees it (int 0x80, checks, the one copy into the VM's
//           memory, iret) (libos/netif.ts: `bench net-rx-vnic`); of it, the memoryCopy alone is the
//           kernel's `bench net-rx-copy`;
//   stack   the guest's network stack: Ethernet, IPv4 (header checks and checksum), UDP (length and
//           checksum over the data, the port) without the application (libos: `bench net-rx-stack`);
//   app     the application's handler (`bench net-rx-app`).
// Driver and switch are those of the last frame of a size (they run with interrupts off); the other
// stages are the common value over the PACKETS frames of the size: the smallest that 30% of them took (a
// timer tick that lands inside one adds the kernel's tick to that frame only; the guest's timers on a
// wake-up add to some; a frame that arrives while the VM is still awake skips the wake-up). Not in any stage: the
// last, empty netReceive of each batch.
// The isolation share is the kernel's stages (driver, switch, wake-up, copy) over the total.
// The whole table is virtio-net's; the same boots with QEMU's Intel cards (`-device e1000`: the 82540EM,
// `-device e1000e`: the 82574L; kernel-src/e1000.ts) give each card's stages beside it (`cards`): the
// driver is what differs, the rest is the same kernel and guest code (the wake-up and the copy move a
// little with where the frame lands in guest time). The 82574L interrupts by MSI (kernel-src/msi.ts); a
// fourth pair of boots with `irq=intx` gives its figures on INTx# beside them.
//
// Writes bench/results/net.json and bench/results/net.md and prints the tables.
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { buildKernel, ROOT } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';
import { buildVms, startMachine, type Machine } from '../test/kernel/net-machine.ts';
import { NIC_MODELS, nicDeviceArgs, type NicModel } from '../tools/qemu.ts';

export const SIZES = [100, 1400] as const;
const PACKETS = 10;
const HEADERS = 14 + 20 + 8;
const GUEST_IP = '10.0.2.15';
const ECHO_BENCH_ARGUMENT = 0x10000 | 7;
export const STAGES = ['driver', 'switch', 'wakeup', 'copy', 'stack', 'app'] as const;
type Stage = typeof STAGES[number];
type SizeFigures = Record<Stage, number>
  & { memoryCopy: number; total: number; kernel: number; guest: number; isolationShare: number };
type NetFigures = Record<string, SizeFigures>;

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Builds the kernel and the echo VM into `dir`: what measure() boots. */
export function buildNetBench(dir: string): { kernel: string; modules: string[]; textSize: number } {
  const kernel = buildKernel(2, dir, dir);
  const modules = buildVms(dir, 'net-bench', [{ image: 'guest-src/apps/echo.ts', count: 1, memoryKiB: 512, argument: ECHO_BENCH_ARGUMENT, ipBase: GUEST_IP }]);
  return { kernel: kernel.elfPath, modules, textSize: kernel.image.textSize };
}

/** A UDP port on 127.0.0.1 that is free now (QEMU's hostfwd takes it). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>(r => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>(r => s.close(() => r()));
  return port;
}

const guestLines = (out: string, bytes: number) => {
  const lines: Record<string, number[]> = { 'vnic-start': [], vnic: [], stack: [], app: [] };
  const pattern = /^\[vm \d+\] bench(?:-tsc)? net-rx-(vnic-start|vnic|stack|app) (\d+) bytes (\d+)$/gm;
  for (const m of out.matchAll(pattern)) if (Number(m[3]) === bytes) lines[m[1]].push(Number(m[2]));
  return lines;
};

/**
 * The common path: the smallest value that at least 30% of the frames took (else the most frequent).
 * A stray timer tick adds to one frame only; the guest's work on a wake-up with the WAKEUP bit (its
 * timers, taken when the host's pause between two datagrams let virtual time run on) adds 180
 * instructions to a varying share of the frames, which made the plain most frequent value differ
 * between two runs; a frame that finds the VM awake (no wake-up at all) is a rare, smaller outlier.
 */
function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const common = [...counts].filter(([, n]) => n >= 0.3 * values.length).sort((a, b) => a[0] - b[0]);
  if (common.length) return common[0][0];
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

/**
 * The wake-up of each frame: from the end of its NIC interrupt (the kernel's `net-rx-interrupt-end`
 * TSC values, the last single-frame interrupts) to the guest's netReceive call (`net-rx-vnic-start`),
 * pairing the last frames of this size on both sides in order.
 */
function wakeups(report: string, starts: number[], bytes: number): number[] {
  const ends = [...report.matchAll(/^bench-tsc net-rx-interrupt-end (\d+) bytes (\d+)$/gm)].filter(m => Number(m[2]) === bytes).map(m => Number(m[1]));
  const k = Math.min(ends.length, starts.length);
  const pairs = ends.slice(-k).map((end, i) => (starts[starts.length - k + i] - end) >>> 0);
  if (k === 0 || pairs.some(d => d > 1_000_000)) throw new Error(`bench:net: the interrupt ends and the guest's receives of ${bytes}-byte frames do not pair up: ${JSON.stringify({ ends, starts })}`);
  return pairs;
}

/** Boots the machine with card `nic`, sends the packets, reads the stages; the figures per frame size. */
export async function measure(kernel: string, modules: string[], nic: NicModel = 'virtio', append = 'bench')
  : Promise<{ figures: NetFigures; samples: Record<string, Record<string, number[]>> }> {
  const port = await freeUdpPort();
  const machine: Machine = await startMachine({
    kernel, modules, icount: true, append, memoryMiB: 64,
    netArgs: ['-netdev', `user,id=n0,hostfwd=udp:127.0.0.1:${port}-${GUEST_IP}:7`, ...nicDeviceArgs(nic)],
  });
  const socket = createSocket('udp4');
  try {
    await machine.waitFor(/^\[vm 0\] vm 0 echo on port 7 \(bench\)$/m, 120_000);
    await new Promise<void>(r => socket.bind(0, '127.0.0.1', () => r()));
    const figures: NetFigures = {};
    const samples: Record<string, Record<string, number[]>> = {};
    for (const size of SIZES) {
      const data = Buffer.alloc(size - HEADERS, 0x61);
      const from = machine.out().length;
      // One datagram at a time; repeat until PACKETS of this size reached the application (QEMU's
      // user network may hold the first while it resolves the VM's MAC).
      for (let sent = 0; guestLines(machine.out().slice(from), size).app.length < PACKETS; sent++) {
        if (sent > 3 * PACKETS) throw new Error(`bench:net: ${sent} datagrams of ${size} bytes sent, only ${guestLines(machine.out().slice(from), size).app.length} measured:\n${machine.out().slice(-3000)}`);
        socket.send(data, port, '127.0.0.1');
        const seen = guestLines(machine.out().slice(from), size).app.length;
        for (let i = 0; i < 40 && guestLines(machine.out().slice(from), size).app.length === seen; i++) await sleep(25);
      }
      const lines = guestLines(machine.out().slice(from), size);
      const report = await machine.monitor('net', /^nic: .*$/m);
      const kernelLine = (name: string) => {
        const m = new RegExp(`^bench net-rx-${name} (\\d+) bytes (\\d+)$`, 'm').exec(report);
        if (!m || Number(m[2]) !== size) throw new Error(`bench:net: no kernel net-rx-${name} line for a ${size}-byte frame:\n${report}`);
        return Number(m[1]);
      };
      const wake = wakeups(report, lines['vnic-start'], size);
      const stage: Record<Stage, number> = {
        driver: kernelLine('driver'), switch: kernelLine('switch'), wakeup: mode(wake),
        copy: mode(lines.vnic), stack: mode(lines.stack), app: mode(lines.app),
      };
      const kernelPart = stage.driver + stage.switch + stage.wakeup + stage.copy;
      const guestPart = stage.stack + stage.app;
      const total = kernelPart + guestPart;
      figures[String(size)] = { ...stage, memoryCopy: kernelLine('copy'), total, kernel: kernelPart, guest: guestPart, isolationShare: Math.round((kernelPart / total) * 1000) / 10 };
      const { 'vnic-start': _starts, ...costs } = lines;
      samples[String(size)] = { ...costs, wakeup: wake };
    }
    return { figures, samples };
  } finally {
    socket.close();
    await machine.stop().catch(() => machine.kill());
  }
}

/** Two boots of card `nic` under -icount, which must agree; their figures. */
async function measureTwice(kernel: string, modules: string[], nic: NicModel, append = 'bench') {
  const [a, b] = await Promise.all([measure(kernel, modules, nic, append), measure(kernel, modules, nic, append)]);
  if (JSON.stringify(a.figures) !== JSON.stringify(b.figures)) {
    throw new Error(`bench:net: two -icount runs (${nic}) disagree:\n`
      + `${JSON.stringify(a.figures)}\n${JSON.stringify(b.figures)}`);
  }
  return a;
}

/** The NIC's name in the tables. */
const CARD_NAMES: Record<NicModel, string> = {
  virtio: 'virtio-net', e1000: 'e1000 (Intel 82540EM)', e1000e: 'e1000e (Intel 82574L)',
};

/** How each card interrupts by default (kernel-src/msi.ts): the 82574L by MSI, the others by INTx. */
const CARD_INTERRUPTS: Record<NicModel, string> = { virtio: 'INTx', e1000: 'INTx', e1000e: 'MSI' };

/** Each card's kernel stages beside virtio-net's: the per-packet driver cost; then the 82574L on INTx. */
function cardsMarkdown(cards: Record<NicModel, NetFigures>, e1000eIntx: NetFigures): string[] {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const kernelStages = ['driver', 'switch', 'wakeup', 'copy'] as const;
  const line = (name: string, figures: NetFigures) => {
    const small = figures[String(SIZES[0])];
    return `| ${name} | ${SIZES.map(s => `**${fmt(figures[String(s)].driver)}**`).join(' | ')} | `
      + `${fmt(small.switch)} | ${fmt(small.wakeup)} | ${fmt(small.copy)} | `
      + `${fmt(kernelStages.reduce((sum, k) => sum + small[k], 0))} |`;
  };
  return [
    '| card | ' + SIZES.map(s => `driver, ${s} bytes`).join(' | ') + ' | switch | wake-up | copy (100 bytes) | kernel, 100 bytes |',
    '|---|' + SIZES.map(() => '---').join('|') + '|---|---|---|---|',
    ...NIC_MODELS.map(nic => line(`${CARD_NAMES[nic]}, ${CARD_INTERRUPTS[nic]}`, cards[nic])),
    line(`${CARD_NAMES.e1000e}, INTx (\`irq=intx\`)`, e1000eIntx),
  ];
}

function markdown(r: {
  commit: string; qemu: string; figures: NetFigures; cards: Record<NicModel, NetFigures>; e1000eIntx: NetFigures;
}): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const f = r.figures;
  const pct = (size: string, n: number) => `${fmt(n)} (${((n / f[size].total) * 100).toFixed(1)}%)`;
  const row = (label: string, get: (s: SizeFigures, size: string) => string) => `| ${label} | ${SIZES.map(s => get(f[String(s)], String(s))).join(' | ')} |`;
  return [
    `Receive path of one UDP packet, in instructions, \`qemu-system-i386 -icount shift=0,sleep=off\` (\`npm run bench:net\`; commit ${r.commit}, ${r.qemu}). Identical on two runs.`,
    '',
    `| stage | ${SIZES.map(s => `${s}-byte frame`).join(' | ')} |`,
    `|---|${SIZES.map(() => '---').join('|')}|`,
    row('NIC driver (kernel: virtio-net interrupt)', (s, k) => pct(k, s.driver)),
    row('switch (kernel: demultiplex, spoof checks, queue, virtual interrupt)', (s, k) => pct(k, s.switch)),
    row('wake-up of the VM (virtual interrupt: leave the interrupt, switch to the VM, idle returns the batch, '
      + 'acknowledged, with the clock)', (s, k) => pct(k, s.wakeup)),
    row('copy into the VM (netReceive hypercall)', (s, k) => pct(k, s.copy)),
    row('&nbsp;&nbsp;of it the memory copy', (s) => fmt(s.memoryCopy)),
    row('guest network stack (Ethernet, IPv4, UDP, checksums)', (s, k) => pct(k, s.stack)),
    row('application (takes the data into its buffer)', (s, k) => pct(k, s.app)),
    row('**total**', (s) => `**${fmt(s.total)}**`),
    row('isolation kernel (driver + switch + wake-up + copy)', (s) => `${fmt(s.kernel)} (**${s.isolationShare}%**)`),
    row('guest (stack + application)', (s) => `${fmt(s.guest)} (${(100 - s.isolationShare).toFixed(1)}%)`),
    row('isolation share without the application (kernel / (kernel + stack))', (s) => `${((s.kernel / (s.kernel + s.stack)) * 100).toFixed(1)}%`),
    '',
    `The host sends UDP datagrams through QEMU's user network to the echo app in bench mode (guest-src/apps/echo.ts) in one VM, ${PACKETS} of each size, one at a time. ` +
      'The driver and the switch are those of the last frame of the size (they run in the interrupt, with ' +
      'interrupts off); the other stages are the common value over the frames, the smallest that 30% of them ' +
      'took (a timer tick that lands in one adds to that frame only; the guest timers add 180 instructions to ' +
      'the wake-ups of some; a frame that finds the VM awake skips the wake-up). ' +
      'The wake-up runs from the end of the NIC interrupt to the guest\'s netReceive: the kernel leaves the ' +
      'interrupt and switches to the idle VM, idle returns the batch (acknowledged as it is delivered, the clock ' +
      'written beside it: one hypercall) and the guest polls (libos/stack.ts); it is counted as the isolation ' +
      'kernel\'s (partly guest code: the price of virtual interrupts). ' +
      'Not counted: the last, empty netReceive of each batch.',
    '',
    'The kernel\'s stages with each card the kernel drives (QEMU `-device virtio-net-pci`, `e1000`, `e1000e`; ' +
      'the same boots, each card on its own pair of -icount runs, identical on both). The driver is the card\'s ' +
      'interrupt without the switch: virtio-net reads its ISR (an I/O port) and walks the used ring; the Intel ' +
      'cards read ICR (a memory-mapped register; the 82574L writes it back as well), check each descriptor\'s ' +
      'status, give it back and move the tail (RDT). The 82574L interrupts by MSI (its own vector, the local ' +
      'APIC\'s EOI), and again with `irq=intx` by INTx# through the 8259 (its line checked: ICR\'s INT_ASSERTED); ' +
      'the driver figure starts at the handler, the dispatch and EOI fall in the wake-up.',
    '',
    ...cardsMarkdown(r.cards, r.e1000eIntx),
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-net-'));
  const t0 = performance.now();
  const progress = new Progress('bench:net', 2);
  try {
    progress.update(0, 'building the kernel and the echo app');
    const built = buildNetBench(dir);
    console.log(`built in ${Math.round(performance.now() - t0)} ms: kernel .text ${built.textSize} bytes; echo (bench mode)`);
    progress.update(1, 'two boots under -icount per card, packets of each size');
    const runs = {} as Record<NicModel, Awaited<ReturnType<typeof measure>>>;
    for (const nic of NIC_MODELS) runs[nic] = await measureTwice(built.kernel, built.modules, nic);
    const e1000eIntx = await measureTwice(built.kernel, built.modules, 'e1000e', 'bench irq=intx');
    const a = runs.virtio;
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const result = {
      commit: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', 'kernel-src', 'compiler', 'dsl', 'guest-src') ? ' (modified in the work tree)' : ''),
      qemu: execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0],
      command: 'qemu-system-i386 -kernel denali.elf -initrd manifest,guest-apps-echo.elf -append bench '
        + `-icount shift=0,sleep=off -netdev user,hostfwd=udp:127.0.0.1:PORT-${GUEST_IP}:7 `
        + `-device virtio-net-pci|e1000|e1000e (echo in bench mode, argument 0x${ECHO_BENCH_ARGUMENT.toString(16)})`,
      packetsPerSize: PACKETS,
      frameBytes: SIZES,
      udpDataBytes: SIZES.map(s => s - HEADERS),
      figures: a.figures,
      samples: a.samples,
      cards: Object.fromEntries(NIC_MODELS.map(nic => [nic, runs[nic].figures])) as Record<NicModel, NetFigures>,
      e1000eIntx: e1000eIntx.figures,
      identicalOnTwoRuns: true,
      benchSeconds: Math.round((performance.now() - t0) / 1000),
    };
    const md = markdown(result);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'net.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'net.md'), md);
    console.log('\n' + md);
    writeBenchPlot('net');
    progress.finish('written: bench/results/net.json, bench/results/net.md, bench/results/net.png');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(code => { process.exitCode = code; }, e => { console.error(e instanceof Error ? e.stack ?? e.message : e); process.exitCode = 1; });
}
