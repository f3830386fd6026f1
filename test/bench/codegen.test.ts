// The codegen benchmark's programs (bench/codegen/NAME.ts) compile, and on the bytecode interpreter
// (fast; -O0 and -O2 modules) print the checksum in their `// expect:` line — the checksum their C
// twins print (npm run bench:codegen checks gcc and QEMU; no timings here). Each has a C twin.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { benchPrograms, expectedChecksum, compileBoth, parseBenchOutput, CODEGEN_DIR } from '../../bench/codegen.ts';

const names = benchPrograms();

test('at least 12 benchmark programs, each with its C twin', t => {
  t.true(names.length >= 12, `${names.length} programs`);
  for (const name of names) t.true(existsSync(join(CODEGEN_DIR, `${name}.c`)), `${name}.c exists`);
});

for (const name of names) {
  test(`${name}: interpreter prints the expected checksum at -O0 and -O2`, t => {
    const expected = expectedChecksum(name);
    const modules = compileBoth(name);
    for (const level of [0, 2] as const) {
      const run = runModule(modules[level]);
      t.is(run.error, undefined, `-O${level}: interpreter error`);
      const out = parseBenchOutput(run.serial);
      t.is(out.checksum, expected, `-O${level}: checksum`);
      t.is(out.status, 0, `-O${level}: exit status`);
      t.true(Number.isInteger(out.count) && out.count > 0, `-O${level}: a count on line 2`);
    }
  });
}
