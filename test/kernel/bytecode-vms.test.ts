// Contract: bytecode groups (issue 18, docs/bytecode.md "Bytecode VMs") in QEMU. A manifest group with
// `"isolation": "bytecode"` is compiled to DNBC (tools/manifest.ts) and the kernel verifies its module
// before any VM of it exists (kernel-src/bytecode-verify.ts, from vmstart.ts):
// - a corrupted image (an unknown opcode planted at a known byte of a known function) refuses that group
//   alone, the line naming the verifier's reason, the function index and the byte offset the host
//   computed; none of its VMs runs;
// - a good image is reported verified with its size and data bytes;
// - the hardware neighbour in the same manifest starts, counts every round and exits 0, the kernel never
//   faulting.
import test from 'ava';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { runQemu } from '../../tools/qemu.ts';
import { buildManifest } from '../../tools/manifest.ts';
import { encodeModule } from '../../compiler/bytecode/encode.ts';
import { OP_CONST } from '../../abi/bytecode.ts';
import { buildKernelInTemp, serialLines, guestLines, type KernelBuild } from './helpers.ts';
import { find, uleb } from '../bytecode/verifier/images.ts';
import { vmSummaries } from './guests/build.ts';

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(false); });
test.after.always(() => kernel?.remove());

const ROUNDS = 5;
/** A value whose signed LEB128 (5 bytes) occurs nowhere else in the image. */
const MARKER = 0x0badcafe;
const OPCODE_UNKNOWN = 0xff;

function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

test('a corrupted bytecode image refuses its group alone, naming reason, function and offset', async t => {
  const json = join(kernel.dir, 'bytecode-groups.json');
  writeFileSync(json, JSON.stringify({ groups: [
    { image: 'guest-src/demos/counter.ts', count: 1, memoryKiB: 128, argument: ROUNDS },
    { image: 'guest-src/demos/spin.ts', count: 2, memoryKiB: 128, argument: 3, isolation: 'bytecode' },
    { image: 'guest-src/demos/counter.ts', count: 1, memoryKiB: 128, argument: ROUNDS, isolation: 'bytecode' },
  ] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  t.deepEqual(built.images.map(i => i.isolation), ['hardware', 'bytecode', 'bytecode']);
  t.true(built.modules[2].endsWith('guest-demos-spin.dnbc'));

  // Plant `const vN, MARKER` first in the last function, then turn its opcode into one that does not exist.
  const spin = built.images[1];
  if (spin.isolation !== 'bytecode') throw new Error('group 1 is not bytecode');
  const module = structuredClone(spin.built.module);
  const functionIndex = module.functions.length - 1;
  const victim = module.functions[functionIndex];
  const dst = victim.vregCount++;
  victim.blocks[0].instrs.unshift({ op: 'const', dst, value: MARKER });
  const bytes = encodeModule(module);
  const offset = find(bytes, [OP_CONST, ...uleb(dst), ...sleb(MARKER)]);
  bytes[offset] = OPCODE_UNKNOWN;
  writeFileSync(built.modules[2], bytes);

  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules },
    { timeoutMs: 120_000, memoryMiB: 64, icount: true });
  const out = serialLines(run.serial);
  t.false(run.timedOut, out.slice(-2000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  t.regex(out, new RegExp('^vms: group 1 refused: bytecode image: unknown instruction opcode' +
    ` in function ${functionIndex} at offset ${offset}; its 2 VMs not started$`, 'm'));
  const good = readFileSync(built.modules[3]).length;
  t.regex(out, new RegExp(`^vms: group 2: bytecode image verified, ${good} bytes, \\d+ bytes of data;`, 'm'));
  // Only the hardware VM was created: it is vm 0 and counts every round.
  t.regex(out, /^vms: 1 created from 3 images;/m);
  const counts = guestLines(out, 0).filter(l => /^vm 0 (count|done) /.test(l));
  t.deepEqual(counts, [...Array.from({ length: ROUNDS }, (_, i) => `vm 0 count ${i + 1}`), `vm 0 done ${ROUNDS}`]);
  t.regex(vmSummaries(out).get(0)?.outcome ?? '', /exit status 0/);
  t.deepEqual(guestLines(out, 1), []);
});
