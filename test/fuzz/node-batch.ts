// A child process of harness.ts: runs programs emitted in faithful mode (compiler/typescript/emit.ts)
// under Node, each through dsl/faithful.ts's runProgram with its output captured, and prints one JSON
// object: name -> { stdout, stderr, status } or { stdout, error } (the emitted program failed to load or
// threw something that is not a program stop: a bug of the faithful back end, never a program outcome).
// Usage: node --import tsx test/fuzz/node-batch.ts LIST.json   (LIST: [{ name, file, entry }])
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { runProgram } from '../../dsl/faithful.ts';

interface Entry { name: string; file: string; entry: string }
const entries = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Entry[];
const write = process.stdout.write.bind(process.stdout);
const results: Record<string, { stdout: string; stderr?: string; status?: number; error?: string }> = {};
for (const e of entries) {
  let stdout = '';
  (process.stdout as { write: unknown }).write = (s: string | Uint8Array) => {
    stdout += typeof s === 'string' ? s : Buffer.from(s).toString();
    return true;
  };
  try {
    const program = await import(pathToFileURL(e.file).href);
    const { status, stderr } = runProgram(() => program[e.entry]());
    results[e.name] = { stdout, stderr, status };
  } catch (error) {
    results[e.name] = { stdout, error: String((error as Error).message ?? error).split('\n')[0] };
  } finally {
    process.stdout.write = write;
  }
}
write(JSON.stringify(results));
