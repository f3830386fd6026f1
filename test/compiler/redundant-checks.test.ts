// compiler/passes/redundant-checks.ts: a bounds check whose outcome is known on every path to it
// becomes a jump (repeated, implied by a shorter array's, a masked index, a loop index bounded by a
// constant); the golden IR before and after; checks that must stay, stay; behaviour unchanged,
// and an index out of bounds still traps after the pass -- also one element past each implication's
// edge (sources/checks-boundary.ts), at -O2, where an off-by-one in the pass would drop the check.
import test from 'ava';
import { matchGolden } from '../harness/golden.ts';
import { join } from 'node:path';
import { compile, optimize } from '../../compiler/pipeline.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { printFunction } from '../../compiler/print.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { eliminateRedundantChecks } from '../../compiler/passes/redundant-checks.ts';
import { simplifyCfg } from '../../compiler/passes/simplify-cfg.ts';
import * as ir from '../../compiler/ir.ts';
import { ROOT } from '../../tools/build.ts';
import { parseProgramSerial } from '../../tools/qemu.ts';

const source = join(ROOT, 'test', 'compiler', 'sources', 'checks.ts');
const NAMES = ['twice', 'implied', 'notImplied', 'changed', 'onePath', 'bothPaths', 'masked', 'loops'];

function lowered(): ir.Module {
  const r = compile({ files: [source], optimize: 0 });
  if (!r.module) throw new Error(JSON.stringify(r.diagnostics));
  return r.module;
}
const boundsTraps = (f: ir.Function) => f.blocks.filter(b => b.instrs.some(i => i.op === 'trap' && i.kind === ir.TRAP_BOUNDS)).length;
const user = (m: ir.Module) => m.functions.filter(f => NAMES.includes(f.name));

function golden(t: import('ava').ExecutionContext, name: string, text: string): void {
  matchGolden(t, join(ROOT, 'test', 'compiler', 'golden', name), text, 'the IR');
}

test('known checks become jumps; the others stay; golden IR before and after', t => {
  const before = lowered();
  golden(t, 'redundant-checks.before.ir', user(before).map(printFunction).join('\n\n') + '\n');
  const expected = runModule(before).serial;
  const after = simplifyCfg(eliminateRedundantChecks(lowered()));
  t.notThrows(() => verifyModule(after));
  golden(t, 'redundant-checks.after.ir', user(after).map(printFunction).join('\n\n') + '\n');
  t.is(runModule(after).serial, expected);
  const count = (m: ir.Module) => Object.fromEntries(user(m).map(f => [f.name, boundsTraps(f)]));
  t.deepEqual(count(before), { twice: 2, implied: 2, notImplied: 2, changed: 2, onePath: 2, bothPaths: 3, masked: 2, loops: 2 });
  t.deepEqual(count(after), { twice: 1, implied: 1, notImplied: 2, changed: 2, onePath: 2, bothPaths: 2, masked: 1, loops: 1 });
});

test('the whole -O2 pipeline keeps an out-of-bounds index trapping', t => {
  const m = optimize(lowered());
  const implied = m.functions.find(f => f.name === 'implied')!;
  t.is(boundsTraps(implied), 1, 'the one check left is the one that guards both accesses');
  // implied(8): small[8] is out of bounds; the check kept must still catch it
  const main = m.functions.find(f => f.name === 'main')!;
  main.blocks = [{ id: 0, instrs: [{ op: 'const', dst: 0, value: 8 }, { op: 'call', dst: 1, func: 'implied', args: [0] }], term: { op: 'return', value: 1 } }];
  main.vregCount = Math.max(main.vregCount, 2);
  main.slots = [];
  const r = runModule(m);
  t.regex(r.serial + (r.error ?? ''), /index out of bounds/);
});

/** main replaced by `return f(argument)`: runs one call of the module on the interpreter. */
function callOnce(m: ir.Module, name: string, argument: number): { serial: string; error?: string } {
  const main = m.functions.find(f => f.name === 'main')!;
  main.blocks = [{ id: 0, instrs: [{ op: 'const', dst: 0, value: argument }, { op: 'call', dst: 1, func: name, args: [0] }],
    term: { op: 'return', value: 1 } }];
  main.vregCount = Math.max(main.vregCount, 2);
  main.slots = [];
  return runModule(m);
}

test('one element past every implication: the check stays at -O2 and the index traps', t => {
  const boundary = join(ROOT, 'test', 'compiler', 'sources', 'checks-boundary.ts');
  const lower = () => {
    const r = compile({ files: [boundary], optimize: 0 });
    if (!r.module) throw new Error(JSON.stringify(r.diagnostics));
    return r.module;
  };
  const O0 = runModule(lower());
  t.is(runModule(optimize(lower())).serial, O0.serial, 'in bounds: -O2 prints what -O0 prints');
  t.deepEqual(parseProgramSerial(O0.serial), { stdout: '770\n70\n-1\n70\n-1\n6\n6\n3\n', stderr: '', status: 0 });
  const outOfBounds: [string, number][] = [
    ['longerByOne', 8], ['upToEight', 8], ['belowNine', 8], ['maskedSeven', 7], ['remainderSeven', 7],
    ['shiftedSeven', -1], ['loopToNine', 0],
  ];
  for (const [name, argument] of outOfBounds) {
    for (const level of [0, 2]) {
      const m = level === 0 ? lower() : optimize(lower());
      t.truthy(m.functions.find(f => f.name === name), `${name} -O${level} kept as a function`);
      const r = callOnce(m, name, argument);
      t.regex(r.serial + (r.error ?? ''), /index out of bounds/, `${name}(${argument}) -O${level}`);
    }
  }
});
