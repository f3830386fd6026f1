// Contract: the editor plugin (dsl/plugin/) seen as an editor sees it: tsserver (the TypeScript package's
// server, over its stdio protocol) opens files of this repository's configured project, whose tsconfig.json
// lists the plugin, and reports the subset checker's diagnostics on a DSL file: a closure (DSL1003) and an
// `any` (DSL1001) at their exact ranges, with the checker's messages; none on a valid DSL file nor on a host
// file full of closures. tsserver finds plugins under a node_modules folder; the test's probe location holds
// node_modules/dsl linked to this checkout's dsl/, as npm's `file:dsl` dependency links it.
import test from 'ava';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/build.ts';

interface Location { line: number; offset: number }
interface ServerDiagnostic {
  start: Location; end: Location; text: string; code: number; category: string; source?: string;
}
interface Response { request_seq: number; success: boolean; body?: unknown; message?: string }

/** A tsserver process; request() sends one command and resolves with its response. */
class TsServer {
  private readonly process: ChildProcessWithoutNullStreams;
  private buffer = Buffer.alloc(0);
  private seq = 0;
  private readonly waiting = new Map<number, (r: Response) => void>();

  constructor(args: string[]) {
    this.process = spawn(process.execPath, [join(ROOT, 'node_modules/typescript/lib/tsserver.js'), ...args],
      { cwd: ROOT });
    this.process.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
  }

  /** Messages come as `Content-Length: N\r\n\r\n` and N bytes of JSON. */
  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const header = this.buffer.indexOf('\r\n\r\n');
      if (header < 0) return;
      const length = Number(/Content-Length: (\d+)/.exec(this.buffer.subarray(0, header).toString())![1]);
      if (this.buffer.length < header + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(header + 4, header + 4 + length).toString());
      this.buffer = this.buffer.subarray(header + 4 + length);
      if (message.type === 'response') this.waiting.get(message.request_seq)?.(message);
    }
  }

  request(command: string, args: object): Promise<Response> {
    const seq = ++this.seq;
    this.process.stdin.write(JSON.stringify({ seq, type: 'request', command, arguments: args }) + '\n');
    return new Promise(resolve => this.waiting.set(seq, resolve));
  }

  /** Opens `file` (with `content` instead of the file's own text, if given) and returns its semantic diagnostics. */
  async diagnostics(file: string, content?: string): Promise<ServerDiagnostic[]> {
    this.process.stdin.write(JSON.stringify({ seq: ++this.seq, type: 'request', command: 'open',
      arguments: { file, ...(content === undefined ? {} : { fileContent: content }) } }) + '\n');
    const response = await this.request('semanticDiagnosticsSync', { file });
    if (!response.success) throw new Error(`semanticDiagnosticsSync ${file}: ${response.message}`);
    return response.body as ServerDiagnostic[];
  }

  close(): void { this.process.kill(); }
}

const probe = mkdtempSync(join(tmpdir(), 'denali-plugin-'));
mkdirSync(join(probe, 'node_modules'));
symlinkSync(join(ROOT, 'dsl'), join(probe, 'node_modules', 'dsl'));
const server = new TsServer(['--pluginProbeLocations', probe, '--disableAutomaticTypingAcquisition']);
test.after.always(() => { server.close(); rmSync(probe, { recursive: true, force: true }); });

// An existing file of the project (so tsconfig.json applies), opened with this text instead of its own.
const CLOSURE_AND_ANY = [
  'import { i32 } from "dsl";',
  'export function main(): i32 {',
  '  const double = (x: i32): i32 => x * 2;',
  '  let scratch: any = 0;',
  '  return double(scratch);',
  '}',
  '',
].join('\n');

test('tsconfig.json lists the plugin by the path tsserver resolves under node_modules', t => {
  const config = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));
  t.deepEqual(config.compilerOptions.plugins, [{ name: 'dsl/plugin/index.cjs' }]);
  t.is(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies.dsl, 'file:dsl');
});

test('a closure and an any: DSL1003 and DSL1001 at their ranges, with the checker\'s messages', async t => {
  const found = await server.diagnostics(join(ROOT, 'test/programs/adler32.ts'), CLOSURE_AND_ANY);
  const fields = found.map(({ start, end, code, source, category, text }) =>
    ({ start, end, code, source, category, text }));
  t.deepEqual(fields, [
    { start: { line: 3, offset: 18 }, end: { line: 3, offset: 40 }, code: 1003, source: 'DSL', category: 'error',
      text: 'closures are not supported: arrow function (write a top-level function and pass its name)' },
    { start: { line: 4, offset: 16 }, end: { line: 4, offset: 19 }, code: 1001, source: 'DSL', category: 'error',
      text: "type 'any' is not supported: give the value a DSL type (i32, u32, bool, ...)" },
  ]);
});

test('a valid DSL file (the web server guest) has no diagnostics at all', async t => {
  t.deepEqual(await server.diagnostics(join(ROOT, 'guest-src/apps/httpd.ts')), []);
});

test('a host file (not importing "dsl") keeps its closures: no DSL diagnostics', async t => {
  const file = join(ROOT, 'tools/hygiene.ts');
  t.true(readFileSync(file, 'utf8').includes('=>'));
  t.deepEqual(await server.diagnostics(file), []);
});
