// Runs a DSL program under Node: `node tools/node-run.mjs [--plain] FILE.ts`. Prints what the program
// prints; exits with main() & 255, or 101 with the message on stderr after a trap, a panic or a stack
// overflow, or 2 with the diagnostics when the program is outside the DSL (the program contract in
// dsl/README.md). By default in faithful mode: the program is compiled and re-emitted as TypeScript with
// the DSL's semantics explicit (compiler/typescript/emit.ts), and that runs. --plain runs the file itself,
// unchanged, as TypeScript: the same output only for a program that stays portable.
// tsx is registered for the whole process (not tsImport's private namespace): a module that imports the
// entry file back (an import cycle) must get the entry module itself, not a second instance of it.
import { register } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolve, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

register('./node-hooks.mjs', import.meta.url);
const args = process.argv.slice(2);
const plain = args.includes('--plain');
const file = args.find(a => !a.startsWith('--'));
if (!file) { console.error('usage: node-run [--plain] FILE.ts'); process.exit(2); }
// The project's tsconfig maps "dsl" for require() too (a program outside any package is loaded as CommonJS).
process.env.TSX_TSCONFIG_PATH = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const { register: registerEsm } = await import('tsx/esm/api');
const { register: registerCjs } = await import('tsx/cjs/api');
registerEsm();
registerCjs();

if (plain) {
  const program = await import(pathToFileURL(resolve(file)).href);
  // A CommonJS module's exports arrive as the namespace's default export.
  const main = program.main ?? program.default?.main;
  if (typeof main !== 'function') { console.error(`${file}: no exported function main()`); process.exit(2); }
  const status = main();
  process.exitCode = Number(status) & 255;
} else {
  const { emitFaithfulProgram } = await import('../compiler/typescript/emit.ts');
  const { formatDiagnostic } = await import('../compiler/frontend/diagnostics.ts');
  const { runProgram } = await import('../dsl/faithful.ts');
  const dir = mkdtempSync(join(tmpdir(), 'denali-node-'));
  try {
    const emitted = emitFaithfulProgram(resolve(file), dir);
    if (!emitted.entry) { console.error(emitted.diagnostics.map(formatDiagnostic).join('\n')); process.exit(2); }
    const program = await import(pathToFileURL(emitted.entry).href);
    const { status, stderr } = runProgram(() => program.main());
    process.stderr.write(stderr);
    process.exitCode = status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
