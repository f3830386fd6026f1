// compiler/passes/fuse-copies.ts and two -O2 lowerings it enables: the loop update `t = add i, 1;
// i = copy t` becomes `i = add i, 1` (one `add` on i's register), and a bounds check compares the
// index with the array's length in memory (`cmp r, [a - 4]`, the load folded into the comparison), as does
// loop versioning's test before the loop.
import test from 'ava';
import { join } from 'node:path';
import type * as ir from '../../compiler/ir.ts';
import { fuseCopies } from '../../compiler/passes/fuse-copies.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { compileOrThrow, programImage, ROOT } from '../../tools/build.ts';

test('fuse-copies: a value computed only to be copied is computed in the copy\'s destination', t => {
  const f: ir.Function = {
    name: 'main', params: 1, returnsValue: true, vregCount: 4, slots: [],
    blocks: [{ id: 0, instrs: [
      { op: 'const', dst: 1, value: 1 },
      { op: 'binary', kind: 'add', dst: 2, a: 0, b: 1 },
      { op: 'copy', dst: 0, src: 2 },
      { op: 'binary', kind: 'add', dst: 3, a: 0, b: 1 },
    ], term: { op: 'return', value: 3 } }],
  };
  const m = { functions: [f], data: [], entry: 'main', trapHandler: 'main' } as unknown as ir.Module;
  fuseCopies(m);
  verifyModule(m);
  t.deepEqual(f.blocks[0].instrs, [
    { op: 'const', dst: 1, value: 1 },
    { op: 'binary', kind: 'add', dst: 0, a: 0, b: 1 },
    { op: 'binary', kind: 'add', dst: 3, a: 0, b: 1 },
  ]);
});

test('-O2 loop: i++ is one add on a register, the bounds check reads the length from memory', t => {
  const module = compileOrThrow({ files: [join(ROOT, 'test', 'compiler', 'sources', 'bounds-loop.ts')] });
  const listing = programImage(module, 2).listing.split(/\n(?=\S)/).find(s => s.startsWith('total:'))!;
  t.regex(listing, /add\s+e(ax|bx|cx|dx|si|di|bp),1\n/);
  // an array passed in: its length word lies at [a - 4]; loop versioning's test `n <= a.length` and the check
  // of the original loop (the copy the test enters has none) compare with it in memory
  t.is(listing.match(/cmp\s+e\w\w,\[e\w\w-4\]/g)?.length, 2, 'the bounds check compares with the length in memory');
  t.notRegex(listing, /mov\s+e\w\w,\[e\w\w-4\]/, 'no separate load of the length');
});
