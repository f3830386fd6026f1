// Contract: hostile traffic against the kernel and its VMs (issue 5, "How it will be checked"; issue 22:
// through each card the kernel drives, virtio-net, e1000 and e1000e, the same suite for each). In a
// network namespace with a tap (QEMU inside it, with the card): VM 0 the web server (guest-src/apps/httpd.ts,
// 198.18.0.2 port 80), VM 1 the echo server (guest-src/apps/echo.ts, 198.18.0.3 port 7), VM 2 a
// spoofer (test/kernel/guests/net.ts mode 4 with victim VM 1: frames with VM 1's source MAC, its IP as
// IPv4 source and ARP sender, its MAC as ARP sender, IPv6 and VLAN-tagged frames: 7 spoofed, 1 honest).
// - an ARP request from the wire for a VM's IP reaches that VM alone (per-VM counters before and after);
// - the host sends, raw on the tap (test/kernel/net-hostile.py, scapy): truncated and oversized frames,
//   refused EtherTypes, group and unknown destinations, bad IPv4 versions, header lengths, total
//   lengths, checksums, TTL and addresses, IP options, fragments (MF, offsets, overlaps, past 64 KiB),
//   TCP with all 256 flag combinations to the web server, the echo server and a closed port, bad TCP
//   options (zero length, past the header, MSS of length 2, 3 and 5) and header lengths, bad UDP lengths
//   and checksums, bad ICMP and ARP, and frames that spoof a VM from the wire (another VM's IP or MAC
//   as ARP or IPv4 sender: must not poison a VM's ARP cache); then, on a connection to the echo server
//   made by scapy, every flag combination at the server's RCV.NXT, just past it and far outside the window;
// - the TCP replies to every flag combination, per class, are RFC 9293's (§3.10.7: LISTEN, CLOSED and an
//   established connection, with RFC 5961's challenge ACKs): which segment comes back (RST, RST+ACK,
//   SYN+ACK, ACK, the echoed data, or nothing) with which sequence and acknowledgment numbers;
// - afterwards: no VM ended and the kernel did not fault (`vms` on the monitor: 3 idle); the VM's
//   spoofing is dropped and counted (`vm 2 net: ... spoofed 7`, the switch's `spoofed 7`), and so is the
//   wire's (`spoofed from wire` = what was sent); the host's neighbour table holds the VMs' real MACs;
//   both VMs answer ping, the echo server a TCP round trip, and the web server its page (curl); the web
//   server closes a connection on which no request comes after 10 s (the kernel's clock: `clock`).
// And (QEMU user networking, no root) a VM flooding the wire gets EAGAIN while the NIC's transmit ring
// is full, and every frame netSend accepted goes out (nothing dropped silently).
// Needs root (CI runs as root), /usr/bin/python3 with scapy (Debian python3-scapy), curl; skipped with
// the reason otherwise.
import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { runQemu } from "../../tools/qemu.ts";
import { buildTestGuest, writeManifest, workerArgument } from "./guests/build.ts";
import { buildGuest } from "../../tools/build.ts";
import {
  tapMissing, tapNamespace, startMachine, inNamespace, vmNetCounters, switchCounters, writeEchoClient, echoTransfer,
  type Machine,
} from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";
import { NIC_MODELS, type NicModel } from "../../tools/qemu.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = "/usr/bin/python3";
const SPOOFER = 4;   // guests/net.ts mode
const ip = (a: number, b: number, c: number, d: number) => (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;

function missing(): string | null {
  const tap = tapMissing(["curl", "curl"], ["ping", "iputils-ping"]);
  if (tap) return tap;
  if (spawnSync(PYTHON, ["-c", "import scapy.all"]).status !== 0) return `no scapy for ${PYTHON} (Debian python3-scapy)`;
  return null;
}

/** The sweeps' result (net-hostile.py Tally): probes per reply class, and the probes answered otherwise. */
interface TcpReplies { classes: Record<string, number>; mismatches: unknown[]; "mismatch-count": number }

/** "clock: uptime N ms ..." (the monitor's `clock`). */
const kernelUptimeMs = (out: string) => Number(/^clock: uptime (\d+) ms/m.exec(out)![1]);

/** In the namespace: opens a TCP connection, sends nothing and waits for the server to end it. */
interface IdleClose { how: string; bytes: number; seconds: number }

function idleConnection(ns: TapNamespace, ip: string, port: number): Promise<IdleClose> {
  const client = [
    "import json, socket, sys, time",
    `s = socket.create_connection(("${ip}", ${port}), timeout=60)`,
    "start = time.monotonic()",
    "try:",
    "    data = s.recv(4096); how = 'fin' if data == b'' else 'data'",
    "except ConnectionResetError:",
    "    data, how = b'', 'rst'",
    "except socket.timeout:",
    "    data, how = b'', 'timeout'",
    "print(json.dumps({'how': how, 'bytes': len(data), 'seconds': time.monotonic() - start}))",
  ].join("\n");
  return new Promise((resolve, reject) => {
    const child = spawn(ns.exec[0], [...ns.exec.slice(1), PYTHON, "-c", client], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    child.on("close", (status) => {
      if (status === 0) resolve(JSON.parse(out.trim()) as IdleClose);
      else reject(new Error(`idle client: status ${status}: ${err}`));
    });
  });
}

const FLOODER = 5;   // guests/net.ts mode
const FLOOD_FRAMES = 3000;

// No root needed: QEMU user networking, its card sending on a 5 ms timer, so the VM fills the NIC's
// transmit ring: netSend must say EAGAIN then (and the VM tries again), never drop silently.
test("a VM flooding the wire gets EAGAIN while the NIC's transmit ring is full; every frame it was told was sent goes out", async (t) => {
  const kernel = buildKernelInTemp(false);
  try {
    const guest = buildTestGuest("net", kernel.dir);
    const manifest = writeManifest(kernel.dir, "flood", [{ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(FLOODER, FLOOD_FRAMES), ipBase: ip(10, 0, 2, 15) }]);
    // tx=timer: QEMU sends what the ring holds every 5 ms (x-txtimer, ns), so the VM fills the ring.
    const r = await runQemu({ kernel: kernel.elf, initrd: [guest, manifest] }, { memoryMiB: 64, timeoutMs: 120_000, icount: true,
      extraArgs: ["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,tx=timer,x-txtimer=5000000"] });
    const out = serialLines(r.serial);
    t.is(r.debugExit, 0, out.slice(-2000));
    const flood = /^\[vm 0\] vm 0 flood sent (\d+) eagain (\d+) other (\d+)$/m.exec(out);
    t.truthy(flood, out.slice(-2000));
    const [sent, eagain, other] = flood!.slice(1).map(Number);
    t.is(sent, FLOOD_FRAMES);
    t.is(other, 0);
    t.true(eagain > 0, "the ring was full at times");
    const switchLine = `^switch: vm-to-vm 0, vm-to-wire ${FLOOD_FRAMES}, .*; eagain: .*, transmit ring full ${eagain}$`;
    t.regex(out, new RegExp(switchLine, "m"));
    t.regex(out, new RegExp(`^nic: .*, tx ${FLOOD_FRAMES} frames ${FLOOD_FRAMES * 1514} bytes \\(${eagain} ring full\\)`, "m"));
    t.log(`${FLOOD_FRAMES} frames sent, ${eagain} times EAGAIN (transmit ring full)`);
  } finally { kernel.remove(); }
});

const why = missing();
for (const nic of NIC_MODELS) {
  if (why) test.skip(`hostile traffic from the host and from a VM, through ${nic} (skipped: ${why})`, () => {});
  else hostileSuite(nic);
}

/** The suite through one card: its own kernel, namespace and VMs; its tests serial, in order. */
function hostileSuite(nic: NicModel): void {
  const on = ` (${nic})`;
  let kernel: KernelBuild | undefined;
  let dir: string | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  let client = "";

  test.before(async () => {
    kernel = buildKernelInTemp(false);
    dir = mkdtempSync(join(tmpdir(), `denali-net-hostile-${nic}-`));
    client = writeEchoClient(dir);
    const httpd = buildGuest("apps-httpd", join(HERE, "../../guest-src/apps/httpd.ts"), 2, dir, dir).elfPath;
    const echo = buildGuest("apps-echo", join(HERE, "../../guest-src/apps/echo.ts"), 2, dir, dir).elfPath;
    const spoofer = buildTestGuest("net", dir);
    const manifest = writeManifest(dir, "hostile", [
      { moduleIndex: 1, vmCount: 1, memoryKiB: 1024, argument: 80, ipBase: ip(198, 18, 0, 2) },
      { moduleIndex: 2, vmCount: 1, memoryKiB: 512, argument: 7, ipBase: ip(198, 18, 0, 3) },
      { moduleIndex: 3, vmCount: 1, memoryKiB: 64, argument: workerArgument(SPOOFER, 2), ipBase: ip(198, 18, 0, 4) },
    ]);
    ns = tapNamespace(`hostile-${nic}`);
    inNamespace(ns, ["ip", "link", "set", ns.device, "mtu", "9000"]);   // lets the host send oversized frames
    machine = await startMachine({ kernel: kernel.elf, modules: [manifest, httpd, echo, spoofer], namespace: ns, nic });
    await machine.waitFor(/^\[vm 0\] vm 0 httpd on port 80$/m, 60_000);
    await machine.waitFor(/^\[vm 1\] vm 1 echo on port 7$/m, 60_000);
    await machine.waitFor(/^\[vm 2\] vm 2 spoofer sent 8$/m, 60_000);
  });

  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const python = (...args: string[]) => JSON.parse(inNamespace(ns!, [PYTHON, join(HERE, "net-hostile.py"), ns!.device, ...args]).trim().split("\n").pop()!);

  test.serial("a VM sending with another VM's MAC or IP is dropped and counted; an ARP request from the wire "
    + "reaches its VM alone" + on, async (t) => {
    // VM 1 answers the spoofer's honest echo request after resolving VM 2's address; VM 2 never answers,
    // so VM 1 asks three times, 1 s apart (libos/arp.ts), then gives up: wait for the third request.
    let before = await machine!.monitor("vms");
    for (const deadline = Date.now() + 30_000; (vmNetCounters(before).get(2)?.rxPackets ?? 0) < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 250));
      before = await machine!.monitor("vms");
    }
    t.is(vmNetCounters(before).get(2)?.rxPackets, 3, before);
    const spoofer = vmNetCounters(before).get(2);
    t.is(spoofer?.spoofed, 7, before);
    t.is(spoofer?.txPackets, 1, before);                       // the honest echo request to VM 1
    t.is(switchCounters(before).spoofed, 7, before);
    python("arp", "198.18.0.3");
    await new Promise((r) => setTimeout(r, 500));
    const after = await machine!.monitor("vms");
    const [a, b] = [vmNetCounters(before), vmNetCounters(after)];
    t.is(b.get(1)!.rxPackets, a.get(1)!.rxPackets + 1, after);
    t.is(b.get(0)?.rxPackets ?? 0, a.get(0)?.rxPackets ?? 0, "VM 0 heard nothing");
    t.is(b.get(2)!.rxPackets, a.get(2)!.rxPackets, "VM 2 heard nothing");
    t.is(switchCounters(after)["arp directed"], switchCounters(before)["arp directed"] + 1);
  });

  test.serial("malformed and spoofed frames from the host: the kernel and every VM stay up, the spoofing is dropped "
    + "and counted" + on, async (t) => {
    const before = switchCounters(await machine!.monitor("net"));
    type Sent = Record<string, number> & { refused: Record<string, number>; "tcp-replies": TcpReplies };
    const sent = python("attack") as Sent;
    const { "tcp-replies": replies, ...counts } = sent;
    t.log(`sent: ${JSON.stringify(counts)}`);
    t.is(sent["fences-lost"], 0, "every probe's fence came back");
    t.deepEqual(replies.mismatches, [], "replies that are not RFC 9293's");
    t.is(replies["mismatch-count"], 0);
    const listen = (port: number) => ({
      [`port ${port} listen: RST -> nothing`]: 128,
      [`port ${port} listen: ACK -> <SEQ=SEG.ACK><CTL=RST>`]: 64,
      [`port ${port} listen: SYN -> <ACK=SEG.SEQ+1><CTL=SYN,ACK>`]: 16,
      [`port ${port} listen: SYN+FIN -> nothing`]: 16,
      [`port ${port} listen: no SYN, ACK or RST -> nothing`]: 32,
    });
    t.deepEqual(replies.classes, {
      ...listen(80), ...listen(7),
      "port 1234 closed: RST -> nothing": 128,
      "port 1234 closed: ACK -> <SEQ=SEG.ACK><CTL=RST>": 64,
      "port 1234 closed: no ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>": 64,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const vms = await machine!.monitor("vms");
    const out = machine!.out();
    t.notRegex(out, /^vm \d+ ended: /m, "no VM was ended");
    t.notRegex(out, /^(panic|trap|exception)[: ]/m, "no panic, trap or exception");
    t.regex(vms, /^vms: 3 started, 0 exited, 0 ended by the kernel, 3 idle;/m);
    for (let id = 0; id < 3; id++) t.regex(vms, new RegExp(`^vm ${id}: cpu \\d+ kcycles, switches \\d+, still idle$`, "m"));
    const after = switchCounters(vms);
    t.is(after["spoofed from wire"] - (before["spoofed from wire"] ?? 0), sent.spoofed, vms.match(/^switch: .*$/m)?.[0]);
    t.is(after.spoofed, 7, "the VM's spoofing, counted once");
    t.is(vmNetCounters(vms).get(2)!.spoofed, 7);
    t.log(vms.match(/^(vm \d+ net|switch|nic):.*$/gm)?.join("\n"));
  });

  const noIptables = spawnSync("iptables", ["--version"]).status !== 0;
  const flagsTitle = 'every TCP flag combination on an established connection, in and out of the window'
    + `${on}${noIptables ? " (skipped: no iptables)" : ""}`;
  (noIptables ? test.serial.skip : test.serial)(flagsTitle, async (t) => {
    // scapy makes the connection itself: the host's kernel must not reset it meanwhile.
    inNamespace(ns!, ["iptables", "-A", "OUTPUT", "-o", ns!.device, "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP"]);
    let r: Record<string, unknown>;
    try { r = python("established"); } finally { inNamespace(ns!, ["iptables", "-F"]); }
    const { classes, mismatches, ...rest } = r as Record<string, unknown> & TcpReplies;
    t.log(JSON.stringify(rest));
    t.is(r["echoed-first"], "denali!!", "the data sent after the handshake came back");
    t.is(r.probes, 256 * 3, "every flag value at three sequence numbers");
    t.is(r["fences-lost"], 0, "every probe's fence came back");
    t.deepEqual(mismatches, [], "replies that are not RFC 9293's");
    t.is(r["mismatch-count"], 0);
    // The classes, with as many probes as flag values fall in each (8 bits: FIN SYN RST PSH ACK URG ECE CWR).
    t.deepEqual(classes, {
      "out of window: RST -> nothing": 128,
      "out of window: no RST -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>": 128,
      "in window past RCV.NXT: RST -> challenge ACK": 128,
      "in window past RCV.NXT: SYN -> challenge ACK": 64,
      "in window past RCV.NXT: no ACK bit -> nothing": 32,
      "in window past RCV.NXT: ACK, out of order -> duplicate ACK": 32,
      "at RCV.NXT: RST -> reset, nothing sent": 128,
      "at RCV.NXT: SYN -> challenge ACK": 64,
      "at RCV.NXT: no ACK bit -> nothing": 32,
      "at RCV.NXT: ACK -> data echoed with its ACK": 16,
      "ACK of the echo -> nothing": 16 + 1,
      "at RCV.NXT: ACK+FIN -> data and FIN echoed, ACK of both": 16,
      "ACK of its FIN -> nothing": 16,
      "after the end: ACK -> LISTEN's <SEQ=SEG.ACK><CTL=RST>": 128 + 16,
      // Then the ACK field (RFC 5961 §5.2): one probe each.
      "ACK of unsent data -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, dropped": 1,
      "ACK below SND.UNA - MAX.SND.WND -> challenge ACK, dropped": 1,
      "ACK old but within MAX.SND.WND -> data echoed": 1,
    });
    t.is(r.connections, 1 + 128 + 16, "a new connection after each reset and each close");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const vms = await machine!.monitor("vms");
    t.regex(vms, /^vms: 3 started, 0 exited, 0 ended by the kernel, 3 idle;/m);
    t.notRegex(machine!.out(), /^vm \d+ ended: |^(panic|trap)[: ]/m);
  });

  // The idle connection checks the guest's TCP timer, not the card: with virtio-net only (10 s).
  const idleCheck = nic === "virtio";
  test.serial("afterwards both servers answer: ping, a TCP echo round trip, the web page; the host's neighbours are "
    + `the VMs' own MACs${idleCheck ? "; an idle web connection is closed after 10 s" : ""}` + on, async (t) => {
    // Meanwhile a connection to the web server that never sends a request: closed after 10 s.
    const clockBefore = kernelUptimeMs(await machine!.monitor("clock", /^timers: .*$/m));
    const idle = idleCheck ? idleConnection(ns!, "198.18.0.2", 80) : null;
    for (const address of ["198.18.0.2", "198.18.0.3"]) {
      const ping = spawnSync(ns!.exec[0], [...ns!.exec.slice(1), "ping", "-c", "2", "-i", "0.2", "-W", "5", address], { encoding: "utf8", timeout: 30_000 });
      t.is(ping.status, 0, `${address}: ${ping.stdout}${ping.stderr}`);
    }
    const echo = echoTransfer(ns!, client, "198.18.0.3", 7, 64 * 1024, 3);
    t.is(echo.bytesReceived, 64 * 1024);
    t.is(echo.received, echo.sent);
    const page = inNamespace(ns!, ["curl", "-s", "--max-time", "20", "http://198.18.0.2/"]);
    t.regex(page, /<h1>Denali VM 0<\/h1>/);
    t.is(page.length, 2048);
    const neighbours = inNamespace(ns!, ["ip", "neigh", "show", "dev", ns!.device]);
    t.regex(neighbours, /^198\.18\.0\.2 lladdr 02:00:00:00:00:00 /m);
    t.regex(neighbours, /^198\.18\.0\.3 lladdr 02:00:00:00:00:01 /m);
    t.notRegex(neighbours, /de:ad:be:ef|lladdr 02:00:00:00:00:02/, neighbours);
    if (!idle) return;
    const closed = await idle;
    const clockAfter = kernelUptimeMs(await machine!.monitor("clock", /^timers: .*$/m));
    t.log(`idle connection: closed after ${closed.seconds.toFixed(2)} s (host), `
      + `${clockAfter - clockBefore} ms of the kernel's clock around it`);
    t.deepEqual([closed.how, closed.bytes], ["fin", 0], "the server closed it (FIN), sending nothing");
    t.true(clockAfter - clockBefore >= 10_000, `kernel clock ${clockBefore} -> ${clockAfter} ms: not before 10 s`);
    t.true(closed.seconds >= 9 && closed.seconds < 30, `closed ${closed.seconds} s after it opened (host clock)`);
  });

  test.serial("stop: the summary, then QEMU exits cleanly" + on, async (t) => {
    const run = await machine!.stop();
    t.is(run.debugExit, 0, machine!.out().slice(-2000));
    t.regex(machine!.out(), /^vms done: stopped from the console$/m);
    const nicLine = machine!.out().match(/^nic: .*$/gm)?.pop() ?? "";       // the summary's
    t.regex(nicLine, /^nic: rx [1-9]\d* frames .*, tx [1-9]\d* frames /);
    t.log(nicLine);
  });
}
