// A few hundred generated programs (fixed seeds, deterministic), each run on the interpreter at -O0 and
// -O2 and under Node in faithful mode (the oracle); the first batch also natively in QEMU at -O0 and -O2,
// with four deep-recursion programs (two clearly too deep: a stack-overflow trap everywhere; two clearly
// shallow). Every target must print what Node prints and stop the way it stops. A failure names the
// seed: `tsx test/fuzz/shrink.ts --seed N [--qemu]` minimizes it.
import test from 'ava';
import { generate, print, recursionDepth, DEEP_MIN, type GenOptions } from './generate.ts';
import { checkBatch, type Verdict } from './harness.ts';

const SEEDS = 240;          // seeds 1..240
const BATCH = 30;
const QEMU_BATCHES = 1;     // seeds 1..30 also in QEMU
const DEEP: [number, GenOptions['deep']][] = [[9001, 'deep'], [9002, 'deep'], [9003, 'shallow'], [9004, 'shallow']];
// Seeds whose failure is a known compiler bug; none at the moment.
const KNOWN_FAILURES = new Set<number>([]);

/** How each program ended under Node; whether it recurses too deep for any stack; whether it may trap before. */
const endings: { name: string; ending: string; deep: boolean; trapMode: boolean }[] = [];
for (let b = 0; b * BATCH < SEEDS; b++) {
  const seeds = Array.from({ length: BATCH }, (_, i) => 1 + b * BATCH + i).filter(s => !KNOWN_FAILURES.has(s));
  const qemu = b < QEMU_BATCHES;
  const generated = seeds.map(seed => ({ name: `s${seed}`, program: generate(seed) }));
  if (qemu) {
    for (const [seed, deep] of DEEP) {
      generated.push({ name: `s${seed}`, program: generate(seed, { deep, trapMode: false }) });
    }
  }
  const programs = generated.map(g => ({ name: g.name, files: print(g.program) }));
  const classOf = new Map(generated.map(g =>
    [g.name, { deep: recursionDepth(g.program) >= DEEP_MIN, trapMode: g.program.trapMode }]));
  const title = `generated programs ${seeds[0]}..${seeds[seeds.length - 1]}${qemu ? ' and 4 deep-recursion' : ''}: `
    + `node, interp -O0/-O2${qemu ? ', qemu -O0/-O2' : ''}`;
  test.serial(title, async t => {
    t.timeout(20 * 60_000);   // a batch takes half a minute to a few; on a machine shared with others, more
    const { verdicts, batchFailures } = await checkBatch(programs, { qemu });
    const failed = [...verdicts].filter(([, v]) => v.failure).map(([name, v]) => `${name}: ${v.failure}: ${v.detail}`);
    t.deepEqual([...failed, ...batchFailures.map(f => `batch: ${f.failure}: ${f.detail}`)], [],
      `seeds failing (shrink with: tsx test/fuzz/shrink.ts --seed N${qemu ? ' --qemu' : ''})`);
    for (const [name, v] of verdicts) endings.push({ name, ending: ending(v), ...classOf.get(name)! });
  });
}

function ending(v: Verdict): string { return /--- (.*), exit/.exec(v.outcomes.node ?? '')?.[1] ?? 'none'; }

test.serial('the programs reach every way of stopping: no trap, each trap kind, overflow exactly when deep', t => {
  const count = (what: string) => endings.filter(e => e.ending === what).length;
  t.true(count('no stop') > SEEDS / 2, 'most programs run to their end');
  t.true(count('trap: index out of bounds') > 0, 'some unmasked index traps');
  t.true(count('trap: integer division by zero') > 0, 'some raw divisor is zero');
  const overflowed = endings.filter(e => e.ending === 'trap: stack overflow');
  t.deepEqual(overflowed.filter(e => !e.deep).map(e => e.name), [], 'only deep recursion overflows');
  t.deepEqual(endings.filter(e => e.deep && !e.trapMode && e.ending !== 'trap: stack overflow').map(e => e.name), [],
    'deep recursion overflows (unless an earlier trap stopped the program)');
  t.true(overflowed.some(e => e.name === 's9001') && overflowed.some(e => e.name === 's9002'));
});
