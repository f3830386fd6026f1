// Runs one generated program on every target and compares: the bytecode interpreter at -O0 and -O2,
// Node (the program imported as TypeScript in this process, print() captured), and optionally QEMU at
// -O0 and -O2. Node is the oracle: by construction the program means the same in TypeScript.
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { compile, optimize } from '../../compiler/pipeline.ts';
import { formatDiagnostic } from '../../compiler/frontend/diagnostics.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { runQemu, parseProgramSerial } from '../../tools/qemu.ts';
import { programImage, ROOT } from '../../tools/build.ts';

export const FUZZ_OUT = join(ROOT, 'out', 'fuzz');
export type Target = 'node' | 'interp-O0' | 'interp-O2' | 'qemu-O0' | 'qemu-O2';

/** What a target did: its stdout and exit status, or what went wrong. */
export type Outcome = string;
export interface Verdict {
  outcomes: Partial<Record<Target, Outcome>>;
  /** undefined when every target agrees with Node; else e.g. "compile-crash", "interp-O2", "qemu-O0,qemu-O2". */
  failure?: string;
  /** A short explanation (first differing line, the error). */
  detail?: string;
}

let scratch: string | undefined;
let counter = 0;
/** Writes the program where Node can import it: under the repo, so that "dsl" resolves to node_modules/dsl. */
export function writeProgram(source: string, name: string): string {
  const dir = join(FUZZ_OUT, 'tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${process.pid}-${counter++}.ts`);
  writeFileSync(file, source);
  return file;
}

/** Imports the program and calls main() with process.stdout.write captured. */
export async function runNode(file: string): Promise<Outcome> {
  let program: { main?: () => number };
  // A fresh module instance every time (a query string): a second main() must not see the first one's globals.
  try { program = await import(`${pathToFileURL(file).href}?run=${counter++}`); } catch (e) { return `node: import failed: ${(e as Error).message.split('\n')[0]}`; }
  if (typeof program.main !== 'function') return 'node: no main';
  const write = process.stdout.write;
  let out = '';
  (process.stdout as { write: unknown }).write = (s: string | Uint8Array) => { out += typeof s === 'string' ? s : Buffer.from(s).toString(); return true; };
  try {
    const status = program.main();
    return `${out}exit ${Number(status) & 255}`;
  } catch (e) {
    return `${out}node: ${(e as Error).message}`;
  } finally {
    process.stdout.write = write;
  }
}

function serialOutcome(serial: string): Outcome {
  const r = parseProgramSerial(serial);
  return `${r.stdout}${r.stderr ? `stderr ${r.stderr}` : ''}exit ${r.status}`;
}

export interface RunOptions { qemu?: boolean; node?: boolean; stepLimit?: number; qemuTimeoutMs?: number }

/** Compiles and runs a program on the targets; compares each with Node (or with interp -O0 when Node is skipped). */
export async function check(file: string, options: RunOptions = {}): Promise<Verdict> {
  const outcomes: Verdict['outcomes'] = {};
  let modules: { 0: import('../../compiler/ir.ts').Module; 2: import('../../compiler/ir.ts').Module };
  if (options.node ?? true) outcomes.node = await runNode(file);
  try {
    const result = compile({ files: [file], optimize: 0 });
    if (!result.module) return { outcomes, failure: 'compile-error', detail: result.diagnostics.map(formatDiagnostic).join('\n') };
    modules = { 0: result.module, 2: optimize(structuredClone(result.module)) };
  } catch (e) {
    return { outcomes, failure: 'compile-crash', detail: String((e as Error).stack ?? e).split('\n').slice(0, 3).join(' | ') };
  }
  for (const level of [0, 2] as const) {
    try {
      const r = runModule(modules[level], { stepLimit: options.stepLimit ?? 50_000_000 });
      outcomes[`interp-O${level}`] = serialOutcome(r.serial) + (r.error ? ` error ${r.error}` : '');
    } catch (e) { outcomes[`interp-O${level}`] = `interp crash: ${(e as Error).message}`; }
  }
  if (options.qemu) {
    const dir = mkdtempSync(join(tmpdir(), 'denali-fuzz-'));
    try {
      await Promise.all(([0, 2] as const).map(async level => {
        const target = `qemu-O${level}` as const;
        try {
          const elf = join(dir, `p.O${level}.elf`);
          writeFileSync(elf, programImage(modules[level]).elf);
          const r = await runQemu({ kernel: elf }, { timeoutMs: options.qemuTimeoutMs ?? 30_000 });
          outcomes[target] = r.timedOut ? 'qemu: timed out' : serialOutcome(r.serial);
        } catch (e) { outcomes[target] = `backend crash: ${String((e as Error).message).split('\n')[0]}`; }
      }));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }
  return judge(outcomes);
}

export function judge(outcomes: Verdict['outcomes']): Verdict {
  const reference = outcomes.node ?? outcomes['interp-O0']!;
  if (outcomes.node !== undefined && /^node: |\nnode: |node: import failed/.test(outcomes.node)) return { outcomes, failure: 'node-error', detail: outcomes.node.slice(-300) };
  const bad = (Object.keys(outcomes) as Target[]).filter(t => outcomes[t] !== reference);
  if (!bad.length) return { outcomes };
  const t = bad[0];
  return { outcomes, failure: bad.join(','), detail: `${t}: ${firstDifference(reference, outcomes[t]!)}` };
}

function firstDifference(want: string, got: string): string {
  const a = want.split('\n'), b = got.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}: expected ${JSON.stringify(a[i] ?? '<end>')}, got ${JSON.stringify(b[i] ?? '<end>')}`;
  }
  return 'same';
}

export interface BatchProgram { name: string; source: string }

/**
 * Checks many programs with one compile: each program's `main` is renamed `entry` in a copy, and a
 * driver calls them in turn between marker lines; the serial output is split per program. Node runs
 * every program on its own. A program whose part differs (or a batch that does not compile or run)
 * is checked again on its own, so every failure reported is the standalone program's.
 */
export async function checkBatch(programs: BatchProgram[], options: RunOptions = {}): Promise<Map<string, Verdict>> {
  const verdicts = new Map<string, Verdict>();
  const dir = join(FUZZ_OUT, 'tmp', `batch-${process.pid}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  const standalone = new Map<string, string>();
  const nodeOut = new Map<string, Outcome>();
  for (const p of programs) {
    const file = join(dir, `${p.name}.main.ts`);
    writeFileSync(file, p.source);
    standalone.set(p.name, file);
    writeFileSync(join(dir, `${p.name}.ts`), p.source.replace('export function main(): i32', 'export function entry(): i32'));
    nodeOut.set(p.name, await runNode(file));
  }
  const driver = join(dir, 'driver.ts');
  writeFileSync(driver, [
    'import { i32, print } from "dsl";',
    ...programs.map((p, i) => `import { entry as entry${i} } from "./${p.name}.ts";`),
    'export function main(): i32 {',
    ...programs.flatMap((p, i) => [`  print("=== ${p.name}");`, `  entry${i}();`]),
    '  print("=== end");',
    '  return 0;',
    '}', ''].join('\n'));

  const parts = new Map<string, Partial<Record<Target, Outcome>>>(programs.map(p => [p.name, { node: nodeOut.get(p.name) }]));
  const split = (target: Target, serial: string) => {
    const { stdout } = parseProgramSerial(serial);
    const chunks = stdout.split(/^=== /m).slice(1);
    for (const chunk of chunks) {
      const nl = chunk.indexOf('\n');
      const name = chunk.slice(0, nl), body = chunk.slice(nl + 1);
      const part = parts.get(name);
      if (part) part[target] = `${body}exit 0`;
    }
  };
  let batchOk = true;
  try {
    const result = compile({ files: [driver], optimize: 0 });
    if (!result.module) batchOk = false;
    else {
      const modules = { 0: result.module, 2: optimize(structuredClone(result.module)) };
      for (const level of [0, 2] as const) {
        const r = runModule(modules[level], { stepLimit: (options.stepLimit ?? 50_000_000) * 4 });
        split(`interp-O${level}`, r.serial);
      }
      if (options.qemu) {
        await Promise.all(([0, 2] as const).map(async level => {
          const elf = join(dir, `driver.O${level}.elf`);
          writeFileSync(elf, programImage(modules[level]).elf);
          const r = await runQemu({ kernel: elf }, { timeoutMs: options.qemuTimeoutMs ?? 60_000 });
          split(`qemu-O${level}`, r.serial);
        }));
      }
    }
  } catch {
    batchOk = false;
  }
  const targets: Target[] = ['node', 'interp-O0', 'interp-O2', ...(options.qemu ? ['qemu-O0', 'qemu-O2'] as Target[] : [])];
  for (const p of programs) {
    const part = parts.get(p.name)!;
    const complete = targets.every(t => part[t] !== undefined);
    const v = batchOk && complete ? judge(part) : undefined;
    verdicts.set(p.name, v && !v.failure ? v : await check(standalone.get(p.name)!, options));
  }
  rmSync(dir, { recursive: true, force: true });
  return verdicts;
}
