// npm run fuzz -- [--count N] [--seed S] [--qemu-fraction F] [--batch B] [--no-shrink] [--max-shrinks K] [--out FILE]
// Generates N programs from seeds S..S+N-1, runs each on the interpreter (-O0, -O2) and under Node in
// faithful mode, and a fraction F of them (whole batches) natively in QEMU (-O0, -O2); shrinks every
// failure into out/fuzz/seed-N.min/; writes the summary to bench/results/fuzz.json (or --out): the
// failures, and how many programs contained each construct and ended each way (what the run covered).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execSync } from 'node:child_process';
import { generate, print, recursionDepth, DEEP_MIN, type Program } from './generate.ts';
import { checkBatch, check, writeProgram, type Verdict } from './harness.ts';
import { shrink, saveMinimized } from './shrink.ts';
import { ROOT } from '../../tools/build.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.lastIndexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const count = opt('count', 2000), firstSeed = opt('seed', 1), qemuFraction = opt('qemu-fraction', 0.1);
const batchSize = opt('batch', 25);
const maxShrinks = opt('max-shrinks', 10);
const shrinkFailures = !args.includes('--no-shrink');
const outFile = args.includes('--out') ? args[args.lastIndexOf('--out') + 1]
  : join(ROOT, 'bench', 'results', 'fuzz.json');

/** Constructs a program contains, found in its AST and its text: the coverage the summary counts. */
const FEATURES: [string, (p: Program, text: string) => boolean][] = [
  ['several modules', p => p.modules > 1],
  ['three modules', p => p.modules > 2],
  ['trap mode (unmasked indices, raw divisors)', p => p.trapMode],
  ['deep recursion (>= 10^7 frames)', p => recursionDepth(p) >= DEEP_MIN],
  ['shallow recursion (<= 300 frames)', p => recursionDepth(p) > 0 && recursionDepth(p) < DEEP_MIN],
  ['++/-- inside an expression', (_, t) => /\((\+\+|--)[\w.[]|[\w\]]+(\+\+|--)\)/.test(t)],
  ['compound assignment inside an expression', (_, t) => /\([\w.[\]& ()-]+ (\+|-|\*|\/|%|&|\||\^|<<|>>|>>>)= /.test(t)],
  ['compound assignment on a typed-array element', (_, t) => /\] (\+|-|\*|\/|%|&|\||\^|<<|>>|>>>)= /.test(t)],
  ['compound assignment on a struct field', (_, t) => /\.x\d+ (\+|-|\*|\/|%|&|\||\^|<<|>>|>>>)= /.test(t)],
  ['i8 i16 u16 variables or parameters', (_, t) => /: (i8|i16|u16)\b/.test(t)],
  ['Int8Array Int16Array Uint16Array Uint32Array', (_, t) => /new (Int8|Int16|Uint16|Uint32)Array\(/.test(t)],
  ['function returning u32, bool, void or a narrow type', (_, t) => /\): (u32|bool|void|u8|i8|u16|i16) \{/.test(t)],
  ['string written (write/print of a string)', (_, t) => /(write|print)\(("|T\d)/.test(t)],
  ['string parameter, .length or .charCodeAt', (_, t) => /: string\b|\.length\b|charCodeAt/.test(t)],
  ['unmasked index', p => /"raw":true/.test(JSON.stringify(p))],
  ['raw divisor', p => /"op":"(div|rem|udiv|urem)r"|"op":"[%/]=r"/.test(JSON.stringify(p))],
];

interface Failure {
  seed: number; failure: string; detail: string; qemu: boolean; minimized?: string; minimizedLines?: number;
}
const failures: Failure[] = [], batchFailures: { seeds: string; failure: string; detail: string }[] = [];
const features = new Map<string, number>(FEATURES.map(([name]) => [name, 0]));
const endings = new Map<string, number>();
const start = Date.now();
let done = 0, onQemu = 0, lines = 0;
const batches = Math.ceil(count / batchSize);
const qemuEvery = qemuFraction > 0 ? Math.max(1, Math.round(1 / qemuFraction)) : Infinity;

for (let b = 0; b < batches; b++) {
  const seeds = Array.from({ length: Math.min(batchSize, count - b * batchSize) },
    (_, i) => firstSeed + b * batchSize + i);
  const qemu = b % qemuEvery === 0;
  const programs = seeds.map(seed => {
    const program = generate(seed), files = print(program), text = files.map(f => f.source).join('\n');
    lines += text.split('\n').length;
    for (const [name, has] of FEATURES) if (has(program, text)) features.set(name, features.get(name)! + 1);
    return { name: `s${seed}`, files };
  });
  const result = await checkBatch(programs, { qemu });
  for (const f of result.batchFailures) {
    batchFailures.push({ seeds: `${seeds[0]}..${seeds[seeds.length - 1]}`, ...f });
    console.log(`batch ${seeds[0]}..${seeds[seeds.length - 1]}: FAIL ${f.failure}: ${f.detail.split('\n')[0]}`);
  }
  for (const seed of seeds) {
    const v = result.verdicts.get(`s${seed}`)!;
    const ending = /--- (.*), exit/.exec(v.outcomes.node ?? '')?.[1] ?? 'no Node outcome';
    endings.set(ending, (endings.get(ending) ?? 0) + 1);
    if (v.failure) {
      failures.push({ seed, failure: v.failure, detail: v.detail ?? '', qemu });
      console.log(`seed ${seed}: FAIL ${v.failure}: ${(v.detail ?? '').split('\n')[0]}`);
    }
  }
  done += seeds.length; if (qemu) onQemu += seeds.length;
  const rate = done / ((Date.now() - start) / 1000);
  const failed = failures.length + batchFailures.length;
  process.stdout.write(`${done}/${count} programs, ${failed} failures, ${rate.toFixed(2)} programs/s\n`);
}
const seconds = (Date.now() - start) / 1000;

if (shrinkFailures) {
  for (const f of failures.slice(0, maxShrinks)) {
    const program = generate(f.seed);
    // Re-check alone (with QEMU when it ran there) to get the standalone outcomes, then shrink.
    const fresh: Verdict = await check(writeProgram(print(program), `seed-${f.seed}`), { qemu: f.qemu });
    if (!fresh.failure) { f.detail += ' (passes when run alone)'; continue; }
    try {
      const result = await shrink(program, fresh, { qemu: f.qemu, timeLimitMs: 180_000 });
      f.minimized = relative(ROOT, saveMinimized(result));
      f.minimizedLines = result.lines[1];
      console.log(`seed ${f.seed}: minimized to ${result.lines[1]} lines: ${f.minimized}`);
    } catch (e) { f.detail += ` (shrinking failed: ${(e as Error).message})`; }
  }
}

let commit = '';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
} catch { /* not a git checkout */ }
const summary = {
  date: new Date().toISOString(), commit,
  command: `tsx test/fuzz/run.ts ${args.join(' ')}`.trim(),
  count, seeds: { first: firstSeed, last: firstSeed + count - 1 }, batchSize,
  targets: ['node (faithful mode, the oracle)', 'interp-O0', 'interp-O2', 'qemu-O0 (fraction)', 'qemu-O2 (fraction)'],
  onQemu, averageLines: Math.round(lines / count), seconds: Math.round(seconds),
  programsPerSecond: Number((count / seconds).toFixed(2)),
  programsWith: Object.fromEntries(features), endings: Object.fromEntries([...endings].sort((a, b) => b[1] - a[1])),
  failures: failures.length + batchFailures.length, failingSeeds: failures.map(f => f.seed), details: failures,
  batchFailures,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(summary, null, 2) + '\n');
console.log(`\n${count} programs (seeds ${firstSeed}..${firstSeed + count - 1}), ${onQemu} also in QEMU: `
  + `${summary.failures} failures in ${seconds.toFixed(0)} s (${summary.programsPerSecond} programs/s); `
  + `written to ${relative(ROOT, outFile)}`);
process.exitCode = summary.failures ? 1 : 0;
