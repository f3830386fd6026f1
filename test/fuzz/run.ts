// npm run fuzz -- [--count N] [--seed S] [--qemu-fraction F] [--batch B] [--no-shrink] [--out FILE]
// Generates N programs from seeds S..S+N-1, runs each on the interpreter (-O0, -O2) and under Node, and
// a fraction F of them (whole batches) natively in QEMU (-O0, -O2); shrinks every failure into
// out/fuzz/seed-N.min.ts; writes the summary to bench/results/fuzz.json (or --out).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execSync } from 'node:child_process';
import { generate, print } from './generate.ts';
import { checkBatch, writeProgram, type Verdict } from './harness.ts';
import { shrink, saveMinimized } from './shrink.ts';
import { ROOT } from '../../tools/build.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => { const i = args.lastIndexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const count = opt('count', 2000), firstSeed = opt('seed', 1), qemuFraction = opt('qemu-fraction', 0.1), batchSize = opt('batch', 25);
const maxShrinks = opt('max-shrinks', 10);
const shrinkFailures = !args.includes('--no-shrink');
const outFile = args.includes("--out") ? args[args.lastIndexOf("--out") + 1] : join(ROOT, 'bench', 'results', 'fuzz.json');

interface Failure { seed: number; failure: string; detail: string; qemu: boolean; minimized?: string; minimizedLines?: number }
const failures: Failure[] = [];
const start = Date.now();
let done = 0, onQemu = 0, lines = 0;
const batches = Math.ceil(count / batchSize);
const qemuEvery = qemuFraction > 0 ? Math.max(1, Math.round(1 / qemuFraction)) : Infinity;

for (let b = 0; b < batches; b++) {
  const seeds = Array.from({ length: Math.min(batchSize, count - b * batchSize) }, (_, i) => firstSeed + b * batchSize + i);
  const qemu = b % qemuEvery === 0;
  const programs = seeds.map(seed => { const source = print(generate(seed)); lines += source.split('\n').length; return { name: `s${seed}`, source }; });
  const verdicts = await checkBatch(programs, { qemu });
  for (const seed of seeds) {
    const v = verdicts.get(`s${seed}`)!;
    if (v.failure) {
      failures.push({ seed, failure: v.failure, detail: v.detail ?? '', qemu });
      console.log(`seed ${seed}: FAIL ${v.failure}: ${(v.detail ?? '').split('\n')[0]}`);
    }
  }
  done += seeds.length; if (qemu) onQemu += seeds.length;
  const rate = done / ((Date.now() - start) / 1000);
  process.stdout.write(`${done}/${count} programs, ${failures.length} failures, ${rate.toFixed(1)} programs/s\n`);
}
const seconds = (Date.now() - start) / 1000;

if (shrinkFailures) {
  for (const f of failures.slice(0, maxShrinks)) {
    const program = generate(f.seed);
    const verdict: Verdict = { outcomes: {}, failure: f.failure, detail: f.detail };
    // Re-check alone (with QEMU when it ran there) to get the standalone outcomes, then shrink.
    const { check } = await import('./harness.ts');
    const fresh = await check(writeProgram(print(program), `seed-${f.seed}`), { qemu: f.qemu });
    if (!fresh.failure) { f.detail += ' (passes when run alone)'; continue; }
    let result;
    try { result = await shrink(program, fresh.failure ? fresh : verdict, { qemu: f.qemu, timeLimitMs: 180_000 }); } catch (e) { f.detail += ` (shrinking failed: ${(e as Error).message})`; continue; }
    f.minimized = relative(ROOT, saveMinimized(result));
    f.minimizedLines = result.lines[1];
    console.log(`seed ${f.seed}: minimized to ${result.lines[1]} lines: ${f.minimized}`);
  }
}

let commit = '';
try { commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { /* not a git checkout */ }
const summary = {
  date: new Date().toISOString(), commit,
  command: `tsx test/fuzz/run.ts ${args.join(' ')}`.trim(),
  count, seeds: { first: firstSeed, last: firstSeed + count - 1 }, batchSize,
  targets: ['node', 'interp-O0', 'interp-O2', 'qemu-O0 (fraction)', 'qemu-O2 (fraction)'],
  onQemu, averageLines: Math.round(lines / count), seconds: Math.round(seconds), programsPerSecond: Number((count / seconds).toFixed(2)),
  failures: failures.length, failingSeeds: failures.map(f => f.seed), details: failures,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(summary, null, 2) + '\n');
console.log(`\n${count} programs (seeds ${firstSeed}..${firstSeed + count - 1}), ${onQemu} also in QEMU: ${failures.length} failures in ${seconds.toFixed(0)} s (${summary.programsPerSecond} programs/s); written to ${relative(ROOT, outFile)}`);
process.exitCode = failures.length ? 1 : 0;
