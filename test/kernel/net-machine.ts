// Test support for the network tests that talk to a running kernel (net-tcp, net-hostile, net-bench):
// the kernel booted with VMs from a JSON manifest (guest-src/ images, tools/manifest.ts), its card
// (virtio-net unless told) on a tap device inside a network namespace of its own (tools/net.ts) or on
// QEMU user networking, COM1 as the kernel's monitor (tools/qemu.ts consoleSocket: `vms`, `net`, `stop`),
// its output read live.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, ConsoleLine, tapNetArgs, wholeLines, type MachineRun, type NicModel } from "../../tools/qemu.ts";
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
  ipBase?: string; netmask?: string; gateway?: string; isolation?: "hardware" | "bytecode";
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
  /**
   * Resolves with the whole lines after `from` (default 0) once `pattern` matches them; rejects after `timeoutMs`.
   * A line still being written is left out: a pattern ending in `$` would match a line cut where the output stops.
   */
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
  /** Without `namespace`: run QEMU inside this one, its card on `netArgs` (e.g. a relay's: net-relay-path.ts). */
  inside?: Pick<TapNamespace, "exec">;
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
    prefix: options.namespace?.exec ?? options.inside?.exec, signal: abort.signal, console: line,
  }).finally(() => { done = true; rmSync(dir, { recursive: true, force: true }); });
  const out = () => serialLines(line.text());
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const now = wholeLines(out(), from);
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
export function inNamespace(ns: Pick<TapNamespace, "exec">, args: string[], timeoutMs = 120_000): string {
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
export function echoTransfer(ns: Pick<TapNamespace, "exec">, client: string, ip: string, port: number, bytes: number,
  seed: number, timeoutMs = 150_000): EchoResult {
  const out = inNamespace(ns, [process.execPath, client, ip, String(port), String(bytes), String(seed)], timeoutMs);
  return JSON.parse(out.trim().split("\n").pop()!) as EchoResult;
}

/**
 * A routed path with loss, for TCP under real loss both ways: the tap namespace forwards between the VMs
 * and a client namespace (veth, 10.77.0.2/30), and between the client and a server namespace (veth,
 * 10.78.0.2/30) where a Linux peer can stand in for a VM. Loss is iptables' statistic match on FORWARD, so
 * a dropped frame is lost for its sender, whichever side that is (a rule on OUTPUT would only fail the
 * local sender's transmission, which Linux retries at once). The client's and server's veths carry one
 * TCP segment per packet (gso_max_segs 1): each drop decision is one frame's, as on the tap.
 */
export interface LossyPath {
  client: Pick<TapNamespace, "name" | "exec">;
  server: Pick<TapNamespace, "name" | "exec">;
  serverIp: string;
  /** Drops frames with probability `p` both ways between the client and `toward` (the VMs or the server); 0: none. */
  setLoss(toward: "vm" | "server", p: number): void;
  /** Frames the FORWARD rules dropped so far: [from the far side, to it]. */
  drops(): number[];
  /** RetransSegs of a namespace's TCP (/proc/net/snmp). */
  retransmitted(ns: Pick<TapNamespace, "exec">): number;
  /** TCPTimeouts of a namespace's TCP (/proc/net/netstat): its retransmission timer's expirations. */
  timeouts(ns: Pick<TapNamespace, "exec">): number;
  remove(): void;
}

export function createLossyPath(ns: TapNamespace): LossyPath {
  const tag = String(process.pid % 100000);
  const names = [`denali-cl-${tag}`, `denali-sv-${tag}`];
  const [client, server] = names.map((name) => ({ name, exec: ["ip", "netns", "exec", name] }));
  const run = (args: string[]) => {
    const r = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  };
  const remove = () => { for (const name of names) spawnSync("ip", ["netns", "del", name]); };
  const router = ["ip", "netns", "exec", ns.name];
  const links = [["dlc", client, "10.77.0"], ["dls", server, "10.78.0"]] as const;
  remove();
  try {
    for (const name of names) run(["ip", "netns", "add", name]);
    run([...router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    for (const [prefix, far, net] of links) {
      run(["ip", "link", "add", `${prefix}0-${tag}`, "netns", ns.name, "type", "veth",
        "peer", "name", `${prefix}1-${tag}`, "netns", far.name]);
      run([...router, "ip", "addr", "add", `${net}.1/30`, "dev", `${prefix}0-${tag}`]);
      run([...router, "ip", "link", "set", `${prefix}0-${tag}`, "up"]);
      run([...far.exec, "ip", "addr", "add", `${net}.2/30`, "dev", `${prefix}1-${tag}`]);
      run([...far.exec, "ip", "link", "set", `${prefix}1-${tag}`, "up", "gso_max_segs", "1"]);
      run([...far.exec, "ip", "link", "set", "lo", "up"]);
      run([...far.exec, "ip", "route", "add", "default", "via", `${net}.1`]);
    }
  } catch (e) { remove(); throw e; }
  const setLoss = (toward: "vm" | "server", p: number) => {
    inNamespace(ns, ["iptables", "-F", "FORWARD"]);
    if (p <= 0) return;
    const device = toward === "vm" ? ns.device : `dls0-${tag}`;
    for (const way of ["-i", "-o"]) {
      inNamespace(ns, ["iptables", "-A", "FORWARD", way, device, "-m", "statistic", "--mode", "random", "--probability",
        String(p), "-j", "DROP"]);
    }
  };
  const drops = () => [...inNamespace(ns, ["iptables", "-L", "FORWARD", "-v", "-n", "-x"])
    .matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)].map((m) => Number(m[1]));
  const retransmitted = (where: Pick<TapNamespace, "exec">) =>
    Number(/^Tcp: \d.*$/m.exec(inNamespace(where, ["cat", "/proc/net/snmp"]))![0].split(" ")[12]);
  const timeouts = (where: Pick<TapNamespace, "exec">) => {
    const [names, values] = inNamespace(where, ["cat", "/proc/net/netstat"]).split("\n").map((l) => l.split(" "));
    return Number(values[names.indexOf("TCPTimeouts")]);
  };
  return { client, server, serverIp: "10.78.0.2", setLoss, drops, retransmitted, timeouts, remove };
}

/** A Linux TCP echo server (Node) for the server side of a LossyPath: every connection's bytes sent back. */
const ECHO_SERVER = `
import net from 'node:net';
const server = net.createServer((s) => { s.on('error', () => {}); s.pipe(s); });
server.listen(Number(process.argv[2]), () => console.log('listening'));
`;

/** Starts the echo server in `ns` on `port`; resolves once it listens, with a function that stops it. */
export async function startLinuxEchoServer(ns: Pick<TapNamespace, "exec">, dir: string, port: number)
  : Promise<() => void> {
  const path = join(dir, "echo-server.mjs");
  writeFileSync(path, ECHO_SERVER);
  const child = spawn(ns.exec[0], [...ns.exec.slice(1), process.execPath, path, String(port)],
    { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => { if (d.toString().includes("listening")) resolve(); });
    child.on("exit", (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return () => child.kill();
}

/**
 * A machine test's clean-up (its test.after.always): the QEMU run stopped and awaited, then its network namespace,
 * kernel build and scratch directory removed.
 */
export async function stopMachine(s: { controller: AbortController; machine?: Promise<MachineRun>; ns?: TapNamespace;
  kernel?: { remove(): void }; dir: string }): Promise<void> {
  s.controller.abort();
  await s.machine?.catch(() => {});
  s.ns?.remove();
  s.kernel?.remove();
  rmSync(s.dir, { recursive: true, force: true });
}
