// Runs a DSL program as plain TypeScript under Node: `node tools/node-run.mjs FILE.ts`.
// Prints what the program prints; exits with main() & 255 (the program contract in dsl/README.md).
// tsx is registered for the whole process (not tsImport's private namespace): a module that imports the
// entry file back (an import cycle) must get the entry module itself, not a second instance of it.
import { register } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

register('./node-hooks.mjs', import.meta.url);
const file = process.argv[2];
if (!file) { console.error('usage: node-run FILE.ts'); process.exit(2); }
// The project's tsconfig maps "dsl" for require() too (a program outside any package is loaded as CommonJS).
process.env.TSX_TSCONFIG_PATH = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const { register: registerEsm } = await import('tsx/esm/api');
const { register: registerCjs } = await import('tsx/cjs/api');
registerEsm();
registerCjs();
const program = await import(pathToFileURL(resolve(file)).href);
// A CommonJS module's exports arrive as the namespace's default export.
const main = program.main ?? program.default?.main;
if (typeof main !== 'function') { console.error(`${file}: no exported function main()`); process.exit(2); }
const status = main();
process.exitCode = Number(status) & 255;
