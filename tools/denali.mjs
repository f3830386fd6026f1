#!/usr/bin/env node
// The `denali` command (package.json bin): loads the TypeScript CLI through tsx.
import { tsImport } from 'tsx/esm/api';
const { main } = await tsImport('./cli.ts', import.meta.url);
process.exitCode = await main(process.argv.slice(2));
