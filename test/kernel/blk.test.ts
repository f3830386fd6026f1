// Contract: the swap disk (kernel-src/disk.ts) through each of QEMU's real devices the kernel drives --
// virtio-blk (virtio-blk.ts), an AHCI SATA disk (ahci.ts) and NVMe (nvme.ts) -- with a sparse raw image as
// the disk (tools/qemu.ts createSwapImage + swapDiskArgs, what `denali boot --swap --disk` attaches), driven
// by the kernel's self-tests (kernel-src/blk-selftest.ts). For each disk:
// - test=blk: 4,096 pages of distinct patterns written with at least 64 requests in flight, read back into
//   other frames and compared (in the kernel); requests past the end and with bad frames refused; the bytes
//   of the image file are the patterns at their sectors (here, on the host), zeros elsewhere;
// - an I/O error injected by QEMU (blkdebug) on a read reaches the caller as an I/O error, the kernel goes on;
// - test=blk-busy: the same exercise while VMs run: every completion comes while a VM runs or waits to (by
//   its interrupt, or polled at a tick or between two VMs: never while the kernel idles), the VMs are switched
//   meanwhile, and the disk shares its interrupt line with the virtio-net card (AHCI and NVMe with
//   irq=intx, forced off their MSI and MSI-X: the INTx# path stays tested).
// test=blk asserts how each disk interrupts (kernel-src/msi.ts): AHCI by MSI, NVMe by MSI-X, virtio-blk by
// INTx#, counted where the vector arrives.
// And: without a disk the interface refuses with no-device, a disk without the swap signature is left alone,
// and the marked one is found among several controllers; AHCI recovers from an error among 32 queued
// commands (the port reset, the unfinished commands issued again one at a time, nothing lost) and works one
// command at a time as on a disk without NCQ; AHCI on the q35 machine's own controller (00:1f.2, six ports,
// a CD drive passed over); NVMe with 4 KiB blocks and transfers of at most 8 pages.
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  runQemu, createSwapImage, swapDiskArgs, userNetArgs, DISK_KINDS, DISK_DRIVER_NAMES, type DiskKind,
} from "../../tools/qemu.ts";
import { SWAP_SIGNATURE } from "../../abi/swap-disk.ts";
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
/** kernel-src/blk-selftest.ts: how many pages the exercises write, the last page's pattern id. */
const SELFTEST_PAGES = 4096;
const BUSY_PAGES = 8192;
const LAST_PAGE_ID = 0xfffff;

/**
 * How each disk interrupts (kernel-src/msi.ts): QEMU's ich9-ahci offers MSI, its NVMe MSI-X, its virtio-blk
 * MSI-X too, which the kernel leaves unused (INTx#).
 */
const INTERRUPT_MODE: Record<DiskKind, string> = { virtio: "INTx", ahci: "msi", nvme: "msi-x" };
const IRQ: Record<DiskKind, string> = {
  virtio: "irq \\d+ \\(INTx\\)", ahci: "irq msi vector 0x4[0-9a-f]", nvme: "irq msi-x vector 0x4[0-9a-f]",
};

/** Each disk's boot line for a 64 MiB image (at 00:03.0, or 00:04.0 after a NIC). */
const BOOT_LINE: Record<DiskKind, RegExp> = {
  virtio: new RegExp("^swap: virtio-blk 00:0[34]\\.0 64 MiB \\(131072 sectors\\), queue \\d+, "
    + `\\d+ requests of up to \\d+ pages, ${IRQ.virtio}, status 7$`, "m"),
  ahci: new RegExp("^swap: ahci 00:0[34]\\.0 port 0 64 MiB \\(131072 sectors\\), blocks of 512 bytes, "
    + `ncq 32 commands, 128 requests of up to 126 pages, ${IRQ.ahci}, AHCI \\d+\\.\\d+, model "QEMU HARDDISK"$`, "m"),
  nvme: new RegExp("^swap: nvme 00:0[34]\\.0 64 MiB \\(131072 sectors\\), namespace 1, blocks of 512 bytes, "
    + "queues \\d+, "
    + `128 requests of up to 126 pages, ${IRQ.nvme}, NVMe \\d+\\.\\d+, model "QEMU NVMe Ctrl"$`, "m"),
};

/** The disk's interrupts came by its mode: its `blk:` count, and a message's count where its vector arrived. */
function interruptsByMode(t: ExecutionContext, out: string, disk: DiskKind): void {
  const mode = INTERRUPT_MODE[disk];
  const blk = new RegExp(`^blk: .* interrupts ([1-9]\\d*) \\(${mode}\\), `, "m").exec(out);
  t.truthy(blk, `${disk}: ${out.slice(-2000)}`);
  const messages = /^msi: 00:0[34]\.0 vector 0x4[0-9a-f] \((msi|msi-x)\) interrupts (\d+)$/m.exec(out);
  if (mode === "INTx") { t.is(messages, null); return; }
  t.is(messages?.[1], mode, messages?.[0] ?? "no msi: line");
  t.true(Number(messages![2]) >= 1, messages![0]);
}

/** Word `index` of pattern page `page` (kernel-src/blk-selftest.ts patternWord). */
function patternWord(page: number, index: number): number {
  return (Math.imul(page + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
}

/** The first page of `count` from sector `first` whose bytes in the image are not its pattern, or -1. */
function firstBadPage(image: Buffer, first: number, count: number): number {
  for (let page = 0; page < count; page++) {
    const at = first * SECTOR + page * PAGE;
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

/** A blkdebug rule file: reads of `sector` fail with EIO (every time, or the first time only). */
function readErrorRules(name: string, sector: number, once: boolean): string {
  const rules = join(dir, `${name}.conf`);
  writeFileSync(rules, `[inject-error]\nevent = "read_aio"\niotype = "read"\nerrno = "5"\nsector = "${sector}"\n`
    + (once ? "once = \"on\"\n" : ""));
  return rules;
}

/** Where the self-test put its pattern pages: `blk: blocks of B bytes, pattern pages from sector S, ...`. */
function patternSector(out: string): number {
  const layout = /^blk: blocks of \d+ bytes, pattern pages from sector (\d+), transfers of up to \d+ pages$/m.exec(out);
  if (!layout) throw new Error(`no blk: layout line\n${out.slice(-3000)}`);
  return Number(layout[1]);
}

/**
 * test=blk passed with every page back intact and the image file holds the patterns: page p at the pattern
 * sector + 8p, zeros around them, the last page's pattern at the end of the disk.
 */
function selftestPassed(t: ExecutionContext, out: string, image: string): void {
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
  const first = patternSector(out);
  const bytes = readFileSync(image);
  t.is(bytes.length, 64 * MIB);
  t.is(firstBadPage(bytes, first, SELFTEST_PAGES), -1);
  t.is(bytes.toString("latin1", 0, SWAP_SIGNATURE.length), SWAP_SIGNATURE, "the signature createSwapImage wrote");
  t.true(allZero(bytes, SWAP_SIGNATURE.length, first * SECTOR), "sectors before the patterns");
  const patternEnd = first * SECTOR + SELFTEST_PAGES * PAGE;
  t.true(allZero(bytes, patternEnd, bytes.length - PAGE), "sectors after the patterns");
  const last = bytes.length - PAGE;
  let lastGood = true;
  for (let i = 0; i < PAGE / 4; i++) {
    if (bytes.readUInt32LE(last + 4 * i) !== patternWord(LAST_PAGE_ID, i)) lastGood = false;
  }
  t.true(lastGood, "the last page");
}

for (const disk of DISK_KINDS) {
  test(`${disk}: test=blk: 4,096 pages via >= 64 requests in flight, back intact; the image file holds them`,
    async (t) => {
    const image = freshImage(`selftest-${disk}`, 64 * MIB);
    const extraArgs = ["-append", "test=blk", ...swapDiskArgs(image, disk)];
    const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, icount: true, extraArgs });
    const out = serialLines(r.serial);
    t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
    t.regex(out, BOOT_LINE[disk]);
    t.regex(out, /^blk: blocks of 512 bytes, pattern pages from sector 3, transfers of up to 16 pages$/m);
    selftestPassed(t, out, image);
    interruptsByMode(t, out, disk);
    // The driver's instructions for one request alone, exact under -icount (docs/swap.md quotes them).
    t.regex(out, new RegExp("^blk cost: one request alone \\(driver instructions\\): read of 1 page \\d+, "
      + "of 16 pages \\d+; write of 1 page \\d+, of 16 pages \\d+$", "m"));
    for (const line of out.match(/^blk cost: .*$/gm) ?? []) t.log(line);
  });

  test(`${disk}: an I/O error on the disk (QEMU blkdebug) reaches the caller as an I/O error; the kernel goes on`,
    async (t) => {
    const image = freshImage(`ioerror-${disk}`, 64 * MIB);
    const rules = readErrorRules(`ioerror-${disk}`, 64 * MIB / SECTOR - PAGE / SECTOR, false);
    const extraArgs = ["-append", "test=blk", ...swapDiskArgs(image, disk, rules)];
    const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, extraArgs });
    const out = serialLines(r.serial);
    t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
    t.regex(out, /^blk: 4096 pages written and read back, 0 mismatches, 0 errors, peak in flight \d+$/m);
    t.regex(out, /^blk: write of the last page: ok$/m);
    t.regex(out, /^blk: read of the last page: I\/O error$/m);
    t.regex(out, /^blk: reads \d+ \(\d+ pages\), writes \d+ \(\d+ pages\), completed \d+, failed 1, in flight 0 /m);
    t.regex(out, /^selftest blk ok$/m);
    t.regex(out, /\nboot ok\n$/);
  });

  // The disks with MSI or MSI-X forced onto INTx# (irq=intx: the path of machines without them), to share its line.
  test(`${disk}: test=blk-busy${disk === "virtio" ? "" : " irq=intx"}: VMs run while 8,192 pages go to disk and `
    + "back; the disk shares an IRQ with the NIC", async (t) => {
    const image = freshImage(`busy-${disk}`, 64 * MIB);
    const manifest = writeManifest(dir, `busy-${disk}`, [
      { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.spinner) },
      { moduleIndex: 0, vmCount: 2, memoryKiB: 64, argument: workerArgument(MODE.counter, 1_000_000) },
    ]);
    const r = await runQemu({ kernel: kernel.elf, initrd: [worker, manifest] }, {
      timeoutMs: 180_000, memoryMiB: 64,
      extraArgs: ["-append", disk === "virtio" ? "test=blk-busy" : "test=blk-busy irq=intx", ...userNetArgs(),
        ...swapDiskArgs(image, disk)],
    });
    const out = serialLines(r.serial);
    t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
    const nicIrq = /^virtio-net 00:03\.0 .* irq (\d+) /m.exec(out);
    const diskIrq = /^swap: \S+ 00:04\.0 .* irq (\d+) \(INTx\),/m.exec(out);
    t.truthy(nicIrq && diskIrq, out.slice(0, 3000));
    t.is(diskIrq![1], nicIrq![1], "one interrupt line for both (i440FX)");
    const busy = new RegExp("^blk busy: 8192 pages written and read back in (\\d+) requests, (\\d+) mismatches, "
      + "(\\d+) errors; completions (\\d+), while VMs ran (\\d+); VM switches meanwhile (\\d+)$", "m").exec(out);
    t.truthy(busy, out.slice(-3000));
    const [requests, mismatches, errors, completions, duringVm, switches] = busy!.slice(1).map(Number);
    t.is(mismatches, 0);
    t.is(errors, 0);
    t.is(completions, requests);
    t.is(duringVm, completions, "every completion came while VMs ran (the kernel never waited)");
    t.true(switches >= 2, `switches ${switches}`);
    t.regex(out, /^vms done: stopped from the console$/m);
    t.regex(out, /^blk: reads \d+ \(8192 pages\), writes \d+ \(8192 pages\), completed \d+, failed 0, in flight 0 /m);
    t.regex(out, /^blk: .* interrupts [1-9]\d* \(INTx\), /m);
    const vms = vmSummaries(out);
    t.is(vms.size, 3);
    for (const vm of vms.values()) t.true(vm.switches > 0, `vm ${vm.id} ran`);
    t.log(busy![0]);
    t.is(firstBadPage(readFileSync(image), patternSector(out), BUSY_PAGES), -1);
  });
}

test("a disk without the swap signature in its first sector is left alone, whichever controller it is on",
  async (t) => {
  for (const disk of DISK_KINDS) {
    const image = join(dir, `unmarked-${disk}.img`);
    writeFileSync(image, "");
    truncateSync(image, 64 * MIB);
    const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000,
      extraArgs: ["-append", "test=blk", ...swapDiskArgs(image, disk)] });
    const out = serialLines(r.serial);
    t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
    t.regex(out, new RegExp(`^(swap|disk): ${DISK_DRIVER_NAMES[disk]}( 00:03\\.0( port 0)?)?: no swap signature `
      + "at the start of its first sector \\(docs/hardware\\.md\\)(, not used)?$", "m"), disk);
    t.notRegex(out, /^swap: (virtio-blk|ahci|nvme) 00/m);
    t.regex(out, /^blk: submit without a disk: no disk$/m);
    t.true(allZero(readFileSync(image), 0, 64 * MIB), `${disk}: nothing written`);
  }
});

test("several controllers: each NVMe or AHCI controller tried in turn, the marked disk is the swap disk, "
  + "the others named", async (t) => {
  const unmarked = (name: string) => {
    const image = join(dir, `${name}.img`);
    writeFileSync(image, "");
    truncateSync(image, 64 * MIB);
    return `if=none,id=${name},format=raw,file=${image}`;
  };
  const marked = (name: string) => `if=none,id=${name},format=raw,file=${freshImage(name, 64 * MIB)}`;
  // NVMe at 00:03.0 unmarked, 00:04.0 marked; AHCI at 00:05.0 and 00:06.0 found after it.
  const nvme = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000, extraArgs: [
    "-drive", unmarked("n1"), "-drive", marked("n2"), "-device", "nvme,serial=n1,drive=n1", "-device",
    "nvme,serial=n2,drive=n2", "-device", "ahci,id=a1", "-device", "ahci,id=a2"] });
  const a = serialLines(nvme.serial);
  t.is(nvme.debugExit, EXIT_SUCCESS, a.slice(-2000));
  const unmarkedLine = (name: string) => new RegExp(`^disk: ${name}: no swap signature at the start of its first `
    + "sector \\(docs/hardware\\.md\\), not used$", "m");
  t.regex(a, unmarkedLine("nvme 00:03\\.0"));
  t.regex(a, /^swap: nvme 00:04\.0 64 MiB /m);
  t.regex(a, /^disk: ahci 00:05\.0 found, not used: the swap disk is another$/m);
  t.regex(a, /^disk: ahci 00:06\.0 found, not used: the swap disk is another$/m);
  t.regex(a, /^pci 00:01\.1 8086:7010 class 0101: no driver \(mass storage controller\)$/m);    // PIIX IDE
  t.notRegex(a, /^pci 00:0[3-6]\.0 .*: no driver/m);
  // AHCI at 00:03.0 with an unmarked disk, at 00:04.0 with none, at 00:05.0 with an unmarked one on port 2
  // and the marked one on port 3.
  const ahci = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000, extraArgs: [
    "-drive", unmarked("s1"), "-drive", unmarked("s2"), "-drive", marked("s3"), "-device", "ahci,id=a1", "-device",
    "ide-hd,drive=s1,bus=a1.0", "-device", "ahci,id=a2", "-device", "ahci,id=a3", "-device", "ide-hd,drive=s2,bus=a3.2",
    "-device", "ide-hd,drive=s3,bus=a3.3"] });
  const b = serialLines(ahci.serial);
  t.is(ahci.debugExit, EXIT_SUCCESS, b.slice(-2000));
  t.regex(b, unmarkedLine("ahci 00:03\\.0 port 0"));
  t.regex(b, unmarkedLine("ahci 00:05\\.0 port 2"));
  t.regex(b, /^disk: ahci 00:04\.0: no ATA disk on its 6 ports, not used$/m);
  t.regex(b, /^swap: ahci 00:05\.0 port 3 64 MiB /m);
});

test("test=blk without a disk: the interface refuses with no-device and the kernel boots on", async (t) => {
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000, extraArgs: ["-append", "test=blk"] });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
  t.notRegex(out, /^swap:/m);
  t.regex(out, /^blk: submit without a disk: no disk$/m);
  t.regex(out, /^selftest blk-absent ok$/m);
  t.regex(out, /\nboot ok\n$/);
});

test("ahci: a read error among 32 queued commands: the port is reset, the unfinished command retried alone, "
  + "nothing lost", async (t) => {
  // Page 2000 of the exercise fails once, while its read is one of 32 NCQ commands at the device.
  const image = freshImage("ahci-retry", 64 * MIB);
  const rules = readErrorRules("ahci-retry", 3 + 8 * 2000, true);
  const extraArgs = ["-append", "test=blk", ...swapDiskArgs(image, "ahci", rules)];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  selftestPassed(t, out, image);
  const ahci = /^ahci: commands \d+ \(peak 32 at the device\), errors (\d+), recoveries (\d+), requests retried (\d+)$/m
    .exec(out);
  t.truthy(ahci, out.slice(-3000));
  t.is(Number(ahci![1]), 1);
  t.is(Number(ahci![2]), 1);
  t.true(Number(ahci![3]) >= 1, ahci![0]);
  t.regex(out, /^blk: reads \d+ \(\d+ pages\), writes \d+ \(\d+ pages\), completed \d+, failed 0, in flight 0 /m);
  t.log(ahci![0]);
});

test("ahci without NCQ (ahci=no-ncq, as on a disk without it): one command at a time; a read error retried "
  + "alone, then reported", async (t) => {
  const image = freshImage("ahci-no-ncq", 64 * MIB);
  const rules = readErrorRules("ahci-no-ncq", 64 * MIB / SECTOR - PAGE / SECTOR, false);
  const extraArgs = ["-append", "test=blk ahci=no-ncq", ...swapDiskArgs(image, "ahci", rules)];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, /^swap: ahci 00:03\.0 port 0 64 MiB \(131072 sectors\), blocks of 512 bytes, no ncq: 1 command, /m);
  t.regex(out, /^blk: 4096 pages written and read back, 0 mismatches, 0 errors, peak in flight 128$/m);
  t.regex(out, /^blk: read of the last page: I\/O error$/m);
  // The failed read: an error, a recovery, the command again alone, a second error and recovery, reported.
  t.regex(out, /^ahci: commands \d+ \(peak 1 at the device\), errors 2, recoveries 2, requests retried 1$/m);
  t.regex(out, /^selftest blk ok$/m);
  t.is(firstBadPage(readFileSync(image), patternSector(out), SELFTEST_PAGES), -1);
});

test("ahci: the q35 machine's own SATA controller (00:1f.2, six ports): a CD drive on port 0 passed over, "
  + "the disk on port 2", async (t) => {
  const image = freshImage("q35", 64 * MIB);
  const extraArgs = ["-M", "q35", "-append", "test=blk", "-device", "ide-cd,bus=ide.0", "-drive",
    `if=none,id=swap,format=raw,file=${image}`, "-device", "ide-hd,drive=swap,bus=ide.2"];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, icount: true, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, /^pci 00:1f\.2 8086:2922 class 0106 /m);
  t.regex(out, /^disk: ahci 00:1f\.2 port 0: not an ATA disk \(an ATAPI drive\?\), signature 0xeb140101$/m);
  t.regex(out, /^swap: ahci 00:1f\.2 port 2 64 MiB \(131072 sectors\), blocks of 512 bytes, ncq 32 commands, /m);
  selftestPassed(t, out, image);
});

test("nvme: a namespace of 4 KiB blocks, transfers of at most 8 pages (MDTS 3): requests inside a block refused",
  async (t) => {
  const image = freshImage("nvme-4k", 64 * MIB);
  const extraArgs = ["-append", "test=blk", "-drive", `if=none,id=swap,format=raw,file=${image}`, "-device",
    "nvme,serial=denali-swap,drive=swap,logical_block_size=4096,physical_block_size=4096,mdts=3"];
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 120_000, icount: true, extraArgs });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, new RegExp("^swap: nvme 00:03\\.0 64 MiB \\(131072 sectors\\), namespace 1, blocks of 4096 bytes, "
    + "queues \\d+, 128 requests of up to 8 pages, ", "m"));
  t.regex(out, /^blk: blocks of 4096 bytes, pattern pages from sector 8, transfers of up to 8 pages$/m);
  t.regex(out, /^blk: read inside a block: not on a block of the disk$/m);
  selftestPassed(t, out, image);
});
