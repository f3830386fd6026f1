// Contract: the house rules hold over the whole tree (tools/hygiene.ts): `tsc --noEmit -p .` is clean, no
// export is dead, no file is over its long-line allowance and no allowance is stale. The checkers are
// first shown to find what they look for in a small fixture project: a dead export beside each way an
// export can be used or exempted, a type error, a file over its allowance and a stale allowance.
import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../../tools/build.ts';
import {
  HOUSE, LINE_LIMIT, loadProject, typeErrors, deadExports, longLineCounts, longLines, trackedTextFiles,
  readAllowances, type Exemptions, type Project,
} from '../../tools/hygiene.ts';

const scratch = mkdtempSync(join(tmpdir(), 'denali-hygiene-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

function fixture(name: string, files: Record<string, string>): string {
  const root = join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

const TSCONFIG = JSON.stringify({
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
    allowImportingTsExtensions: true, skipLibCheck: true, types: [] },
  include: ['.'],
});

const FIXTURE_EXEMPTIONS: Exemptions = {
  entryNames: new Set(['main']), runtimeFiles: new Set(['runtime.ts']), programDirs: ['programs/'],
  temporaryDirs: ['later/'],
};

test('deadExports: finds exactly the exports no other file uses, whatever the way they are used', t => {
  const root = fixture('dead', {
    'tsconfig.json': TSCONFIG,
    'package.json': '{ "type": "module" }',
    'lib.ts': [
      'export function imported(): number { return 1; }',
      'export function dead(): number { return 2; }',                  // used only here: dead
      'export const viaNamespace = dead();',
      'export const viaQualifiedName = 3;',
      'export interface ViaImportType { x: number }',
      'export type Reexported = string;',
      'export function main(): number { return 0; }',                   // an entry: reached by name
      'const local = 4;',
      'export { local as renamed };',
      'export const throughDefault = 5;',
      'export const fromScript = 6;',
      'export const destructured = 7;',
      'export const fromCommonJs = 8;',
    ].join('\n'),
    'index.ts': [
      "export { imported } from './lib.ts';",
      "export { throughDefault } from './lib.ts';",                    // re-exported, imported from nowhere: dead
      "export type { Reexported } from './lib.ts';",
    ].join('\n'),
    'app.ts': [
      "import { imported, type Reexported } from './index.ts';",
      "import * as lib from './lib.ts';",
      "import { renamed } from './lib.ts';",
      'type Q = lib.ViaImportType | typeof lib.viaQualifiedName;',
      "type I = import('./lib.ts').ViaImportType;",
      'export const sum = (q: Q, i: I, r: Reexported) => imported() + lib.viaNamespace + renamed + i.x + r.length;',
    ].join('\n'),
    'user.ts': [
      "import { sum } from './app.ts';",
      'void sum;',
      "const { destructured: d } = await import('./lib.ts');",
      'void d;',
    ].join('\n'),
    'tool.mjs': "const { fromScript } = await import('./lib.ts');\nexport const notJudged = fromScript;\n",
    'plugin.cjs': "/** @type {typeof import('./lib.ts')} */\nconst lib = require('./loader');\n"
      + 'module.exports = lib.fromCommonJs;\n',
    'runtime.ts': 'export function print(): void {}\n',                // the compiler calls it by name
    'programs/p.ts': 'export function entryByName(): void {}\nexport function neverNamed(): void {}\n',
    'runner.ts': "export const ENTRY = 'entryByName';\n",
    'later/split.ts': 'export const waits = 1;\n',                      // exempt for now
  });
  const project = loadProject(root);
  t.deepEqual(typeErrors(project), []);
  const dead = deadExports(project, FIXTURE_EXEMPTIONS).map(d => `${d.file}:${d.line} ${d.name}`);
  t.deepEqual(dead, ['index.ts:2 throughDefault', 'lib.ts:2 dead', 'programs/p.ts:2 neverNamed', 'runner.ts:1 ENTRY']);
});

test('typeErrors: reports what tsc reports, with file and line', t => {
  const root = fixture('types', {
    'tsconfig.json': TSCONFIG,
    'a.ts': 'export const n: number = "text";\n',
  });
  const errors = typeErrors(loadProject(root));
  t.is(errors.length, 1);
  t.regex(errors[0], /^a\.ts\(1,14\): error TS2322: Type 'string' is not assignable to type 'number'\./);
});

test('longLines: a file over its allowance fails, and so does an allowance above the count', t => {
  const long = 'x'.repeat(LINE_LIMIT + 1), limit = 'y'.repeat(LINE_LIMIT);
  const root = fixture('long', {
    'two.ts': `${long}\n${limit}\n${long}\n`,
    'one.md': `${long}\n`,
    'none.sh': `${limit}\n`,
    'later/wide.ts': `${long}\n`,
  });
  const counts = longLineCounts(root, ['two.ts', 'one.md', 'none.sh', 'later/wide.ts', 'gone.ts']);
  t.deepEqual([...counts], [['two.ts', 2], ['one.md', 1], ['later/wide.ts', 1]]);
  t.deepEqual(longLines(counts, { 'two.ts': 2, 'one.md': 1 }, FIXTURE_EXEMPTIONS), { over: [], stale: [] });
  const { over, stale } = longLines(counts, { 'two.ts': 1, 'none.sh': 1 }, FIXTURE_EXEMPTIONS);
  t.deepEqual(over, ['two.ts: 2 lines over 120 columns (allowed 1)', 'one.md: 1 lines over 120 columns (allowed 0)']);
  t.deepEqual(stale, ['none.sh: allowed 1, has 0: lower its entry in tools/long-lines.json']);
});

// ---- the tree itself ---------------------------------------------------------------------------------

let loaded: Project | undefined;
const tree = (): Project => loaded ??= loadProject(ROOT);

test('the tree: tsc --noEmit -p . reports nothing', t => {
  t.deepEqual(typeErrors(tree()), []);
});

test('the tree: every export is used by another file or reached by name', t => {
  const dead = deadExports(tree(), HOUSE).map(d => `${d.file}:${d.line}: export '${d.name}' is used by no other file`);
  t.deepEqual(dead, [], 'delete it, or drop `export` if its own file uses it');
});

test('the tree: no file over its long-line allowance (tools/long-lines.json), no stale allowance', t => {
  const { over, stale } = longLines(longLineCounts(ROOT, trackedTextFiles(ROOT)), readAllowances(), HOUSE);
  t.deepEqual(over, [], 'rewrap the new lines to 120 columns');
  t.deepEqual(stale, [], 'the count went down: lower the allowance to match');
});
