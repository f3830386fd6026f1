// Unit tests of each pass: run alone on the -O0 IR of a small program, the IR verifier after it, the
// printed IR compared with golden files (before and after), and the interpreter's output unchanged.
// Regenerate goldens with UPDATE_GOLDEN=1.
import test from 'ava';
import { matchGolden } from '../harness/golden.ts';
import { join } from 'node:path';
import { compile, PASSES } from '../../compiler/pipeline.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { printModule, printFunction } from '../../compiler/print.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { foldConstants, evaluateBinary } from '../../compiler/passes/fold.ts';
import { simplifyCfg } from '../../compiler/passes/simplify-cfg.ts';
import { eliminateDeadCode, removeUnusedFunctions } from '../../compiler/passes/dce.ts';
import { propagateCopies } from '../../compiler/passes/copy-propagation.ts';
import { eliminateCommonSubexpressions } from '../../compiler/passes/cse.ts';
import { reduceStrength } from '../../compiler/passes/strength-reduction.ts';
import { inlineSmallFunctions } from '../../compiler/passes/inline.ts';
import { hoistLoopInvariants, naturalLoops } from '../../compiler/passes/licm.ts';
import type * as ir from '../../compiler/ir.ts';
import { ROOT } from '../../tools/build.ts';

const source = join(ROOT, 'test', 'compiler', 'sources', 'passes.ts');
const goldenDir = join(ROOT, 'test', 'compiler', 'golden');

function lowered(): ir.Module {
  const r = compile({ files: [source], optimize: 0 });
  if (!r.module) throw new Error(JSON.stringify(r.diagnostics));
  return r.module;
}

function golden(t: import('ava').ExecutionContext, name: string, text: string): void {
  matchGolden(t, join(goldenDir, name), text, 'the IR');
}

const userFunctions = (m: ir.Module) => m.functions.filter(f => ['folded', 'divides', 'unused', 'reduced', 'invariant', 'main'].includes(f.name)).map(printFunction).join('\n\n') + '\n';
const output = (m: ir.Module) => runModule(m).serial;
/** What the program prints, pinned: Node running the source itself (`npx denali run --target node`). */
const PINNED_OUTPUT = '58\n11\n90\n217\n42\n264\n\x01EXIT 0\n';

const passes: [string, (m: ir.Module) => ir.Module][] = [
  ['fold', foldConstants],
  ['simplify-cfg', simplifyCfg],
  ['dce', eliminateDeadCode],
  ['unused-functions', removeUnusedFunctions],
  ['copy-propagation', propagateCopies],
  ['cse', eliminateCommonSubexpressions],
  ['strength-reduction', (m: ir.Module) => reduceStrength(foldConstants(m))],
  ['inline', inlineSmallFunctions],
  ['licm', hoistLoopInvariants],
];

test('the -O0 IR verifies and matches its golden file', t => {
  const m = lowered();
  t.notThrows(() => verifyModule(m));
  golden(t, 'passes.O0.ir', userFunctions(m));
  t.is(output(m), PINNED_OUTPUT);
});

for (const [name, pass] of passes) {
  test(`pass ${name}: verifier holds, behaviour unchanged, golden IR`, t => {
    const before = lowered();
    const expected = output(before);
    const after = pass(lowered());
    t.notThrows(() => verifyModule(after));
    t.is(output(after), expected);
    t.is(output(after), PINNED_OUTPUT);
    golden(t, `passes.${name}.ir`, userFunctions(after));
  });
}

test('fold: constants fold, the branch on a known condition becomes a jump', t => {
  const m = foldConstants(lowered());
  const folded = m.functions.find(f => f.name === 'folded')!;
  const consts = folded.blocks.flatMap(b => b.instrs).filter(i => i.op === 'const').map(i => (i as { value: number }).value);
  t.true(consts.includes(42));
  const branches = (f: ir.Function) => f.blocks.filter(b => b.term.op === 'branch').length;
  const original = lowered().functions.find(f => f.name === 'folded')!;
  t.true(branches(folded) < branches(original), 'the branches on SCALE > 3 and false became jumps');
});

test('fold: division by zero is never folded (it must still trap)', t => {
  t.is(evaluateBinary('divs', 1, 0), undefined);
  t.is(evaluateBinary('divs', -2147483648, -1), -2147483648);
  t.is(evaluateBinary('rems', -2147483648, -1), 0);
  t.is(evaluateBinary('shl', 1, 33), 2);
  t.is(evaluateBinary('ltu', -1, 1), 0);
});

test('dce: removes unused pure values, keeps a division that may trap', t => {
  const m = eliminateDeadCode(lowered());
  const folded = m.functions.find(f => f.name === 'folded')!;
  t.false(printFunction(folded).includes('const 1000'), 'x * 1000 removed');
  const divides = m.functions.find(f => f.name === 'divides')!;
  t.true(divides.blocks.some(b => b.instrs.some(i => i.op === 'binary' && i.kind === 'divs')), 'x / d kept');
});

test('simplify-cfg: no unreachable blocks remain and ids equal indices', t => {
  const m = simplifyCfg(foldConstants(lowered()));
  for (const f of m.functions) {
    f.blocks.forEach((b, i) => t.is(b.id, i));
    const reach = new Set<number>([0]); const stack = [0];
    while (stack.length) { for (const s of succ(f.blocks[stack.pop()!])) if (!reach.has(s)) { reach.add(s); stack.push(s); } }
    t.is(reach.size, f.blocks.length, `${f.name}: every block reachable`);
  }
});

function succ(b: ir.Block): number[] {
  return b.term.op === 'jump' ? [b.term.target] : b.term.op === 'branch' ? [b.term.ifTrue, b.term.ifFalse] : [];
}

test('unused-functions: drops functions nothing reaches', t => {
  const m = removeUnusedFunctions(lowered());
  t.false(m.functions.some(f => f.name === 'unused'));
  t.true(m.functions.some(f => f.name === 'folded'));
});

test('the whole -O2 pipeline verifies after every pass and matches its golden file', t => {
  let m = lowered();
  for (const [, pass] of PASSES) { m = pass(m); t.notThrows(() => verifyModule(m)); }
  golden(t, 'passes.O2.ir', userFunctions(m));
  t.is(output(m), PINNED_OUTPUT);
});

const reducedOf = (m: ir.Module) => printFunction(m.functions.find(f => f.name === 'reduced')!);

test('strength-reduction: x * 8 is a shift, u32 / 16 a shift, u32 % 16 a mask', t => {
  const text = reducedOf(reduceStrength(foldConstants(lowered())));
  t.regex(text, /shl v\d+, v\d+/);
  t.regex(text, /shru v\d+, v\d+/);
  t.notRegex(text, /= mul |= divu |= remu /);
});

test('strength-reduction: signed division and remainder by 2^k become shifts (no divs/rems left)', t => {
  const r = compile({ files: [join(ROOT, 'test', 'programs', 'signed-division-powers.ts')], optimize: 2 });
  if (!r.module) return t.fail();
  const text = printFunction(r.module.functions.find(f => f.name === 'main')!);
  t.notRegex(text, /= (divs|rems) /);
  t.regex(text, /= shrs /);
});

test('cse: the second x * 8 reuses the first', t => {
  const text = reducedOf(eliminateCommonSubexpressions(lowered()));
  t.is((text.match(/= mul /g) ?? []).length, 1);
});

test('copy-propagation: after c = copy a, the add reads a', t => {
  const before = reducedOf(lowered());
  const after = reducedOf(propagateCopies(lowered()));
  t.not(before, after);
  const m = eliminateDeadCode(propagateCopies(lowered()));
  t.true((reducedOf(m).match(/= copy /g) ?? []).length < (before.match(/= copy /g) ?? []).length);
});

test('inline: a small callee is copied into its caller; folding then computes the call', t => {
  const inlined = inlineSmallFunctions(lowered());
  t.notThrows(() => verifyModule(inlined));
  const main = (m: ir.Module) => printFunction(m.functions.find(f => f.name === 'main')!);
  t.regex(main(lowered()), /call divides\(/);
  t.notRegex(main(inlined), /call divides\(/);
  t.is(output(inlined), output(lowered()));
  let optimized = lowered();
  for (const [, pass] of PASSES) optimized = pass(optimized);
  t.regex(main(optimized), /const 11/);
});

test('licm: k * 3 leaves the loop for a preheader; the loop keeps the work that varies', t => {
  const f = (m: ir.Module) => m.functions.find(x => x.name === 'invariant')!;
  const before = f(lowered());
  const loops = naturalLoops(before);
  t.is(loops.length, 1);
  // k is parameter v1: `k * 3` is the multiplication that reads it
  const kTimes3InLoop = (fn: ir.Function) => naturalLoops(fn).some(l => [...l.body].some(id => fn.blocks[id].instrs.some(i => i.op === 'binary' && i.kind === 'mul' && i.a === 1)));
  t.true(kTimes3InLoop(before));
  const after = f(hoistLoopInvariants(lowered()));
  t.notThrows(() => verifyModule(hoistLoopInvariants(lowered())));
  t.false(kTimes3InLoop(after), 'k * 3 is hoisted');
  t.true(naturalLoops(after).some(l => [...l.body].some(id => after.blocks[id].instrs.some(i => i.op === 'store'))), 'the stores stay');
});

test('the verifier rejects broken IR', t => {
  const m = lowered();
  const f = m.functions.find(x => x.name === 'folded')!;
  f.blocks[0].term = { op: 'jump', target: 999 };
  t.throws(() => verifyModule(m), { message: /branch to missing block 999/ });
  const m2 = lowered();
  m2.functions.find(x => x.name === 'folded')!.blocks[0].instrs.push({ op: 'copy', dst: 0, src: 12345 });
  t.throws(() => verifyModule(m2), { message: /out of range/ });
  t.is(printModule(m2).length > 0, true);
});
