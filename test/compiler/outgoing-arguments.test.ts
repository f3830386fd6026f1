// -O2 calls store their arguments in the frame's outgoing argument area (compiler/x86/frame.ts):
// no esp adjustment around a call; -O0 still pushes and pops. Both run (test/corpus covers results).
import test from 'ava';
import { join } from 'node:path';
import { compileOrThrow, programImage, ROOT } from '../../tools/build.ts';

const source = join(ROOT, 'test', 'compiler', 'sources', 'passes.ts');
const mainOf = (listing: string) => listing.split(/\n(?=\S)/).find(s => s.startsWith('main:'))!;
const pushes = (code: string) => code.split('\n').filter(l => /\spush\s/.test(l) && !/push\s+ebp$/.test(l)).length;

test('-O2: arguments go to [esp + 4*i], nothing is pushed or popped around a call', t => {
  const main = mainOf(programImage(compileOrThrow({ files: [source] }), 2).listing);
  t.regex(main, /mov\s+dword ptr \[esp\],8\n\s+\S+\s+\S+\s+call/);
  t.regex(main, /mov\s+dword ptr \[esp\+4\],2\n/);   // invariant(1, 2)
  // esp moves only in the prologue and the epilogue (main has no frame pointer): sub esp, N ... add esp, N; ret
  const frame = /sub\s+esp,(\w+)/.exec(main)![1];
  t.deepEqual([...main.matchAll(/(add|sub)\s+esp,(\w+)/g)].map(m => m[0].replace(/\s+/, ' ')), [`sub esp,${frame}`, `add esp,${frame}`]);
  t.regex(main, /add\s+esp,\w+\n\s+\S+\s+\S+\s+ret/);
  t.is(pushes(main), 0);
});

test('-O0: calls push their arguments and pop them', t => {
  const main = mainOf(programImage(compileOrThrow({ files: [source], optimize: 0 }), 0).listing);
  t.true(pushes(main) > 0);
  t.regex(main, /add\s+esp,10h/);
});
