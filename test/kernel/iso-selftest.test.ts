// Contract (issue 3): the same kernel boots and passes its self-tests in Bochs, from the ISO as a CD and
// from the ISO as a USB stick in QEMU. One kernel build; a hybrid ISO whose GRUB `multiboot` line carries
// `test=selftest` (tools/build.ts buildIso's commandLine). The reference is the same ELF booted with
// QEMU -kernel -append test=selftest: every "selftest NAME ok" line it prints must appear on every
// medium, and no medium may print FAILED. Bochs has no isa-debug-exit: the harness stops it at "boot ok"
// (printed after the last self-test); QEMU exits through isa-debug-exit with status 0.
// QEMU runs with -icount shift=0,sleep=off: virtual time then does not depend on the load of this
// machine (without it, a busy host can hold back the PIT tick for longer than clock-monotonic's 5000
// reads, and the clock saturates at the end of the tick: "selftest clock-monotonic FAILED").

import test from "ava";
import { join } from "node:path";
import { runQemu } from "../../tools/qemu.ts";
import { runBochs } from "../../tools/bochs.ts";
import { buildIso } from "../../tools/build.ts";
import { BANNER, EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";

let kernel: KernelBuild;
let iso: string;
/** "selftest NAME ok" names of the -kernel boot (the reference). */
let reference: Promise<string[]>;

const selftestNames = (out: string) => [...out.matchAll(/^selftest (\S+) ok$/gm)].map((m) => m[1]);

test.before(() => {
  kernel = buildKernelInTemp(false);
  iso = join(kernel.dir, "selftest.iso");
  buildIso(kernel.elf, iso, [], "test=selftest");
  reference = runQemu({ kernel: kernel.elf }, { memoryMiB: 128, icount: true, timeoutMs: 60_000, extraArgs: ["-append", "test=selftest"] }).then((r) => {
    const out = serialLines(r.serial);
    if (r.debugExit !== EXIT_SUCCESS || out.includes("FAILED")) throw new Error(`the -kernel reference boot failed:\n${out.slice(-2000)}`);
    return selftestNames(out);
  });
});
test.after.always(() => kernel?.remove());

/** The kernel part of the serial output (GRUB draws its menu on the same line first). */
function kernelPart(serial: string): string {
  const out = serialLines(serial);
  const start = out.search(BANNER);
  return start < 0 ? out : out.slice(start);
}

async function checkSelftests(t: import("ava").ExecutionContext, serial: string): Promise<void> {
  const names = await reference;
  t.true(names.length >= 10, `the reference boot printed ${names.length} self-tests`);
  const out = kernelPart(serial);
  t.regex(out, BANNER);
  t.regex(out, /^boot loader: GRUB/m);
  t.regex(out, /^command line: (\S+ )?test=selftest$/m);
  t.false(out.includes("FAILED"), out.slice(-2000));
  t.false(/^exception: /m.test(out), out.slice(-2000));
  const seen = new Set(selftestNames(out));
  t.deepEqual(names.filter((n) => !seen.has(n)), [], "self-tests of the -kernel boot missing here");
  t.regex(out, /^boot ok$/m);
}

test("the reference: QEMU -kernel -append test=selftest prints its self-tests", async (t) => {
  const names = await reference;
  t.true(names.includes("frames") && names.includes("exception-resume"), names.join(" "));
  t.log(`${names.length} self-tests: ${names.join(", ")}`);
});

test("QEMU, the ISO as a CD: every self-test passes", async (t) => {
  const r = await runQemu({ cdrom: iso }, { memoryMiB: 128, icount: true, timeoutMs: 150_000 });
  t.false(r.timedOut, serialLines(r.serial).slice(-2000));
  t.is(r.debugExit, EXIT_SUCCESS);
  await checkSelftests(t, r.serial);
});

test("QEMU, the ISO as a USB stick (xHCI usb-storage): every self-test passes", async (t) => {
  const r = await runQemu({ usb: iso }, { memoryMiB: 128, icount: true, timeoutMs: 300_000 });
  t.false(r.timedOut, serialLines(r.serial).slice(-2000));
  t.is(r.debugExit, EXIT_SUCCESS);
  await checkSelftests(t, r.serial);
});

test("Bochs, the ISO as a CD: every self-test passes", async (t) => {
  const r = await runBochs(iso, { memoryMiB: 64, until: "\nboot ok", timeoutMs: 150_000 });
  t.false(r.timedOut, `${r.stderr.slice(-1000)}\n${serialLines(r.serial).slice(-2000)}`);
  await checkSelftests(t, r.serial);
});
