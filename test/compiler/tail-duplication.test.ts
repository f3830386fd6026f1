// compiler/passes/tail-duplication.ts: a loop's latch that jumps back to a small header gets a copy of
// the header's test, with a fresh register for the comparison that only the header used.
import test from 'ava';
import type * as ir from '../../compiler/ir.ts';
import { duplicateTails } from '../../compiler/passes/tail-duplication.ts';
import { verifyModule } from '../../compiler/verify.ts';

test('tail-duplication: the latch tests the loop condition itself', t => {
  // b0: i = 0; jump b1   b1: c = lts i, n; branch c, b2, b3   b2: i = add i, one; jump b1   b3: return i
  const f: ir.Function = {
    name: 'main', params: 1, returnsValue: true, vregCount: 5, slots: [],
    blocks: [
      { id: 0, instrs: [{ op: 'const', dst: 1, value: 0 }, { op: 'copy', dst: 2, src: 1 }, { op: 'const', dst: 4, value: 1 }], term: { op: 'jump', target: 1 } },
      { id: 1, instrs: [{ op: 'binary', kind: 'lts', dst: 3, a: 2, b: 0 }], term: { op: 'branch', cond: 3, ifTrue: 2, ifFalse: 3 } },
      { id: 2, instrs: [{ op: 'binary', kind: 'add', dst: 2, a: 2, b: 4 }], term: { op: 'jump', target: 1 } },
      { id: 3, instrs: [], term: { op: 'return', value: 2 } },
    ],
  };
  const m = { functions: [f], data: [], entry: 'main', trapHandler: 'main' } as unknown as ir.Module;
  duplicateTails(m);
  verifyModule(m);
  t.deepEqual(f.blocks[2].instrs, [
    { op: 'binary', kind: 'add', dst: 2, a: 2, b: 4 },
    { op: 'binary', kind: 'lts', dst: 6, a: 2, b: 0 },
  ]);
  t.deepEqual(f.blocks[2].term, { op: 'branch', cond: 6, ifTrue: 2, ifFalse: 3 });
  t.deepEqual(f.blocks[0].term, { op: 'branch', cond: 5, ifTrue: 2, ifFalse: 3 }, 'the entry jumps into the header too');
});
