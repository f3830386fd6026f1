// A few hundred generated programs (fixed seeds, deterministic), each run on the interpreter at -O0 and
// -O2 and under Node; the first batch also natively in QEMU at -O0 and -O2. Every target must print
// what Node prints. A failure names the seed: `tsx test/fuzz/shrink.ts --seed N [--qemu]` minimizes it.
import test from 'ava';
import { generateProgram } from './generate.ts';
import { checkBatch } from './harness.ts';

const SEEDS = 300;          // seeds 1..300
const BATCH = 30;
const QEMU_BATCHES = 1;     // seeds 1..30 also in QEMU
// Seeds whose failure is a known compiler bug (see /tmp/compiler-requests.md); none at the moment.
const KNOWN_FAILURES = new Set<number>([]);

for (let b = 0; b * BATCH < SEEDS; b++) {
  const seeds = Array.from({ length: BATCH }, (_, i) => 1 + b * BATCH + i).filter(s => !KNOWN_FAILURES.has(s));
  const qemu = b < QEMU_BATCHES;
  test.serial(`generated programs ${seeds[0]}..${seeds[seeds.length - 1]}: node, interp -O0/-O2${qemu ? ', qemu -O0/-O2' : ''}`, async t => {
    const verdicts = await checkBatch(seeds.map(seed => ({ name: `s${seed}`, source: generateProgram(seed) })), { qemu });
    const failed = [...verdicts].filter(([, v]) => v.failure).map(([name, v]) => `${name}: ${v.failure}: ${v.detail}`);
    t.deepEqual(failed, [], `seeds failing (shrink with: tsx test/fuzz/shrink.ts --seed N${qemu ? ' --qemu' : ''})`);
  });
}
