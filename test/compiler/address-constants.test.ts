// A data symbol's address, and that address plus a constant (an array's first element lies 4 bytes
// past its length word), is a link-time constant at -O2 (compiler/x86/regalloc.ts `addresses`): it
// takes no register and no instruction, and is folded into operands as an absolute disp32/imm32.
import test from 'ava';
import { join } from 'node:path';
import { compileOrThrow, programImage, ROOT } from '../../tools/build.ts';
import { runQemu, parseProgramSerial } from '../../tools/qemu.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

test('-O2: a global array is addressed absolutely: [i*4 + address]; its length is a constant', async t => {
  const image = programImage(compileOrThrow({ files: [join(ROOT, 'test', 'compiler', 'sources', 'bounds-loop.ts')] }), 2);
  const main = image.listing.split(/\n(?=\S)/).find(s => s.startsWith('main:'))!;
  const values = image.symbols.get('values')!.address;
  const hex = (n: number) => n.toString(16).toUpperCase();
  // (the sum's `add` reads it: the load is that add's memory operand, compiler/x86/fusion.ts aluLoadFolds)
  t.regex(main, new RegExp(`(mov|add)\\s+e\\w\\w,\\[e\\w\\w\\*4\\+${hex(values + 4)}h\\]`),
    'the load: one instruction, the index scaled, the address a displacement');
  // a module-level array's length is known at compile time: the bounds check compares with 16
  t.notRegex(main, /cmp\s+e\w\w,(ds:)?\[/, 'no bounds check reads a length from memory');
  t.regex(main, /cmp\s+e\w\w,10h/);
  t.notRegex(main, new RegExp(`mov\\s+e\\w\\w,${hex(values)}h`), 'the address is never loaded into a register');
  const elf = join(mkdtempSync(join(tmpdir(), 'denali-addr-')), 'a.elf');
  writeFileSync(elf, image.elf);
  const run = await runQemu({ kernel: elf }, { timeoutMs: 60_000 });
  t.is(parseProgramSerial(run.serial).stdout, `${3 * (15 * 16) / 2}\n`.repeat(2) + `${3 * (7 * 8) / 2}\n`);
});

test('-O0 keeps loading addresses into registers (every vreg in its home)', t => {
  const image = programImage(compileOrThrow({ files: [join(ROOT, 'test', 'compiler', 'sources', 'bounds-loop.ts')], optimize: 0 }), 0);
  const main = image.listing.split(/\n(?=\S)/).find(s => s.startsWith('main:'))!;
  const values = image.symbols.get('values')!.address;
  t.regex(main, new RegExp(`mov\\s+eax,${values.toString(16).toUpperCase()}h`));
});
