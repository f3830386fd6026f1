// compiler/passes/loop-layout.ts: a loop's blocks become contiguous; its exit and its trap block move
// after the latch, every target renamed, the entry still block 0.
import test from 'ava';
import type * as ir from '../../compiler/ir.ts';
import { layoutLoops } from '../../compiler/passes/loop-layout.ts';
import { verifyModule } from '../../compiler/verify.ts';

test('loop-layout: the exit and the trap laid out inside the loop move after the latch', t => {
  // b0 -> b1 (header: branch b3 body / b2 exit); b3: branch b5 / b4 trap; b5 latch -> b1
  const ret: ir.Terminator = { op: 'return', value: 0 };
  const f: ir.Function = {
    name: 'main', params: 1, returnsValue: true, vregCount: 1, slots: [],
    blocks: [
      { id: 0, instrs: [], term: { op: 'jump', target: 1 } },
      { id: 1, instrs: [], term: { op: 'branch', cond: 0, ifTrue: 3, ifFalse: 2 } },
      { id: 2, instrs: [], term: ret },
      { id: 3, instrs: [], term: { op: 'branch', cond: 0, ifTrue: 5, ifFalse: 4 } },
      { id: 4, instrs: [{ op: 'trap', kind: 2 }], term: { op: 'unreachable' } },
      { id: 5, instrs: [], term: { op: 'jump', target: 1 } },
    ],
  };
  const m = { functions: [f], data: [], entry: 'main', trapHandler: 'main' } as unknown as ir.Module;
  layoutLoops(m);
  verifyModule(m);
  // new order: b0, b1, b3, b5 (the loop), b2, b4
  t.deepEqual(f.blocks.map(b => b.id), [0, 1, 2, 3, 4, 5]);
  t.deepEqual(f.blocks.map(b => b.term), [
    { op: 'jump', target: 1 },
    { op: 'branch', cond: 0, ifTrue: 2, ifFalse: 4 },
    { op: 'branch', cond: 0, ifTrue: 3, ifFalse: 5 },
    { op: 'jump', target: 1 },
    ret,
    { op: 'unreachable' },
  ]);
});
