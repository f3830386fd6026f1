// Frames without a frame pointer (-O2, compiler/x86/lower.ts): esp-relative frames, ebp as a seventh
// register, leaves with no stack frame at all, and the unwind rows the linker turns into the symbol
// table's unwind tables (the kernel's backtraces walk them: test/kernel/faults.test.ts).
import test from 'ava';
import { join } from 'node:path';
import { compileOrThrow, programImage, ROOT } from '../../tools/build.ts';
import { FlowControl } from 'iced-x86';
import { lowerModule } from '../../compiler/x86/index.ts';

const program = (name: string) => join(ROOT, 'test', 'programs', name);
const sectionOf = (listing: string, f: string) => listing.split(/\n(?=\S)/).find(s => s.startsWith(`${f}:`))!;
const placeholder = { dataAddress: () => 0, functionAddress: () => 0, stackTop: () => 0 };

test('-O2: a leaf that keeps everything in registers has no prologue; ebp holds a value where seven are live', t => {
  const listing = programImage(compileOrThrow({ files: [join(ROOT, 'test', 'compiler', 'sources', 'passes.ts')] }), 2).listing;
  const folded = sectionOf(listing, 'folded');
  t.notRegex(folded, /ebp|esp,/, 'no frame pointer, no esp adjustment');
  t.regex(folded, /mov\s+eax,\[esp\+4\]/, 'the argument read from above the return address');

  const pressure = sectionOf(programImage(compileOrThrow({ files: [program('register-pressure.ts')] }), 2).listing, 'pressure');
  t.notRegex(pressure, /push\s+ebp|leave/);
  const save = /mov\s+\[esp\+(\w+)\],ebp/.exec(pressure);
  t.truthy(save, 'ebp saved in the frame');
  t.regex(pressure, new RegExp(`mov\\s+ebp,\\[esp\\+${save![1]}\\]\\n.*add\\s+esp,\\w+\\n.*ret`), 'and restored before the return');
  t.regex(pressure, /\b(add|xor|shr|shl|lea|mov)\s+ebp,(?!\[esp)/, 'ebp used as an ordinary register');
});

test('-O2: a function that reads its frame pointer keeps it; -O0 keeps it everywhere', t => {
  const o2 = programImage(compileOrThrow({ files: [program('symbol-table.ts')] }), 2).listing;
  t.regex(sectionOf(o2, 'backtrace'), /push\s+ebp\n.*mov\s+ebp,esp/);
  t.notRegex(sectionOf(o2, 'deeper'), /push\s+ebp/);
  const o0 = programImage(compileOrThrow({ files: [program('symbol-table.ts')], optimize: 0 }), 0).listing;
  for (const f of ['backtrace', 'deeper', 'caller', 'main']) t.regex(sectionOf(o0, f), /push\s+ebp\n.*mov\s+ebp,esp/, f);
});

test('unwind rows follow esp through the prologue, the body, pushes and every epilogue', t => {
  const module = compileOrThrow({ files: [program('register-pressure.ts')] });
  const lowered = lowerModule(module, placeholder, { registerAllocation: true });
  const depth = lowered.functions.find(f => f.name === 'depth')!;
  const rows = depth.unwind!;
  t.truthy(rows, 'depth has no frame pointer, so it has unwind rows');
  const B = depth.frameSize;
  t.true(B > 0 && B % 16 === 12, `frame of ${B} bytes keeps esp 16-aligned at calls`);
  t.deepEqual(rows[0], { index: depth.startIndex, cfa: 0, ebpSaved: false }, 'at entry esp points at the return address');
  // `if (n === 0) return acc` runs before the prologue (compiler/x86/lower.ts earlyReturn): mov, cmp, jcc,
  // mov, ret, all at cfa 0; then sub esp, B
  const instructions = lowered.instructions.slice(depth.startIndex, depth.endIndex);
  const prologue = instructions.findIndex(ins => ins.toString().startsWith('sub esp'));
  t.is(prologue, 5);
  t.deepEqual(rows[1], { index: depth.startIndex + prologue + 1, cfa: B, ebpSaved: false }, 'after sub esp, B');
  // before each ret the state is cfa 0 (after add esp, B); the block after it starts with cfa B again
  const stateAt = (k: number) => [...rows].reverse().find(r => r.index <= depth.startIndex + k)!;
  let returns = 0;
  instructions.forEach((ins, k) => {
    if (ins.flowControl !== FlowControl.Return) return;
    returns++;
    t.is(stateAt(k).cfa, 0, `ret at ${k}`);
    if (k + 1 < instructions.length) t.is(stateAt(k + 1).cfa, k < prologue ? 0 : B, `the code after the ret at ${k}`);
  });
  t.is(returns, 2, 'the early ret and the body\'s: the early side has no code after the prologue');
  // a function with pushes inside an instruction's code (memoryCopy saves esi/edi) tracks them
  const copying = compileOrThrow({ files: [program('memory-intrinsics.ts')] });
  const withPushes = lowerModule(copying, placeholder, { registerAllocation: true }).functions.filter(f => f.unwind?.some(r => f.frameSize > 0 && r.cfa > f.frameSize));
  t.true(withPushes.length > 0, 'some function has rows with esp below its body frame');
  for (const f of withPushes) t.true(f.unwind!.every(r => r.cfa >= 0 && r.cfa % 4 === 0));
  lowered.instructions.forEach(i => i.free());
});
