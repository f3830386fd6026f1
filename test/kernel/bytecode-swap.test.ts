// Contract: bytecode VMs under swapping (issue 18 item 5 with issue 15's swap; docs/bytecode.md "Swapping")
// in QEMU with a virtio-blk swap disk. A bytecode VM idle long enough is written out whole like a hardware
// VM (its pages through its page map, kernel-src/linear.ts; it keeps its kernel frame) and read back when
// its alarm wakes it, every page checked by its checksum:
// - SWAPPERS bytecode VMs of guest-src/demos/swapper.ts (each page first touched by a hypercall, readClock,
//   then filled) in a machine too small for them all: written out and read back, every one verifies its
//   pages and exits 0, no checksum failure; hypercalls that found memory short waited and were made again,
//   or runnable VMs gave up single pages (swap-evict.ts) before any had to;
// - STORERS bytecode VMs of test/kernel/guests/storer.ts (pages first touched by the interpreter's stores)
//   in a machine too small: the interpreter's touches wait for memory too (more memory waits than those of
//   hypercalls), and every VM finds its pattern after each sleep.
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runQemu, createSwapImage, swapDiskArgs } from '../../tools/qemu.ts';
import { buildManifest } from '../../tools/manifest.ts';
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from './helpers.ts';
import { vmSummaries, writeManifest, buildTestGuestBytecode } from './guests/build.ts';

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(false); });
test.after.always(() => kernel?.remove());

const MIB = 1024 * 1024;
const SWAPPERS = 120;
const SWAPPER_PAGES = 24;
const STORERS = 10;
/** Each storer's pages: 800 KiB, ten of them filling at once in the 4.6 MiB left for VMs (under 256 pages:
 * a VM waiting for memory that small goes out whole, swap.ts WHOLE_VM_PAGE_LIMIT). */
const STORER_PAGES = 200;
const MEMORY_MIB = 12;

/** The kernel's `swap:` summary: write-outs, read-ins, checksum failures, memory waits (of hypercalls). */
function swapFigures(t: ExecutionContext, out: string) {
  const line = /^swap: resident \d+, swapped out \d+, .*$/m.exec(out);
  t.truthy(line, out.slice(-3000));
  const number = (re: RegExp) => Number(re.exec(line![0])![1]);
  return {
    line: line![0],
    writeOuts: number(/write-outs (\d+)/), readIns: number(/read-ins (\d+)/),
    checksum: number(/checksum failures (\d+)/), readErrors: number(/read errors (\d+)/),
    waits: number(/memory waits (\d+)/), hypercallWaits: number(/memory waits \d+ \(hypercalls (\d+)\)/),
    running: number(/running-evictions (\d+)/),
  };
}

async function boot(name: string, modules: string[]) {
  const image = join(kernel.dir, `${name}.img`);
  createSwapImage(image, 256 * MIB);
  const run = await runQemu({ kernel: kernel.elf, initrd: modules },
    { timeoutMs: 300_000, memoryMiB: MEMORY_MIB, extraArgs: swapDiskArgs(image, 'virtio') });
  return { run, out: serialLines(run.serial) };
}

test(`${SWAPPERS} bytecode swappers in -m ${MEMORY_MIB}: written out asleep, read back, every page intact`, async t => {
  const json = join(kernel.dir, 'swappers.json');
  writeFileSync(json, JSON.stringify({ groups: [{ image: 'guest-src/demos/swapper.ts', count: SWAPPERS,
    memoryKiB: 128, guaranteedKiB: 0, argument: 2000 * 65536 + SWAPPER_PAGES, isolation: 'bytecode' }] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  const { run, out } = await boot('swappers', built.modules);
  t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  const verified = new Set([...out.matchAll(new RegExp(
    `^\\[vm (\\d+)\\] vm \\1 verified ${SWAPPER_PAGES} pages, 0 bad words$`, 'gm'))].map(m => Number(m[1])));
  t.is(verified.size, SWAPPERS);
  t.is([...vmSummaries(out).values()].filter(s => s.outcome === 'exit status 0').length, SWAPPERS);
  const swap = swapFigures(t, out);
  t.true(swap.writeOuts >= SWAPPERS / 2 && swap.readIns === swap.writeOuts, swap.line);
  t.is(swap.checksum, 0);
  t.is(swap.readErrors, 0);
  // Memory ran short while they ran: readClock into a page that found no frame waited and was made again,
  // or (since bytecode VMs lose single pages too: bytecode-evict.test.ts) runnable VMs gave up cold pages
  // first; which of the two depends on the host's timing (this run is not under -icount).
  t.true(swap.hypercallWaits > 0 || swap.running > 0, swap.line);
  t.log(swap.line);
});

test(`${STORERS} bytecode VMs touching pages by stores in -m ${MEMORY_MIB}: the interpreter waits for memory`,
  async t => {
    const storer = buildTestGuestBytecode('storer', kernel.dir);
    const manifest = writeManifest(kernel.dir, 'storers', [{ moduleIndex: 0, vmCount: STORERS, memoryKiB: 1024,
      argument: STORER_PAGES, bytecode: true, guaranteedKiB: 0 }]);
    const { run, out } = await boot('storers', [storer.path, manifest]);
    t.is(run.debugExit, EXIT_SUCCESS, out.slice(-3000));
    t.false(/^exception: /m.test(out), 'no kernel exception');
    const ok = new Set([...out.matchAll(/^\[vm (\d+)\] storer \1 ok$/gm)].map(m => Number(m[1])));
    t.is(ok.size, STORERS, out.slice(-3000));
    t.is([...vmSummaries(out).values()].filter(s => s.outcome === 'exit status 0').length, STORERS);
    const swap = swapFigures(t, out);
    t.true(swap.writeOuts > 0 && swap.readIns === swap.writeOuts, swap.line);
    t.is(swap.checksum, 0);
    t.true(swap.waits > swap.hypercallWaits, `the interpreter's touches waited: ${swap.line}`);
    t.log(swap.line);
  });
