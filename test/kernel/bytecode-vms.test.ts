// Contract: bytecode VMs (issue 18, docs/bytecode.md "Bytecode VMs") in QEMU. A manifest group with
// `"isolation": "bytecode"` is compiled to DNBC (tools/manifest.ts) and the kernel verifies its module
// before any VM of it exists (kernel-src/bytecode-verify.ts, from vmstart.ts), then runs its VMs on the
// in-kernel interpreter (kernel-src/bytecode-interp.ts):
// - a corrupted image (an unknown opcode planted at a known byte of a known function) refuses that group
//   alone, the line naming the verifier's reason, the function index and the byte offset the host
//   computed; none of its VMs runs;
// - the counter demo as a bytecode VM (alarms, idle, console writes: hypercalls as direct calls) prints
//   exactly what the same source prints as a hardware VM beside it, and exits 0;
// - hostile bytecode guests (stores and loads outside their memory, unbounded recursion, #DE, the checked
//   division's trap, calls of wild addresses, an endless loop) are each ended alone with their reason
//   while a hardware counter beside them counts every round; the endless one is preempted;
// - bad hypercalls (guest-src/attacks/badcalls.ts) are each refused with their error and a flood of them ends
//   the VM; two hypercall fuzzers make 1,000,000 seeded calls each and exit 0, the counter intact beside them.
import test from 'ava';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { runQemu } from '../../tools/qemu.ts';
import { buildManifest } from '../../tools/manifest.ts';
import { encodeModule } from '../../compiler/bytecode/encode.ts';
import { OP_CONST } from '../../abi/bytecode.ts';
import { buildKernelInTemp, serialLines, guestLines, type KernelBuild } from './helpers.ts';
import { find, uleb } from '../bytecode/verifier/images.ts';
import { vmSummaries, writeManifest } from './guests/build.ts';
import { readdirSync } from 'node:fs';
import { ROOT, compileOrThrow, bytecodeSpan } from '../../tools/build.ts';
import { parseExpectations } from '../corpus/expectations.ts';
import { limit } from '../harness/limit.ts';

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
  t.regex(out, new RegExp(`^vms: group 2: bytecode image verified, ${good} bytes, \\d+ bytes of data$`, 'm'));
  // The hardware counter is vm 0, the bytecode counter vm 1: the same lines but for the id, both exit 0.
  t.regex(out, /^vms: 2 created from 3 images;/m);
  for (const vm of [0, 1]) {
    const counts = guestLines(out, vm).filter(l => new RegExp(`^vm ${vm} (count|done) `).test(l));
    const expected = Array.from({ length: ROUNDS }, (_, i) => `vm ${vm} count ${i + 1}`);
    t.deepEqual(counts, [...expected, `vm ${vm} done ${ROUNDS}`]);
    t.regex(vmSummaries(out).get(vm)?.outcome ?? '', /^exit status 0$/);
  }
  t.deepEqual(guestLines(out, 1).map(l => l.replace('vm 1', 'vm 0')), guestLines(out, 0));
  const cpu = [0, 1].map(vm => vmSummaries(out).get(vm)?.kcycles ?? 0);
  t.log(`counter, ${ROUNDS} rounds, under -icount: hardware ${cpu[0]} kcycles, bytecode ${cpu[1]} kcycles`);
  t.false(/^vm \d+ ended: /m.test(out), 'no VM ended by the kernel');
});

/** Hostile bytecode guests, vm 1.. in order: the image, its argument and the end line's reason. */
const HOSTILE: { image: string; argument: number; reason: RegExp }[] = [
  { image: 'memory', argument: 1, reason: /^bytecode: memory access out of range at 0x00100000 in function \d+$/ },
  { image: 'memory', argument: 3, reason: /^bytecode: memory access out of range at 0x3ffffffc in function \d+$/ },
  { image: 'memory', argument: 6, reason: /^bytecode: memory access out of range at 0x40010000 in function \d+$/ },
  { image: 'memory', argument: 9, reason: /^bytecode: memory access out of range at 0xfffffffc in function \d+$/ },
  { image: 'stack', argument: 0, reason: /^stack overflow address 0x[0-9a-f]{8} in function \d+$/ },
  { image: 'divide', argument: 0, reason: /^#DE divide error in function \d+$/ },
  { image: 'jump', argument: 0, reason: /^bytecode: bad indirect call of 0x00100000 in function \d+$/ },
  { image: 'jump', argument: 3, reason: /^bytecode: bad indirect call of 0x40010000 in function \d+$/ },
];
const HEALTHY_ROUNDS = 10;

test('hostile bytecode guests end alone with their reasons; an endless one is preempted', async t => {
  const json = join(kernel.dir, 'bytecode-hostile.json');
  const divideChecked = 1 + HOSTILE.length, endless = divideChecked + 1;
  writeFileSync(json, JSON.stringify({ groups: [
    { image: 'guest-src/demos/counter.ts', count: 1, memoryKiB: 128, argument: HEALTHY_ROUNDS },
    ...HOSTILE.map(h => ({ image: `guest-src/attacks/${h.image}.ts`, count: 1, memoryKiB: 64, argument: h.argument,
      isolation: 'bytecode' })),
    { image: 'guest-src/attacks/divide.ts', count: 1, memoryKiB: 64, argument: 1, isolation: 'bytecode' },
    { image: 'guest-src/attacks/endless.ts', count: 1, memoryKiB: 64, argument: 0, isolation: 'bytecode' },
  ] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  const done = `[vm 0] vm 0 done ${HEALTHY_ROUNDS}`;
  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules },
    { timeoutMs: 180_000, memoryMiB: 64, icount: true, until: done });
  const out = serialLines(run.serial);
  t.true(out.includes(done), out.slice(-3000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  t.false(/NOT CONTAINED/.test(out));
  HOSTILE.forEach((h, i) => {
    const reason = new RegExp(`^vm ${i + 1} ended: (.*)$`, 'm').exec(out)?.[1] ?? '(not ended)';
    t.regex(reason, h.reason, `vm ${i + 1}: ${h.image} ${h.argument}`);
  });
  // The checked division is the guest's own trap handler: it prints and exits 101, the kernel ends nothing.
  t.true(guestLines(out, divideChecked).includes('trap: integer division by zero'));
  t.false(new RegExp(`^vm ${divideChecked} ended: `, 'm').test(out));
  // The endless loop announced itself and was never ended: preempted, the counter finished beside it.
  t.true(guestLines(out, endless).some(l => l.startsWith('attack endless:')));
  t.false(new RegExp(`^vm ${endless} ended: `, 'm').test(out));
  const counts = guestLines(out, 0).filter(l => /^vm 0 (count|done) /.test(l));
  t.deepEqual(counts, [...Array.from({ length: HEALTHY_ROUNDS }, (_, i) => `vm 0 count ${i + 1}`), done.slice(7)]);
});

/** guest-src/attacks/contexts.ts by its argument (0..): the end line's reason (docs/bytecode.md "Threads"). */
const CONTEXT_ATTACKS: RegExp[] = [
  /^bytecode: bad context 0x[0-9a-f]{8} in function \d+$/,                  // a forged handle
  /^bytecode: bad context 0x00100000 in function \d+$/,                     // a stack in the kernel
  /^bytecode: a context's entry returned, 0x[0-9a-f]{8} in function \d+$/,
  /^bytecode: too many contexts, creating 0x[0-9a-f]{8} in function \d+$/,
  /^bytecode: bad indirect call of 0x00100000 in function \d+$/,            // its entry word overwritten
  /^bytecode: bad context 0x[0-9a-f]{8} in function \d+$/,                  // a spent handle
  /^stack overflow address 0x[0-9a-f]{8} in function \d+$/,                 // a thread's endless recursion
];

test('bytecode guests misusing contextSwitch and contextCreate end alone with their reasons', async t => {
  const json = join(kernel.dir, 'bytecode-contexts.json');
  writeFileSync(json, JSON.stringify({ groups: [
    { image: 'guest-src/demos/counter.ts', count: 1, memoryKiB: 128, argument: HEALTHY_ROUNDS },
    ...CONTEXT_ATTACKS.map((_, argument) => ({ image: 'guest-src/attacks/contexts.ts', count: 1, memoryKiB: 192,
      argument, isolation: 'bytecode' })),
  ] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  const done = `[vm 0] vm 0 done ${HEALTHY_ROUNDS}`;
  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules },
    { timeoutMs: 180_000, memoryMiB: 64, icount: true, until: done });
  const out = serialLines(run.serial);
  t.true(out.includes(done), out.slice(-3000));
  t.false(/^exception: /m.test(out), 'no kernel exception');
  t.false(/NOT CONTAINED/.test(out));
  CONTEXT_ATTACKS.forEach((reason, argument) => {
    const vm = argument + 1;
    t.regex(new RegExp(`^vm ${vm} ended: (.*)$`, 'm').exec(out)?.[1] ?? '(not ended)', reason, `contexts ${argument}`);
  });
  const counts = guestLines(out, 0).filter(l => /^vm 0 (count|done) /.test(l));
  t.deepEqual(counts, [...Array.from({ length: HEALTHY_ROUNDS }, (_, i) => `vm 0 count ${i + 1}`), done.slice(7)]);
});

/** The fuzzer's seed (guest-src/attacks/fuzzer.ts), as guests.test.ts runs it on hardware VMs. */
const FUZZ_SEED = 625341585;

test('bad hypercalls from bytecode VMs: each refused with its error, a flood ends it, a million fuzzed', async t => {
  // vm 1: guest-src/attacks/badcalls.ts (kernel and foreign pointers, huge lengths, unknown numbers, the
  // management calls); vm 2 and 3: the hypercall fuzzer, 1,000,000 seeded calls each; vm 0 counts beside them.
  const json = join(kernel.dir, 'bytecode-badcalls.json');
  writeFileSync(json, JSON.stringify({ groups: [
    { image: 'guest-src/demos/counter.ts', count: 1, memoryKiB: 128, argument: HEALTHY_ROUNDS },
    { image: 'guest-src/attacks/badcalls.ts', count: 1, memoryKiB: 64, argument: 0, isolation: 'bytecode' },
    { image: 'guest-src/attacks/fuzzer.ts', count: 2, memoryKiB: 64, argument: FUZZ_SEED, isolation: 'bytecode' },
  ] }));
  const built = buildManifest(json, { imagesDir: kernel.dir, outDir: kernel.dir });
  const run = await runQemu({ kernel: kernel.elf, initrd: built.modules },
    { timeoutMs: 240_000, memoryMiB: 64, icount: true, until: 'vms done:' });
  const out = serialLines(run.serial);
  t.false(/^exception: /m.test(out), 'no kernel exception');
  t.false(/NOT CONTAINED|WRONG/.test(out), out.slice(-3000));
  t.true(guestLines(out, 1).includes('badcall summary: 27 ok, 0 wrong'), out.slice(-3000));
  t.regex(/^vm 1 ended: (.*)$/m.exec(out)?.[1] ?? '(not ended)', /^too many bad hypercalls /);
  const summary = new RegExp(`^fuzz seed ${FUZZ_SEED} count 1000000 ok \\d+ einval [1-9]\\d* efault [1-9]\\d* `
    + 'eagain \\d+ emsgsize [1-9]\\d* eperm [1-9]\\d* other 0 idles \\d+$');
  for (const vm of [2, 3]) {
    t.true(guestLines(out, vm).some(l => summary.test(l)), `vm ${vm}: ${guestLines(out, vm).slice(-2)}`);
    t.regex(out, new RegExp(`^vm ${vm}: cpu \\d+ kcycles, switches \\d+, exit status 0$`, 'm'));
  }
  const counts = guestLines(out, 0).filter(l => /^vm 0 (count|done) /.test(l));
  t.deepEqual(counts, [...Array.from({ length: HEALTHY_ROUNDS }, (_, i) => `vm 0 count ${i + 1}`),
    `vm 0 done ${HEALTHY_ROUNDS}`]);
});

/**
 * Programs that need more stack than a VM has (16 KiB of slots, BYTECODE_STACK_BYTES, as a hardware guest's
 * stack; the interpreter's call records: its area and 8 frames of chunks): recursion.ts and register-pressure.ts
 * recurse thousands deep, stack-overflow.ts a thousand before its endless recursion, stack-overflow-big-frames.ts's
 * first call already takes a 16 KiB frame. As a VM each prints what it prints before, then ends with "stack overflow",
 * as it would as a hardware VM.
 */
const DEEPER_THAN_A_VM = ['recursion.ts', 'register-pressure.ts', 'stack-overflow.ts', 'stack-overflow-big-frames.ts'];
/**
 * Programs that use a kernel-only intrinsic on purpose (test/bytecode/verifier-corpus.test.ts KERNEL_ONLY):
 * the kernel's verifier refuses each image, so its group starts no VM (docs/bytecode.md "The guest policy").
 */
const KERNEL_ONLY = ['hypercall-trap.ts', 'interrupt-entries.ts', 'symbol-table.ts'];
const PROGRAM_GUEST_RUNTIME = join(ROOT, 'guest-src', 'runtime', 'program.ts');
/**
 * A guest's line as it wrote it, decoded as UTF-8: the kernel's console writes `\\` for a backslash and `\xNN`
 * for a control byte or one of 0x80 and above (docs/virtual-architecture.md "Console").
 */
function unescapeConsole(line: string): string {
  const bytes = line.replace(/\\(\\|x([0-9a-f]{2}))/g, (_, escaped: string, hex?: string) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : escaped);
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
/** Groups of a manifest at most (kernel-src/manifest.ts MANIFEST_GROUP_LIMIT): a program a group, so a boot's share. */
const PROGRAMS_A_BOOT = 16;

test('the whole corpus as bytecode VMs prints what it prints on the host interpreter', async t => {
  const dir = join(ROOT, 'test', 'programs');
  const programs = readdirSync(dir).filter(f => f.endsWith('.ts')).sort()
    .map(file => ({ file, expectations: parseExpectations(readFileSync(join(dir, file), 'utf8'), file) }));
  // The refused ones last: a refused group takes no VM id, so the others' ids are their places.
  const running = programs.filter(p => !KERNEL_ONLY.includes(p.file));
  const refused = programs.filter(p => KERNEL_ONLY.includes(p.file));
  t.is(refused.length, KERNEL_ONLY.length);
  const ordered = [...running, ...refused];
  const boots = Array.from({ length: Math.ceil(ordered.length / PROGRAMS_A_BOOT) },
    (_, k) => ordered.slice(k * PROGRAMS_A_BOOT, (k + 1) * PROGRAMS_A_BOOT));
  const slots = limit(2);
  const runs = await Promise.all(boots.map((chosen, boot) => slots(async () => {
    const modules = chosen.map(p => {
      const module = compileOrThrow({ files: [join(dir, p.file)], runtime: PROGRAM_GUEST_RUNTIME, optimize: 2 });
      const path = join(kernel.dir, `corpus-${p.file.replace(/\.ts$/, '')}.dnbc`);
      writeFileSync(path, encodeModule(module));
      return { path, memoryKiB: Math.ceil((bytecodeSpan(module) + 4096) / 4096) * 4 + 8 };
    });
    const manifest = writeManifest(kernel.dir, `corpus-${boot}`, modules.map((m, i) => ({
      moduleIndex: i, vmCount: 1, memoryKiB: m.memoryKiB, argument: 0, bytecode: true })));
    const run = await runQemu({ kernel: kernel.elf, initrd: [...modules.map(m => m.path), manifest] },
      { timeoutMs: 300_000, memoryMiB: 128, icount: true });
    return { chosen, out: serialLines(run.serial), timedOut: run.timedOut };
  })));
  let checked = 0;
  for (const { chosen, out, timedOut } of runs) {
    t.false(timedOut, out.slice(-2000));
    t.false(/^exception: /m.test(out), 'no kernel exception');
    const summaries = vmSummaries(out);
    chosen.forEach((p, vm) => {
      const e = p.expectations;
      if (KERNEL_ONLY.includes(p.file)) {
        t.regex(out, new RegExp(`^vms: group ${vm} refused: bytecode image: intrinsic not allowed in a guest `
          + 'in function \\d+ at offset \\d+; its 1 VMs not started$', 'm'), p.file);
        checked++;
        return;
      }
      const printed = guestLines(out, vm).map(unescapeConsole);
      const ended = new RegExp(`^vm ${vm} ended: (.*)$`, 'm').exec(out)?.[1] ?? '';
      const overflows = DEEPER_THAN_A_VM.includes(p.file) || e.stderrSubstrings.includes('stack overflow');
      if (overflows) {
        // The kernel ends it (its guard, as a hardware VM's): what it printed before is the program's.
        t.regex(ended, /^stack overflow address 0x[0-9a-f]{8} in function \d+$/, `${p.file} (vm ${vm})`);
        t.deepEqual(printed, e.stdoutLines.slice(0, printed.length), `${p.file} (vm ${vm})`);
        if (!DEEPER_THAN_A_VM.includes(p.file)) t.deepEqual(printed, e.stdoutLines, `${p.file} (vm ${vm})`);
      } else {
        // stdout, then what the program writes on stderr (a VM has one console: its lines follow).
        t.deepEqual(printed.slice(0, e.stdoutLines.length), e.stdoutLines, `${p.file} (vm ${vm})`);
        const rest = printed.slice(e.stdoutLines.length).join('\n');
        for (const s of e.stderrSubstrings) t.true(rest.includes(s), `${p.file} (vm ${vm}): '${s}' in '${rest}'`);
        if (e.stderrSubstrings.length === 0) t.is(rest, '', `${p.file} (vm ${vm})`);
        t.is(ended, '', `${p.file} (vm ${vm})`);
        t.is(summaries.get(vm)?.outcome, `exit status ${e.exitStatus}`, `${p.file} (vm ${vm})`);
      }
      checked++;
    });
  }
  t.is(checked, programs.length);
  t.log(`${programs.length} programs in ${boots.length} boots: ${running.length - DEEPER_THAN_A_VM.length} as on `
    + `the host, ${DEEPER_THAN_A_VM.length} deeper than a VM's stack, ${refused.length} refused by the verifier`);
});
