// Contract: page-granular eviction of bytecode VMs (issue 18 item 5 with issue 15; docs/bytecode.md
// "Swapping"). Bytecode VMs of guest-src/demos/sweeper.ts never idle: each fills its pages, then sweeps
// over all of them round after round, checking every word against the last round's pattern and writing the
// next. Together they hold more than the machine's memory and none is idle to go out whole, so single
// pages of theirs go out while they run: second chance over their page maps' accessed bits, which the
// processor sets in the shared window's PTEs as the interpreter reaches their memory (kernel-src/linear.ts),
// and come back when the interpreter touches them (its page wait: the instruction made again). Under
// -icount but (m) (the guests' work is instruction-exact; the disk's completions still come in host time, so
// the counters vary a little from run to run: bounds are asserted, never exact counts):
// (j) three bytecode VMs of 1,000 pages each in a 16 MiB machine: every word verified after each round,
//     pages written out from runnable VMs (`running-evictions`) and read back on touch (`page-ins`), no
//     checksum failure, no VM ended by the kernel; each one's last consoleWrite, from a page cold since the
//     fill (often on the disk by then, not always), prints its line whole;
// (k) one bytecode VM of 1,600 pages alone in a 12 MiB machine (more than all the memory VMs may have):
//     it waits for memory and gives up its own coldest pages (swap-evict.ts evictWaiter), never going out
//     whole; every word intact;
// (m) beside two VMs of 800 pages, four bytecode VMs rewriting each of their 32 pages 16 times in a row, the disk's
//     writes throttled (not under -icount: the throttle is host time) so that batches stay in flight: the
//     interpreter comes back to pages being written (the frame mapped again: `rescued`, as for hardware VMs;
//     how often depends on the host, so not asserted); a stale copy or a freed frame would fail a check;
// (l) more bytecode VMs of guest-src/demos/swapper.ts (a guaranteed reservation each) than memory holds at
//     once: those beyond it are created swapped out and built when their turn comes (`started late`), all
//     are written out asleep and read back; their hot pages, only read in some rounds, keep their copies on
//     the disk (`clean pages kept`: the window's dirty bits are real) and, rewritten in others, are written
//     again (a stale copy kept would fail the guest's check); the readClock into a page left out of the working
//     set waits for it and is made again (`hypercalls made again after a page-in`). Every page verified, no
//     checksum failure.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, createSwapImage } from "../../tools/qemu.ts";
import { swept, noted, swapCounters, sweepDiskArgs } from "./sweepers.ts";
import { buildManifest } from "../../tools/manifest.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";

let kernel: KernelBuild;
let dir: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-bytecode-evict-test-"));
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const MIB = 1 << 20;

/** A group of `count` bytecode sweepers of `pages` pages, `rounds` rounds, dwell 2^`dwellLog2` (8 MiB each). */
function sweepers(count: number, pages: number, rounds: number, dwellLog2 = 0) {
  return { image: "guest-src/demos/sweeper.ts", count, memoryKiB: 8192, guaranteedKiB: 0,
    argument: dwellLog2 * 2 ** 28 + rounds * 4096 + pages, isolation: "bytecode" };
}

function boot(name: string, count: number, pages: number, rounds: number, memoryMiB: number) {
  return bootGroups(name, [sweepers(count, pages, rounds)], memoryMiB);
}

/**
 * Boots manifest groups in a `memoryMiB` machine with a 64 MiB swap disk, under -icount unless
 * `writeBytesPerSecond` (QEMU throttles the disk's writes to that, in host time: writes stay in flight).
 */
async function bootGroups(name: string, groups: object[], memoryMiB: number, writeBytesPerSecond = 0) {
  const manifest = join(dir, `${name}.json`);
  writeFileSync(manifest, JSON.stringify({ groups }));
  const built = buildManifest(manifest, { imagesDir: kernel.dir, outDir: kernel.dir });
  const image = join(dir, `${name}.img`);
  createSwapImage(image, 64 * MIB);
  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules }, {
    timeoutMs: 240_000, memoryMiB, icount: writeBytesPerSecond === 0,
    extraArgs: sweepDiskArgs(image, writeBytesPerSecond) });
  return { run, out: serialLines(run.serial) };
}




test("(j) three never-idle bytecode VMs of 1,000 pages in 16 MiB: pages go out while they run, all intact",
  async t => {
    const { run, out } = await boot("running", 3, 1000, 3, 16);
    t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
    t.regex(out, /^vms done: every VM has ended$/m);
    t.false(/^exception: /m.test(out), "no kernel exception");
    t.deepEqual(swept(out, 1000, 3).sort(), [0, 1, 2], out.slice(-3000));
    t.notRegex(out, /CORRUPT|ended:/);
    const c = swapCounters(out);
    t.true(c.running >= 500, c.line);                // single pages of runnable bytecode VMs went out...
    t.true(c.running <= c.pageOuts, c.line);
    t.true(c.pageIns >= 500, c.line);                // ...and came back through the interpreter's page wait
    t.is(c.checksum, 0, c.line);
    t.is(c.readErrors, 0, c.line);
    // Each one's note page, cold since the fill, is consoleWrite's buffer at the end: often on the disk by then
    // (the hypercall waits for it and is made again), but not always (second chance may not have reached it when
    // the rounds end; the disk's completions come in host time): the line arrives whole either way. (l) asserts
    // the retry, where the buffer is on the disk by construction.
    t.deepEqual(noted(out).sort(), [0, 1, 2], out.slice(-3000));
    t.log(c.line);
  });

test("(k) one bytecode VM of 1,600 pages in 12 MiB: it gives up its own coldest pages, all intact", async t => {
  const { run, out } = await boot("alone", 1, 1600, 2, 12);
  t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.regex(out, /^vms done: every VM has ended$/m);
  t.false(/^exception: /m.test(out), "no kernel exception");
  t.deepEqual(swept(out, 1600, 2), [0], out.slice(-3000));
  t.notRegex(out, /CORRUPT|ended:/);
  const c = swapCounters(out);
  t.true(c.pageOuts >= 1000, c.line);
  t.is(c.writeOuts, 0, c.line);                      // never out whole: page by page
  t.true(c.pageIns >= 1000, c.line);
  t.is(c.checksum, 0, c.line);
  t.log(c.line);
});

const SWAPPERS = 60;
const SWAPPER_PAGES = 24;
const HOT_PAGES = 4;

test(`(l) ${SWAPPERS} bytecode swappers, a reservation each, in -m 12: some created swapped out, clean copies kept`,
  async t => {
    const { run, out } = await bootGroups("late", [{ image: "guest-src/demos/swapper.ts", count: SWAPPERS,
      memoryKiB: 128, guaranteedKiB: 128, argument: 200 * 65536 + HOT_PAGES * 4096 + SWAPPER_PAGES,
      isolation: "bytecode" }], 12);
    t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
    t.false(/^exception: /m.test(out), "no kernel exception");
    const verified = new Set([...out.matchAll(new RegExp(
      `^\\[vm (\\d+)\\] vm \\1 verified ${SWAPPER_PAGES} pages, 0 bad words$`, "gm"))].map(m => Number(m[1])));
    t.is(verified.size, SWAPPERS, out.slice(-3000));
    t.notRegex(out, /CORRUPT|ended:/);
    const c = swapCounters(out);
    t.true(c.createdOut > 0 && c.startedLate === c.createdOut, c.line);
    t.true(c.writeOuts >= SWAPPERS, c.line);
    t.true(c.kept > 0, c.line);
    // The readClock into the page below the filled ones, left out of the last working set: on the disk at the
    // call, which waits for it and is made again (I_HYPERCALL's retry); the clock pattern around it intact.
    t.true(c.hypercallPageWaits >= 1, c.line);
    t.is(c.checksum, 0, c.line);
    t.is(c.readErrors, 0, c.line);
    t.log(c.line);
  });

test("(m) bytecode VMs rewriting pages beside them, disk writes throttled: never a stale page", async t => {
  const { run, out } = await bootGroups("rewrite", [sweepers(2, 800, 1), sweepers(4, 32, 64, 4)], 12, 8_000_000);
  t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.false(/^exception: /m.test(out), "no kernel exception");
  t.deepEqual(swept(out, 800, 1).sort(), [0, 1], out.slice(-3000));
  t.deepEqual(swept(out, 32, 64).sort(), [2, 3, 4, 5], out.slice(-3000));
  t.notRegex(out, /CORRUPT|ended:/);
  const c = swapCounters(out);
  // Single pages went out (from runnable VMs or from waiters: the split depends on the host's timing against
  // the throttle, once all from waiters); (j) asserts the running sweep unthrottled, under -icount.
  t.true(c.pageOuts > 0, c.line);
  t.is(c.checksum, 0, c.line);
  t.log(c.line);
});
