// Runs a DSL program as plain TypeScript under Node: `node tools/node-run.mjs FILE.ts`.
// Prints what the program prints; exits with main() & 255 (the program contract in dsl/README.md).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { tsImport } from 'tsx/esm/api';

register('./node-hooks.mjs', import.meta.url);
const file = process.argv[2];
if (!file) { console.error('usage: node-run FILE.ts'); process.exit(2); }
const program = await tsImport(pathToFileURL(resolve(file)).href, import.meta.url);
if (typeof program.main !== 'function') { console.error(`${file}: no exported function main()`); process.exit(2); }
const status = program.main();
process.exitCode = Number(status) & 255;
