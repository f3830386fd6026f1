// Contract: a fused instruction that faults is dispatched again unchanged (kernel-src/bytecode-interp.ts: no
// superinstruction writes a register before its checks). test/kernel/guests/refault.ts, a bytecode VM under
// -icount, walks untouched pages with a pointer that its own load or store advances (I_ADD_STORE,
// I_ADD_LOAD and I_SHIFT_ADD_LOAD32 whose result register is also their operand): every access faults, its
// page is made, the instruction runs again; the VM checks each pointer's distance and what it read back.
// The test first checks the compiled IR holds those patterns (what the kernel's decoder fuses), so that a
// change of the optimizer cannot leave it testing nothing.
import test from 'ava';
import { join } from 'node:path';
import { runQemu } from '../../tools/qemu.ts';
import { compileOrThrow } from '../../tools/build.ts';
import type { Instr } from '../../compiler/ir.ts';
import { buildKernelInTemp, serialLines, guestLines, type KernelBuild } from './helpers.ts';
import { buildTestGuestBytecode, writeManifest, vmSummaries } from './guests/build.ts';
import { REGION_PAGES } from './guests/refault.ts';

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(false); });
test.after.always(() => kernel?.remove());

const GUESTS = join(import.meta.dirname, 'guests');

/** The fusable pairs in `body` whose add writes its own operand and whose access goes through it. */
function selfAdvancing(body: Instr[]): string[] {
  const found: string[] = [];
  for (let k = 0; k + 1 < body.length; k++) {
    const add = body[k], access = body[k + 1];
    if (add.op !== 'binary' || add.kind !== 'add' || (add.dst !== add.a && add.dst !== add.b)) continue;
    if ((access.op === 'load' || access.op === 'store') && access.address === add.dst) {
      const shifted = k > 0 && body[k - 1].op === 'binary' && (body[k - 1] as { kind: string }).kind === 'shl';
      found.push(`${shifted ? 'shl+' : ''}add+${access.op}`);
    }
  }
  return found;
}

test('fused loads and stores that advance their own pointer fault and run again once', async t => {
  const module = compileOrThrow({ files: [join(GUESTS, 'refault.ts')], mode: 'guest', entry: 'guestMain',
    runtime: join(GUESTS, 'runtime.ts'), optimize: 2 });
  const main = module.functions.find(f => f.name === 'guestMain')!;
  const patterns = main.blocks.flatMap(b => selfAdvancing(b.instrs));
  for (const p of ['add+store', 'add+load', 'shl+add+load']) t.true(patterns.includes(p), `${p} in ${patterns}`);

  const guest = buildTestGuestBytecode('refault', kernel.dir);
  const manifest = writeManifest(kernel.dir, 'refault', [{ moduleIndex: 0, vmCount: 1,
    memoryKiB: guest.memoryKiB + REGION_PAGES * 4, argument: 0, bytecode: true }]);
  const run = await runQemu({ kernel: kernel.elf, initrd: [guest.path, manifest] },
    { icount: true, memoryMiB: 64, timeoutMs: 120_000 });
  const out = serialLines(run.serial);
  t.deepEqual(guestLines(out, 0), ['refault stores 94208', 'refault sum 276', 'refault loads 94208',
    'refault shifted 1130496', 'refault ok'], out.slice(-2000));
  t.is(vmSummaries(out).get(0)?.outcome, 'exit status 0', out.slice(-2000));
});
