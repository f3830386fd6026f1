// npm run bench:relay — TCP throughput over a wire that delays, reorders and duplicates (issue 17): a
// 10 MiB echo (sent and read back at once, SHA-256 checked) through tools/relay.ts, against the same
// transfer between two Linux TCPs through the same relay (test/kernel/net-relay-path.ts):
//   Denali/TS  the echo app (guest-src/apps/echo.ts) in a VM, the kernel's virtio-net card on QEMU's dgram
//              netdev, the relay, socat, a tap; the client (Node, Linux's TCP) in the tap's namespace;
//   Linux      a Node echo server in a second namespace behind a tap on the relay's other side: the same
//              client, Linux's TCP at both ends.
// Two wires: the issue's (20 ms delay each way, 5% of frames held back 10 ms more, 1% sent twice) and a
// plain one through the same relay (no delay, nothing reordered or duplicated), for what the relay itself
// costs. RUNS transfers per system and wire, alternated; the median run's MB/s (both directions' bytes over
// the time) is the figure. Real time on a shared machine: the ratio of the two systems in the same run is
// what to read. Writes bench/results/relay.json, relay.md and relay.png.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { buildKernel, ROOT } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';
import {
  buildVms, startMachine, tapMissing, tapNamespace, writeEchoClient, echoTransfer, startLinuxEchoServer,
} from '../test/kernel/net-machine.ts';
import { createRelayPath, ISSUE_17_IMPAIRMENTS, type Impairments } from '../test/kernel/net-relay-path.ts';
import type { RelayCounters } from '../tools/relay.ts';
import { median } from '../tools/stats.ts';

const BYTES = 10 << 20;
const RUNS = 3;
const PORT = 7;
const SYSTEMS = ['denali', 'linux'] as const;
type System = typeof SYSTEMS[number];
const WIRES: Record<string, Impairments> = {
  impaired: ISSUE_17_IMPAIRMENTS,
  plain: { delayMs: 0, reorderPercent: 0, duplicatePercent: 0, seed: 17 },
};

interface Point { system: System; wire: string; runs: number[]; mbs: number; relay: RelayCounters[]; guest: string[] }

/** RUNS echoes of `system` over `wire`, each through a relay of its own (its counters are that run's). */
async function measure(system: System, wire: string, kernel: string, modules: string[], dir: string)
  : Promise<Point> {
  const point: Point = { system, wire, runs: [], mbs: 0, relay: [], guest: [] };
  const client = writeEchoClient(dir);
  for (let run = 0; run < RUNS; run++) {
    const ns = tapNamespace(`rl${run}`);
    try {
      const path = await createRelayPath(ns, WIRES[wire], system === 'linux');
      let stop: (() => void) | undefined;
      const machine = system === 'denali'
        ? await startMachine({ kernel, modules, netArgs: path.qemuArgs(), inside: ns }) : undefined;
      try {
        if (machine) await machine.waitFor(/^\[vm 0\] vm 0 echo on port 7$/m, 60_000);
        else stop = await startLinuxEchoServer(path.server!, dir, PORT);
        const from = machine?.out().length ?? 0;
        const r = echoTransfer(ns, client, '198.18.0.2', PORT, BYTES, 17 + run);
        if (r.received !== r.sent || r.bytesReceived !== BYTES) throw new Error(`${system}: the echo came back wrong`);
        point.runs.push(Math.round(2 * BYTES / r.ms / 10) / 100);
        if (machine) {
          point.guest.push((await machine.waitFor(/^\[vm 0\] vm 0 echo: connection \d+ closed, .*$/m, 30_000, from))
            .trim().replace(/^\[vm 0\] vm 0 echo: connection \d+ closed, /, ''));
        }
        point.relay.push(await path.stop());
      } finally { stop?.(); machine?.kill(); path.remove(); }
    } finally { ns.remove(); }
  }
  point.mbs = median(point.runs);
  return point;
}

function markdown(result: { commit: string; qemu: string; points: Point[]; benchSeconds: number }): string {
  const cell = (s: System, w: string) => result.points.find(p => p.system === s && p.wire === w)!;
  const ratio = (w: string) => Math.round(cell('denali', w).mbs / cell('linux', w).mbs * 100);
  const lines = [
    `TCP through a relay that delays, reorders and duplicates (\`npm run bench:relay\`, commit ${result.commit}, `
      + `${result.qemu}, TCG; ${result.benchSeconds} s): a ${BYTES >> 20} MiB echo, both directions at once, `
      + `MB/s of both directions' bytes (median of ${RUNS}).`,
    '',
    '| wire | Denali/TS echo VM | Linux to Linux | Denali/TS / Linux | runs (Denali/TS; Linux) |',
    '|---|--:|--:|--:|---|',
    ...Object.keys(WIRES).map(w => `| ${w === 'impaired'
      ? '20 ms each way, 5% reordered (10 ms more), 1% duplicated' : 'the same relay, nothing impaired'} | `
      + `**${cell('denali', w).mbs}** | **${cell('linux', w).mbs}** | ${ratio(w)}% | `
      + `${cell('denali', w).runs.join(', ')}; ${cell('linux', w).runs.join(', ')} |`),
    '',
    'The guest\'s TCP on the impaired wire (the echo app\'s counters, each run): '
      + cell('denali', 'impaired').guest.map(g => `\`${g}\``).join('; ') + '.',
    '',
    'Setup: test/kernel/net-relay-path.ts; the relay is tools/relay.ts (seeded, each run the same choices for '
      + 'the same frames), socat bridges the taps, the kernel\'s card (virtio-net) is on `-netdev dgram`. The '
      + 'echo VM has 4 MiB (256 KiB buffers a connection, window scaling and timestamps, RFC 7323); its TCP takes '
      + 'reordering for loss until its DupThresh adapts, and undoes a spurious recovery by Eifel (timestamps).',
    '',
    '![throughput through the relay](relay.png)',
  ];
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const missing = tapMissing(['socat', 'socat']);
  if (missing) { console.error(`bench:relay: ${missing}`); return 1; }
  const t0 = performance.now();
  const progress = new Progress('bench:relay', 1 + SYSTEMS.length * Object.keys(WIRES).length);
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-relay-'));
  try {
    progress.update(0, 'building the kernel and the echo app');
    const kernel = buildKernel(2, dir, dir).elfPath;
    const modules = buildVms(dir, 'relay', [{ image: 'guest-src/apps/echo.ts', count: 1, memoryKiB: 4096,
      argument: PORT, ipBase: '198.18.0.2' }]);
    const points: Point[] = [];
    for (const wire of Object.keys(WIRES)) {
      for (const system of SYSTEMS) {
        progress.update(1 + points.length, `${system} over the ${wire} wire, ${RUNS} runs`);
        points.push(await measure(system, wire, kernel, modules, dir));
      }
    }
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const result = {
      commit: git('rev-parse', '--short', 'HEAD'),
      qemu: execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0],
      bytes: BYTES, runs: RUNS, wires: WIRES, points,
      benchSeconds: Math.round((performance.now() - t0) / 1000),
    };
    const md = markdown(result);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'relay.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'relay.md'), md);
    console.log('\n' + md);
    writeBenchPlot('relay');
    progress.finish('written: bench/results/relay.json, bench/results/relay.md, bench/results/relay.png');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(code => { process.exitCode = code; }, e => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exitCode = 1;
  });
}
