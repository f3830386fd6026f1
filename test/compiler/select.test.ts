// The `select` instruction through the IR helpers, the printer, the verifier and the passes that switch on
// ops: fold (a known condition, one register twice), cse, copy propagation, dce, licm, inline.
import test from 'ava';
import type * as ir from '../../compiler/ir.ts';
import { definedRegister, usedRegisters } from '../../compiler/ir.ts';
import { printInstr } from '../../compiler/print.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { foldConstants } from '../../compiler/passes/fold.ts';
import { eliminateCommonSubexpressions } from '../../compiler/passes/cse.ts';
import { propagateCopies } from '../../compiler/passes/copy-propagation.ts';
import { eliminateDeadCode } from '../../compiler/passes/dce.ts';
import { hoistLoopInvariants } from '../../compiler/passes/licm.ts';
import { inlineSmallFunctions } from '../../compiler/passes/inline.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';

const select = (dst: number, cond: number, ifTrue: number, ifFalse: number): ir.Instr => ({ op: 'select', dst, cond, ifTrue, ifFalse });
const moduleOf = (...functions: ir.Function[]): ir.Module => ({ functions, data: [], entry: functions[0].name, trapHandler: functions[0].name });
const single = (params: number, vregCount: number, instrs: ir.Instr[], value: number): ir.Function =>
  ({ name: 'main', params, returnsValue: true, vregCount, slots: [], blocks: [{ id: 0, instrs, term: { op: 'return', value } }] });

test('select: defines dst, reads cond, ifTrue and ifFalse; prints; verifies', t => {
  const i = select(3, 0, 1, 2);
  t.is(definedRegister(i), 3);
  t.deepEqual(usedRegisters(i), [0, 1, 2]);
  t.is(printInstr(i), 'v3 = select v0, v1, v2');
  t.notThrows(() => verifyModule(moduleOf(single(3, 4, [i], 3))));
  t.throws(() => verifyModule(moduleOf(single(3, 4, [select(3, 0, 1, 9)], 3))), { message: /v9 out of range/ });
});

test('fold: a select on a known condition is a copy (or const) of the chosen operand; one register twice is a copy', t => {
  const m = foldConstants(moduleOf(single(2, 8, [
    { op: 'const', dst: 2, value: 0 }, select(3, 2, 0, 1),        // cond 0: v1
    { op: 'const', dst: 4, value: -5 }, select(5, 4, 0, 1),       // cond -5: v0
    select(6, 0, 1, 1),                                            // v1 either way
    { op: 'const', dst: 7, value: 9 }, select(7, 0, 7, 7),        // 9 either way
  ], 7)));
  t.deepEqual(m.functions[0].blocks[0].instrs.map(printInstr), [
    'v2 = const 0', 'v3 = copy v1', 'v4 = const -5', 'v5 = copy v0', 'v6 = copy v1', 'v7 = const 9', 'v7 = const 9',
  ]);
});

test('cse, copy propagation, dce: a repeated select is reused, copies are read through, an unused select goes', t => {
  const m = moduleOf(single(3, 8, [
    { op: 'copy', dst: 3, src: 1 },
    select(4, 0, 3, 2),
    select(5, 0, 1, 2),
    select(6, 0, 2, 1),   // unused
    { op: 'binary', kind: 'add', dst: 7, a: 4, b: 5 },
  ], 7));
  propagateCopies(m);
  t.is(printInstr(m.functions[0].blocks[0].instrs[1]), 'v4 = select v0, v1, v2');
  eliminateCommonSubexpressions(m);
  t.is(printInstr(m.functions[0].blocks[0].instrs[2]), 'v5 = copy v4');
  eliminateDeadCode(m);
  t.false(m.functions[0].blocks[0].instrs.some(i => i.op === 'select' && i.dst === 6));
  verifyModule(m);
});

test('licm hoists an invariant select; inline renames one', t => {
  // f(n, a, b): i = 0; loop: s = select a, a, b; i = i + s; if (i < n) loop; return i
  const f: ir.Function = {
    name: 'f', params: 3, returnsValue: true, vregCount: 8, slots: [],
    blocks: [
      { id: 0, instrs: [{ op: 'const', dst: 3, value: 0 }, { op: 'copy', dst: 4, src: 3 }], term: { op: 'jump', target: 1 } },
      { id: 1, instrs: [select(5, 1, 1, 2), { op: 'binary', kind: 'add', dst: 4, a: 4, b: 5 }, { op: 'binary', kind: 'lts', dst: 6, a: 4, b: 0 }], term: { op: 'branch', cond: 6, ifTrue: 1, ifFalse: 2 } },
      { id: 2, instrs: [], term: { op: 'return', value: 4 } },
    ],
  };
  const m = hoistLoopInvariants(moduleOf(f));
  verifyModule(m);
  t.false(f.blocks[1].instrs.some(i => i.op === 'select'), 'the select left the loop');
  t.true(f.blocks[3].instrs.some(i => i.op === 'select'));
  const callee = single(3, 4, [select(3, 0, 1, 2)], 3);
  callee.name = 'pick';
  const main = single(0, 5, [
    { op: 'const', dst: 0, value: 0 }, { op: 'const', dst: 1, value: 11 }, { op: 'const', dst: 2, value: 22 },
    { op: 'call', dst: 3, func: 'pick', args: [0, 1, 2] },
    { op: 'intrinsic', dst: null, name: 'outb', args: [4, 3] },
  ], 3);
  main.blocks[0].instrs.splice(3, 0, { op: 'const', dst: 4, value: 0xf4 });
  const trap: ir.Function = { name: 'trap', params: 1, returnsValue: false, vregCount: 1, slots: [], blocks: [{ id: 0, instrs: [], term: { op: 'unreachable' } }] };
  const inlined = inlineSmallFunctions({ ...moduleOf(main, callee, trap), trapHandler: 'trap' });
  verifyModule(inlined);
  t.false(main.blocks.some(b => b.instrs.some(i => i.op === 'call')));
  t.is(runModule(inlined).exitPortValue, 22);
});
