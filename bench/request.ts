// npm run bench:request — where a web request's instructions go, at 1, 100 and 1,000 VMs (issue 16)
// and with memory a cache of the VMs (the swap point; issue 15): the per-request breakdown of bench:web's
// load, kernel and guest, from the kernel's profile.
//
// For N = 1, 100, 1,000 httpd VMs (guest-src/apps/httpd.ts, VM i at 198.18.0.2 + i, as bench:web): one
// boot per N of the kernel with `-append profile keepcr3` (kernel-src/profile.ts; VMs of one image switch
// without a CR3 load: kernel-src/paging.ts, as in bench:web) in qemu-system-i386 with
// `-icount shift=0,sleep=off`, so that the TSC counts instructions, on a tap in a network namespace of
// its own; the load generator (bench/loadgen.ts: 64 requests at once, keep-alive, uniform popularity)
// runs a warm-up and then SECONDS measured. The swap point: 10,000 VMs in 128 MiB (the 100,000 a GiB of
// bench:web's largest point) with a sparse swap disk and Zipf(0.8) requests. The monitor's `profile` is
// read as the measured window opens and as it closes; the difference, over the requests the guests counted
// in it, is the table:
//   kernel  trap (entry stubs, dispatch, other IRQs), hypercall (entry and the calls not below), timer
//           (the PIT tick, alarms), nic (virtio-net), switch (the virtual switch: demultiplexing, checks,
//           copies to and from the VMs), scheduler (the VM switch: frames, run queue, FPU), swap
//           (write-outs, read-ins, page-ins, their completions), disk (the virtio-blk interrupt);
//   guest   runtime (the event loop, threads, timers), netif (Ethernet, ARP, IPv4), tcp (TCP and its
//           sockets), app (httpd: parsing, the response);
// with VM switches and CR3 loads per request. What instruction counts cannot show is the emulator's own
// cost: QEMU's CPU time over the window per guest instruction (its soft TLB is dropped at every CR3
// load; more VMs also mean more translated code and TLB misses): host nanoseconds per instruction.
// Instruction counts do not depend on the host; the host figures (requests/s under -icount, ns per
// instruction) do, and are ratios within the one run.
//
// --realtime: the same load without -icount, where real time goes: the profile's TSC is then the host's (QEMU
// passes it through), so each category is host cycles per request, the idle loop included, and the emulator's
// costs (a CR3 load drops the soft TLB and the jump cache: every page and block of the next VM's run is looked
// up again; a frame sent or received is the host's tap and network stack) land in the category that paid them.
//
// Writes bench/results/request.json and request.md (request-realtime.* with --realtime) and prints the table.
// Needs root (namespaces, tap).
// --against REV: each point booted twice, this tree's build and REV's (built in a git work tree), both up, and
// measured ROUNDS times each, alternately (ABBA): a host whose speed drifts by 10-30% over minutes (this one) hides
// a change of a few percent between two runs, not between windows minutes apart on both. Prints and writes
// bench/results/request-against.md and .json: each round's totals, their ratio, the medians.
// Options: --vms 1,100 (a subset), --seconds S (measured, 10), --swap VMS:MIB (the swap point), --no-swap,
// --realtime, --against REV, --rounds N (4).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir, loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { buildKernel, ROOT } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';
import { buildManifest } from '../tools/manifest.ts';
import { createTapNamespace, tapUnavailable, type TapNamespace } from '../tools/net.ts';
import { PAGE_BYTES } from '../tools/linux-peer.ts';
import { parseProfile, profileDelta } from '../tools/profile.ts';
import { DEFAULT_LOAD, type LoadOptions, type LoadResult, type Popularity } from './loadgen.ts';
import { createSwapImage } from '../tools/qemu.ts';
import { VM_LIMIT } from '../abi/boot.ts';
import {
  startQemu, waitListening, stopQemu, cpuSeconds, runLoadGenerator, listeningVms, raiseNeighbourLimits, monitorCommand,
  type Machine,
} from './machine.ts';

const VM_COUNTS = [1, 100, 1000];
/**
 * The swap point: 10,000 VMs in 128 MiB (78,000 a GiB, as bench:web's 100,000 in 1 GiB), a swap disk,
 * Zipf(0.8) requests: where a request's instructions go when memory is a cache of the VMs.
 */
const SWAP_POINT: Point = { vms: 10000, memoryMiB: 128, swap: true, popularity: 'zipf' };
const SECONDS = 10;
/** --against: measured windows per tree and point (ABBA order: one host drift counts against both). */
const ROUNDS = 4;
const HTTPD_IMAGE = 'guest-src/apps/httpd.ts';
const HTTPD_MEMORY_KIB = 1024;
const MEMORY_MIB = 1024;
const FIRST_VM = '198.18.0.2';
const PROFILE_END = /^profile-guest: .*$/m;
const RESULTS = join(ROOT, 'bench', 'results');

/** One VM count's figures: per request unless named otherwise. */
interface RequestPoint {
  vms: number;
  /** The machine's memory, and whether it had a swap disk (memory a cache of the VMs) and Zipf requests. */
  memoryMiB: number; swap: boolean; popularity: Popularity;
  /** At the swap point, per request: read-ins, write-outs, pages read and written, clean pages kept. */
  swapCounts?: Record<string, number>;
  requests: number;
  /** Kernel categories (idle excluded under -icount: with sleep=off it is the clock's jumps, not instructions). */
  kernel: Record<string, number>;
  guest: Record<string, number>;
  kernelTotal: number; guestTotal: number; total: number;
  /** Ring 3 by the kernel's count (its `guest` category): the guests' categories add up to it. */
  ring3: number;
  /** The kernel's share of all instructions. */
  kernelShare: number;
  switches: number; cr3Loads: number;
  /** Hypercalls per request, by name. */
  calls: Record<string, number>;
  /** The profile's own marks (kernel side) per request: each costs a few tens of instructions. */
  marks: number;
  /** QEMU's CPU time over the window per guest instruction executed in it. */
  hostNanosecondsPerInstruction: number | null;
  /** Requests per second of real time (under -icount slower than bench:web's: a ratio between points). */
  requestsPerSecond: number;
  /** Measured without -icount: the figures are host TSC cycles, idle included. */
  realtime: boolean;
  qemuCpuPercent: number | null;
  /** The load generator's CPU time over the window, as a share of one core (it shares the host's CPUs). */
  clientCpuPercent: number;
  failures: number;
  hostLoad: number;
  note: string;
}

const round = (x: number) => Math.round(x);
const fmt = (n: number) => n.toLocaleString('en-US');

/** Per-request figures from a profile difference and QEMU's CPU seconds over the same window. */
function point(at: Point, d: ReturnType<typeof profileDelta>, qemuSeconds: number | null, wall: number,
  r: LoadResult, hostLoad: number, realtime: boolean): RequestPoint {
  const { vms, memoryMiB, swap, popularity } = at;
  // The guests' own counts come from their boot pages: a VM swapped out at either edge of the window is
  // missing from both sums (d.absent), and its requests and cycles with it. Then the requests are the load
  // generator's (those that ended in the window) and the guests' part is the kernel's ring-3 count, whole.
  const partial = d.absent > 0;
  const requests = partial ? r.requests : d.requests;
  const per = (x: number) => round(x / Math.max(1, requests));
  const kernelCycles = Object.entries(d.kernel).filter(([k]) => (realtime || k !== 'idle') && k !== 'guest');
  const kernel = Object.fromEntries(kernelCycles.map(([k, v]) => [k, per(v)]));
  const guest = partial ? {} : Object.fromEntries(Object.entries(d.guest).map(([k, v]) => [k, per(v)]));
  const kernelAll = kernelCycles.reduce((a, [, v]) => a + v, 0);
  const guestAll = partial ? d.kernel.guest ?? 0 : Object.values(d.guest).reduce((a, v) => a + v, 0);
  const all = kernelAll + guestAll;
  return {
    vms, memoryMiB, swap, popularity, requests, kernel, guest,
    kernelTotal: per(kernelAll), guestTotal: per(guestAll), total: per(all),
    ring3: per(d.kernel.guest ?? 0),
    kernelShare: Math.round((kernelAll / all) * 1000) / 10,
    switches: Math.round((d.switches / requests) * 100) / 100,
    cr3Loads: Math.round((d.cr3Loads / requests) * 100) / 100,
    calls: Object.fromEntries(Object.entries(d.calls).filter(([, n]) => n > 0)
      .map(([name, n]) => [name, Math.round((n / requests) * 100) / 100])),
    marks: Math.round((d.marks / requests) * 10) / 10,
    hostNanosecondsPerInstruction: qemuSeconds === null || realtime ? null
      : Math.round((qemuSeconds * 1e9 / all) * 100) / 100,
    requestsPerSecond: Math.round((requests / wall) * 10) / 10,
    qemuCpuPercent: qemuSeconds === null ? null : Math.round((qemuSeconds / wall) * 100),
    clientCpuPercent: r.clientCpuPercent, failures: r.failures, hostLoad, note: '', realtime,
  };
}

/** The kernel's `swap` line's counters (the console's `swap` command). */
const SWAP_COUNTERS: [string, RegExp][] = [
  ['read-ins', /read-ins (\d+)/], ['pages read', /read-ins \d+ \((\d+) pages\)/],
  ['page-ins', /page-ins (\d+)/], ['write-outs', /write-outs (\d+)/],
  ['pages written', /write-outs \d+ \((\d+) pages\)/], ['clean pages kept', /clean pages kept (\d+)/],
];

async function readSwap(m: Machine): Promise<Record<string, number>> {
  const text = await monitorCommand(m, 'swap', /^blk: .*$/m);
  const line = text === null ? null : /^swap: resident .*$/m.exec(text);
  if (line === null) throw new Error('the monitor did not answer `swap`');
  return Object.fromEntries(SWAP_COUNTERS.map(([name, re]) => [name, Number(re.exec(line[0])![1])]));
}

async function readProfile(m: Machine) {
  const text = await monitorCommand(m, 'profile', PROFILE_END);
  if (text === null) throw new Error('the monitor did not answer `profile`');
  return parseProfile(text);
}

/** A point: VMs, memory, and with a swap disk (1 MiB a VM) Zipf(0.8) requests, else uniform ones. */
interface Point { vms: number; memoryMiB: number; swap: boolean; popularity: Popularity }

/** A booted point: its machine and its swap image (removed by stopPoint). */
interface Booted { m: Machine; swapImage?: string }

/**
 * Boots the point's VMs (under -icount unless `realtime`) with the profile on: `kernelElf` and the httpd
 * image's modules (built by buildPoint from this tree, or by buildAgainst from another commit's).
 */
async function bootPoint(ns: TapNamespace, built: Built, dir: string, at: Point, realtime: boolean,
  name = `request-${at.vms}`): Promise<Booted> {
  const swapImage = at.swap ? join(dir, `swap-${name}.img`) : undefined;
  if (swapImage) createSwapImage(swapImage, (at.vms + 64) * HTTPD_MEMORY_KIB * 1024);
  const m = startQemu(ns, { kernel: built.kernelElf, initrd: built.modules }, dir, name,
    { append: 'profile keepcr3', icount: !realtime, memoryMiB: at.memoryMiB, swapImage });
  try {
    const state = await waitListening(m, at.vms, 120_000 + at.vms * 300, `bench:request: boot of ${at.vms} VMs`);
    if (state !== 'ready') throw new Error(`${at.vms} VMs: ${state}, ${listeningVms(m.serial()).size} listening`);
  } catch (e) { await stopPoint({ m, swapImage }); throw e; }
  return { m, swapImage };
}

async function stopPoint(b: Booted): Promise<void> {
  await stopQemu(b.m);
  if (b.swapImage) rmSync(b.swapImage, { force: true });
}

/** A kernel and the httpd modules of a point's VM count: this tree's (buildPoint) or REV's (buildAgainst). */
interface Built { kernelElf: string; modules: string[] }

function manifestFile(dir: string, vms: number): string {
  const manifestJson = join(dir, `request-${vms}.json`);
  const group = { image: HTTPD_IMAGE, count: vms, memoryKiB: HTTPD_MEMORY_KIB, argument: 0 };
  writeFileSync(manifestJson, JSON.stringify({ groups: [group] }));
  return manifestJson;
}

function buildPoint(kernelElf: string, dir: string, vms: number): Built {
  return { kernelElf, modules: buildManifest(manifestFile(dir, vms), { imagesDir: dir, outDir: dir }).modules };
}

/** One measured run (a warm-up, then `seconds`) on a booted point: the per-request figures. */
async function measureWindow(ns: TapNamespace, m: Machine, at: Point, seconds: number,
  realtime: boolean): Promise<RequestPoint> {
  const { vms, swap, popularity } = at;
  const hostLoad = Math.round(loadavg()[0] * 100) / 100;
  const load: LoadOptions = {
    ...DEFAULT_LOAD, seconds, warmup: Math.min(30, Math.max(DEFAULT_LOAD.warmup, vms / 200)), base: FIRST_VM,
    servers: vms, popularity, bytes: PAGE_BYTES, mustContain: '<h1>Denali VM {id}</h1>',
  };
  const read: { before?: ReturnType<typeof parseProfile>; after?: ReturnType<typeof parseProfile> } = {};
  const swapRead: { before?: Record<string, number>; after?: Record<string, number> } = {};
  let cpu0: number | null = null, cpu1: number | null = null, t0 = 0, t1 = 0;
  const r = await runLoadGenerator(ns, load, async edge => {
    if (edge === 'start') {
      cpu0 = cpuSeconds(m.child.pid); t0 = performance.now();
      read.before = await readProfile(m);
      if (swap) swapRead.before = await readSwap(m);
    } else {
      read.after = await readProfile(m);
      if (swap) swapRead.after = await readSwap(m);
      cpu1 = cpuSeconds(m.child.pid); t1 = performance.now();
    }
  });
  if (!read.before || !read.after) throw new Error(`${vms} VMs: no profile at the window's edges`);
  const d = profileDelta(read.before, read.after);
  const qemuSeconds = cpu0 !== null && cpu1 !== null ? (cpu1 as number) - (cpu0 as number) : null;
  const p = point(at, d, qemuSeconds, (t1 - t0) / 1000, r, hostLoad, realtime);
  if (d.absent) {
    p.note = `${d.absent} VMs' boot pages not resident at the window's edges: requests counted by the load `
      + `generator, the guests' part by the kernel (ring 3), not by category`;
  }
  const { before, after } = swapRead;
  if (before && after) {
    p.swapCounts = Object.fromEntries(Object.keys(after)
      .map(k => [k, Math.round(((after[k] - before[k]) / Math.max(1, p.requests)) * 100) / 100]));
  }
  if (!d.absent && Math.abs(p.guestTotal - p.ring3) > 0.02 * p.ring3) {
    p.note += ` the guests' categories (${p.guestTotal}) are not the kernel's ring 3 (${p.ring3})`;
  }
  return p;
}

/** The table: a row per category and figure, a column per VM count. */
function requestTable(points: RequestPoint[]): string {
  const kernelNames = [...new Set(points.flatMap(p => Object.keys(p.kernel)))];
  const guestNames = [...new Set(points.flatMap(p => Object.keys(p.guest)))];
  const callNames = [...new Set(points.flatMap(p => Object.keys(p.calls)))];
  const row = (name: string, f: (p: RequestPoint) => string) => `| ${name} | ${points.map(f).join(' | ')} |`;
  const share = (x: number, p: RequestPoint) => `${fmt(x)} (${Math.round((x / p.total) * 1000) / 10}%)`;
  const realtime = points.some(p => p.realtime);
  return [
    `| per request | ${points.map(p => `${fmt(p.vms)} VM${p.vms === 1 ? '' : 's'}`
      + (p.swap ? ` in ${p.memoryMiB} MiB, swap, ${p.popularity === 'zipf' ? 'Zipf(0.8)' : p.popularity}` : ''))
      .join(' | ')} |`,
    `|---|${points.map(() => '--:').join('|')}|`,
    ...kernelNames.map(k => row(`kernel: ${k}`, p => share(p.kernel[k] ?? 0, p))),
    row('**kernel**', p => `**${share(p.kernelTotal, p)}**`),
    ...guestNames.map(k => row(`guest: ${k}`, p => (k in p.guest ? share(p.guest[k], p) : '-'))),
    row('**guest**', p => `**${share(p.guestTotal, p)}**`),
    row(realtime ? '**host cycles per request**' : '**instructions per request**', p => `**${fmt(p.total)}**`),
    ...SWAP_COUNTERS.map(([name]) => row(`swap: ${name}`, p => String(p.swapCounts?.[name] ?? '-'))),
    row('VM switches', p => String(p.switches)),
    row('CR3 loads', p => String(p.cr3Loads)),
    ...callNames.map(name => row(`hypercalls: ${name}`, p => String(p.calls[name] ?? 0))),
    row('the profile\'s kernel marks (a few tens of instructions each, in the figures above)', p => String(p.marks)),
    ...(realtime ? []
      : [row('QEMU CPU time per guest instruction (host ns)', p => String(p.hostNanosecondsPerInstruction ?? '-'))]),
    row(`requests/s${realtime ? '' : ' under -icount'} (QEMU CPU, load generator CPU)`,
      p => `${fmt(p.requestsPerSecond)} (${p.qemuCpuPercent ?? '-'}%, ${p.clientCpuPercent}%)`),
    row('requests measured (failures)', p => `${fmt(p.requests)} (${p.failures})`),
  ].join('\n');
}

function options(argv: string[]) {
  const o = {
    vms: VM_COUNTS, seconds: SECONDS, swap: SWAP_POINT as Point | null, realtime: false,
    against: null as string | null, rounds: ROUNDS,
  };
  const usage = '(--vms 1,100 --seconds S --swap VMS:MIB --no-swap --realtime --against REV --rounds N)';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--vms') o.vms = argv[++i].split(',').map(Number);
    else if (argv[i] === '--seconds') o.seconds = Number(argv[++i]);
    else if (argv[i] === '--no-swap') o.swap = null;
    else if (argv[i] === '--realtime') o.realtime = true;
    else if (argv[i] === '--against') o.against = argv[++i] ?? '';
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--swap') {
      const [vms, memoryMiB] = (argv[++i] ?? '').split(':').map(Number);
      o.swap = { vms, memoryMiB, swap: true, popularity: 'zipf' };
    } else throw new Error(`bench:request: unknown option ${argv[i]} ${usage}`);
  }
  if (o.vms.some(n => !Number.isInteger(n) || n < 1 || n > 1000) || !(o.seconds > 0)) {
    throw new Error('bench:request: --vms takes VM counts from 1 to 1,000, --seconds a positive number');
  }
  if (o.against === '' || !(Number.isInteger(o.rounds) && o.rounds >= 1)) {
    throw new Error('bench:request: --against takes a commit, --rounds a positive integer');
  }
  if (o.swap && !(Number.isInteger(o.swap.vms) && o.swap.vms > 1000 && o.swap.vms <= VM_LIMIT
    && Number.isInteger(o.swap.memoryMiB) && o.swap.memoryMiB >= 32)) {
    throw new Error(`bench:request: --swap takes VMS:MIB, 1,001 to ${VM_LIMIT} VMs in at least 32 MiB`);
  }
  const points: Point[] = o.vms.map(vms => ({ vms, memoryMiB: MEMORY_MIB, swap: false, popularity: 'uniform' }));
  return {
    points: o.swap ? [...points, o.swap] : points, seconds: o.seconds, realtime: o.realtime,
    against: o.against, rounds: o.rounds,
  };
}

/**
 * --against REV: builds REV's kernel and httpd in a git work tree of its own (REV's tools/build.ts and
 * tools/manifest.ts, which must take the calls this file makes), for the point's VM count.
 */
function buildAgainst(rev: string, dir: string, vms: number): Built {
  const tree = join(dir, 'against');
  if (!existsSync(tree)) {
    execFileSync('git', ['worktree', 'add', '--detach', tree, rev], { cwd: ROOT, stdio: 'ignore' });
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  }
  const out = join(dir, `against-${vms}`);
  mkdirSync(out, { recursive: true });
  const script = "import { buildKernel } from './tools/build.ts'; import { buildManifest } from './tools/manifest.ts';"
    + ` const k = buildKernel(2, ${JSON.stringify(out)}, ${JSON.stringify(out)});`
    + ` const m = buildManifest(${JSON.stringify(manifestFile(out, vms))},`
    + ` { imagesDir: ${JSON.stringify(out)}, outDir: ${JSON.stringify(out)} });`
    + ' console.log(JSON.stringify({ kernelElf: k.elfPath, modules: m.modules }));';
  const text = execFileSync('npx', ['tsx', '-e', script], { cwd: tree, encoding: 'utf8' }).trim();
  return JSON.parse(text.slice(text.lastIndexOf('\n') + 1)) as Built;
}

function removeAgainst(dir: string): void {
  const tree = join(dir, 'against');
  if (existsSync(tree)) execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: ROOT, stdio: 'ignore' });
}

/** One point's comparison: the same windows on both machines, in ABBA order. */
interface Against { at: Point; head: RequestPoint[]; against: RequestPoint[] }

/**
 * Both machines booted (each on a tap in a namespace of its own; the idle one's VMs wait in `idle`),
 * then `rounds` windows each, alternating ABBA, so that a host whose speed drifts over minutes weighs on both.
 */
async function compareAt(at: Point, head: Built, against: Built, dir: string, seconds: number, rounds: number,
  realtime: boolean): Promise<Against> {
  const nsA = createTapNamespace(`denali-request-a-${process.pid}`);
  const nsB = createTapNamespace(`denali-request-b-${process.pid}`);
  const booted: Booted[] = [];
  try {
    // One after the other: two boots of 100,000 VMs at once write their swap disks at once, five times slower.
    booted.push(await bootPoint(nsA, head, dir, at, realtime, 'head'));
    booted.push(await bootPoint(nsB, against, dir, at, realtime, 'against'));
    const result: Against = { at, head: [], against: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const p = await measureWindow(k === 0 ? nsA : nsB, booted[k].m, at, seconds, realtime);
        (k === 0 ? result.head : result.against).push(p);
        console.log(`${k === 0 ? 'head' : 'against'} ${r + 1}: ${JSON.stringify(p)}`);
      }
    }
    return result;
  } finally {
    for (const b of booted) await stopPoint(b);
    nsA.remove(); nsB.remove();
  }
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b), half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
};
/** A request's work: in real time the idle loop's cycles (the machine waiting for the client) left out. */
const busy = (p: RequestPoint) => p.total - (p.realtime ? p.kernel.idle ?? 0 : 0);

/** Per round: each tree's work a request (busy) and requests/s, the ratio; then the medians and the categories'. */
function againstTable(c: Against, rev: string, realtime: boolean): string {
  const unit = realtime ? 'host cycles (idle left out)' : 'instructions';
  const rows = c.head.map((h, r) => {
    const a = c.against[r];
    return `| ${r + 1} | ${fmt(busy(h))} | ${fmt(busy(a))} | ${(busy(a) / busy(h)).toFixed(3)} `
      + `| ${fmt(h.requestsPerSecond)} | ${fmt(a.requestsPerSecond)} |`;
  });
  const ratios = c.head.map((h, r) => busy(c.against[r]) / busy(h));
  const categories = [...new Set([...c.head, ...c.against].flatMap(p => Object.keys(p.kernel)))];
  const cat = (ps: RequestPoint[], k: string) => fmt(round(median(ps.map(p => p.kernel[k] ?? 0))));
  const med = (ps: RequestPoint[], f: (p: RequestPoint) => number) => fmt(round(median(ps.map(f))));
  return [
    `| round | ${unit} a request, this tree | at ${rev} | ${rev} / this tree | requests/s, this tree | at ${rev} |`,
    '|--:|--:|--:|--:|--:|--:|',
    ...rows,
    `| median | ${med(c.head, busy)} | ${med(c.against, busy)} | **${median(ratios).toFixed(3)}** `
      + `| ${med(c.head, p => p.requestsPerSecond)} | ${med(c.against, p => p.requestsPerSecond)} |`,
    '',
    `| median per request | this tree | at ${rev} |`,
    '|---|--:|--:|',
    ...categories.map(k => `| kernel: ${k} | ${cat(c.head, k)} | ${cat(c.against, k)} |`),
    `| guest | ${med(c.head, p => p.guestTotal)} | ${med(c.against, p => p.guestTotal)} |`,
    `| VM switches | ${median(c.head.map(p => p.switches))} | ${median(c.against.map(p => p.switches))} |`,
  ].join('\n');
}

/** --against REV: every point measured on this tree's build and on REV's, alternately; the table printed. */
async function mainAgainst(opts: ReturnType<typeof options>, rev: string): Promise<number> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-request-'));
  const restoreNeighbours = raiseNeighbourLimits();
  const tables: string[] = [];
  const results: Against[] = [];
  try {
    const kernelElf = buildKernel(2, dir, dir).elfPath;
    for (const at of opts.points) {
      const c = await compareAt(at, buildPoint(kernelElf, dir, at.vms), buildAgainst(rev, dir, at.vms), dir,
        opts.seconds, opts.rounds, opts.realtime);
      results.push(c);
      const where = at.swap ? ` in ${at.memoryMiB} MiB, swap, Zipf(0.8)` : '';
      tables.push(`${fmt(at.vms)} VM${at.vms === 1 ? '' : 's'}${where}:\n\n`
        + againstTable(c, rev, opts.realtime));
    }
  } finally {
    restoreNeighbours();
    removeAgainst(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = Math.round((performance.now() - t0) / 1000);
  const command = `npm run bench:request -- --against ${rev}${opts.realtime ? ' --realtime' : ''}`;
  const md = `This tree against ${rev} (\`${command}\`, ${opts.rounds} windows of ${opts.seconds} s each, ABBA;`
    + ` ${seconds} s):\n\n${tables.join('\n\n')}\n`;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'request-against.json'), JSON.stringify({ against: rev, results }, null, 2) + '\n');
  writeFileSync(join(RESULTS, 'request-against.md'), md);
  console.log(md);
  return 0;
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const why = tapUnavailable();
  if (why) { console.error(`bench:request: needs a network namespace with a tap device: ${why}`); return 2; }
  if (!existsSync(join(ROOT, HTTPD_IMAGE))) throw new Error(`bench:request: no ${HTTPD_IMAGE}`);
  if (opts.against !== null) return mainAgainst(opts, opts.against);
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-request-'));
  const restoreNeighbours = raiseNeighbourLimits();
  const points: RequestPoint[] = [];
  const progress = new Progress('bench:request', 1 + opts.points.length);
  try {
    progress.update(0, 'building the kernel');
    const kernelElf = buildKernel(2, dir, dir).elfPath;
    for (const [k, at] of opts.points.entries()) {
      progress.update(1 + k, `${at.vms} VMs${at.swap ? ` in ${at.memoryMiB} MiB with swap` : ''}: boot and measure`);
      const ns = createTapNamespace(`denali-request-${at.vms}-${process.pid}`);
      try {
        const booted = await bootPoint(ns, buildPoint(kernelElf, dir, at.vms), dir, at, opts.realtime);
        try {
          points.push(await measureWindow(ns, booted.m, at, opts.seconds, opts.realtime));
        } finally { await stopPoint(booted); }
        console.log(JSON.stringify(points[points.length - 1]));
      } finally { ns.remove(); }
    }
  } finally {
    restoreNeighbours();
    rmSync(dir, { recursive: true, force: true });
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'kernel-src', 'compiler', 'dsl',
    'guest-src');
  const commit = git('rev-parse', '--short', 'HEAD') + (dirty ? ' (modified in the work tree)' : '');
  const qemu = execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const seconds = Math.round((performance.now() - t0) / 1000);
  mkdirSync(RESULTS, { recursive: true });
  const json = { commit, qemu, seconds: opts.seconds, points };
  const name = opts.realtime ? 'request-realtime' : 'request';
  writeFileSync(join(RESULTS, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
  const md = [
    (opts.realtime
      ? `Where a web request's real time goes (\`npm run bench:request -- --realtime\`, commit ${commit}, ${qemu},`
        + ` TCG without -icount, so the profile's TSC is the host's: host cycles per request`
      : `Where a web request's instructions go (\`npm run bench:request\`, commit ${commit}, ${qemu}, TCG with`
        + ' `-icount shift=0,sleep=off`')
      + `, \`-m ${MEMORY_MIB}\`, \`-append profile keepcr3\`; the bench took ${seconds} s).`,
    '',
    requestTable(points),
    '',
    `Load: bench:web's (bench/loadgen.ts, ${DEFAULT_LOAD.concurrency} requests at once, keep-alive, uniform over the`
      + ` VMs, the ${PAGE_BYTES}-byte page; at the swap point, with a sparse swap disk of ${HTTPD_MEMORY_KIB} KiB a`
      + ' VM, Zipf(0.8) over them, most VMs swapped out), '
      + `${opts.seconds} s measured after a warm-up; the kernel's \`profile\``
      + ' (kernel-src/profile.ts) read as the window opens and closes, divided by the requests the guests counted'
      + ' in it. Kernel categories: trap (entry stubs, dispatch, other interrupts), hypercall (the entry and the'
      + ' calls not below), timer (PIT tick, alarms), nic (virtio-net), switch (the virtual switch: checks,'
      + ' queues, copies), scheduler (the VM switch), swap (write-outs, read-ins and page-ins: placement,'
      + ' checksums, requests, completions), disk (the virtio-blk interrupt). Guest categories (each VM counts'
      + ' its own, less the time it'
      + ' was out of ring 3): runtime (event loop, threads, timers), netif (Ethernet, ARP, IPv4), tcp (TCP and'
      + ' sockets), app (httpd). '
      + (opts.realtime
        ? 'Host cycles: the idle loop counted (the machine waiting for the load generator or the host); what the'
          + ' emulator spends lands in the category that paid it: a frame sent or received (the switch\'s calls)'
          + ' includes QEMU\'s tap and the host\'s network stack; the code run after a CR3 load (the next VM\'s'
          + ' categories) looks every page and translated block up again. On a shared host the figures move from run'
          + ' to run by 5-10%: compare columns of one run.'
        : 'The idle loop is not counted (under sleep=off its time is the clock\'s jump).'
          + ' Host ns per guest instruction: QEMU\'s CPU time over the window (all threads) over the instructions'
          + ' in it; this is what instruction counts cannot show (translation, the soft TLB that every CR3 load'
          + ' drops, device emulation), measured in the same run for every VM count.'),
    '',
  ].join('\n');
  writeFileSync(join(RESULTS, `${name}.md`), md);
  if (!opts.realtime) writeBenchPlot('request');
  console.log(md);
  progress.finish(`written: bench/results/${name}.json, ${name}.md${opts.realtime ? '' : ', request.png'}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(code => { process.exitCode = code; }, e => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exitCode = 1;
  });
}
