// Contract: the control capability and the management hypercalls (kernel-src/control.ts, groups.ts;
// docs/virtual-architecture.md "Management hypercalls"), through the real path: a kernel in QEMU whose
// manifest gives one VM the control capability. That VM (test/kernel/guests/control.ts) carries the echo
// app's ELF (guest-src/apps/echo.ts, embedded at build time) and pushes it: corrupted copies are refused
// with the reason's error code and nothing changes (free frames, VM slots, live VMs); bad arguments
// likewise; then twice N VMs are created, run (each prints its address line, read back through
// vmConsole), are listed with their accounting, and stopped; the second round reuses the first's ids
// and the free-frame count returns exactly to where it was. A VM without the capability, beside it, gets
// EPERM from each management call. With a swap disk and VMs that reserve nothing, the idle pushed VMs are
// written out, and stopping them (swapped out or not) gives their memory back all the same.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, createSwapImage, swapDiskArgs } from "../../tools/qemu.ts";
import { buildGuest, ROOT } from "../../tools/build.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, guestLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, buildControlGuest, writeManifest, workerArgument, vmSummaries, MODE } from "./guests/build.ts";
import {
  ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS, EBADENTRY, EFAULT, EINVAL, EADDRINUSE, ENOMEM, EPERM, ESRCH,
  VM_STATE_IDLE,
} from "../../abi/hypercalls.ts";

/** VMs per round (the check: 100 pushed VMs). */
const N = 100;

let kernel: KernelBuild;
let dir: string;
let out = "";
let debugExit: number | null = null;
let controlElf = "";

test.before(async () => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-control-test-"));
  const echo = buildGuest("apps-echo", join(ROOT, "guest-src", "apps", "echo.ts"), 2, dir, dir);
  const control = controlElf = buildControlGuest(dir, echo.elfPath);
  const worker = buildTestGuest("worker", dir);
  const manifest = writeManifest(dir, "control", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 2048, argument: N, control: true, ipBase: 0x0100000a },
    { moduleIndex: 1, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.management), ipBase: 0x0200000a },
  ]);
  const r = await runQemu({ kernel: kernel.elf, initrd: [control, worker, manifest] },
    { memoryMiB: 128, timeoutMs: 240_000 });
  out = serialLines(r.serial);
  debugExit = r.debugExit;
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const control = () => guestLines(out, 0);
const line = (prefix: string) => control().find((l) => l.startsWith(prefix));

test("the kernel runs the control VM to its end and exits cleanly", (t) => {
  t.is(debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.true(control().includes("control done"), out.slice(-3000));
  // live: the control VM, and the worker while it has not ended yet (it may end before the control VM's first
  // line: host time decides, as this boot runs without -icount); others-ended then says it has.
  t.regex(line("control start ") ?? "", /^control start frames-free \d+ slots 2 live [12] control 0 kept 1012$/);
  t.is(line("control others-ended"), "control others-ended yes");
  t.regex(out, /^vm 0: cpu \d+ kcycles, switches \d+, exit status 0$/m);
});

test("a corrupted image is refused with its reason, and so are bad arguments: nothing changes", (t) => {
  const expected: [string, number][] = [
    ["bad-magic", ENOEXEC], ["elf64-class", ENOEXEC], ["truncated-header", ENOEXEC],
    ["program-headers-outside", ENOEXEC],
    ["segment-misaligned", EBADSEGMENT], ["segment-below-guest", EBADSEGMENT], ["segment-outside-file", EBADSEGMENT],
    ["segments-overlap", EBADSEGMENT], ["entry-outside", EBADENTRY], ["five-segments", ETOOMANYSEGMENTS],
    ["request-outside", EFAULT], ["request-across-end", EFAULT], ["image-across-end", EFAULT],
    ["count-zero", EINVAL], ["memory-too-small", EINVAL], ["memory-not-pages", EINVAL], ["address-zero", EINVAL],
    ["address-in-use", EADDRINUSE], ["reservations-too-large", ENOMEM],
  ];
  const refused = control().filter((l) => l.startsWith("control refused "));
  t.deepEqual(refused, expected.map(([name, code]) => `control refused ${name} ${code} unchanged yes`));
  // Nothing started: no VM line from an id of a refused push, no `vms` line but the manifest's.
  t.false(/^\[vm \d+\] vm \d+ net /m.test(out.split("control refused reservations-too-large")[0]));
});

interface Round {
  first: number; ready: string; vms: Map<number, string>; console: string; stopped: string; frames: number[];
}

function round(n: number): Round {
  const get = (what: string) => line(`control round ${n} ${what}`) ?? "";
  const vms = new Map<number, string>();
  for (const l of control()) {
    const m = new RegExp(`^control round ${n} vm (\\d+) (.*)$`).exec(l);
    if (m) vms.set(Number(m[1]), m[2]);
  }
  const frames = /^control round \d+ frames before (\d+) during (\d+) after (\d+) own \d+ \d+ \d+$/
    .exec(get("frames")) ?? [];
  return {
    first: Number(/created (-?\d+)$/.exec(get("created"))?.[1]), ready: get("ready"), vms, console: get("console"),
    stopped: get("stopped"), frames: frames.slice(1).map(Number),
  };
}

test(`${N} VMs pushed at run time run with their own addresses, are listed, read and stopped, twice`, (t) => {
  for (const n of [1, 2]) {
    const r = round(n);
    // The worker's id (it ended, its group too, before round 1), and then the same ones again.
    t.is(r.first, 1, `round ${n}: first id`);
    t.is(r.ready, `control round ${n} ready yes`);
    t.is(r.vms.size, N);
    for (let k = 0; k < N; k++) {
      const id = r.first + k;
      // Idle (echo waits for frames), not swapped, 10.0.1.(k+1), 512 KiB (the TCP pool is bss), holding and
      // reserving memory, printed.
      const ip = `10\\.0\\.${1 + ((k + 1) >> 8)}\\.${(k + 1) & 255}`;
      t.regex(r.vms.get(id) ?? "", new RegExp(`^state ${VM_STATE_IDLE} flags 0 ip ${ip} `
        + `memory 512 resident [1-9]\\d* reserved [1-9]\\d* console [1-9]\\d* argument 7$`), `round ${n} vm ${id}`);
    }
    t.is(r.stopped, `control round ${n} stopped ${N} failed 0 ended-stopped ${N} busy 0`);
    // vmConsole gave back what the first VM printed (the echo app's address line, its port the argument 7).
    const first = guestLines(out, r.first).find((l) => l.includes(" net 10.0.1.1 "));
    t.truthy(first, `vm ${r.first} printed its address`);
    t.is(r.console, `control round ${n} console ${r.first} ${first}`);
    const [before, during, after] = r.frames;
    t.true(during < before - N * 4, `round ${n}: the VMs held memory (${before} -> ${during})`);
    t.true(after <= before, `round ${n}: ${before} -> ${after}`);
  }
  // Round 2 reused round 1's ids and the kernel's tables: its VMs' memory came back to the frame.
  const [, , afterOne] = round(1).frames, [beforeTwo, , afterTwo] = round(2).frames;
  t.is(beforeTwo, afterOne);
  t.is(afterTwo, beforeTwo, "the free-frame count returns to where it was");
  t.log(`free frames, round 1: ${round(1).frames.join(' -> ')} (the first round grows the kernel's tables once);`
    + ` round 2: ${round(2).frames.join(' -> ')}`);
  // Each stop was the kernel's: `vm N ended: stopped by the control VM`, and the VMs' summaries say so.
  const stoppedLines = out.match(/^vm \d+ ended: stopped by the control VM at eip 0x[0-9a-f]+$/gm) ?? [];
  t.is(stoppedLines.length, 2 * N);
  const summary = vmSummaries(out);
  for (let k = 0; k < N; k++) t.regex(summary.get(1 + k)?.outcome ?? "", /^stopped by the control VM at eip /);
});

test("vmStop, vmList and vmConsole refuse what they must", (t) => {
  t.is(line("control errors "), `control errors stop-ended ${ESRCH} stop-unknown ${ESRCH} stop-self ${EINVAL}`
    + ` list-small ${EINVAL} list-outside ${EFAULT} list-past-end 0`
    + ` console-unknown ${ESRCH} console-outside ${EFAULT}`);
});

test("a VM without the control capability gets EPERM from every management call", (t) => {
  const calls = ["vmCreate", "vmStop", "vmStop-self", "vmList", "vmConsole", "machineStatus"];
  t.deepEqual(guestLines(out, 1).filter((l) => l.includes(" management ")),
    calls.map((c) => `vm 1 management ${c} ${EPERM}`));
  // It exited by itself (the kernel logs no end line for an exit) before round 1 took its id.
  t.is(line("control others-ended"), "control others-ended yes");
  t.false(/^vm 1 ended: /m.test(out.split("control round 1 created")[0]));
});

test("the kernel refuses a manifest that gives the control capability to more than one VM", async (t) => {
  // tools/manifest.ts refuses such a manifest (test/tools/manifest.test.ts); the kernel checks its module too.
  const worker = buildTestGuest("worker", dir);
  const boot = async (name: string, groups: Parameters<typeof writeManifest>[2]) => {
    const initrd = [worker, writeManifest(dir, name, groups)];
    const r = await runQemu({ kernel: kernel.elf, initrd }, { timeoutMs: 60_000 });
    return serialLines(r.serial);
  };
  const computing = { moduleIndex: 0, memoryKiB: 64, argument: workerArgument(MODE.compute, 1) };
  const refusal = /^vms: manifest: the control capability is given to more than one VM, or an unknown flag is set$/m;
  const two = await boot("two-controls", [{ ...computing, vmCount: 1, control: true },
    { ...computing, vmCount: 1, control: true, ipBase: 0x0200000a }]);
  t.regex(two, refusal);
  t.false(/^\[vm /m.test(two), "no VM ran");
  t.regex(await boot("control-group-of-two", [{ ...computing, vmCount: 2, control: true }]), refusal);
});

test("with a swap disk: pushed VMs written out while idle are stopped all the same, their memory given back",
  async (t) => {
  // 16 MiB: 200 echo VMs (about 40 KiB resident each, none reserved) are more than memory holds beside the
  // control VM, so the idle ones go to the disk; vmStop answers EAGAIN while a VM's pages are in flight
  // (the guest tries again).
  const count = 200;
  const image = join(dir, "swap.img");
  createSwapImage(image, 64 << 20);
  const manifest = writeManifest(dir, "control-swap", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 2048, argument: count | 0x10000, control: true, ipBase: 0x0100000a },
  ]);
  const r = await runQemu({ kernel: kernel.elf, initrd: [controlElf, manifest] },
    { memoryMiB: 16, timeoutMs: 300_000, extraArgs: swapDiskArgs(image) });
  const swapOut = serialLines(r.serial);
  const lines = guestLines(swapOut, 0);
  t.is(r.debugExit, EXIT_SUCCESS, swapOut.slice(-3000));
  t.true(lines.includes("control done"), swapOut.slice(-3000));
  const writeOuts = Number(/^swap: resident .*?, write-outs (\d+)/m.exec(swapOut)?.[1] ?? 0);
  t.true(writeOuts > 0, "VMs were written out");
  for (const n of [1, 2]) {
    t.regex(lines.find((l) => l.startsWith(`control round ${n} stopped `)) ?? "",
      new RegExp(`^control round ${n} stopped ${count} failed 0 ended-stopped ${count} busy \\d+$`));
  }
  // Free frames plus the control VM's own (it goes out to the disk and back too): what the pushed VMs hold.
  const frames = (n: number) => {
    const m = /frames before (\d+) during (\d+) after (\d+) own (\d+) (\d+) (\d+)$/.exec(
      lines.find((l) => l.startsWith(`control round ${n} frames`)) ?? "")?.slice(1).map(Number) ?? [];
    return m.length === 6 ? [m[0] + m[3], m[1] + m[4], m[2] + m[5]] : [];
  };
  t.log(`swap: ${writeOuts} write-outs; free frames, round 1: ${frames(1).join(" -> ")}, `
    + `round 2: ${frames(2).join(" -> ")}`);
  t.true(frames(1).length === 3 && frames(2).length === 3);
  // Where the first round left it, but for the kernel's map of the control VM's clean pages on the disk
  // (kalloc'd while it has some: it may be written out too while it sleeps between checks).
  t.true(Math.abs(frames(2)[2] - frames(1)[2]) <= 2, "the free-frame count returns to where the first round left it");
  // Nothing but stops ended a pushed VM (no swap error, no out of memory).
  t.false(/^vm \d+ ended: (?!stopped by the control VM)/m.test(swapOut), swapOut.match(/^vm \d+ ended: .*$/m)?.[0]);
  t.regex(swapOut, /^swap: resident \d+, swapped out 0, /m);
});
