// Tail calls (compiler/x86/lower.ts): a self-recursive `return f(...)` becomes argument stores and a jmp.
import test from 'ava';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { compile } from '../../compiler/pipeline.ts';
import { ROOT, programImage } from '../../tools/build.ts';
import { runQemu, parseProgramSerial } from '../../tools/qemu.ts';

test('a million-deep self-recursive tail call runs in constant stack at -O2', async t => {
  const r = compile({ files: [join(ROOT, 'test', 'compiler', 'sources', 'tail-call.ts')] });
  if (!r.module) return t.fail();
  const image = programImage(r.module, 2);
  const count = image.listing.split(/\n(?=\S)/).find(s => s.startsWith('count:'))!;
  t.regex(count, /jmp\s+/);
  t.notRegex(count, /call\s+0*[0-9A-F]+h?\s*$/m, 'count calls nothing: the recursion is a jump');
  const elf = join(mkdtempSync(join(tmpdir(), 'denali-tail-')), 'tail.elf');
  writeFileSync(elf, image.elf);
  const run = await runQemu({ kernel: elf }, { timeoutMs: 60_000 });
  t.is(parseProgramSerial(run.serial).stdout, `${(1000000 * 1000001 / 2) | 0}\n`);
});
