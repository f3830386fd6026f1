// The x86 listing (iced-x86's formatter, with the source line of each block) of a small program is
// stable: compared with a golden file. Regenerate with UPDATE_GOLDEN=1.
import test from 'ava';
import { matchGolden } from '../harness/golden.ts';
import { join } from 'node:path';
import { compile } from '../../compiler/pipeline.ts';
import { compileToImage } from '../../compiler/link/index.ts';
import { ROOT } from '../../tools/build.ts';

test('listing of test/compiler/sources/passes.ts at -O2 matches its golden file', t => {
  const r = compile({ files: [join(ROOT, 'test', 'compiler', 'sources', 'passes.ts')] });
  if (!r.module) return t.fail();
  const listing = compileToImage(r.module).listing;
  // Only the program's own functions: the runtime's code may change without this test caring.
  const sections = listing.split(/\n(?=\S)/);
  const own = sections.filter(s => /^(folded|divides|main):/.test(s.split('\n')[0])).join('\n').replaceAll(ROOT + '/', '');
  t.true(own.includes('passes.ts:'), 'blocks carry their source lines');
  matchGolden(t, join(ROOT, 'test', 'compiler', 'golden', 'passes.O2.lst'), own + '\n', 'the listing');
});
