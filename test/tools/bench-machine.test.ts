// Contract: bench/machine.ts's CPUs, for the benches that serve real clients (bench:web, bench:request):
// once a machine is ready, QEMU's virtual CPU thread (`CPU 0/TCG`, named by -name debug-threads=on; `ALL
// CPUs/TCG` under -icount) may run on the host's last CPU only, every other thread of QEMU (its main loop, its
// I/O threads) on the other CPUs, and the load generator on those too; on a host of one CPU nothing is
// pinned. Through the real path: one httpd VM booted as bench:web boots them (and as bench:request does,
// under -icount), in a namespace with a tap (root), and a second of load.
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQemu, waitListening, stopQemu, runLoadGenerator, type Machine } from '../../bench/machine.ts';
import { DEFAULT_LOAD } from '../../bench/loadgen.ts';
import { buildKernel } from '../../tools/build.ts';
import { buildManifest } from '../../tools/manifest.ts';
import { PAGE_BYTES } from '../../tools/linux-peer.ts';

/** A CPU list as the kernel prints it (`0-2,5`), expanded. */
function cpuList(text: string): number[] {
  return text.split(',').filter(Boolean).flatMap(range => {
    const [a, b] = range.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k);
  });
}
const allowed = (statusFile: string) =>
  cpuList(/^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(statusFile, 'utf8'))![1]);

const isRoot = process.getuid?.() === 0;
const title = "a bench machine once ready: its vCPU thread on the last CPU, QEMU's other threads and the load generator"
  + ` on the rest${isRoot ? '' : ' (skipped: needs root, a namespace with a tap)'}`;
(isRoot ? test : test.skip)(title, async t => {
  const { createTapNamespace } = await import('../../tools/net.ts');
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-machine-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const elf = buildKernel(2, dir, dir).elfPath;
  const manifest = join(dir, 'one.json');
  const group = { image: 'guest-src/apps/httpd.ts', count: 1, memoryKiB: 1024, argument: 0 };
  writeFileSync(manifest, JSON.stringify({ groups: [group] }));
  const built = buildManifest(manifest, { imagesDir: dir, outDir: dir });
  const ns = createTapNamespace(`denali-pin-${process.pid}`);
  t.teardown(() => ns.remove());
  const cpus = allowed('/proc/self/status');
  const last = cpus[cpus.length - 1], rest = cpus.slice(0, -1);
  let m: Machine | null = null;
  for (const icount of [true, false]) {             // bench:request's -icount, then bench:web's machine
    if (m) await stopQemu(m);
    m = startQemu(ns, { kernel: elf, initrd: built.modules }, dir, `pin-${icount}`,
      { memoryMiB: 64, append: 'keepcr3', icount });
    const machine = m;
    t.teardown(() => stopQemu(machine));
    t.is(await waitListening(m, 1, 120_000, 'bench-machine test'), 'ready', m.serial().slice(-2000));
    if (cpus.length < 2) { t.is(m.pinned, null); return; }
    t.deepEqual(m.pinned, { vcpu: String(last), others: rest.join(',') });
    const taskDir = `/proc/${m.child.pid}/task`;
    const threads = readdirSync(taskDir).map(tid => ({
      comm: readFileSync(`${taskDir}/${tid}/comm`, 'utf8').trim(), cpus: allowed(`${taskDir}/${tid}/status`),
    }));
    const vcpus = threads.filter(th => th.comm === (icount ? 'ALL CPUs/TCG' : 'CPU 0/TCG'));
    t.is(vcpus.length, 1, threads.map(th => th.comm).join(', '));
    t.deepEqual(vcpus[0].cpus, [last]);
    for (const th of threads.filter(th => !vcpus.includes(th))) t.deepEqual(th.cpus, rest, th.comm);
  }
  // The load generator, seen from its measured window: each of its processes (`ip netns exec` ran taskset,
  // which ran node) on the rest.
  const seen: number[][] = [];
  const r = await runLoadGenerator(ns, { ...DEFAULT_LOAD, seconds: 1, warmup: 0, base: '198.18.0.2', servers: 1,
    popularity: 'uniform', bytes: PAGE_BYTES }, edge => {
    if (edge !== 'start') return;
    for (const pid of readdirSync('/proc').filter(p => /^\d+$/.test(p))) {
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
      if (!cmdline.includes('bench/loadgen.ts') || cmdline.startsWith('ip\0')) continue;
      seen.push(allowed(`/proc/${pid}/status`));
    }
  });
  t.true(r.requests > 0 && r.failures === 0, JSON.stringify(r));
  t.true(seen.length >= 1);
  for (const s of seen) t.deepEqual(s, rest);
});
