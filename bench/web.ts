// npm run bench:web — web-server throughput, the paper's Figure 3 (issue 5; Denali paper §3.2).
//
// For N = 1, 10, 100, 500, 1,000, 10,000 and 100,000 VMs of guest-src/apps/httpd.ts (VM i at
// 198.18.0.2 + i), one boot per N: the kernel in qemu-system-i386 (TCG, real time: no -icount, real
// clients) with a virtio-net card on a tap in a network namespace of its own (tools/net.ts), ready once
// every VM printed its `httpd` line. Beyond 1,000 VMs (SWAP_FROM) memory is a cache: the boot gets a
// sparse swap disk of 1 MiB per VM (kernel-src/swap.ts), the VMs beyond memory start swapped out and are
// built in turn, idle ones are written out and a request for one reads it back: Figure 3 beyond the
// paper's 10,000. Then the load generator (bench/loadgen.ts) runs inside the namespace, uniform and
// Zipf(0.8) popularity over the VM ids alternately, RUNS times each: 64 loops at once, each drawing a
// VM for every request, keep-alive connections (at most 8 per VM, 1,024 idle in all), a warm-up
// (warmupSeconds), then SECONDS measured; a success is a 200 with the 2,048-byte page naming the right
// VM. A point's figure is its median run (the host is shared: a run during a burst of other work is
// an outlier).
// QEMU's CPU time is read over each measured window. Before and after each run the kernel's `vms`
// monitor command (COM1) prints its totals: VM switches, the switch's and the NIC's counters (web.json).
// The peer, in the same run: Debian's i386 kernel with busybox httpd in an initramfs
// (tools/linux-peer.ts) under the same qemu-system-i386 with the same flags (-m, the tap, virtio-net),
// serving the same kind of 2 KB page from 198.18.0.2, the same load generator sending every request to
// that one address.
// The neighbour table is one for all namespaces (its gc_thresh limits exist only in the initial
// namespace): with 1,000 VMs the host needs more than the default 1,024 entries, so the bench raises
// net.ipv4.neigh.default.gc_thresh1/2/3 while it runs and puts the old values back.
//
// Writes bench/results/web.csv, web.md, web.json (with each point's counters) and web.png (requests/s
// against VMs, one line per popularity, the Linux peer as a dashed line). Needs root (namespaces, tap).
// Options: --vms 1,10 (a subset), --seconds S (measured per run, 8), --runs R (per point, 3),
// --idle-limit N (idle keep-alive connections kept over all servers, 1,024), --no-linux, --no-denali,
// --merge (keep the points of the last bench/results/web.json this run does not measure, each marked
// with the commit it was measured at; a 100,000-VM point alone takes about 15 minutes), --tlb-flush N (the
// kernel booted with `tlbflush=N`: CR3 reloaded at every Nth netSend hypercall, so that one VM pays the
// emulator's cost of an address-space switch without the switch; results in web-tlb-flush.* instead).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir, loadavg, cpus } from 'node:os';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { buildKernel, ROOT } from '../tools/build.ts';
import { buildManifest } from '../tools/manifest.ts';
import { createSwapImage } from '../tools/qemu.ts';
import { VM_LIMIT } from '../abi/boot.ts';
import { createTapNamespace, tapUnavailable, type TapNamespace } from '../tools/net.ts';
import {
  prepareLinuxPeer, linuxPeerPage, PAGE_BYTES, LINUX_PEER_READY, LINUX_PEER_NAME, type LinuxPeer,
} from '../tools/linux-peer.ts';
import { DEFAULT_LOAD, type LoadOptions, type LoadResult, type Popularity } from './loadgen.ts';
import {
  startQemu, waitReady, waitListening, stopQemu, cpuSeconds, runLoadGenerator, listeningVms, raiseNeighbourLimits,
  monitorTotals, type Machine,
} from './machine.ts';
import { plotLines, type Rgb } from './plot.ts';
import { Progress } from '../tools/progress.ts';
import { median } from '../tools/stats.ts';

const VM_COUNTS = [1, 10, 100, 500, 1000, 10_000, 100_000];
/** From this many VMs on, the boot has a swap disk (more than fit in MEMORY_MIB resident). */
const SWAP_FROM = 1001;
const POPULARITIES: Popularity[] = ['uniform', 'zipf'];
/** Runs per point (the median is the figure) and the measured seconds of each. */
const RUNS = 3;
const SECONDS = 8;
/**
 * Warm-up before each measured window: 2 s, or N/200 s for N servers (5 s for 1,000), so that most VMs
 * have their keep-alive connection (and the host its ARP entry) before the count starts: each run is a
 * new load-generator process whose connections are all new.
 */
const warmupSeconds = (servers: number) => Math.min(WARMUP_LIMIT, Math.max(DEFAULT_LOAD.warmup, servers / 200));
/**
 * Beyond 6,000 VMs no warm-up opens a connection to most of them (1,024 idle connections at most), so
 * the warm-up stops at 30 s: what it is then for is the swap cache settling on the popular VMs.
 */
const WARMUP_LIMIT = 30;
const HTTPD_IMAGE = 'guest-src/apps/httpd.ts';
/**
 * The kernel's command line: VM switches between VMs of one image keep CR3 (kernel-src/paging.ts), which under
 * QEMU's TCG saves the soft TLB and jump cache a CR3 load drops (1,000 VMs: 6,095 -> 9,336 requests/s).
 */
const KERNEL_APPEND = 'keepcr3';
/** What httpd.ts's header asks for: TCP rings, 16 thread stacks, request buffers (touched pages only). */
const HTTPD_MEMORY_KIB = 1024;
/** QEMU's memory for every boot, Denali's and Linux's: enough for 1,000 VMs. */
const MEMORY_MIB = 1024;
const FIRST_VM = '198.18.0.2';
const RESULTS = join(ROOT, 'bench', 'results');

export interface WebPoint {
  /** linux: busybox httpd (a fork per connection, no keep-alive); linux-epoll: bench/peer/httpd.c. */
  system: 'denali' | 'linux' | 'linux-epoll'; vms: number; popularity: Popularity | 'single';
  requests: number; seconds: number; requestsPerSecond: number; failures: number;
  failureKinds: Record<string, number>; distinctServers: number; shareOfServer0: number; connections: number;
  /** QEMU's CPU time (all threads) over the measured window as a share of one host core. */
  qemuCpuPercent: number | null;
  /** The load generator's CPU time over the measured window as a share of one core. */
  clientCpuPercent: number;
  /** Requests per second of QEMU CPU time: the figure with a starved QEMU (a loaded host) factored out. */
  requestsPerQemuCpuSecond: number | null;
  /** The host's 1-minute load average when the point started. */
  hostLoad: number;
  /**
   * The kernel's totals after the run (Denali: the `vms:`, `switch:` and `nic:` lines of its `vms` monitor command), or
   * null.
   */
  counters: string | null;
  /** VM switches per request over the whole run, warm-up included (Denali), or null. */
  switchesPerRequest: number | null;
  /** Why the point has no figure, or what went wrong (empty when nothing did). */
  note: string;
  /** Each run's requests/s (requestsPerSecond is their median). */
  runs: number[];
  /** QEMU's threads were pinned (bench/machine.ts pinCpus); absent in points measured before it. */
  pinned?: boolean;
  /** The median run's request latencies and the client's TCP retransmissions (LoadResult); absent in older points. */
  latencyMs?: LoadResult['latencyMs'];
  tcp?: LoadResult['tcp'];
}

/**
 * One point from its runs: requests/s is the median run's (a run when other work took the host's
 * CPUs is an outlier); requests, seconds, failures and connections are summed over all runs, the CPU
 * shares are the median run's, the host load the highest, the notes all kept.
 */
export function combineRuns(runs: WebPoint[]): WebPoint {
  if (runs.length === 1) return runs[0];
  const mid = runs.find(r => r.requestsPerSecond === median(runs.map(x => x.requestsPerSecond), 'lower'))!;
  const sum = (f: (r: WebPoint) => number) => runs.reduce((a, r) => a + f(r), 0);
  const failureKinds: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.failureKinds)) failureKinds[k] = (failureKinds[k] ?? 0) + n;
  return {
    ...mid, requests: sum(r => r.requests), seconds: sum(r => r.seconds), failures: sum(r => r.failures), failureKinds,
    connections: sum(r => r.connections), hostLoad: Math.max(...runs.map(r => r.hostLoad)),
    counters: runs[runs.length - 1].counters, note: [...new Set(runs.map(r => r.note).filter(Boolean))].join('; '),
    runs: runs.map(r => r.requestsPerSecond),
  };
}

const CSV_COLUMNS = ['system', 'vms', 'popularity', 'requests', 'seconds', 'requests_per_second', 'runs_requests_per_second', 'failures', 'failure_kinds', 'connections', 'qemu_cpu_percent', 'requests_per_qemu_cpu_second', 'switches_per_request', 'client_cpu_percent', 'host_load', 'note'];

const csvField = (v: string | number | null) => {
  const s = v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The CSV: a header line, then one line per point. */
export function webCsv(points: WebPoint[]): string {
  const kinds = (k: Record<string, number>) => Object.entries(k).map(([name, n]) => `${name}: ${n}`).join('; ');
  return [CSV_COLUMNS.join(','), ...points.map(p => [p.system, p.vms, p.popularity, p.requests, p.seconds, p.requestsPerSecond, p.runs.join(' '), p.failures, kinds(p.failureKinds), p.connections, p.qemuCpuPercent, p.requestsPerQemuCpuSecond, p.switchesPerRequest, p.clientCpuPercent, p.hostLoad, p.note].map(csvField).join(','))].join('\n') + '\n';
}

const fmt = (n: number) => n.toLocaleString('en-US');
const popularityName = (p: WebPoint['popularity']) => (p === 'zipf' ? 'Zipf(0.8)' : p === 'uniform' ? 'uniform' : 'one address');

/** The table of the md file and the README. */
export function webTable(points: WebPoint[]): string {
  return [
    '| server | VMs | popularity | requests/s (median) | runs | failures | QEMU CPU | requests per QEMU CPU-second '
      + '| VM switches per request | connections opened / requests | latency ms p50 / p99 / max | client TCP '
      + 'retransmits (SYN) | note |',
    '|---|--:|---|--:|---|--:|--:|--:|--:|--:|--:|--:|---|',
    ...points.map(p => `| ${[
      SYSTEM_NAMES[p.system], fmt(p.vms), popularityName(p.popularity),
      p.note && !p.requests ? '-' : `**${fmt(p.requestsPerSecond)}**`, p.runs.map(fmt).join(', '), fmt(p.failures),
      p.qemuCpuPercent === null ? '-' : `${p.qemuCpuPercent}%`,
      p.requestsPerQemuCpuSecond === null ? '-' : fmt(p.requestsPerQemuCpuSecond),
      p.switchesPerRequest === null ? '-' : p.switchesPerRequest, `${fmt(p.connections)} / ${fmt(p.requests)}`,
      p.latencyMs ? `${p.latencyMs.p50} / ${p.latencyMs.p99} / ${fmt(p.latencyMs.max)}` : '-',
      p.tcp ? `${fmt(p.tcp.retransmitted)} (${fmt(p.tcp.synRetransmitted)})` : '-',
      [p.note, p.pinned ? '' : 'QEMU unpinned'].filter(Boolean).join('; '),
    ].join(' | ')} |`),
  ].join('\n');
}

const SYSTEM_NAMES: Record<WebPoint['system'], string> = {
  denali: 'Denali/TS httpd VMs', linux: 'Linux peer (busybox httpd)',
  'linux-epoll': 'Linux peer (epoll httpd, keep-alive)',
};
const isLinux = (system: WebPoint['system']) => system !== 'denali';

const COLORS: Record<string, Rgb> = {
  uniform: [200, 40, 40], zipf: [30, 90, 200], linux: [40, 140, 40], 'linux-epoll': [120, 120, 40],
};

/** Figure 3: requests/s against the number of VMs (log scale), one line per popularity, Linux dashed. */
export function webPlot(points: WebPoint[], subtitle = ''): Buffer {
  const denali = points.filter(p => p.system === 'denali' && !(p.note && !p.requests));
  const linux = points.filter(p => isLinux(p.system) && p.requests > 0);
  const series = POPULARITIES.map(pop => ({
    label: `Denali/TS, ${popularityName(pop)}`, color: COLORS[pop],
    points: denali.filter(p => p.popularity === pop).map(p => ({ x: p.vms, y: p.requestsPerSecond })),
  })).filter(s => s.points.length > 0);
  const references = linux.map(p => ({
    label: `${SYSTEM_NAMES[p.system]}, 1 server: ${fmt(p.requestsPerSecond)}/s`, y: p.requestsPerSecond,
    color: COLORS[p.system],
  }));
  if (series.length === 0) series.push({ label: 'Denali/TS: no figures', color: COLORS.uniform, points: [{ x: 1, y: 0 }, { x: 1000, y: 0 }] });
  return plotLines({
    title: `Web server throughput, 2 KB pages${subtitle ? ` (${subtitle})` : ''}`,
    xLabel: 'number of web server VMs (log scale)', yLabel: 'aggregate requests per second',
    series, references, logX: true,
  });
}

/** What `curl` to a sample of the VMs of a swap point found (issue 15: every VM boots, a sample answers). */
interface CurlSample {
  vms: number; asked: number; answered: number; seconds: number; failures: string[]; commit?: string;
}
/** How many VMs each swap point's curl sample asks, and how many curls run at once. */
const CURL_SAMPLE = 1000;
const CURL_WIDTH = 8;

/**
 * `curl` (inside the namespace, a new process and connection each) to CURL_SAMPLE distinct VMs drawn
 * with a fixed seed: how many answered 200 with their own 2,048-byte page. Most of them are swapped out
 * when asked (the load runs before favoured others), so this is the read-in path under a real client.
 */
async function curlSample(ns: TapNamespace, vms: number): Promise<CurlSample> {
  let x = 0x2545f491;
  const chosen = new Set<number>();
  while (chosen.size < Math.min(CURL_SAMPLE, vms)) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    chosen.add(x % vms);
  }
  const ids = [...chosen], failures: string[] = [];
  const t0 = performance.now();
  let next = 0, answered = 0;
  await Promise.all(Array.from({ length: CURL_WIDTH }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const ip = addressOfVm(id);
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>(resolve => {
        const child = spawn(ns.exec[0], [...ns.exec.slice(1), 'curl', '-sS', '--max-time', '30',
          '-w', '\n%{http_code} %{size_download}', `http://${ip}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        child.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
        child.on('close', status => resolve({ status, stdout, stderr }));
      });
      const right = r.stdout.includes(`<h1>Denali VM ${id}</h1>`) && r.stdout.endsWith(`\n200 ${PAGE_BYTES}`);
      if (r.status === 0 && right) answered++;
      else if (failures.length < 5) {
        failures.push(`vm ${id} (${ip}): status ${r.status} ${r.stderr.trim()} ${r.stdout.slice(-30)}`);
      }
    }
  }));
  return { vms, asked: ids.length, answered, seconds: Math.round((performance.now() - t0) / 100) / 10, failures };
}

/** VM i's address: FIRST_VM + i. */
function addressOfVm(i: number): string {
  const n = (FIRST_VM.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0) + i) >>> 0;
  return [24, 16, 8, 0].map(shift => (n >>> shift) & 255).join('.');
}

/** One load run against `m`, with QEMU's CPU share measured over it. */
async function measure(ns: TapNamespace, m: Machine, o: LoadOptions, system: WebPoint['system'], vms: number): Promise<WebPoint> {
  const hostLoad = Math.round(loadavg()[0] * 100) / 100;
  const before = system === 'denali' ? await monitorTotals(m) : null;
  // QEMU's CPU time over the measured window: sampled when the load generator says it starts and ends.
  let cpu0: number | null = null, cpu1: number | null = null, t0 = 0, t1 = 0;
  const r = await runLoadGenerator(ns, o, edge => {
    if (edge === 'start') { cpu0 = cpuSeconds(m.child.pid); t0 = performance.now(); } else { cpu1 = cpuSeconds(m.child.pid); t1 = performance.now(); }
  });
  const wall = (t1 - t0) / 1000;
  const qemuCpu = cpu0 !== null && cpu1 !== null && wall > 0 ? (cpu1 as number) - (cpu0 as number) : null;
  const after = system === 'denali' ? await monitorTotals(m) : null;
  const counters = after?.lines ?? null;
  const switchesPerRequest = before && after && r.allRequests ? Math.round(((after.switches - before.switches) / r.allRequests) * 10) / 10 : null;
  const note = r.failures ? `${fmt(r.failures)} failed: ${Object.entries(r.failureKinds).map(([k, n]) => `${k} ${fmt(n)}`).join(', ')}` : '';
  return {
    system, vms, popularity: isLinux(system) ? 'single' : o.popularity, requests: r.requests, seconds: r.seconds,
    requestsPerSecond: r.requestsPerSecond, failures: r.failures, failureKinds: r.failureKinds, distinctServers: r.distinctServers,
    shareOfServer0: r.shareOfServer0, connections: r.connections, clientCpuPercent: r.clientCpuPercent,
    qemuCpuPercent: qemuCpu === null ? null : Math.round((qemuCpu / wall) * 100), hostLoad, counters, switchesPerRequest, note, runs: [r.requestsPerSecond],
    pinned: m.pinned !== null, latencyMs: r.latencyMs, tcp: r.tcp,
    requestsPerQemuCpuSecond: qemuCpu ? Math.round(r.requestsPerSecond / (qemuCpu / wall)) : null,
  };
}

const emptyPoint = (system: WebPoint['system'], vms: number, popularity: WebPoint['popularity'], note: string): WebPoint => ({
  system, vms, popularity, requests: 0, seconds: 0, requestsPerSecond: 0, failures: 0, failureKinds: {}, distinctServers: 0,
  shareOfServer0: 0, connections: 0, qemuCpuPercent: null, clientCpuPercent: 0, requestsPerQemuCpuSecond: null, hostLoad: Math.round(loadavg()[0] * 100) / 100, counters: null, switchesPerRequest: null, note, runs: [],
});

function options(argv: string[]) {
  const o = {
    vms: VM_COUNTS, seconds: SECONDS, runs: RUNS, idleLimit: DEFAULT_LOAD.idleLimit, linux: true, denali: true,
    merge: false, tlbFlush: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--vms') o.vms = argv[++i].split(',').map(Number);
    else if (argv[i] === '--seconds') o.seconds = Number(argv[++i]);
    else if (argv[i] === '--runs') o.runs = Number(argv[++i]);
    else if (argv[i] === '--idle-limit') o.idleLimit = Number(argv[++i]);
    else if (argv[i] === '--no-linux') o.linux = false;
    else if (argv[i] === '--no-denali') o.denali = false;
    else if (argv[i] === '--merge') o.merge = true;
    else if (argv[i] === '--tlb-flush') o.tlbFlush = Number(argv[++i]);
    else throw new Error(`bench:web: unknown option ${argv[i]} (--vms 1,10 --seconds S --runs R --idle-limit N `
      + '--no-linux --no-denali --merge --tlb-flush N)');
  }
  if (o.vms.some(n => !Number.isInteger(n) || n < 1 || n > VM_LIMIT) || !(o.seconds > 0)
    || !(Number.isInteger(o.runs) && o.runs >= 1) || !(Number.isInteger(o.tlbFlush) && o.tlbFlush >= 0)) {
    throw new Error(`bench:web: --vms takes VM counts from 1 to ${VM_LIMIT}, --seconds a positive number, `
      + '--runs and --tlb-flush positive integers');
  }
  return o;
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const why = tapUnavailable();
  if (why) { console.error(`bench:web: needs a network namespace with a tap device (root, iproute2, /dev/net/tun): ${why}`); return 2; }
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-web-'));
  const restoreNeighbours = raiseNeighbourLimits();
  // Ctrl-C or a kill: QEMU goes with the process group or by its own kill below; the namespace and the
  // neighbour limits are put back here.
  let current: { ns: TapNamespace; m?: Machine } | null = null;
  const interrupted = (signal: NodeJS.Signals) => {
    current?.m?.child.kill('SIGKILL');
    current?.ns.remove();
    restoreNeighbours();
    rmSync(dir, { recursive: true, force: true });
    console.error(`bench:web: stopped by ${signal}`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const points: WebPoint[] = [];
  const progress = new Progress('bench:web', 2 + (opts.denali ? opts.vms.length : 0));
  const samples: CurlSample[] = [];
  // A success must be the right server's page: VM i's names it (httpd.ts: `<h1>Denali VM i</h1>`).
  const load = (servers: number, popularity: Popularity, mustContain = '<h1>Denali VM {id}</h1>'): LoadOptions =>
    ({ ...DEFAULT_LOAD, seconds: opts.seconds, warmup: warmupSeconds(servers), idleLimit: opts.idleLimit, base: FIRST_VM, servers, popularity, bytes: PAGE_BYTES, mustContain });
  let peer: LinuxPeer | null = null;
  let linuxLeastMemory: number | null = null;
  let kernelElf = '';
  try {
    // ---- build ----
    progress.update(0, 'building');
    if (opts.linux) peer = prepareLinuxPeer(linuxPeerPage(), line => console.log(line));
    if (opts.denali) {
      if (!existsSync(join(ROOT, HTTPD_IMAGE))) throw new Error(`bench:web: no ${HTTPD_IMAGE} yet`);
      kernelElf = buildKernel(2, dir, dir).elfPath;
    }
    console.log(`built in ${Math.round(performance.now() - t0)} ms`);

    // ---- the Linux peer ----
    if (peer) {
      progress.update(1, 'the Linux peer');
      const ns = createTapNamespace(`denali-web-linux-${process.pid}`);
      let m: Machine | undefined;
      current = { ns };
      try {
        const medium = { kernel: peer.kernel, initrd: [peer.initrd] };
        m = startQemu(ns, medium, dir, 'linux', { append: peer.append, memoryMiB: MEMORY_MIB });
        current.m = m;
        const state = await waitReady(m, s => s.includes(LINUX_PEER_READY), 120_000);
        if (state !== 'ready') points.push(emptyPoint('linux', 1, 'single', `the peer did not come up (${state}): ${m.serial().slice(-300).replace(/\n/g, ' ')}`));
        else {
          for (const [system, port] of [['linux', 80], ['linux-epoll', peer.epoll.port]] as const) {
            const runs: WebPoint[] = [];
            for (let k = 0; k < opts.runs; k++) {
              const o = { ...load(1, 'uniform', `<h1>${LINUX_PEER_NAME}</h1>`), port };
              runs.push(await measure(ns, m, o, system, 1));
            }
            points.push(combineRuns(runs));
            console.log(`${system}: ${JSON.stringify(points[points.length - 1])}`);
          }
        }
      } finally { if (m) await stopQemu(m); ns.remove(); current = null; }
      linuxLeastMemory = await leastPeerMemory(peer, dir);
      console.log(`linux: least -m that boots and serves: ${linuxLeastMemory ?? 'none tried served'} MiB`);
    }

    // ---- Denali: one boot per VM count, both popularities ----
    // With --tlb-flush N, each VM count twice in a row: as it is, then with CR3 reloaded at every Nth send.
    const flushes = opts.tlbFlush ? [0, opts.tlbFlush] : [0];
    for (const [k, vms] of (opts.denali ? opts.vms : []).entries()) for (const flush of flushes) {
      const knob = flush ? `, tlbflush=${flush}` : '';
      progress.update(2 + k, `${vms} VMs${knob}: boot and ${opts.runs} runs of each popularity`);
      const manifestJson = join(dir, `web-${vms}.json`);
      writeFileSync(manifestJson, JSON.stringify({ groups: [{ image: HTTPD_IMAGE, count: vms, memoryKiB: HTTPD_MEMORY_KIB, argument: 0 }] }));
      const built = buildManifest(manifestJson, { imagesDir: dir, outDir: dir });
      const swapImage = vms >= SWAP_FROM ? join(dir, `swap-${vms}.img`) : undefined;
      if (swapImage) createSwapImage(swapImage, (vms + 64) * HTTPD_MEMORY_KIB * 1024);
      const ns = createTapNamespace(`denali-web-${vms}-${process.pid}`);
      let m: Machine | undefined;
      current = { ns };
      try {
        const bootStart = performance.now();
        const medium = { kernel: kernelElf, initrd: built.modules };
        m = startQemu(ns, medium, dir, `denali-${vms}`,
          { swapImage, memoryMiB: MEMORY_MIB, append: flush ? `${KERNEL_APPEND} tlbflush=${flush}` : KERNEL_APPEND });
        current.m = m;
        const state = await waitListening(m, vms, 60_000 + vms * 120, `bench:web: boot of ${vms} VMs`);
        const bootMs = Math.round(performance.now() - bootStart);
        const listening = listeningVms(m.serial()).size;
        console.log(`denali ${vms} VMs: ${state} after ${bootMs} ms, ${listening} listening`);
        if (state === 'exited') {
          const tail = m.serial().split('\n').filter(Boolean).slice(-4).join(' / ');
          for (const pop of POPULARITIES) points.push(emptyPoint('denali', vms, pop, `QEMU exited before every VM listened (${listening} of ${vms}): ${tail}`));
          continue;
        }
        // The popularities alternate run by run, so a burst of other work on the host hits both alike.
        const runs = new Map<Popularity, WebPoint[]>(POPULARITIES.map(pop => [pop, []]));
        for (let k = 0; k < opts.runs; k++) for (const pop of POPULARITIES) {
          const p = await measure(ns, m, load(vms, pop), 'denali', vms);
          runs.get(pop)!.push(p);
          console.log(`denali ${vms} ${pop} run ${k + 1}: ${p.requestsPerSecond} requests/s, ${p.failures} failures, qemu cpu ${p.qemuCpuPercent}%, load ${p.hostLoad}${p.counters ? `\n  ${p.counters.replace(/\n/g, '\n  ')}` : ''}`);
        }
        if (swapImage && state === 'ready') {
          const sample = await curlSample(ns, vms);
          samples.push(sample);
          console.log(`denali ${vms} curl sample: ${sample.answered} of ${sample.asked} answered with their own page `
            + `in ${sample.seconds} s${sample.failures.length ? `; ${sample.failures.join('; ')}` : ''}`);
        }
        for (const pop of POPULARITIES) {
          const p = combineRuns(runs.get(pop)!);
          if (state === 'timeout') p.note = `only ${listening} of ${vms} VMs listened after ${Math.round(bootMs / 1000)} s${p.note ? '; ' + p.note : ''}`;
          const ended = [...m.serial().matchAll(/^vm \d+ ended: .*$/gm)].map(e => e[0]);
          if (ended.length) p.note = `${ended.length} VMs ended by the kernel during the runs (${ended[0]})${p.note ? '; ' + p.note : ''}`;
          const where = flush === 1 ? 'every netSend' : `one netSend in ${flush}`;
          if (flush) p.note = `CR3 reloaded at ${where} (tlbflush=${flush})${p.note ? '; ' + p.note : ''}`;
          points.push(p);
        }
      } finally {
        if (m) await stopQemu(m);
        ns.remove();
        if (swapImage) rmSync(swapImage, { force: true });
        current = null;
      }
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    restoreNeighbours();
    rmSync(dir, { recursive: true, force: true });
  }

  // ---- results ----
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', 'kernel-src', 'compiler', 'dsl', 'guest-src') ? ' (modified in the work tree)' : '');
  const name = opts.tlbFlush ? 'web-tlb-flush' : 'web';
  if (opts.merge && existsSync(join(RESULTS, `${name}.json`))) {
    // The last run's points this one did not measure, in order, each marked with the commit it came from.
    const last = JSON.parse(readFileSync(join(RESULTS, `${name}.json`), 'utf8')) as {
      commit: string; points: WebPoint[];
      curlSamples?: CurlSample[] };
    const measured = (p: WebPoint) => isLinux(p.system) ? opts.linux : opts.denali && opts.vms.includes(p.vms);
    const kept = last.points.filter(p => !measured(p)).map(p => p.note.includes('measured at commit') ? p
      : { ...p, note: `measured at commit ${last.commit}${p.note ? `; ${p.note}` : ''}` });
    points.splice(0, points.length, ...[...kept, ...points].sort((a, b) =>
      (isLinux(a.system) ? -1 : a.vms) - (isLinux(b.system) ? -1 : b.vms)));
    if (!opts.linux) linuxLeastMemory = (last as { linuxLeastMemoryMiB?: number | null }).linuxLeastMemoryMiB ?? null;
    const keptSamples = (last.curlSamples ?? []).filter(c => !opts.vms.includes(c.vms) || !opts.denali)
      .map(c => ({ ...c, commit: c.commit ?? last.commit }));
    samples.splice(0, samples.length, ...[...keptSamples, ...samples].sort((a, b) => a.vms - b.vms));
  }
  const qemu = execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const seconds = Math.round((performance.now() - t0) / 1000);
  const loads = points.map(p => p.hostLoad);
  const result = {
    commit, qemu, cpus: cpus().length, memoryMiB: MEMORY_MIB, image: HTTPD_IMAGE, vmMemoryKiB: HTTPD_MEMORY_KIB,
    load: { ...DEFAULT_LOAD, seconds: opts.seconds, idleLimit: opts.idleLimit }, runs: opts.runs,
    linuxPeer: peer && {
      kernel: peer.kernelPackage, busybox: peer.busyboxPackage, modules: peer.modules, address: peer.address,
      epoll: peer.epoll,
    },
    linuxLeastMemoryMiB: linuxLeastMemory, ratioToBetterLinux: ratioToBetterLinux(points, commit),
    benchSeconds: seconds, points, curlSamples: samples,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.csv`), webCsv(points));
  writeFileSync(join(RESULTS, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(RESULTS, `${name}.png`), webPlot(points, `qemu-system-i386 TCG, commit ${commit.split(' ')[0]}`));
  const md = [
    `Web-server throughput (\`npm run bench:web\`, commit ${commit}, ${qemu}, TCG, \`-m ${MEMORY_MIB}\`, virtio-net on a tap in a network namespace; the whole bench took ${seconds} s).`,
    ...(opts.tlbFlush ? ['', `With \`--tlb-flush ${opts.tlbFlush}\`: each VM count booted twice in a row, as it is `
      + `and with \`-append tlbflush=${opts.tlbFlush}\` (the kernel reloads CR3 with its own value at `
      + `${opts.tlbFlush === 1 ? 'every netSend hypercall' : `one netSend hypercall in ${opts.tlbFlush}`}, `
      + "dropping QEMU's soft TLB and jump cache as a VM switch does, without the switch: kernel-src/hypercall.ts); "
      + 'the rows with that note are the second.'] : []),
    '',
    webTable(points),
    '',
    ...peerSummary(points, linuxLeastMemory, commit),
    ...samples.map(c => `After the runs of ${fmt(c.vms)} VMs `
      + `(swap${c.commit ? `, measured at commit ${c.commit}` : ''}): \`curl\` to ${fmt(c.asked)} VMs drawn at `
      + `random, ${CURL_WIDTH} at a time, each a new process and connection: **${fmt(c.answered)} of `
      + `${fmt(c.asked)}** answered 200 with their own page, in ${c.seconds} s`
      + `${c.failures.length ? ` (first failures: ${c.failures.join('; ')})` : ''}.`),
    ...(samples.length ? [''] : []),
    `Load: bench/loadgen.ts inside the namespace, ${DEFAULT_LOAD.concurrency} requests at once, keep-alive, at most ${DEFAULT_LOAD.perServer} connections per server and ${fmt(opts.idleLimit)} idle ones in all (the longest idle closed beyond), each request to a server drawn from the popularity (Zipf: P(i) proportional to 1/(i+1)^0.8, seed ${DEFAULT_LOAD.seed}), a warm-up of ${DEFAULT_LOAD.warmup} s (N/200 s for N VMs above 400, at most ${WARMUP_LIMIT} s: all connections are new in each run) then ${opts.seconds} s measured, ${opts.runs} runs per point (the two popularities alternating), the median run's requests/s the figure; a success is a 200 with the ${PAGE_BYTES}-byte page naming the right server. ` +
      `Denali/TS: ${HTTPD_IMAGE}, ${HTTPD_MEMORY_KIB} KiB per VM, VM i at 198.18.0.2 + i, one boot per VM count ` +
      `with \`-append ${KERNEL_APPEND}\` (VMs of one image switch without a CR3 load: kernel-src/paging.ts); ` +
      `from ${fmt(SWAP_FROM)} VMs on with a sparse swap disk of ${HTTPD_MEMORY_KIB} KiB per VM (virtio-blk on ` +
      `the host's file system): memory is a cache of the VMs, the \`blk:\` and \`swap:\` counters after each ` +
      'run are in web.json. ' +
      (peer ? `Linux peer: ${peer.kernelPackage} (i386) with ${peer.busyboxPackage} httpd in an initramfs, ` +
        `virtio-net modules ${peer.modules.join(', ')}, under the same qemu-system-i386 flags, at ` +
        `${peer.address}; busybox httpd answers each request on a new connection (Connection: close) ` +
        `from a forked process; the epoll httpd (bench/peer/httpd.c, ${peer.epoll.compiler} ` +
        `${peer.epoll.flags.join(' ')}, port ${peer.epoll.port}) serves every connection of one epoll ` +
        `loop with keep-alive, as httpd.ts does. ` : '') +
      `CPUs: QEMU's virtual CPU thread pinned to the host's last CPU, its other threads and the load generator to ` +
      `the others (bench/machine.ts pinCpus; the points noted QEMU unpinned were measured before it). ` +
      `QEMU CPU is QEMU's CPU time (all its threads: TCG runs the guest on one, the tap and virtio-net I/O on ` +
      `another) over the measured window as a share of one core; well below 100% the guest waited for the ` +
      `client or for the host's CPUs; requests per QEMU CPU-second divides the rate by that share (both of the ` +
      `median run): it factors a starved QEMU out on a loaded host, but not a starved client. Connections ` +
      `opened / requests: over all runs' measured windows; the other requests went on kept-alive connections. ` +
      `VM switches per request: the kernel's switch count (its \`vms\` monitor command before and after a run) ` +
      `over every request of the run, warm-up included (median run); the switch's and NIC's counters after each ` +
      `run are in web.json. Latency (median run): from the draw of a request's server to the end of its page, ` +
      `waiting for a connection included, over the window's successes. Client TCP retransmits: the load ` +
      `generator's namespace's retransmitted segments over the median run's window (SYNs among them): a ` +
      `frame the guests or the switch dropped shows here, a late one as the latency's tail. ` +
      `This machine: ${cpus().length} cores shared with other work; 1-minute load average at the start of each point ${Math.min(...loads)}..${Math.max(...loads)}.`,
    '',
    `![requests per second against VMs](${name}.png)`,
    '',
  ].join('\n');
  writeFileSync(join(RESULTS, `${name}.md`), md);
  console.log(md);
  progress.finish(`written: bench/results/${name}.csv, ${name}.json, ${name}.md, ${name}.png`);
  return 0;
}

/** The commit point `p` was measured at: its note's (a point kept by --merge), else this run's, `commit`. */
const measuredAt = (p: WebPoint, commit: string): string =>
  /measured at commit (\w+)/.exec(p.note)?.[1] ?? commit.split(' ')[0];

/**
 * Denali/TS's best rate over the better Linux peer's (both one QEMU, the same flags), or null: over the
 * Denali points measured at the peer's commit only (with --merge, older points may come from another host).
 */
function ratioToBetterLinux(points: WebPoint[], commit: string)
  : { denali: number; linux: number; ratio: number } | null {
  const peers = points.filter(p => isLinux(p.system));
  const best = peers.reduce<WebPoint | null>((a, p) => (a && a.requestsPerSecond >= p.requestsPerSecond ? a : p), null);
  if (!best) return null;
  const linux = best.requestsPerSecond;
  const at = measuredAt(best, commit);
  const denali = Math.max(0, ...points.filter(p => p.system === 'denali' && measuredAt(p, commit) === at)
    .map(p => p.requestsPerSecond));
  return linux > 0 && denali > 0 ? { denali, linux, ratio: Math.round((denali / linux) * 100) / 100 } : null;
}

/** The lines under the table: Denali/TS against the better peer, and the peer's least memory. */
function peerSummary(points: WebPoint[], leastMiB: number | null, commit: string): string[] {
  const r = ratioToBetterLinux(points, commit);
  const lines: string[] = [];
  if (r) {
    lines.push(`Denali/TS's best rate over the better Linux peer's, both measured at one commit: ${fmt(r.denali)} / `
      + `${fmt(r.linux)} = **${r.ratio}x**.`);
  }
  if (leastMiB !== null) {
    lines.push(`The least \`-m\` at which the Linux peer boots and serves its page: **${leastMiB} MiB** (tried in ` +
      `${PEER_MEMORY_STEP_MIB} MiB steps); so ${MEMORY_MIB} MiB holds ${Math.floor(MEMORY_MIB / leastMiB)} such ` +
      'Linux VMs ' +
      `where Denali/TS runs its VMs in the same ${MEMORY_MIB} MiB (and 100,000 of them with swap).`);
  }
  return lines.length ? [...lines, ''] : [];
}

/** Memory sizes tried for the peer, from large to small, until one does not boot or serve. */
const PEER_MEMORY_STEP_MIB = 8;
const PEER_MEMORY_START_MIB = 128;

/**
 * The least -m (a multiple of PEER_MEMORY_STEP_MIB) at which the peer boots and serves its page on the
 * epoll port: boots at 128, 120, ... MiB until one fails (each boot in a namespace of its own).
 */
async function leastPeerMemory(peer: LinuxPeer, dir: string): Promise<number | null> {
  let least: number | null = null;
  for (let mib = PEER_MEMORY_START_MIB; mib >= PEER_MEMORY_STEP_MIB; mib -= PEER_MEMORY_STEP_MIB) {
    const ns = createTapNamespace(`denali-web-mem-${process.pid}`);
    let m: Machine | undefined;
    let served = false;
    try {
      const medium = { kernel: peer.kernel, initrd: [peer.initrd] };
      m = startQemu(ns, medium, dir, `linux-${mib}`, { append: peer.append, memoryMiB: mib });
      if (await waitReady(m, s => s.includes(LINUX_PEER_READY), 90_000) === 'ready') {
        const r = spawnSync(ns.exec[0], [...ns.exec.slice(1), 'curl', '-s', '--max-time', '10',
          `http://${peer.address}:${peer.epoll.port}/`], { encoding: 'latin1' });
        served = r.status === 0 && r.stdout.includes(`<h1>${LINUX_PEER_NAME}</h1>`);
      }
    } finally { if (m) await stopQemu(m); ns.remove(); }
    console.log(`linux: -m ${mib}: ${served ? 'serves' : 'does not serve'}`);
    if (!served) break;
    least = mib;
  }
  return least;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(code => { process.exitCode = code; }, e => { console.error(e instanceof Error ? e.stack ?? e.message : e); process.exitCode = 1; });
}
