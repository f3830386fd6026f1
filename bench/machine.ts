// QEMU in a network namespace with a tap device, for the benches that serve real clients (bench/web.ts,
// bench/request.ts): boot with COM1 on a ConsoleLine (the kernel's monitor), wait until the serial
// output says ready, read QEMU's CPU time, run the load generator (bench/loadgen.ts) inside the
// namespace, and the host-side settings those runs need (the neighbour table's limits).
// CPUs: once a machine is ready, QEMU's virtual CPU thread is pinned to the host's last CPU and its other
// threads (the main loop: the tap and virtio-net; the disk's I/O thread) to the others, where the load
// generator runs too (pinCpus), as libvirt's vcpupin and emulatorpin do. Unpinned, the threads the vCPU
// wakes with its own notifies (an eventfd write) were woken on its CPU and preempted it while the other
// CPU idled: at bench:request's swap point (10,000 httpd VMs in 128 MiB, Zipf, real time) the vCPU thread
// ran 70% of the time and served 3,145-3,188 requests/s; pinned, 79-80% and 3,803-3,818; at 10 VMs
// 16,115 -> 16,639 (within the runs' spread). On a host of one CPU nothing is pinned.
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { qemuArgs, tapNetArgs, ConsoleLine, swapDiskArgs, wholeLines, type BootMedium } from '../tools/qemu.ts';
import type { TapNamespace } from '../tools/net.ts';
import { loadArgs, type LoadOptions, type LoadResult } from './loadgen.ts';

export interface Machine {
  child: ChildProcess; serial: () => string; exited: Promise<number | null>; line: ConsoleLine;
  /** Where its threads run once ready (pinCpus), or null when they were not pinned. */
  pinned: { vcpu: string; others: string } | null;
}

interface BootOptions {
  memoryMiB: number;
  /** The kernel command line (Denali: `profile`; the Linux peer its own), none when null. */
  append?: string | null;
  /** A swap disk image (virtio-blk). */
  swapImage?: string;
  /** `-icount shift=0,sleep=off`: rdtsc counts instructions. */
  icount?: boolean;
}

/** Boots `medium` inside `ns`, its card on the namespace's tap, COM1 on a ConsoleLine in `dir`. */
export function startQemu(ns: TapNamespace, medium: BootMedium, dir: string, name: string, o: BootOptions): Machine {
  const line = new ConsoleLine(mkdtempSync(join(dir, `${name}-`)));
  const extraArgs = [...tapNetArgs(ns.device), ...(o.append ? ['-append', o.append] : []),
    ...(o.swapImage ? swapDiskArgs(o.swapImage) : [])];
  const args = [...qemuArgs(medium, { memoryMiB: o.memoryMiB, extraArgs, console: line, icount: o.icount }),
    '-name', `${name},debug-threads=on`];         // threads named: `CPU 0/TCG` is the virtual CPU's (pinCpus)
  const child = spawn(ns.exec[0], [...ns.exec.slice(1), 'qemu-system-i386', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>(resolve => child.on('close', status => {
    if (stderr.trim()) console.error(`qemu (${name}): ${stderr.trim()}`);
    resolve(status);
  }));
  line.connect(() => child.exitCode !== null || child.signalCode !== null).catch(() => {});
  const serial = () => line.text().replace(/\r/g, '');
  return { child, serial, exited, line, pinned: null };
}

/** The host's CPUs this process may use (its affinity list: /proc/self/status), ascending. */
function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return list.split(',').filter(Boolean).flatMap(range => {
    const [a, b] = range.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k);
  });
}

/** The CPUs for everything but QEMU's virtual CPU (its main loop, I/O threads, the load generator), or null. */
function otherCpus(): string | null {
  const cpus = allowedCpus();
  return cpus.length < 2 ? null : cpus.slice(0, -1).join(',');
}

/**
 * QEMU's virtual CPU threads: `CPU 0/TCG` (multi-threaded TCG), `ALL CPUs/TCG` (the round-robin TCG of
 * -icount, which runs every vCPU on one thread).
 */
const VCPU_THREAD = /^(CPU \d+|ALL CPUs)\/TCG$/;

/**
 * Pins machine `m`'s threads (the contract above): its vCPU thread to the last CPU, the others to the rest;
 * nothing when no thread has a vCPU's name.
 */
function pinCpus(m: Machine): void {
  const cpus = allowedCpus(), others = otherCpus();
  if (others === null || m.child.pid === undefined) return;
  const vcpu = String(cpus[cpus.length - 1]);
  const taskDir = `/proc/${m.child.pid}/task`;
  const threads = readdirSync(taskDir).flatMap(tid => {
    try { return [{ tid, comm: readFileSync(`${taskDir}/${tid}/comm`, 'utf8').trim() }]; } catch { return []; }
  });
  if (!threads.some(t => VCPU_THREAD.test(t.comm))) return;
  for (const { tid, comm } of threads) {
    const r = spawnSync('taskset', ['-p', '-c', VCPU_THREAD.test(comm) ? vcpu : others, tid], { stdio: 'ignore' });
    if (r.status !== 0 && existsSync(`${taskDir}/${tid}`)) throw new Error(`taskset failed for QEMU's thread ${comm}`);
  }
  m.pinned = { vcpu, others };
}

/** Polls until `ready(serial)` or QEMU exits or the time is up; `progress` at every poll (200 ms) meanwhile. */
export async function waitReady(m: Machine, ready: (serial: string) => boolean, timeoutMs: number,
  progress?: (serial: string) => void): Promise<'ready' | 'exited' | 'timeout'> {
  const start = performance.now(), until = start + timeoutMs;
  let exited = false;
  void m.exited.then(() => { exited = true; });
  while (performance.now() < until) {
    if (ready(m.serial())) { pinCpus(m); return 'ready'; }
    if (exited) return 'exited';
    progress?.(m.serial());
    await new Promise(r => setTimeout(r, 200));
  }
  if (!ready(m.serial())) return 'timeout';
  pinCpus(m);
  return 'ready';
}

/** waitReady until `vms` VMs listen, their count reported meanwhile (tools/progress.ts, as `name`). */
export async function waitListening(m: Machine, vms: number, timeoutMs: number, name: string)
  : Promise<'ready' | 'exited' | 'timeout'> {
  const progress = new Progress(name, vms);
  const state = await waitReady(m, s => listeningVms(s).size >= vms, timeoutMs,
    s => progress.update(listeningVms(s).size, 'VMs listening'));
  progress.finish(`${state}, ${listeningVms(m.serial()).size} of ${vms} VMs listening`);
  return state;
}

export async function stopQemu(m: Machine): Promise<void> {
  m.child.kill('SIGKILL');
  await m.exited;
}

/**
 * Types `command` on the kernel's monitor (COM1) and returns its output (whole lines) once a line matching
 * `last` came, or null after `timeoutMs`.
 */
export async function monitorCommand(m: Machine, command: string, last: RegExp, timeoutMs = 60_000)
  : Promise<string | null> {
  const from = m.serial().length;
  try { await m.line.send(`${command}\n`); } catch { return null; }
  for (const until = performance.now() + timeoutMs; performance.now() < until;) {
    await new Promise(res => setTimeout(res, 200));
    const text = wholeLines(m.serial(), from);
    if (last.test(text)) return text;
  }
  return null;
}

/**
 * The kernel's `vms` monitor command: per-VM lines (the first 1,000), then the totals `vms: ... switches
 * S; ...`, `switch: ...`, `netpool: ...` and `nic: ...` (and with swap `blk:`, `swap:`). Returns the switch
 * count and the totals lines, or null when they do not come within 60 s.
 */
export async function monitorTotals(m: Machine): Promise<{ switches: number; lines: string } | null> {
  const text = await monitorCommand(m, 'vms', /^vms: \d+ started.*switches \d+;[^]*^nic: .*$/m);
  const totals = text === null ? null : /^vms: \d+ started.*switches (\d+);.*$/m.exec(text);
  if (text === null || totals === null) return null;
  const lines = text.slice(totals.index).split('\n')
    .filter(l => /^(vms|switch|netpool|nic|blk|swap): /.test(l));
  return { switches: Number(totals[1]), lines: lines.join('\n') };
}

/** User + system CPU time of a process in seconds (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;   // clock ticks; USER_HZ is 100 on Linux
  } catch { return null; }
}

/** The load generator inside `ns`; `onWindow('start' | 'end')` as its measured window opens and closes. */
export function runLoadGenerator(ns: TapNamespace, o: LoadOptions, onWindow: (edge: string) => void | Promise<void>)
  : Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const others = otherCpus();                   // off the vCPU's CPU (pinCpus)
    const child = spawn(ns.exec[0], [...ns.exec.slice(1), ...(others ? ['taskset', '-c', others] : []),
      process.execPath, '--import=tsx',
      join(ROOT, 'bench', 'loadgen.ts'), ...loadArgs(o)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const edges: Promise<void>[] = [];
    child.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      for (const m of out.slice(Math.max(0, before.lastIndexOf('\n') + 1)).matchAll(/^window (start|end)\n/gm)) {
        edges.push(Promise.resolve(onWindow(m[1])));
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', async status => {
      await Promise.all(edges);
      if (status !== 0) return reject(new Error(`load generator failed (status ${status}): ${err.trim()}`));
      try { resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult); } catch {
        reject(new Error(`load generator printed no result: ${out} ${err}`));
      }
    });
  });
}

/** VM ids that printed their `httpd` line (`[vm 3] vm 3 ... httpd ...`: the kernel's prefix names the VM). */
export function listeningVms(serial: string): Set<number> {
  return new Set([...serial.matchAll(/^\[vm (\d+)\] .*httpd.*$/gm)].map(m => Number(m[1])));
}

/**
 * The neighbour table is one for all namespaces (its gc_thresh limits exist only in the initial
 * namespace): with 1,000 VMs the host needs more than the default 1,024 entries. Raises the limits;
 * returns the function that puts the old values back.
 */
export function raiseNeighbourLimits(): () => void {
  const limits = { gc_thresh1: 131072, gc_thresh2: 196608, gc_thresh3: 262144 };
  const names = Object.keys(limits) as (keyof typeof limits)[];
  const key = (n: string) => `net.ipv4.neigh.default.${n}`;
  const read = (n: string) => execFileSync('sysctl', ['-n', key(n)], { encoding: 'utf8' }).trim();
  const old = Object.fromEntries(names.map(n => [n, read(n)]));
  for (const n of names) if (Number(old[n]) < limits[n]) execFileSync('sysctl', ['-q', '-w', `${key(n)}=${limits[n]}`]);
  return () => { for (const n of [...names].reverse()) spawnSync('sysctl', ['-q', '-w', `${key(n)}=${old[n]}`]); };
}
