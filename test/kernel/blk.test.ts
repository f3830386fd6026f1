// Contract: the disk driver (kernel-src/virtio-blk.ts) through QEMU's real virtio-blk device, with a
// sparse raw image as the swap disk (tools/qemu.ts createSwapImage + swapDiskArgs, what `denali boot
// --swap` attaches), driven by the kernel's self-tests (kernel-src/blk-selftest.ts):
// - test=blk: 4,096 pages of distinct patterns written with at least 64 requests in flight, read back
//   into other frames and compared (in the kernel); requests past the end and with bad frames refused;
//   the bytes of the image file are the patterns at their sectors (here, on the host), zeros elsewhere;
// - without a disk the driver refuses with no-device; with an I/O error injected by QEMU (blkdebug) the
//   read reports it and the kernel goes on;
// - test=blk-busy: the same exercise while VMs run: every completion interrupts a running VM, the VMs
//   are switched meanwhile, and the disk shares its interrupt line with the virtio-net card.
import test from "ava";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, createSwapImage, swapDiskArgs, userNetArgs } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, workerArgument, vmSummaries, MODE } from "./guests/build.ts";

let kernel: KernelBuild;
let dir: string;
let worker: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-blk-test-"));
  worker = buildTestGuest("worker", dir);
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const MIB = 1 << 20;
const PAGE = 4096;
const SECTOR = 512;
/** kernel-src/blk-selftest.ts: where the exercise's pages start, how many, the last page's pattern id. */
const PATTERN_SECTOR = 3;
const SELFTEST_PAGES = 4096;
const BUSY_PAGES = 8192;
const LAST_PAGE_ID = 0xfffff;

/** Word `index` of pattern page `page` (kernel-src/blk-selftest.ts patternWord). */
function patternWord(page: number, index: number): number {
  return (Math.imul(page + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
}

/** The first page of `count` at PATTERN_SECTOR whose bytes in the image are not its pattern, or -1. */
function firstBadPage(image: Buffer, count: number): number {
  for (let page = 0; page < count; page++) {
    const at = PATTERN_SECTOR * SECTOR + page * PAGE;
    for (let i = 0; i < PAGE / 4; i++) if (image.readUInt32LE(at + 4 * i) !== patternWord(page, i)) return page;
  }
  return -1;
}

function allZero(image: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at++) if (image[at] !== 0) return false;
  return true;
}

function freshImage(name: string, bytes: number): string {
  const image = join(dir, `${name}.img`);
  createSwapImage(image, bytes);
  return image;
}

test("test=blk: 4,096 pages via >= 64 requests in flight, back intact; the image file holds them", async (t) => {
  const image = freshImage("selftest", 64 * MIB);
  const extraArgs = ["-append", "test=blk", ...swapDiskArgs(image)];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, icount: true, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, new RegExp("^swap: virtio-blk 00:0[0-9a-f]\\.0 64 MiB \\(131072 sectors\\), queue \\d+, "
    + "\\d+ requests of up to \\d+ pages, irq \\d+, status 7$", "m"));
  t.regex(out, /^blk: read past the end: past the end of the disk$/m);
  const summary = /^blk: 4096 pages written and read back, (\d+) mismatches, (\d+) errors, peak in flight (\d+)$/m
    .exec(out);
  t.truthy(summary, out.slice(-3000));
  t.is(Number(summary![1]), 0);
  t.is(Number(summary![2]), 0);
  t.true(Number(summary![3]) >= 64, `peak in flight ${summary![3]}`);
  t.regex(out, /^blk: write of the last page: ok$/m);
  t.regex(out, /^blk: read of the last page: ok$/m);
  t.notRegex(out, /^selftest blk FAILED/m);
  t.regex(out, /^selftest blk ok$/m);
  t.regex(out, /\nboot ok\n$/);
  // The driver's instructions for one request alone, exact under -icount (the README quotes them).
  t.regex(out, new RegExp("^blk cost: one request alone \\(driver instructions\\): read of 1 page \\d+, "
    + "of 16 pages \\d+; write of 1 page \\d+, of 16 pages \\d+$", "m"));
  for (const line of out.match(/^blk cost: .*$/gm) ?? []) t.log(line);

  // The host's view: page p's pattern at sector 3 + 8p, zeros around it, the last page's pattern at the end.
  const bytes = readFileSync(image);
  t.is(bytes.length, 64 * MIB);
  t.is(firstBadPage(bytes, SELFTEST_PAGES), -1);
  t.true(allZero(bytes, 0, PATTERN_SECTOR * SECTOR), "sectors before the patterns");
  const patternEnd = PATTERN_SECTOR * SECTOR + SELFTEST_PAGES * PAGE;
  t.true(allZero(bytes, patternEnd, bytes.length - PAGE), "sectors after the patterns");
  const last = bytes.length - PAGE;
  let lastGood = true;
  for (let i = 0; i < PAGE / 4; i++) {
    if (bytes.readUInt32LE(last + 4 * i) !== patternWord(LAST_PAGE_ID, i)) lastGood = false;
  }
  t.true(lastGood, "the last page");
});

test("test=blk without a disk: the driver refuses with no-device and the kernel boots on", async (t) => {
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000, extraArgs: ["-append", "test=blk"] });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
  t.notRegex(out, /^swap:/m);
  t.regex(out, /^blk: submit without a disk: no disk$/m);
  t.regex(out, /^selftest blk-absent ok$/m);
  t.regex(out, /\nboot ok\n$/);
});

test("an I/O error on the disk (QEMU blkdebug) reaches the caller as an I/O error; the kernel goes on", async (t) => {
  const image = freshImage("ioerror", 64 * MIB);
  const rules = join(dir, "blkdebug.conf");
  const lastSector = 64 * MIB / SECTOR - PAGE / SECTOR;
  writeFileSync(rules, `[inject-error]\nevent = "read_aio"\niotype = "read"\nerrno = "5"\nsector = "${lastSector}"\n`);
  const extraArgs = ["-append", "test=blk", ...swapDiskArgs(image, rules)];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, /^blk: 4096 pages written and read back, 0 mismatches, 0 errors, peak in flight \d+$/m);
  t.regex(out, /^blk: write of the last page: ok$/m);
  t.regex(out, /^blk: read of the last page: I\/O error$/m);
  t.regex(out, /^selftest blk ok$/m);
  t.regex(out, /\nboot ok\n$/);
});

test("test=blk-busy: VMs run while 8,192 pages go to disk and back; the disk shares an IRQ with the NIC", async (t) => {
  const image = freshImage("busy", 64 * MIB);
  const manifest = writeManifest(dir, "busy", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.spinner) },
    { moduleIndex: 0, vmCount: 2, memoryKiB: 64, argument: workerArgument(MODE.counter, 1_000_000) },
  ]);
  const r = await runQemu({ kernel: kernel.elf, initrd: [worker, manifest] }, {
    timeoutMs: 180_000, memoryMiB: 64,
    extraArgs: ["-append", "test=blk-busy", ...userNetArgs(), ...swapDiskArgs(image)],
  });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  const nicIrq = /^virtio-net 00:03\.0 .* irq (\d+) /m.exec(out);
  const diskIrq = /^swap: virtio-blk 00:04\.0 64 MiB .* irq (\d+),/m.exec(out);
  t.truthy(nicIrq && diskIrq, out.slice(0, 3000));
  t.is(diskIrq![1], nicIrq![1], "one interrupt line for both (i440FX)");
  const busy = new RegExp("^blk busy: 8192 pages written and read back in (\\d+) requests, (\\d+) mismatches, "
    + "(\\d+) errors; completions (\\d+), while a VM ran (\\d+); VM switches meanwhile (\\d+)$", "m").exec(out);
  t.truthy(busy, out.slice(-3000));
  const [requests, mismatches, errors, completions, duringVm, switches] = busy!.slice(1).map(Number);
  t.is(mismatches, 0);
  t.is(errors, 0);
  t.is(completions, requests);
  t.is(duringVm, completions, "every completion arrived while a VM was running (the kernel never waited)");
  t.true(switches >= 2, `switches ${switches}`);
  t.regex(out, /^vms done: stopped from the console$/m);
  t.regex(out, /^blk: reads \d+ \(8192 pages\), writes \d+ \(8192 pages\), completed \d+, failed 0, in flight 0 /m);
  const vms = vmSummaries(out);
  t.is(vms.size, 3);
  for (const vm of vms.values()) t.true(vm.switches > 0, `vm ${vm.id} ran`);
  t.log(busy![0]);
  t.is(firstBadPage(readFileSync(image), BUSY_PAGES), -1);
});
