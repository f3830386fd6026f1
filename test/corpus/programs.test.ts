// The corpus binds the targets together: every program in test/programs/ runs on the bytecode
// interpreter (the reference) and natively in QEMU, each at -O0 and -O2, under Node in faithful mode
// (the DSL's semantics made explicit) and, where portable, under plain Node (the file itself); every
// run must print exactly the program's `// expect:` lines and exit with its `// exit:` status.
import test from 'ava';
import { readdirSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { compile, optimize } from '../../compiler/pipeline.ts';
import { formatDiagnostic } from '../../compiler/frontend/diagnostics.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { runQemu, parseProgramSerial, interpreterOutcome } from '../../tools/qemu.ts';
import { programImage, ROOT } from '../../tools/build.ts';
import { parseExpectations, expectedStdout } from './expectations.ts';
import { limit } from '../harness/limit.ts';

const dir = join(ROOT, 'test', 'programs');
const programs = readdirSync(dir).filter(f => f.endsWith('.ts')).sort();
const scratch = mkdtempSync(join(tmpdir(), 'denali-corpus-'));
const programSlots = limit(2);

interface Outcome { stdout: string; stderr: string; status: number | null }

/** Runs a command without blocking the event loop (QEMU runs of other tests are being waited for). */
function run(command: string, args: string[]): Promise<Outcome> {
  return new Promise(done => {
    const child = spawn(command, args);
    let stdout = '', stderr = '';
    child.stdout.on('data', d => { stdout += d; });
    child.stderr.on('data', d => { stderr += d; });
    child.on('close', status => done({ stdout, stderr, status }));
  });
}

for (const name of programs) {
  const file = join(dir, name);
  const expect = parseExpectations(readFileSync(file, 'utf8'), name);
  const wantStdout = expectedStdout(expect);
  const check = (t: import('ava').ExecutionContext, how: string, o: Outcome) => {
    t.is(o.stdout, wantStdout, `${how}: output`);
    t.is(o.status, expect.exitStatus, `${how}: exit status (stderr: ${o.stderr.trim()})`);
    for (const s of expect.stderrSubstrings) t.true(o.stderr.includes(s), `${how}: stderr should contain '${s}', got '${o.stderr.trim()}'`);
    // Nothing else on stderr: every line is one the header expects (a warning or a stray trace fails).
    const expected = (line: string) => expect.stderrSubstrings.some(s => line.includes(s));
    const unexpected = o.stderr.split('\n').filter(line => line !== '' && !expected(line));
    t.deepEqual(unexpected, [], `${how}: unexpected stderr`);
  };

  const wantsInterp = expect.targets.includes('interp'), wantsQemu = expect.targets.includes('qemu');
  // At most two programs at a time: the synchronous compile and interpreter work of many tests at once
  // would keep the event loop from noticing QEMU's exits.
  if (wantsInterp || wantsQemu) test(`${name} -O0 and -O2: interp, qemu`, t => programSlots(async () => {
    // Lowered once; -O2 is the -O0 module put through the passes.
    const result = compile({ files: [file], optimize: 0 });
    if (!result.module) return t.fail(result.diagnostics.map(formatDiagnostic).join('\n'));
    const modules = { 0: result.module, 2: optimize(structuredClone(result.module)) };
    for (const level of [0, 2] as const) {
      const module = modules[level];
      if (wantsInterp) {
        // An interpreter error is a trap as the CLI reports it (exit 101): only a program expecting it passes.
        check(t, `interp -O${level}`, interpreterOutcome(runModule(module)));
      }
      if (wantsQemu) {
        const elf = join(scratch, `${name}.O${level}.elf`);
        writeFileSync(elf, programImage(module, level).elf);
        const r = await runQemu({ kernel: elf }, { timeoutMs: 60_000 });
        t.false(r.timedOut, 'qemu timed out');
        check(t, `qemu -O${level}`, parseProgramSerial(r.serial));
      }
    }
  }));

  for (const [target, flags] of [['node', []], ['node-plain', ['--plain']]] as const) {
    if (!expect.targets.includes(target)) continue;
    test(`${name} ${target}`, t => programSlots(async () => {
      const r = await run(process.execPath, [join(ROOT, 'tools', 'node-run.mjs'), ...flags, file]);
      check(t, target, r);
    }));
  }
}
