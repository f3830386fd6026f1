// Every file in test/negative/ is outside the subset in one way: the compiler must reject it with the
// code named in its `// error: CODE` line, and its exact diagnostics must match NAME.expected (golden).
// Regenerate the golden files with: UPDATE_GOLDEN=1 npx ava test/corpus/negative.test.ts
import test from 'ava';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../compiler/pipeline.ts';
import { formatDiagnostic } from '../../compiler/frontend/diagnostics.ts';
import { matchGolden } from '../harness/golden.ts';
import { ROOT } from '../../tools/build.ts';

const dir = join(ROOT, 'test', 'negative');
const files = existsSync(dir) ? readdirSync(dir).filter(f => f.endsWith('.ts')).sort() : [];

test('there are at least 25 negative tests', t => { t.true(files.length >= 25, `${files.length} negative tests`); });

for (const name of files) {
  test(name, t => {
    const file = join(dir, name);
    const source = readFileSync(file, 'utf8');
    const code = /^\/\/ error: (\w+)/m.exec(source)?.[1];
    t.truthy(code, 'the file names its expected code with // error: CODE');
    const result = compile({ files: [file] });
    t.is(result.module, undefined, 'the compiler must reject this program');
    t.true(result.diagnostics.length > 0);
    const text = result.diagnostics.map(formatDiagnostic).join('\n') + '\n';   // what the CLI prints
    t.true(result.diagnostics.some(d => d.code === code), `expected ${code}, got:\n${text}`);
    t.regex(text, /^test\/negative\/[\w.-]+\.ts:\d+:\d+ - error (DSL|TS)\d+: /, 'tsc-style format');
    matchGolden(t, file.replace(/\.ts$/, '.expected'), text, 'the diagnostics');
  });
}
