// Contract: the network-buffer pool under a flood, against a real client (issue 11, item 4). In a
// network namespace with a tap (QEMU inside it): VM 0 the web server (guest-src/apps/httpd.ts at
// 198.18.0.2), VMs 1-40 flooders and VMs 41-296 sinks (guest-src/attacks/netflood.ts): the flooders
// send frames to the sinks for ever, the sinks never read, so together they would hold every buffer
// (40 budgets of 64 frames: more than the pool of 2,048 and 2 per VM, kernel-src/netbuf.ts).
// - once the pool is under pressure (every flooder holds its budget of frames at the sinks and gets
//   EAGAIN), `curl` from the namespace fetches the web server's page every time and `ping` gets its
//   replies: frames from the wire and the server's own get buffers by dropping the sinks' oldest
//   frames (the switch's `evicted` grows), never the server's;
// - `stop`: no VM was ended by the kernel and the kernel did not fault; every flooder was refused
//   (EAGAIN, counted per VM), none has more than its budget of 64 frames queued; the web server was
//   refused and lost nothing; the sinks' dropped frames add up to the switch's `evicted`.
// - a burst from the wire (scapy: BURST frames at once to a sink, a VM that never reads) while the pool is
//   not low: NET_QUEUE_BURST (256) of them wait on its queue, the rest are its `dropped` (kernel-src/switch.ts;
//   64 only while fewer than 512 buffers are free: a thousand clients' frames at once are not cut to 64).
// Needs root (CI runs as root), curl, ping and /usr/bin/python3 with scapy; skipped with the reason otherwise.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import {
  tapMissing, tapNamespace, startMachine, buildVms, inNamespace, switchCounters, vmNetCounters, type Machine,
} from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";

const SERVER_IP = "198.18.0.2";
const FLOODERS = 40;
const SINKS = 256;
const FIRST_SINK = 1 + FLOODERS;
// guest-src/attacks/netflood.ts: MODE * 10^9 + FIRST_SINK * 10^5 + PARAM (0: for ever).
const FLOODER_ARGUMENT = 1_000_000_000 + FIRST_SINK * 100_000;
const SINK_ARGUMENT = 2_000_000_000;
const FETCHES = 10;

const PYTHON = "/usr/bin/python3";
const BURST = 300;
/** scapy: `count` UDP frames to VM 0's MAC and `ip` on `device`, sent at once (one socket, no waits). */
const SEND_BURST = [
  "import sys",
  "from scapy.all import Ether, IP, UDP, conf",
  "conf.verb = 0",
  "device, ip, count = sys.argv[1], sys.argv[2], int(sys.argv[3])",
  "frame = bytes(Ether(dst='02:00:00:00:00:00', src=conf.ifaces.dev_from_name(device).mac)"
    + " / IP(dst=ip) / UDP(sport=9, dport=9) / (b'x' * 18))",
  "s = conf.L2socket(iface=device)",
  "for _ in range(count): s.send(frame)",
  "print('sent', count)",
].join("\n");

const scapy = spawnSync(PYTHON, ["-c", "import scapy.all"]).status === 0;
const why = tapMissing(["curl", "curl"], ["ping", "iputils-ping"])
  ?? (scapy ? null : `no scapy for ${PYTHON} (Debian python3-scapy)`);
if (why) {
  test.skip(`a web server beside 32 flooders and 256 sinks on a tap device (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let dir: string | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.serial("curl reaches a web server while 40 VMs flood 256 that never read; only the flooders are throttled",
    async (t) => {
    kernel = buildKernelInTemp(false);
    dir = mkdtempSync(join(tmpdir(), "denali-net-pool-"));
    const modules = buildVms(dir, "pool", [
      { image: "guest-src/apps/httpd.ts", count: 1, memoryKiB: 1024, argument: 0, ipBase: SERVER_IP },
      { image: "guest-src/attacks/netflood.ts", count: FLOODERS, memoryKiB: 64, argument: FLOODER_ARGUMENT },
      { image: "guest-src/attacks/netflood.ts", count: SINKS, memoryKiB: 64, argument: SINK_ARGUMENT },
    ]);
    ns = tapNamespace("pool");
    machine = await startMachine({ kernel: kernel.elf, modules, namespace: ns, memoryMiB: 256 });
    await machine.waitFor(/^\[vm 0\] vm 0 httpd on port 80$/m, 120_000);
    // The pool under pressure: every flooder holds its budget at the sinks and is refused (EAGAIN).
    const refusedOf = async () => switchCounters(await machine!.monitor("net"))["sender budget"] ?? 0;
    let refused = 0;
    for (const deadline = Date.now() + 120_000; refused < 100_000 && Date.now() < deadline; ) {
      refused = await refusedOf();
      if (refused < 100_000) await new Promise((r) => setTimeout(r, 500));
    }
    t.true(refused >= 100_000, `flooders refused ${refused} times`);
    const before = switchCounters(await machine.monitor("net"));
    t.true(before.evicted === undefined || before.evicted >= 0);

    for (let i = 0; i < FETCHES; i++) {
      const curl = ["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code} %{size_download}", `http://${SERVER_IP}/`];
      const page = inNamespace(ns, curl);
      t.true(page.includes("<h1>Denali VM 0</h1>") && page.endsWith("\n200 2048"), `fetch ${i}: ${page.slice(-60)}`);
    }
    t.regex(inNamespace(ns, ["ping", "-c", "3", "-W", "10", SERVER_IP]), /3 received/);
    // The wire's frames and the server's got buffers by dropping the sinks' oldest frames.
    const during = switchCounters(await machine.monitor("net"));
    t.true(during.evicted > before.evicted, `evicted ${before.evicted} before the fetches, ${during.evicted} after`);
    t.true(during["sender budget"] > refused, "the flooders were still flooding");

    const run = await machine.stop();
    t.truthy(run);
    const out = machine.out();
    t.false(/^exception: |^panic: /m.test(out), out.slice(-3000));
    t.false(out.includes("NOT CONTAINED"), out.slice(-3000));
    t.regex(out, new RegExp(`^vms: ${1 + FLOODERS + SINKS} started, 0 exited, 0 ended by the kernel`, "m"));
    const counters = vmNetCounters(out);
    t.like(counters.get(0), { dropped: 0, refused: 0, evicted: 0 }, "the web server");
    for (let vm = 1; vm <= FLOODERS; vm++) t.true((counters.get(vm)?.refused ?? 0) > 0, `flooder ${vm} refused`);
    let sinkEvicted = 0, sinkQueued = 0;
    for (let vm = FIRST_SINK; vm < FIRST_SINK + SINKS; vm++) {
      sinkEvicted += counters.get(vm)?.evicted ?? 0;
      sinkQueued += (counters.get(vm)?.rxPackets ?? 0) - (counters.get(vm)?.evicted ?? 0);
    }
    const final = switchCounters(out);
    t.is(sinkEvicted, final.evicted, "every dropped frame was a sink's");
    t.true(sinkQueued <= FLOODERS * 64, `frames waiting at the sinks: ${sinkQueued}, at most the flooders' budgets`);
    t.log(`evicted ${final.evicted}, eagain sender budget ${final["sender budget"]}, `
      + `wire reserve ${final["wire reserve"]}, queued at sinks ${sinkQueued}`);
  });
  test.serial("a burst of 300 frames from the wire to a VM that never reads: 256 wait on its queue, 44 dropped",
    async (t) => {
    const burstKernel = buildKernelInTemp(false);
    const burstDir = mkdtempSync(join(tmpdir(), "denali-net-burst-"));
    const burstNs = tapNamespace("burst");
    let burstMachine: Machine | undefined;
    try {
      const modules = buildVms(burstDir, "burst", [
        { image: "guest-src/attacks/netflood.ts", count: 1, memoryKiB: 64, argument: SINK_ARGUMENT, ipBase: SERVER_IP },
      ]);
      burstMachine = await startMachine({ kernel: burstKernel.elf, modules, namespace: burstNs });
      await burstMachine.waitFor(/^vms: 1 created/m, 120_000);
      const sent = inNamespace(burstNs, [PYTHON, "-c", SEND_BURST, burstNs.device, SERVER_IP, String(BURST)]);
      t.regex(sent, new RegExp(`sent ${BURST}`));
      const pool = await burstMachine.monitor("net", /^netpool: .*$/m);
      await burstMachine.stop();
      const out = burstMachine.out();
      const sink = vmNetCounters(out).get(0);
      t.like(sink, { rxPackets: 256, dropped: BURST - 256, evicted: 0 }, out.slice(-2000));
      t.is(switchCounters(out)["queue full"], BURST - 256, pool);
    } finally {
      burstMachine?.kill();
      burstNs.remove();
      burstKernel.remove();
      rmSync(burstDir, { recursive: true, force: true });
    }
  });
}
