// Contract: TCP through the real path (issue 5, "How it will be checked"): a network namespace with a
// tap device, QEMU inside it, the echo app (guest-src/apps/echo.ts, TCP port 7) in a VM at 198.18.0.2.
// A Node client in the namespace sends 1 MB of pseudo-random bytes (xorshift32, fixed seed) and reads
// 1 MB back: the SHA-256 of what came back equals that of what was sent. Then the same with loss
// injected on the host side of the tap (iptables' statistic match: every 25th TCP segment from the VM
// and every 29th to it dropped; deterministic; tc netem is not in every kernel, this machine's lacks
// it), which completes through retransmission: the guest's
// stack reports its retransmissions (the echo app's `retransmits R` line) and iptables its drops.
// Afterwards the kernel's monitor shows the VM still up, with no frame dropped or spoofed in the
// kernel. Needs root (CI runs as root); skipped with the reason otherwise.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import {
  tapMissing, tapNamespace, startMachine, buildVms, inNamespace, vmNetCounters, writeEchoClient, echoTransfer,
  type Machine,
} from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";

const VM_IP = "198.18.0.2";
const PORT = 7;
const BYTES = 1 << 20;


const why = tapMissing();
const noIptables = spawnSync("iptables", ["--version"]).status !== 0 ? "no `iptables` command (Debian iptables)" : null;

if (why) {
  test.skip(`TCP echo of 1 MB through the tap (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let dir: string | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  let client = "";

  test.before(async () => {
    kernel = buildKernelInTemp(false);
    dir = mkdtempSync(join(tmpdir(), "denali-net-tcp-"));
    client = writeEchoClient(dir);
    const modules = buildVms(dir, "echo", [{ image: "guest-src/apps/echo.ts", count: 1, memoryKiB: 512, argument: PORT, ipBase: VM_IP }]);
    ns = tapNamespace("tcp");
    machine = await startMachine({ kernel: kernel.elf, modules, namespace: ns });
    await machine.waitFor(/^\[vm 0\] vm 0 echo on port 7$/m, 60_000);
  });

  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const transfer = (seed: number) => echoTransfer(ns!, client, VM_IP, PORT, BYTES, seed);

  test.serial("1 MB sent to the echo VM comes back byte for byte (SHA-256 of both directions)", (t) => {
    const r = transfer(1);
    t.is(r.bytesReceived, BYTES, machine!.out().slice(-2000));
    t.is(r.received, r.sent);
    t.log(`1 MB echoed in ${r.ms} ms`);
  });

  if (noIptables) {
    test.serial.skip(`1 MB with packet loss on the tap (skipped: ${noIptables})`, () => {});
  } else {
    test.serial("1 MB with packet loss injected on the tap completes through retransmission", async (t) => {
      const before = machine!.out().length;
      // Deterministic loss: every 25th TCP segment from the VM (its data and ACKs) and every 29th to it.
      inNamespace(ns!, ["iptables", "-A", "INPUT", "-i", ns!.device, "-p", "tcp", "-m", "statistic", "--mode", "nth", "--every", "25", "--packet", "0", "-j", "DROP"]);
      inNamespace(ns!, ["iptables", "-A", "OUTPUT", "-o", ns!.device, "-p", "tcp", "-m", "statistic", "--mode", "nth", "--every", "29", "--packet", "0", "-j", "DROP"]);
      let r;
      try { r = transfer(2); } finally {
        const rules = inNamespace(ns!, ["iptables", "-L", "-v", "-n", "-x"]);
        t.log(rules.split("\n").filter((l) => /DROP/.test(l)).map((l) => l.trim().replace(/\s+/g, " ")).join("\n"));
        inNamespace(ns!, ["iptables", "-F"]);
        const drops = [...rules.matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)].map((m) => Number(m[1]));
        t.true(drops.length === 2 && drops.every((d) => d > 0), `iptables dropped segments both ways: ${drops}`);
      }
      t.is(r.bytesReceived, BYTES, machine!.out().slice(-2000));
      t.is(r.received, r.sent);
      // The guest's stack retransmitted what iptables dropped on its way out (echo.ts reports its counters).
      const report = await machine!.waitFor(
        /^\[vm 0\] vm 0 echo: connection \d+ (closed|reset), retransmits (\d+), .*, tcp drops \d+$/m, 30_000, before);
      const retransmits = Number(/retransmits (\d+)/.exec(report)![1]);
      t.true(retransmits > 0, report);
      t.regex(report, /closed/);
      t.log(`1 MB echoed with loss in ${r.ms} ms; the guest retransmitted ${retransmits} times`);
    });
  }

  test.serial("afterwards the VM is still up and the kernel dropped nothing", async (t) => {
    const vms = await machine!.monitor("vms");
    t.regex(vms, /^vm 0: cpu \d+ kcycles, switches \d+, still idle$/m);
    t.regex(vms, /^vms: 1 started, 0 exited, 0 ended by the kernel, 1 idle;/m);
    const counters = vmNetCounters(vms).get(0);
    t.truthy(counters, vms);
    t.is(counters!.spoofed, 0);
    t.is(counters!.dropped, 0);
    t.true(counters!.rxPackets > 1400 && counters!.txPackets > 1400, JSON.stringify(counters));
    const run = await machine!.stop();
    t.is(run.debugExit, 0, machine!.out().slice(-2000));
    t.log(vms.match(/^(vm 0 net|switch|nic):.*$/gm)?.join("\n"));
  });
}
