// Test support for the network tests that talk to a running kernel (net-tcp, net-hostile, net-bench):
// the kernel booted with VMs from a JSON manifest (guest-src/ images, tools/manifest.ts), its card
// (virtio-net unless told) on a tap device inside a network namespace of its own (tools/net.ts) or on
// QEMU user networking, COM1 as the kernel's monitor (tools/qemu.ts consoleSocket: `vms`, `net`, `stop`),
// its output read live.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, ConsoleLine, tapNetArgs, type MachineRun, type NicModel } from "../../tools/qemu.ts";
import { createTapNamespace, tapUnavailable, type TapNamespace } from "../../tools/net.ts";
import { buildManifest } from "../../tools/manifest.ts";
import { serialLines } from "./helpers.ts";

/**
 * Why a tap test cannot run here, or null: root, iproute2 and /dev/net/tun (tools/net.ts tapUnavailable),
 * then each of `commands` as [command, its Debian package] (tools/setup.sh installs them).
 */
export function tapMissing(...commands: [string, string][]): string | null {
  const why = tapUnavailable();
  if (why) return why;
  for (const [command, pkg] of commands) {
    if (spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0) return `no \`${command}\` (Debian ${pkg})`;
  }
  return null;
}

interface ManifestGroup {
  image: string; count: number; memoryKiB?: number; argument?: number;
  ipBase?: string; netmask?: string; gateway?: string;
}

/** Builds the images of a manifest written from `groups` into `dir`; the modules for -initrd. */
export function buildVms(dir: string, name: string, groups: ManifestGroup[]): string[] {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ groups }));
  return buildManifest(file, { imagesDir: dir, outDir: dir }).modules;
}

export interface Machine {
  /** The serial output so far (no carriage returns). */
  out(): string;
  /** Resolves with the output once `pattern` matches the output after `from` (default 0); rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Types `command` on the monitor and returns what it printed up to its last line (`untilLine`). */
  monitor(command: string, untilLine?: RegExp, timeoutMs?: number): Promise<string>;
  /** `stop`: the summary, then QEMU exits; resolves with the run. */
  stop(timeoutMs?: number): Promise<MachineRun>;
  /** Kills QEMU (idempotent). */
  kill(): void;
  exited: Promise<MachineRun>;
  namespace?: TapNamespace;
}

interface MachineOptions {
  kernel: string;
  modules: string[];
  /** Run inside this namespace with its tap (from createTapNamespace) and card `nic`; else `netArgs` decide. */
  namespace?: TapNamespace;
  nic?: NicModel;
  netArgs?: string[];
  icount?: boolean;
  append?: string;
  memoryMiB?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Boots the kernel with COM1 on a ConsoleLine (its output, and the monitor's commands). */
export async function startMachine(options: MachineOptions): Promise<Machine> {
  const dir = mkdtempSync(join(tmpdir(), "denali-net-machine-"));
  const line = new ConsoleLine(dir);
  const abort = new AbortController();
  const netArgs = options.namespace ? tapNetArgs(options.namespace.device, options.nic) : options.netArgs ?? [];
  const extraArgs = [...netArgs, ...(options.append ? ["-append", options.append] : [])];
  let done = false;
  const exited = runQemu({ kernel: options.kernel, initrd: options.modules }, {
    memoryMiB: options.memoryMiB ?? 128, timeoutMs: 0, icount: options.icount, extraArgs,
    prefix: options.namespace?.exec, signal: abort.signal, console: line,
  }).finally(() => { done = true; rmSync(dir, { recursive: true, force: true }); });
  const out = () => serialLines(line.text());
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const now = out().slice(from);
      if (pattern.test(now)) return now;
      if (done) throw new Error(`QEMU exited before ${pattern}:\n${out().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out().slice(-3000)}`);
      await sleep(50);
    }
  };
  const monitor = async (command: string, untilLine = /^nic: .*$/m, timeoutMs = 30_000) => {
    const from = out().length;
    await line.send(`${command}\n`);
    const after = await waitFor(untilLine, timeoutMs, from);
    const m = untilLine.exec(after)!;
    return after.slice(0, m.index + m[0].length);
  };
  const kill = () => abort.abort();
  const stop = async (timeoutMs = 30_000) => {
    await line.send("stop\n");
    const timer = setTimeout(kill, timeoutMs);
    const run = await exited;
    clearTimeout(timer);
    return run;
  };
  return { out, waitFor, monitor, stop, kill, exited, namespace: options.namespace };
}

/** A tap namespace named after the test and the process, removed by the returned function as well. */
export function tapNamespace(tag: string): TapNamespace {
  const name = `denali-${tag}-${process.pid}`;
  spawnSync("ip", ["netns", "del", name]);
  return createTapNamespace(name);
}

/** Runs `args` inside the namespace without waiting; resolves with its status and output (killed at the timeout). */
export function inNamespaceAsync(ns: TapNamespace, args: string[], timeoutMs = 120_000)
  : Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(ns.exec[0], [...ns.exec.slice(1), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString("latin1"); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString("latin1"); });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", status => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

/** Runs `args` inside the namespace (synchronously); throws with stderr when it fails. */
export function inNamespace(ns: TapNamespace, args: string[], timeoutMs = 120_000): string {
  const r = spawnSync(ns.exec[0], [...ns.exec.slice(1), ...args], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: status ${r.status} ${r.signal ?? ""}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface VmNetCounters {
  rxPackets: number; txPackets: number; dropped: number; spoofed: number; refused: number; evicted: number;
}

/**
 * Per-VM counters (the monitor's `vms`, the summary):
 * `vm N net: rx ... dropped D, spoofed S, refused R, evicted E`.
 */
export function vmNetCounters(out: string): Map<number, VmNetCounters> {
  const map = new Map<number, VmNetCounters>();
  const line = new RegExp('^vm (\\d+) net: rx (\\d+) packets \\d+ bytes, tx (\\d+) packets \\d+ bytes, '
    + 'dropped (\\d+), spoofed (\\d+), refused (\\d+), evicted (\\d+)$', 'gm');
  for (const m of out.matchAll(line)) {
    const [rxPackets, txPackets, dropped, spoofed, refused, evicted] = m.slice(2).map(Number);
    map.set(Number(m[1]), { rxPackets, txPackets, dropped, spoofed, refused, evicted });
  }
  return map;
}

/** The `switch: ...` counters as a record (vm-to-vm, wire-to-vm, arp directed, spoofed, from wire, ...). */
export function switchCounters(out: string): Record<string, number> {
  const line = [...out.matchAll(/^switch: .*$/gm)].pop()?.[0] ?? "";
  return Object.fromEntries([...line.matchAll(/([a-z][a-z -]*?) (\d+)/g)].map((m) => [m[1].replace(/^.*: /, "").trim(), Number(m[2])]));
}

/** The client: connects, sends BYTES pseudo-random bytes then FIN, reads until the server's FIN; prints JSON. */
const ECHO_CLIENT = `
import net from 'node:net';
import { createHash } from 'node:crypto';
const [host, port, size, seed] = process.argv.slice(2);
const data = Buffer.alloc(Number(size));
let x = Number(seed) >>> 0 || 1;
for (let i = 0; i < data.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; data[i] = x & 255; }
const started = Date.now();
const chunks = [];
let received = 0;
const socket = net.connect({ host, port: Number(port) }, () => socket.end(data));
socket.on('data', (d) => { chunks.push(d); received += d.length; });
socket.setTimeout(100000, () => { console.error('client: no progress for 100 s, received ' + received); process.exit(3); });
socket.on('error', (e) => { console.error('client: ' + e.message + ', received ' + received); process.exit(2); });
socket.on('close', () => {
  const back = Buffer.concat(chunks);
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ sent: sha(data), received: sha(back), bytesSent: data.length, bytesReceived: back.length, ms: Date.now() - started }));
});
`;

/** Writes the echo client (a Node script) into `dir`; its path. */
export function writeEchoClient(dir: string): string {
  const path = join(dir, "echo-client.mjs");
  writeFileSync(path, ECHO_CLIENT);
  return path;
}

interface EchoResult { sent: string; received: string; bytesSent: number; bytesReceived: number; ms: number }

/** Runs the echo client in the namespace: `bytes` (xorshift32 from `seed`) to ip:port and back. */
export function echoTransfer(ns: TapNamespace, client: string, ip: string, port: number, bytes: number, seed: number): EchoResult {
  const out = inNamespace(ns, [process.execPath, client, ip, String(port), String(bytes), String(seed)], 150_000);
  return JSON.parse(out.trim().split("\n").pop()!) as EchoResult;
}
