// The `denali` command as users and outside checks call it: `npx denali run --target T FILE.ts`
// prints exactly what the program printed and exits with main() & 255; bad input gets clear errors.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../tools/build.ts';

const scratch = mkdtempSync(join(tmpdir(), 'denali-cli-'));
const denali = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args], { encoding: 'utf8', cwd: scratch });

// A program outside the repository, as an outside check would write it.
const program = join(scratch, 'outside.ts');
writeFileSync(program, `import { i32, u32, print } from "dsl";
function gcd(a: i32, b: i32): i32 { while (b !== 0) { const t = a % b; a = b; b = t; } return a; }
export function main(): i32 {
  print(gcd(1071, 462));
  print(-42);
  const h: u32 = Math.imul(0x9e3779b9 | 0, 7) >>> 0;
  print(h);
  return 300;
}
`);
const expected = '21\n-42\n1401181199\n';

for (const target of ['interp', 'qemu', 'node', 'node --plain']) {
  test(`run --target ${target}: exact stdout and main() & 255`, t => {
    const r = denali('run', '--target', ...target.split(' '), program);
    t.is(r.stdout, expected, r.stderr);
    t.is(r.status, 300 & 255);
  });
}

// Issue 12, item 7: a module that imports the entry file back must see the entry module itself (one
// instance): outside any package, where Node loads the files as CommonJS.
const cyclicEntry = join(scratch, 'cyclic-entry.ts');
writeFileSync(cyclicEntry, `import { i32, print } from "dsl";
import { addFive } from "./cyclic-partner.ts";
export let total: i32 = 10;
export function bump(): void { total = total + 5; }
export function main(): i32 {
  addFive();
  print(total);
  return 0;
}
`);
writeFileSync(join(scratch, 'cyclic-partner.ts'), `import { bump } from "./cyclic-entry.ts";
export function addFive(): void { bump(); }
`);

for (const target of ['interp', 'node', 'node --plain']) {
  test(`run --target ${target}: imports that cycle back to the entry file load it once`, t => {
    const r = denali('run', '--target', ...target.split(' '), cyclicEntry);
    t.is(r.stdout, '15\n', r.stderr);
    t.is(r.status, 0);
  });
}

test('a program outside the subset exits 2 with tsc-style diagnostics on stderr', t => {
  const bad = join(scratch, 'bad.ts');
  writeFileSync(bad, 'import { i32 } from "dsl";\nexport function main(): i32 {\n  const f = (x: i32): i32 => x;\n  return f(1);\n}\n');
  const r = denali('run', '--target', 'interp', bad);
  t.is(r.status, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /bad\.ts:3:13 - error DSL1003: closures are not supported/);
});

test('a trap exits 101 with its message on stderr, after the output so far', t => {
  const trap = join(scratch, 'trap.ts');
  writeFileSync(trap, 'import { i32, print } from "dsl";\nlet zero: i32 = 0;\nexport function main(): i32 {\n  print(1);\n  print(10 / zero);\n  return 0;\n}\n');
  for (const target of ['interp', 'qemu', 'node']) {
    const r = denali('run', '--target', target, trap);
    t.is(r.stdout, '1\n', target);
    t.is(r.status, 101, target);
    t.regex(r.stderr, /trap: integer division by zero/, target);
  }
});

test('output without a final newline keeps its exit status, and a trap after it its message', t => {
  const partial = join(scratch, 'partial.ts');
  writeFileSync(partial, 'import { i32, write } from "dsl";\nexport function main(): i32 {\n  write("abc");\n  return 3;\n}\n');
  const trap = join(scratch, 'partial-trap.ts');
  writeFileSync(trap, 'import { i32, write } from "dsl";\nconst a = new Int32Array(2);\n'
    + 'export function main(): i32 {\n  write("abc");\n  write(a[2]);\n  return 0;\n}\n');
  for (const target of ['interp', 'qemu', 'node']) {
    const r = denali('run', '--target', target, partial);
    t.is(r.stdout, 'abc', target);
    t.is(r.status, 3, `${target}: ${r.stderr}`);
    const trapped = denali('run', '--target', target, trap);
    t.is(trapped.stdout, 'abc', target);
    t.is(trapped.status, 101, target);
    t.regex(trapped.stderr, /trap: index out of bounds/, target);
  }
});

test('--help lists the commands; a bad option gets a zod message naming it', t => {
  const help = denali('--help');
  t.is(help.status, 0);
  for (const c of ['build', 'run', 'boot']) t.regex(help.stdout, new RegExp(`denali ${c}`));
  const bad = denali('run', '--target', 'arm', program);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--target: --target must be one of/);
  const plain = denali('run', '--target', 'interp', '--plain', program);
  t.is(plain.status, 2);
  t.regex(plain.stderr, /--plain: --plain applies to --target node only/);
  const missing = denali('run', '--target', 'interp');
  t.is(missing.status, 2);
  t.regex(missing.stderr, /--file: a FILE\.ts to run is required/);
});
