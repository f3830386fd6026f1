// compiler/passes/if-conversion.ts: on the -O2 IR just before it, the branches whose arms are cheap become
// selects and the others stay; the verifier holds, the interpreter prints the same; golden IR before and
// after (regenerate with UPDATE_GOLDEN=1).
import test from 'ava';
import { matchGolden } from '../harness/golden.ts';
import { join } from 'node:path';
import { compile, PASSES } from '../../compiler/pipeline.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { printFunction } from '../../compiler/print.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { convertIfs } from '../../compiler/passes/if-conversion.ts';
import type * as ir from '../../compiler/ir.ts';
import { ROOT } from '../../tools/build.ts';

const source = join(ROOT, 'test', 'compiler', 'sources', 'if-conversion.ts');
const goldenDir = join(ROOT, 'test', 'compiler', 'golden');
const CONVERTED = ['largest', 'magnitude', 'limited', 'firstSet', 'countAbove'];
const KEPT = ['loads', 'divides', 'calls', 'busy'];

/** The module as the -O2 pipeline hands it to if-conversion. */
function beforeIfConversion(): ir.Module {
  const r = compile({ files: [source], optimize: 0 });
  if (!r.module) throw new Error(JSON.stringify(r.diagnostics));
  let m = r.module;
  for (const [name, pass] of PASSES) { if (name === 'if-conversion') break; m = pass(m); }
  return m;
}

function golden(t: import('ava').ExecutionContext, name: string, text: string): void {
  matchGolden(t, join(goldenDir, name), text, 'the IR');
}

const print = (m: ir.Module) => [...CONVERTED, ...KEPT].map(name => printFunction(m.functions.find(f => f.name === name)!)).join('\n\n') + '\n';
const branches = (m: ir.Module, name: string) => m.functions.find(f => f.name === name)!.blocks.filter(b => b.term.op === 'branch').length;
const selects = (m: ir.Module, name: string) => m.functions.find(f => f.name === name)!.blocks.flatMap(b => b.instrs).filter(i => i.op === 'select').length;

test('if-conversion: cheap arms become selects, the verifier holds, the output is the same, golden IR', t => {
  const before = beforeIfConversion();
  const expected = runModule(before).serial;
  t.is(expected, '3\n5\n255\n0\n9\n2\n16\n0\n2\n3\n10\n\x01EXIT 0\n');
  golden(t, 'if-conversion.before.ir', print(before));
  const after = convertIfs(beforeIfConversion());
  t.notThrows(() => verifyModule(after));
  t.is(runModule(after).serial, expected);
  golden(t, 'if-conversion.after.ir', print(after));
  for (const name of ['largest', 'magnitude', 'limited', 'firstSet']) {
    t.is(branches(after, name), 0, `${name}: no branch left`);
    t.true(selects(after, name) >= 1, `${name}: a select`);
  }
  t.is(selects(after, 'limited'), 2, 'the nested conditional converts from the inside out');
  t.is(branches(after, 'countAbove'), branches(before, 'countAbove') - 1, 'the conditional count in the loop');
  for (const name of KEPT) {
    t.is(selects(after, name), 0, `${name}: the arm loads, divides, calls or does too much: kept`);
    t.is(branches(after, name), branches(before, name));
  }
});
