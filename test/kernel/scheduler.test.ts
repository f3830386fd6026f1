// Contract: the scheduler's CPU shares (kernel-src/scheduler.ts, share.ts; docs/virtual-machines.md
// "Scheduling"): under -icount (deterministic: rdtsc counts instructions), spinning VMs of weights 1:2:4
// get the CPU in those proportions, and a VM capped at 10% gets 10% of the time while the host idles
// otherwise. A stopper VM (guests/worker.ts mode 8, the control VM: it may vmStop) idles on 100 ms
// alarms, measures the time they took in TSC cycles, then stops the others; the kernel's summary gives
// each VM's charged kcycles.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, workerArgument, vmSummaries, MODE, type Group } from "./guests/build.ts";

let kernel: KernelBuild;
let dir: string;
let worker: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-scheduler-test-"));
  worker = buildTestGuest("worker", dir);
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The stopper (VM 0, `rounds` x 100 ms) and then `groups`; the summary and the stopper's measured kcycles. */
async function run(name: string, rounds: number, groups: Group[]) {
  const stopper: Group = {
    moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.stopper, rounds), control: true,
    ipBase: 0x0200000a,
  };
  const manifest = writeManifest(dir, name, [stopper, ...groups]);
  const r = await runQemu({ kernel: kernel.elf, initrd: [worker, manifest] }, {
    memoryMiB: 64, timeoutMs: 480_000, icount: true,   // seconds when quiet; minutes on a loaded host
  });
  const out = serialLines(r.serial);
  const elapsed = /^\[vm 0\] vm 0 stopper kcycles (\d+)$/m.exec(out);
  return { out, debugExit: r.debugExit, summary: vmSummaries(out), elapsedKcycles: Number(elapsed?.[1] ?? 0) };
}

const spinner = (count: number, extra: Partial<Group>): Group => ({
  moduleIndex: 0, vmCount: count, memoryKiB: 64, argument: workerArgument(MODE.spinner), ...extra,
});

test("three spinning VMs of weights 1:2:4 get 1/7, 2/7, 4/7 of the CPU, each within 2% (-icount)", async (t) => {
  // Stride scheduling's lag is at most about a quantum (10 ms) per VM wherever the run stops: over 4 s
  // that is under 1.8% of the weight-1 VM's 1/7, so the bound holds by construction, not by luck.
  const r = await run("weights", 40, [
    spinner(1, { cpuWeight: 100 }), spinner(1, { cpuWeight: 200 }), spinner(1, { cpuWeight: 400 }),
  ]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-2000));
  const spent = [1, 2, 3].map((id) => r.summary.get(id)!.kcycles);
  const total = spent.reduce((a, b) => a + b, 0);
  t.true(total > r.elapsedKcycles * 0.95, `spinners ${total} kcycles of ${r.elapsedKcycles}: the CPU was busy`);
  const shares = spent.map((k) => k / total);
  [1, 2, 4].forEach((weight, i) => {
    const expected = weight / 7, error = Math.abs(shares[i] - expected) / expected;
    t.true(error < 0.02, `weight ${weight}: ${(shares[i] * 100).toFixed(2)}% against ${(expected * 100).toFixed(2)}%`);
  });
  for (const id of [1, 2, 3]) t.regex(r.summary.get(id)!.outcome, /^stopped by the control VM/);
  t.log(`shares ${shares.map((s) => (s * 100).toFixed(2) + "%").join(" ")} of ${total} kcycles`);
});

test("a VM capped at 10% gets 10% +-1% of the CPU while the host is otherwise idle (-icount)", async (t) => {
  const r = await run("cap", 30, [spinner(1, { cpuCapPercent: 10 })]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-2000));
  const share = r.summary.get(1)!.kcycles / r.elapsedKcycles;
  t.true(Math.abs(share - 0.10) <= 0.01, `capped VM: ${(share * 100).toFixed(2)}% of ${r.elapsedKcycles} kcycles`);
  t.log(`capped at 10%: ${(share * 100).toFixed(2)}% of ${r.elapsedKcycles} kcycles`);
});

test("a cap holds a VM beside an uncapped one, which takes the rest; weights decide among the uncapped", async (t) => {
  // Weight 10000 against 1 would take nearly everything, but its cap is 20%: the weight-1 VM gets the rest.
  const r = await run("cap-weight", 10, [
    spinner(1, { cpuWeight: 10000, cpuCapPercent: 20 }), spinner(1, { cpuWeight: 1 }),
  ]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-2000));
  const capped = r.summary.get(1)!.kcycles / r.elapsedKcycles, other = r.summary.get(2)!.kcycles / r.elapsedKcycles;
  t.true(Math.abs(capped - 0.20) <= 0.01, `capped: ${(capped * 100).toFixed(2)}%`);
  t.true(other > 0.75, `uncapped weight 1: ${(other * 100).toFixed(2)}%`);
  t.log(`capped 20% at weight 10000: ${(capped * 100).toFixed(2)}%; weight 1: ${(other * 100).toFixed(2)}%`);
});
