// Contract: the kernel's memory subsystems (kernel-src/frames.ts, paging.ts, kalloc.ts, modules.ts)
// booted in QEMU: self-tests pass (test=selftest) with 64 MiB and 1 GiB; the free memory reported
// agrees with the memory map minus the kernel image, the boot information and the modules; modules
// passed with -initrd are listed with their names and sizes; unmapped, read-only and null accesses
// fault with CR2 = the address; cost figures under -icount are printed and deterministic.

import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu } from "../../tools/qemu.ts";
import { buildIso } from "../../tools/build.ts";
import { EXIT_SUCCESS, buildKernelInTemp, memoryMap, serialLines, type KernelBuild } from "./helpers.ts";

let kernel: KernelBuild;
let files: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  files = mkdtempSync(join(tmpdir(), "denali-memory-test-"));
});
test.after.always(() => {
  kernel?.remove();
  if (files) rmSync(files, { recursive: true, force: true });
});

const PAGE = 4096;
const boot = (options: Parameters<typeof runQemu>[1] = {}, initrd?: string[]) =>
  runQemu({ kernel: kernel.elf, initrd }, { timeoutMs: 60_000, ...options });

const SELFTESTS = ["frames", "paging", "kalloc", "modules"];

/** The memory self-tests passed (other subsystems' self-tests are checked by their own test files). */
function checkSelftests(t: import("ava").ExecutionContext, out: string): void {
  for (const name of SELFTESTS) {
    t.notRegex(out, new RegExp(`^selftest ${name} FAILED`, "m"), name);
    t.regex(out, new RegExp(`^selftest ${name} ok$`, "m"), name);
  }
}

interface FrameReport { imageStart: number; imageEnd: number; available: number; free: number; reserved: number; tableFrames: number; freeKiB: number }

function frameReport(out: string): FrameReport {
  const image = /^kernel image: 0x([0-9a-f]{8})-0x([0-9a-f]{8})$/m.exec(out)!;
  const frames = /^frames: available (\d+) free (\d+) reserved (\d+)$/m.exec(out)!;
  const paging = /^paging: on, kernel space 0x00001000-0x([0-9a-f]{8}), (\d+) table frames$/m.exec(out)!;
  const free = /^free memory: (\d+) KiB \((\d+) MiB\)$/m.exec(out)!;
  return {
    imageStart: parseInt(image[1], 16), imageEnd: parseInt(image[2], 16),
    available: Number(frames[1]), free: Number(frames[2]), reserved: Number(frames[3]),
    tableFrames: Number(paging[2]), freeKiB: Number(free[1]),
  };
}

/** Whole frames of the usable memory map entries at or above 1 MiB and below 1 GiB (the kernel space). */
function expectedAvailableFrames(out: string): number {
  let frames = 0;
  for (const e of memoryMap(out)) {
    if (e.type !== 1) continue;
    const start = Math.max(Number(e.base), 0x100000), end = Math.min(Number(e.base + e.length), 0x40000000);
    const first = Math.ceil(start / PAGE), last = Math.floor(end / PAGE);
    if (last > first) frames += last - first;
  }
  return frames;
}

for (const memoryMiB of [64, 1024]) {
  test(`test=selftest with -m ${memoryMiB}: every self-test passes; free memory = map - image - boot information - page tables`, async (t) => {
    const r = await boot({ memoryMiB, extraArgs: ["-append", "test=selftest"] });
    const out = serialLines(r.serial);
    t.false(r.timedOut);
    t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
    checkSelftests(t, out);
    t.regex(out, /\nboot ok\n$/);

    const report = frameReport(out);
    t.is(report.imageStart, 0x100000);
    t.is(report.imageEnd % PAGE, 0);
    t.is(report.available, expectedAvailableFrames(out));
    t.is(report.free, report.available - report.reserved);
    // Reserved: the image, and QEMU's boot information page (mbi, command line, module list) after it.
    const imageFrames = (report.imageEnd - report.imageStart) / PAGE;
    t.true(report.reserved >= imageFrames && report.reserved <= imageFrames + 2, `reserved ${report.reserved}, image ${imageFrames}`);
    // Paging: one directory and one table per 4 MiB of RAM.
    t.is(report.tableFrames, 1 + Math.ceil(memoryMiB / 4));
    t.is(report.freeKiB, (report.free - report.tableFrames) * 4);
    t.true(report.freeKiB / 1024 >= memoryMiB - 4 && report.freeKiB / 1024 < memoryMiB, `free ${report.freeKiB} KiB of ${memoryMiB} MiB`);
    // The exhaustion test took every free frame but the timer pool's (timer.ts: a run of frames since
    // issue 15, allocated before the self-tests).
    const timers = /^timers: a pool of 128 in (\d+) frames, one more per VM when VMs start$/m.exec(out);
    t.truthy(timers, out.slice(0, 3000));
    const exhausted = /^frames: exhausted after (\d+) frames$/m.exec(out)!;
    // The device window's page table (paging.ts pagingMapDevice), taken when the local APIC is mapped.
    const deviceWindow = /^lapic: id \d+ /m.test(out) ? 1 : 0;
    t.is(Number(exhausted[1]), report.free - report.tableFrames - Number(timers![1]) - deviceWindow);
    t.log(`-m ${memoryMiB}: ${report.freeKiB} KiB free after paging`);
  });
}

test("-initrd with two files: names, sizes, page-aligned starts; the modules' frames are reserved", async (t) => {
  const small = join(files, "hello.txt"), large = join(files, "guest.bin");
  writeFileSync(small, "hello, Denali\n");
  writeFileSync(large, Buffer.alloc(3 * PAGE + 123, 0xab));
  const r = await boot({ extraArgs: ["-append", "test=selftest"] }, [small, `${large} role=web`]);
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
  checkSelftests(t, out);
  t.regex(out, /^modules: 2$/m);
  const modules = [...out.matchAll(/^module (\d+): start 0x([0-9a-f]{8}) end 0x([0-9a-f]{8}) size (\d+) name (.*)$/gm)].map((m) => ({
    index: Number(m[1]), start: parseInt(m[2], 16), end: parseInt(m[3], 16), size: Number(m[4]), name: m[5],
  }));
  t.deepEqual(modules.map((m) => [m.index, m.name, m.size]), [[0, small, 14], [1, `${large} role=web`, 3 * PAGE + 123]]);
  for (const m of modules) {
    t.is(m.start % PAGE, 0);
    t.is(m.end - m.start, m.size);
  }
  const report = frameReport(out);
  t.true(modules[0].start >= report.imageEnd, "modules lie after the image");
  const imageFrames = (report.imageEnd - report.imageStart) / PAGE;
  const moduleFrames = 1 + 4;
  t.true(report.reserved >= imageFrames + moduleFrames && report.reserved <= imageFrames + moduleFrames + 2, `reserved ${report.reserved}`);
  t.is(report.free, report.available - report.reserved);
});

test("GRUB `module` lines (the ISO as a CD): the modules are listed with GRUB's names and reserved", async (t) => {
  const first = join(files, "first.bin"), second = join(files, "second.bin"), iso = join(files, "modules.iso");
  writeFileSync(first, Buffer.alloc(100, 1));
  writeFileSync(second, Buffer.alloc(2 * PAGE + 1, 2));
  buildIso(kernel.elf, iso, [first, second]);   // grub.cfg: module /boot/moduleI NAME (the file's name)
  const r = await runQemu({ cdrom: iso }, { memoryMiB: 128, until: "boot ok", timeoutMs: 60_000 });
  const out = serialLines(r.serial);
  t.false(r.timedOut);
  t.regex(out, /^modules: 2$/m);
  t.regex(out, /^module 0: start 0x[0-9a-f]{5}000 end 0x[0-9a-f]{8} size 100 name first\.bin$/m);
  t.regex(out, /^module 1: start 0x[0-9a-f]{5}000 end 0x[0-9a-f]{8} size 8193 name second\.bin$/m);
  const report = frameReport(out);
  t.is(report.free, report.available - report.reserved);
  t.true(report.reserved >= (report.imageEnd - report.imageStart) / PAGE + 1 + 3, `reserved ${report.reserved}`);
});

test("without modules the kernel says so", async (t) => {
  const r = await boot();
  t.regex(serialLines(r.serial), /^modules: 0$/m);
});

// ---- faults ------------------------------------------------------------------------------------------

const SCENARIOS: [string, number, string, string][] = [
  ["pagefault-unmapped", 0x40123004, "read of an unmapped page", "pagefaultUnmapped"],
  ["pagefault-readonly", 0x40200008, "write to a read-only page", "pagefaultReadOnly"],
  ["pagefault-null", 0x00000008, "read through a null pointer", "pagefaultNull"],
];

for (const [scenario, address, what, functionName] of SCENARIOS) {
  test(`test=${scenario}: a ${what} faults with CR2 = 0x${address.toString(16)}`, async (t) => {
    const log = join(files, `${scenario}.log`);
    const r = await boot({ extraArgs: ["-append", `test=${scenario}`, "-d", "int", "-D", log] });
    const out = serialLines(r.serial);
    const hex = address.toString(16).padStart(8, "0");
    t.regex(out, new RegExp(`^${scenario}: touching 0x${hex}$`, "m"));
    t.false(out.includes("no fault"), out);
    t.false(out.includes("boot ok"));
    // QEMU's interrupt log (timer interrupts, vector 32 up, may come first): the first exception is a
    // page fault (vector 14) with CR2 = the address.
    const qemuLog = existsSync(log) ? readFileSync(log, "latin1") : "";
    const exceptions = [...qemuLog.matchAll(/^\s*\d+: v=([0-9a-f]{2}) e=([0-9a-f]{4}) .* CR2=([0-9a-f]{8})$/gm)].filter((m) => parseInt(m[1], 16) < 32);
    const first = exceptions[0];
    t.truthy(first, "QEMU logged an exception");
    t.is(first![1], "0e", "page fault");
    t.is(first![3], hex, "CR2");
    // Error code (SDM Vol. 3A §4.7): bit 0 = protection violation, bit 1 = write.
    t.is(parseInt(first![2], 16) & 3, scenario === "pagefault-readonly" ? 3 : 0);
    // Once the exception handler (kernel-src/exceptions.ts) reports page faults, it shows CR2 too.
    if (/page fault/i.test(out)) {
      t.regex(out, new RegExp(`CR2[ =:]+(0x)?${hex}`, "i"));
      if (out.includes("backtrace:")) t.regex(out, new RegExp(`^\\s+0x[0-9a-f]{8} ${functionName}\\+0x[0-9a-f]+$`, "m"), "the backtrace names the scenario");
    }
  });
}

// ---- costs -------------------------------------------------------------------------------------------

test("bench under -icount: frame alloc+free, kalloc+kfree, map+unmap in instructions, identical on two runs", async (t) => {
  const [a, b] = await Promise.all([boot({ icount: true, extraArgs: ["-append", "bench"] }), boot({ icount: true, extraArgs: ["-append", "bench"] })]);
  const names = ["frame-alloc-free", "kalloc-kfree-64", "map-unmap-page"];
  const figures = (serial: string) => Object.fromEntries([...serialLines(serial).matchAll(/^bench (\S+) (\d+)$/gm)].filter((m) => names.includes(m[1])).map((m) => [m[1], Number(m[2])]));
  const first = figures(a.serial), second = figures(b.serial);
  t.deepEqual(Object.keys(first).sort(), names);
  t.deepEqual(first, second);
  for (const [name, n] of Object.entries(first)) t.true(n > 0 && n < 5000, `${name} ${n}`);
  t.log(JSON.stringify(first));
});
