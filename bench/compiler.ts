// npm run bench:compiler — how fast the compiler is, phase by phase, and how big its code is.
// Compiles the kernel and every corpus program (each twice; the second, warm run is reported, as the
// CLI and tests compile several programs per process), links each, and records milliseconds per phase,
// source lines per second, and code size. Writes bench/results/compiler.json and prints a table.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compile, PROGRAM_RUNTIME } from '../compiler/pipeline.ts';
import { compileToImage } from '../compiler/link/index.ts';
import { ROOT, KERNEL_MAIN, KERNEL_RUNTIME } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';

interface Row { name: string; lines: number; phases: Record<string, number>; totalMs: number; textBytes: number; elfBytes: number; functions: number }

function sourceLines(files: string[]): number {
  return files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length, 0);
}

function measure(name: string, files: string[], extra: Parameters<typeof compile>[0] extends infer O ? Partial<O> : never): Row {
  let row: Row | undefined;
  for (let run = 0; run < 2; run++) {
    const timings = new Map<string, number>();
    const start = performance.now();
    const result = compile({ files, ...extra, timings });
    if (!result.module) throw new Error(`${name}: ${JSON.stringify(result.diagnostics)}`);
    const linkStart = performance.now();
    const image = compileToImage(result.module);
    timings.set('x86+link', performance.now() - linkStart);
    const totalMs = performance.now() - start;
    row = { name, lines: 0, phases: Object.fromEntries([...timings].map(([k, v]) => [k, Math.round(v * 10) / 10])), totalMs: Math.round(totalMs), textBytes: image.textSize, elfBytes: image.elf.length, functions: result.module.functions.length };
  }
  return row!;
}

const kernelFiles = readdirSync(join(ROOT, 'kernel-src')).filter(f => f.endsWith('.ts')).map(f => join(ROOT, 'kernel-src', f));
const rows: Row[] = [];
const programsDir = join(ROOT, 'test', 'programs');
const programs = readdirSync(programsDir).filter(f => f.endsWith('.ts'));
const progress = new Progress('bench:compiler', 1 + programs.length);
progress.update(0, 'the kernel');
const kernel = measure('kernel', [KERNEL_MAIN], { mode: 'kernel', entry: 'kmain', runtime: KERNEL_RUNTIME });
kernel.lines = sourceLines(kernelFiles);
rows.push(kernel);

const corpus: Row = { name: 'corpus', lines: 0, phases: {}, totalMs: 0, textBytes: 0, elfBytes: 0, functions: 0 };
for (const [k, p] of programs.entries()) {
  progress.update(1 + k, 'the corpus');
  const r = measure(p, [join(programsDir, p)], {});
  corpus.lines += sourceLines([join(programsDir, p), PROGRAM_RUNTIME]);
  corpus.totalMs += r.totalMs; corpus.textBytes += r.textBytes; corpus.elfBytes += r.elfBytes; corpus.functions += r.functions;
  for (const [k, v] of Object.entries(r.phases)) corpus.phases[k] = Math.round(((corpus.phases[k] ?? 0) + v) * 10) / 10;
}
rows.push(corpus);

const result = {
  date: new Date().toISOString(),
  node: process.version,
  note: `kernel = kernel-src/ (${kernelFiles.length} files); corpus = ${programs.length} programs of test/programs, each with dsl/runtime/program.ts; warm second compile in one process`,
  rows: rows.map(r => ({ ...r, linesPerSecond: Math.round(r.lines / (r.totalMs / 1000)), phaseLinesPerSecond: Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [k, v > 0 ? Math.round(r.lines / (v / 1000)) : null])) })),
};
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'compiler.json'), JSON.stringify(result, null, 2) + '\n');

const phases = [...new Set(rows.flatMap(r => Object.keys(r.phases)))];
console.log(`| what | source lines | total ms | lines/s | ${phases.join(' | ')} | .text bytes | functions |`);
console.log(`|---|---|---|---|${phases.map(() => '---').join('|')}|---|---|`);
for (const r of result.rows) console.log(`| ${r.name} | ${r.lines} | ${r.totalMs} | ${r.linesPerSecond} | ${phases.map(p => r.phases[p] ?? '').join(' | ')} | ${r.textBytes} | ${r.functions} |`);
writeBenchPlot('compiler');
progress.finish('written: bench/results/compiler.json (phase columns in ms), bench/results/compiler.png');
