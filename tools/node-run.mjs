// Runs a DSL program as plain TypeScript under Node: `node tools/node-run.mjs FILE.ts`.
// Prints what the program prints; exits with main() & 255 (the program contract in dsl/README.md).
import { register } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { tsImport } from 'tsx/esm/api';

register('./node-hooks.mjs', import.meta.url);
const file = process.argv[2];
if (!file) { console.error('usage: node-run FILE.ts'); process.exit(2); }
// The project's tsconfig maps "dsl" for require() too (a program outside any package is loaded as CommonJS).
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const program = await tsImport(pathToFileURL(resolve(file)).href, { parentURL: import.meta.url, tsconfig });
if (typeof program.main !== 'function') { console.error(`${file}: no exported function main()`); process.exit(2); }
const status = program.main();
process.exitCode = Number(status) & 255;
