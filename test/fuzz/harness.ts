// Runs generated programs on every target and compares each with Node in faithful mode, the oracle (the
// program re-emitted as TypeScript with the DSL's semantics explicit, compiler/typescript/emit.ts): the
// bytecode interpreter at -O0 and -O2 and, optionally, natively in QEMU at -O0 and -O2 (the CLI's own
// -O0: every value in its frame home, no register allocation). A program is one to three files. Its
// outcome on a target is what it printed, then the message of the trap that stopped it (every target's
// stack overflow reads `trap: stack overflow`), then its exit status.
//
// Batches: checkBatch compiles many programs at once (tsc's start-up dominates a compile) behind a
// driver that runs each program's main (renamed entry) in turn between marker bytes. Which programs a
// run executes is a bit mask in the driver's data, patched in the compiled module (and in the QEMU
// image, built once per level): a program that traps ends a run, and the next run goes on with the
// programs after it, from the same compile. Node runs the programs in a child process of its own. A
// program whose batch outcome differs is checked alone too: its failure is the standalone one when that
// fails as well, else a failure of the batch ("batch-only"), never a retry that passes. A batch that
// does not compile or crashes while every program alone passes is reported as a batch failure.
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { compile, optimize, PROGRAM_RUNTIME } from '../../compiler/pipeline.ts';
import type * as ir from '../../compiler/ir.ts';
import { formatDiagnostic } from '../../compiler/frontend/diagnostics.ts';
import { TypeRecorder, emitFaithful, writeFaithful } from '../../compiler/typescript/emit.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import elfy from 'elfy';
import { runQemu, parseProgramSerial, interpreterOutcome } from '../../tools/qemu.ts';
import { programImage, ROOT } from '../../tools/build.ts';
import type { Image } from '../../compiler/link/index.ts';
import type { ProgramFile } from './generate.ts';

export const FUZZ_OUT = join(ROOT, 'out', 'fuzz');
type Target = 'node' | 'interp-O0' | 'interp-O2' | 'qemu-O0' | 'qemu-O2';

/** What a target did: its output, the message that stopped it, its exit status; or what went wrong. */
type Outcome = string;
export interface Verdict {
  outcomes: Partial<Record<Target, Outcome>>;
  /** undefined when every target agrees with Node; else e.g. "compile-crash", "interp-O2", "batch-only:qemu-O0". */
  failure?: string;
  /** A short explanation (first differing line, the error). */
  detail?: string;
}
export interface RunOptions { qemu?: boolean; stepLimit?: number; qemuTimeoutMs?: number }
interface BatchProgram { name: string; files: ProgramFile[] }
interface BatchResult { verdicts: Map<string, Verdict>; batchFailures: { failure: string; detail: string }[] }

const NODE_BATCH = join(ROOT, 'test', 'fuzz', 'node-batch.ts');
const MARK = '\x1e';                 // marker byte around each program's name in a driver's output
const MASK_BITS = 32;

let counter = 0;
function scratch(name: string): string {
  const dir = join(FUZZ_OUT, 'tmp', `${name}-${process.pid}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes a program's files into a directory (by default one of its own); returns the path of its main.ts. */
export function writeProgram(files: ProgramFile[], name: string, dir = scratch(name)): string {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.path), f.source);
  return join(dir, 'main.ts');
}

/** The message that ended a run (its first line); a stack overflow reads the same on every target. */
function stopMessage(stderr: string): string {
  const line = stderr.trim().split('\n')[0] ?? '';
  return /stack overflow/.test(line) ? 'trap: stack overflow' : line;
}
function outcome(stdout: string, stderr: string, status: number | null): Outcome {
  return `${stdout}\n--- ${stderr.trim() ? stopMessage(stderr) : 'no stop'}, exit ${status}`;
}

// ---- compiling --------------------------------------------------------------------------------------
interface Compiled {
  modules?: Record<0 | 2, ir.Module>;
  emitted?: Map<string, string>;          // DSL source -> its faithful TypeScript
  failure?: string; detail?: string;
}

/** Compiles a program (entry `main`) for every target: -O0 and -O2 modules, its faithful TypeScript under `outDir`. */
function compileAll(main: string, outDir: string): Compiled {
  const recorder = new TypeRecorder();
  let modules: Record<0 | 2, ir.Module>;
  try {
    const result = compile({ files: [main], optimize: 0, observer: recorder });
    if (!result.module) {
      return { failure: 'compile-error', detail: result.diagnostics.map(formatDiagnostic).join('\n') };
    }
    modules = { 0: result.module, 2: optimize(structuredClone(result.module)) };
  } catch (e) {
    return { failure: 'compile-crash', detail: String((e as Error).stack ?? e).split('\n').slice(0, 3).join(' | ') };
  }
  try {
    return { modules, emitted: writeFaithful(emitFaithful(recorder, PROGRAM_RUNTIME), outDir) };
  } catch (e) {
    return { failure: 'node-emit-crash', detail: String((e as Error).stack ?? e).split('\n').slice(0, 3).join(' | ') };
  }
}

// ---- running ----------------------------------------------------------------------------------------
/** Runs emitted programs under Node in a child process; name -> outcome. */
async function runNode(entries: { name: string; file: string; entry: string }[], dir: string):
  Promise<Map<string, Outcome>> {
  const list = join(dir, 'node-batch.json');
  writeFileSync(list, JSON.stringify(entries));
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(done => {
    const child = spawn(process.execPath, ['--import', 'tsx', NODE_BATCH, list], { cwd: ROOT });
    let out = '', err = '';
    child.stdout.on('data', d => { out += d; });
    child.stderr.on('data', d => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', () => { clearTimeout(timer); done({ stdout: out, stderr: err }); });
  });
  let results: Record<string, { stdout: string; stderr?: string; status?: number; error?: string }> = {};
  try { results = JSON.parse(stdout); } catch { /* reported per program below */ }
  const outcomes = new Map<string, Outcome>();
  for (const e of entries) {
    const r = results[e.name];
    if (!r) outcomes.set(e.name, `node error: no result (${stderr.trim().split('\n').slice(-1)[0] ?? ''})`);
    else if (r.error !== undefined) outcomes.set(e.name, `${r.stdout}\nnode error: ${r.error}`);
    else outcomes.set(e.name, outcome(r.stdout, r.stderr!, r.status!));
  }
  return outcomes;
}

interface Run { stdout: string; stderr: string; status: number | null }
/**
 * A module ready to run on a target: the interpreter runs the module, QEMU an image of it built once
 * (the CLI's: -O0 without register allocation). `patch` writes a u32 into a data symbol of what runs.
 */
interface Runnable { run(): Promise<Run>; patch(symbol: string, value: number): void }

function prepare(target: CompiledTarget, module: ir.Module, stepLimit: number, qemuTimeoutMs: number): Runnable {
  if (target.startsWith('interp')) {
    return {
      run: async () => {
        try { return interpreterOutcome(runModule(module, { stepLimit })); } catch (e) {
          return { stdout: '', stderr: `interp crash: ${(e as Error).message}`, status: null };
        }
      },
      patch: (symbol, value) => {
        const bytes = module.data.find(d => d.name === symbol)?.bytes;
        if (!bytes) throw new Error(`fuzz driver: ${symbol} is not in the data section`);
        for (let b = 0; b < 4; b++) bytes[b] = (value >>> (8 * b)) & 0xff;
      },
    };
  }
  let image: Image | undefined, failure = '';
  try { image = programImage(module, levelOf(target)); } catch (e) {
    failure = `backend crash: ${String((e as Error).message).split('\n')[0]}`;
  }
  return {
    run: async () => {
      if (!image) return { stdout: '', stderr: failure, status: null };
      const dir = scratch('qemu');
      try {
        const elf = join(dir, 'program.elf');
        writeFileSync(elf, image.elf);
        const r = await runQemu({ kernel: elf }, { timeoutMs: qemuTimeoutMs });
        const parsed = parseProgramSerial(r.serial);
        return r.timedOut ? { stdout: parsed.stdout, stderr: 'qemu: timed out', status: null } : parsed;
      } finally { rmSync(dir, { recursive: true, force: true }); }
    },
    patch: (symbol, value) => {
      if (!image) return;
      const offset = fileOffset(image.elf, image.symbols.get(symbol)!.address);
      for (let b = 0; b < 4; b++) image.elf[offset + b] = (value >>> (8 * b)) & 0xff;
    },
  };
}

/** Where the byte at `address` lies in an ELF file (elfy reads the section headers). */
function fileOffset(elf: Uint8Array, address: number): number {
  type Section = { type: string; addr: number; off: number; size: number };
  const sections = elfy.parse(Buffer.from(elf)).body.sections as Section[];
  const s = sections.find(x => x.type === 'progbits' && address >= x.addr && address < x.addr + x.size);
  if (!s) throw new Error(`fuzz driver: address ${address} is not in the file`);
  return s.off + (address - s.addr);
}

type CompiledTarget = Exclude<Target, 'node'>;
const levelOf = (target: CompiledTarget) => (target.endsWith('O0') ? 0 : 2);

function compiledTargets(options: RunOptions): CompiledTarget[] {
  return ['interp-O0', 'interp-O2', ...(options.qemu ? ['qemu-O0', 'qemu-O2'] as const : [])];
}

function judge(outcomes: Verdict['outcomes']): Verdict {
  const reference = outcomes.node;
  if (reference === undefined) return { outcomes, failure: 'node-missing', detail: 'no Node outcome' };
  if (/(^|\n)node error: /.test(reference)) return { outcomes, failure: 'node-error', detail: reference.slice(-300) };
  const bad = (Object.keys(outcomes) as Target[]).filter(t => outcomes[t] !== reference);
  if (!bad.length) return { outcomes };
  return { outcomes, failure: bad.join(','), detail: `${bad[0]}: ${firstDifference(reference, outcomes[bad[0]]!)}` };
}

function firstDifference(want: string, got: string): string {
  const a = want.split('\n'), b = got.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}: expected ${JSON.stringify(a[i] ?? '<end>')}, got ${JSON.stringify(b[i] ?? '<end>')}`;
    }
  }
  return 'same';
}

/** Checks one program (its main.ts; the other files beside it) on every target. */
export async function check(main: string, options: RunOptions = {}): Promise<Verdict> {
  const dir = scratch('check');
  try {
    const c = compileAll(main, join(dir, 'node'));
    if (!c.modules) return { outcomes: {}, failure: c.failure, detail: c.detail };
    const outcomes: Verdict['outcomes'] = {};
    const emitted = c.emitted!.get(resolve(main))!;
    outcomes.node = (await runNode([{ name: 'program', file: emitted, entry: 'main' }], dir)).get('program');
    await Promise.all(compiledTargets(options).map(async target => {
      const module = c.modules![levelOf(target)];
      const r = await prepare(target, module, options.stepLimit ?? 50_000_000, options.qemuTimeoutMs ?? 60_000).run();
      outcomes[target] = outcome(r.stdout, r.stderr, r.status);
    }));
    return judge(outcomes);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

// ---- batches ----------------------------------------------------------------------------------------
/** Sets the driver's run mask: program i runs when its bit is set. */
function setMask(target: Runnable, names: string[], run: ReadonlySet<string>): void {
  for (let word = 0; word * MASK_BITS < names.length; word++) {
    let mask = 0;
    for (let i = 0; i < MASK_BITS && word * MASK_BITS + i < names.length; i++) {
      if (run.has(names[word * MASK_BITS + i])) mask |= 1 << i;
    }
    target.patch(`fuzzRunMask${word}`, mask);
  }
}

/**
 * Runs every program of the driver on one target: a run stops at a trap, so the programs not reached yet
 * run again from the same module with the others masked out. name -> outcome.
 */
async function runDriver(target: CompiledTarget, module: ir.Module, names: string[], options: RunOptions):
  Promise<Map<string, Outcome>> {
  const results = new Map<string, Outcome>();
  const runnable = prepare(target, module, (options.stepLimit ?? 50_000_000) * 4, options.qemuTimeoutMs ?? 120_000);
  let todo = [...names];
  while (todo.length) {
    setMask(runnable, names, new Set(todo));
    const run = await runnable.run();
    // "\x1ename\x1e" before each program's output, "\x1eend\x1e" after the last
    const pieces = run.stdout.split(MARK);
    const started: { name: string; out: string }[] = [];
    for (let i = 1; i < pieces.length; i += 2) {
      if (pieces[i] !== 'end') started.push({ name: pieces[i], out: pieces[i + 1] ?? '' });
    }
    const ended = pieces.includes('end');
    for (const [j, s] of started.entries()) {
      const stopped = !ended && j === started.length - 1;
      results.set(s.name, stopped ? outcome(s.out, run.stderr, run.status) : outcome(s.out, '', 0));
    }
    const left = todo.filter(n => !results.has(n));
    if (left.length === todo.length) {
      const why = `${stopMessage(run.stderr)}, exit ${run.status}`;
      for (const n of left) results.set(n, `${target}: the driver stopped before this program (${why})`);
      break;
    }
    todo = left;
  }
  return results;
}

/** The driver: imports every program's entry and calls those whose bit is set in the run mask. */
function driverSource(programs: BatchProgram[]): string {
  const masks = Array.from({ length: Math.ceil(programs.length / MASK_BITS) },
    (_, w) => `let fuzzRunMask${w}: u32 = 0xffffffff;`);
  const bit = (i: number) => `((fuzzRunMask${Math.floor(i / MASK_BITS)} >>> ${i % MASK_BITS}) & 1) !== 0`;
  return [
    'import { i32, u32, write } from "dsl";',
    ...programs.map((p, i) => `import { entry as entry${i} } from "./${p.name}/entry.ts";`),
    ...masks,
    'export function main(): i32 {',
    ...programs.map((p, i) => `  if (${bit(i)}) { write("\\x1e${p.name}\\x1e"); entry${i}(); }`),
    '  write("\\x1eend\\x1e");',
    '  return 0;',
    '}', ''].join('\n');
}

/** Checks many programs with one compile (see the top of this file). */
export async function checkBatch(programs: BatchProgram[], options: RunOptions = {}): Promise<BatchResult> {
  const dir = scratch('batch');
  const verdicts = new Map<string, Verdict>(), batchFailures: BatchResult['batchFailures'] = [];
  const mains = new Map<string, string>();
  try {
    for (const p of programs) {
      const main = writeProgram(p.files, p.name, join(dir, p.name));
      mains.set(p.name, main);
      const entry = readFileSync(main, 'utf8').replace('export function main(): i32', 'export function entry(): i32');
      writeFileSync(join(dir, p.name, 'entry.ts'), entry);
    }
    const driver = join(dir, 'driver.ts');
    writeFileSync(driver, driverSource(programs));
    const c = compileAll(driver, join(dir, 'node'));
    if (!c.modules) {
      for (const p of programs) verdicts.set(p.name, await check(mains.get(p.name)!, options));
      if ([...verdicts.values()].every(v => !v.failure)) {
        batchFailures.push({ failure: `batch-${c.failure}`, detail: c.detail ?? '' });
      }
      return { verdicts, batchFailures };
    }
    const names = programs.map(p => p.name);
    const entries = programs.map(p =>
      ({ name: p.name, file: c.emitted!.get(resolve(dir, p.name, 'entry.ts'))!, entry: 'entry' }));
    const node = await runNode(entries, dir);
    const parts = new Map(names.map(n => [n, { node: node.get(n) } as Verdict['outcomes']]));
    await Promise.all(compiledTargets(options).map(async target => {
      // each target patches its own copy of the module's run mask
      const results = await runDriver(target, structuredClone(c.modules![levelOf(target)]), names, options);
      for (const [n, o] of results) parts.get(n)![target] = o;
    }));
    for (const p of programs) {
      const v = judge(parts.get(p.name)!);
      if (!v.failure) { verdicts.set(p.name, v); continue; }
      const alone = await check(mains.get(p.name)!, options);
      const batchOnly = {
        outcomes: v.outcomes, failure: `batch-only:${v.failure}`, detail: `${v.detail} (the program alone passes)`,
      };
      verdicts.set(p.name, alone.failure ? alone : batchOnly);
    }
    return { verdicts, batchFailures };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
