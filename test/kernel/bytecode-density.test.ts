// Contract: the density of bytecode VMs (issue 18 item 5, docs/bytecode.md "Memory") in QEMU. A bytecode VM
// has no page directory and no page tables (kernel-src/linear.ts): it holds its slot, its kernel frame (its
// page map and the interpreter's area) and the pages of its memory it touched, demand-zero; its boot
// information lies above its stack and below its data, so the counter demo touches one page.
// - BYTECODE_DENSITY_VMS counter demos as bytecode VMs in -m 64 (the scale run of bench:vm, 100,000 in
//   -m 1024, made small): created with 0 page-table frames and 4096 bytes per VM, at most one private frame
//   each at the peak, every one counting its round and exiting 0;
// - isolation through the shared window: bytecode VMs of test/kernel/guests/neighbours.ts write their own
//   pattern over three pages and yield round after round beside each other and beside hardware VMs; each
//   finds its own pattern every round and zeros where it never wrote, then what it stored across page
//   boundaries into pages never touched (the interpreter checks both pages of such an access).
import test from 'ava';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runQemu } from '../../tools/qemu.ts';
import { buildManifest } from '../../tools/manifest.ts';
import { buildKernelInTemp, serialLines, guestLines, type KernelBuild } from './helpers.ts';
import {
  vmSummaries, writeManifest, buildTestGuest, buildTestGuestBytecode, workerArgument, MODE,
} from './guests/build.ts';

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(false); });
test.after.always(() => kernel?.remove());

const BYTECODE_DENSITY_VMS = 5000;
const NEIGHBOURS = 24;
const WORKERS = 2;

test(`${BYTECODE_DENSITY_VMS} bytecode counters in -m 64: no page tables, a kernel frame, one page each`, async t => {
  const json = join(kernel.dir, 'density.json');
  writeFileSync(json, JSON.stringify({ groups: [{ image: 'guest-src/demos/counter.ts', count: BYTECODE_DENSITY_VMS,
    memoryKiB: 64, argument: 1, isolation: 'bytecode', guaranteedKiB: 0 }] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules }, { timeoutMs: 180_000, memoryMiB: 64 });
  const out = serialLines(run.serial);
  t.false(run.timedOut, out.slice(-2000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  t.regex(out, new RegExp(`^vms: ${BYTECODE_DENSITY_VMS} created from 1 images; memory ${BYTECODE_DENSITY_VMS * 4} KiB `
    + '\\(0 private frames, 0 page-table frames\\), 4096 bytes per VM$', 'm'));
  const end = new RegExp('^vms: (\\d+) started, (\\d+) exited, 0 ended by the kernel, 0 idle; switches \\d+; '
    + 'private frames peak (\\d+);', 'm').exec(out);
  t.truthy(end, out.slice(-2000));
  t.is(Number(end![1]), BYTECODE_DENSITY_VMS);
  t.is(Number(end![2]), BYTECODE_DENSITY_VMS);
  const peak = Number(end![3]);
  t.true(peak >= 1 && peak <= BYTECODE_DENSITY_VMS, `private frames peak ${peak}: one page of memory a VM at most`);
  const summaries = [...vmSummaries(out).values()];
  t.is(summaries.length, BYTECODE_DENSITY_VMS);
  t.is(summaries.filter(s => s.outcome === 'exit status 0').length, BYTECODE_DENSITY_VMS);
  const done = new Set([...out.matchAll(/^\[vm (\d+)\] vm \1 done 1$/gm)].map(m => Number(m[1])));
  t.is(done.size, BYTECODE_DENSITY_VMS);
  t.log(`${BYTECODE_DENSITY_VMS} bytecode counters: private frames peak ${peak}`);
});

test('bytecode VMs sharing the window see their own pages only, beside hardware VMs', async t => {
  const neighbours = buildTestGuestBytecode('neighbours', kernel.dir);
  const worker = buildTestGuest('worker', kernel.dir);
  const manifest = writeManifest(kernel.dir, 'neighbours', [
    { moduleIndex: 0, vmCount: NEIGHBOURS, memoryKiB: neighbours.memoryKiB + 16, argument: 0, bytecode: true,
      guaranteedKiB: 0 },
    { moduleIndex: 1, vmCount: WORKERS, memoryKiB: 64, argument: workerArgument(MODE.counter, 5) },
  ]);
  const run = await runQemu({ kernel: kernel.elf, initrd: [neighbours.path, worker, manifest] },
    { timeoutMs: 120_000, memoryMiB: 64 });
  const out = serialLines(run.serial);
  t.false(run.timedOut, out.slice(-2000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  const summaries = vmSummaries(out);
  for (let vm = 0; vm < NEIGHBOURS; vm++) {
    t.deepEqual(guestLines(out, vm).filter(l => l.startsWith('neighbours ')), [`neighbours ${vm} ok`], `vm ${vm}`);
    t.is(summaries.get(vm)?.outcome, 'exit status 0', `vm ${vm}`);
  }
  for (let vm = NEIGHBOURS; vm < NEIGHBOURS + WORKERS; vm++) t.is(summaries.get(vm)?.outcome, 'exit status 0');
});
