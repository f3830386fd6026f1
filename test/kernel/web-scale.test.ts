// Contract: hundreds of connections and a SYN flood against one httpd VM of 1 MiB, through the real path
// (the kernel in QEMU, its card on a tap device in a network namespace; tools/net.ts):
// - ApacheBench with AB_CONCURRENCY (1,000) keep-alive connections at once, AB_REQUESTS (20,000) requests:
//   every request answered, none failed (issue 17's check; the VM's `/stats` logged: how many it held at
//   once). The VM's idle timeout is IDLE_SECONDS (httpd's argument), as a server under load is configured:
//   with httpd's default 10 s a fresh-clone CI run closed 28 of 20,000 connections whose requests had not
//   got in yet (figures.md "Connections at scale");
// - HELD (300) connections opened one by one and held, then a GET on each, twice: every page arrives and the
//   VM held them all at once (its `GET /stats`: connections at most >= 300);
// - FLOOD_SYNS (10,000) SYNs from scapy that never complete (the host's RSTs to the VM's SYN,ACKs dropped
//   by iptables, so the half-open connections stay): meanwhile curl's GET / still gets its page, through a
//   SYN cookie (libos tcp-cookies.ts: the SYN queue is full), and the VM's counters say so: cookies sent for
//   the flood, accepted for curl, none refused.
// DENALI_AB_CONCURRENCY and DENALI_AB_REQUESTS change ab's figures (figures.md "Connections at scale").
// Needs root, ip, curl, ab, iptables and /usr/bin/python3 with scapy (skipped with the reason otherwise).
import test from "ava";
import { spawnSync } from "node:child_process";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import {
  tapMissing, tapNamespace, buildVms, startMachine, inNamespace, inNamespaceAsync, type Machine,
} from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";

const VM_IP = "198.18.0.2";
const PYTHON = "/usr/bin/python3";
const AB_CONCURRENCY = Number(process.env.DENALI_AB_CONCURRENCY ?? 1000);
/** httpd's idle timeout here (the argument's high 16 bits; port 80): nginx's keep-alive is 75 s. */
const IDLE_SECONDS = 60;
const AB_REQUESTS = Number(process.env.DENALI_AB_REQUESTS ?? 20000);
const FLOOD_SYNS = 10_000;
/** httpd's backlog (guest-src/apps/httpd.ts BACKLOG): SYNs past it in SYN-RECEIVED get cookies. */
const BACKLOG = 256;

function missing(): string | null {
  const tap = tapMissing(["curl", "curl"], ["ab", "apache2-utils"], ["iptables", "iptables"]);
  if (tap) return tap;
  if (spawnSync(PYTHON, ["-c", "import scapy.all"]).status !== 0) {
    return `no scapy for ${PYTHON} (Debian python3-scapy)`;
  }
  return null;
}

/** The VM's `GET /stats` line as numbers by name. */
function stats(ns: TapNamespace): Record<string, number> {
  const text = inNamespace(ns, ["curl", "-sS", "--max-time", "60", `http://${VM_IP}/stats`]);
  const words = text.trim().split(" ");
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < words.length; i += 2) out[words[i]] = Number(words[i + 1]);
  return out;
}

/** scapy: FLOOD_SYNS SYNs to port 80 from the host's address, each from its own port, never completed. */
const FLOOD = [
  "import sys",
  "from scapy.all import IP, TCP, send, conf",
  "conf.verb = 0",
  "ip, count = sys.argv[1], int(sys.argv[2])",
  "send([IP(dst=ip)/TCP(sport=10000 + i, dport=80, flags='S', seq=1000 * i, options=[('MSS', 1460)])",
  "      for i in range(count)])",
  "print('sent', count)",
].join("\n");

/**
 * Opens HELD keep-alive connections (each connect waits for its handshake), then a GET on each, twice; then,
 * all still open, the VM's `/stats` on one more: prints `served N twice; connections L`.
 */
const HELD = 300;
const HOLD = [
  "import socket, sys",
  "ip, count = sys.argv[1], int(sys.argv[2])",
  "conns = [socket.create_connection((ip, 80), timeout=60) for _ in range(count)]",
  "for rnd in range(2):",
  "    for c in conns: c.sendall(b'GET / HTTP/1.1\\r\\nHost: vm\\r\\n\\r\\n')",
  "    for c in conns:",
  "        data = b''",
  "        while not (b'\\r\\n\\r\\n' in data and len(data.split(b'\\r\\n\\r\\n', 1)[1]) >= 2048):",
  "            chunk = c.recv(65536)",
  "            if not chunk: sys.exit('closed early')",
  "            data += chunk",
  "        if not data.startswith(b'HTTP/1.1 200 OK'): sys.exit('not 200')",
  "s = socket.create_connection((ip, 80), timeout=60)",
  "s.sendall(b'GET /stats HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n')",
  "stats = b''",
  "while True:",
  "    chunk = s.recv(65536)",
  "    if not chunk: break",
  "    stats += chunk",
  "live = int(stats.split(b'\\r\\n\\r\\n', 1)[1].split()[1])",
  "print('served', count, 'twice; connections', live)",
].join("\n");

const why = missing();
if (why) {
  test.skip(`httpd at scale: ab with ${AB_CONCURRENCY} connections, a SYN flood (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  test.before(async () => {
    kernel = buildKernelInTemp(false);
    const modules = buildVms(kernel.dir, "web-scale",
      [{ image: "guest-src/apps/httpd.ts", count: 1, memoryKiB: 1024, argument: IDLE_SECONDS * 65536, ipBase: VM_IP }]);
    ns = tapNamespace("webscale");
    machine = await startMachine({ kernel: kernel.elf, modules, namespace: ns });
    await machine.waitFor(/^\[vm 0\] vm 0 httpd on port 80$/m, 120_000);
  });
  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
  });

  const abTitle = `ab -k -c ${AB_CONCURRENCY} -n ${AB_REQUESTS} against one httpd VM of 1 MiB: no request fails`;
  test.serial(abTitle, async t => {
    const ab = await inNamespaceAsync(ns!, ["sh", "-c", `ulimit -n 8192; ab -k -q -s 120 -c ${AB_CONCURRENCY} `
      + `-n ${AB_REQUESTS} http://${VM_IP}/`], 900_000);
    t.regex(ab.stdout, new RegExp(`Complete requests:\\s+${AB_REQUESTS}\\n`), ab.stdout + ab.stderr);
    t.regex(ab.stdout, /Failed requests:\s+0\n/, ab.stdout);
    t.regex(ab.stdout, new RegExp(`Keep-Alive requests:\\s+${AB_REQUESTS}\\n`), ab.stdout);
    const s = stats(ns!);
    const figure = (name: string) => new RegExp(`${name}:\\s+(.*)`).exec(ab.stdout)?.[1] ?? "?";
    t.log(`ab -c ${AB_CONCURRENCY} -n ${AB_REQUESTS}: ${figure("Requests per second")} requests/s, `
      + `${figure("Time taken for tests")}; the VM: ${JSON.stringify(s)}`);
  });

  test.serial(`${HELD} connections opened and held at once, each served twice: the VM holds them all`, async t => {
    const run = await inNamespaceAsync(ns!, [PYTHON, "-c", HOLD, VM_IP, String(HELD)], 300_000);
    const m = /^served (\d+) twice; connections (\d+)$/.exec(run.stdout.trim());
    t.truthy(m, run.stdout + run.stderr);
    t.is(Number(m?.[1]), HELD);
    t.true(Number(m?.[2]) > HELD, `the VM had ${m?.[2]} connections while the ${HELD} were held (and /stats's own)`);
    t.log(`${HELD} connections held: ${run.stdout.trim()}; the VM: ${JSON.stringify(stats(ns!))}`);
  });

  test.serial(`${FLOOD_SYNS} half-open SYNs (scapy): curl still gets the page, through a SYN cookie`, async t => {
    const before = stats(ns!);
    // The host must not reset the VM's SYN,ACKs (its kernel knows none of these connections).
    inNamespace(ns!, ["iptables", "-A", "OUTPUT", "-o", ns!.device, "-p", "tcp", "--tcp-flags", "RST", "RST",
      "-d", VM_IP, "-m", "multiport", "--sports", "10000:30000", "-j", "DROP"]);
    try {
      const flood = inNamespaceAsync(ns!, [PYTHON, "-c", FLOOD, VM_IP, String(FLOOD_SYNS)], 600_000);
      await new Promise(r => setTimeout(r, 3000));   // the SYN queue fills meanwhile
      const during = await inNamespaceAsync(ns!, ["curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-w",
        "%{http_code} %{size_download}", `http://${VM_IP}/`], 120_000);
      const sent = await flood;
      t.regex(sent.stdout, new RegExp(`sent ${FLOOD_SYNS}`), sent.stdout + sent.stderr);
      t.is(during.stdout, "200 2048", during.stderr);
      const after = stats(ns!);
      const cookies = after.cookies - before.cookies;
      t.true(cookies >= FLOOD_SYNS / 2 && cookies <= FLOOD_SYNS + 10,
        `${cookies} cookies for ${FLOOD_SYNS} SYNs past a backlog of ${BACKLOG}`);
      t.true(after.ok - before.ok >= 1, "curl's connection (at least) made from its cookie");
      t.is(after.bad - before.bad, 0, "no ACK with a bad cookie");
      t.log(`flood of ${FLOOD_SYNS} SYNs: cookies sent ${cookies}, accepted ${after.ok - before.ok}; the VM: `
        + JSON.stringify(after));
    } finally {
      inNamespace(ns!, ["iptables", "-F", "OUTPUT"]);
    }
  });
}
