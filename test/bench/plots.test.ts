// Contract: bench/plots.ts draws a valid PNG for every bench from the results file committed in bench/results/
// (no bench runs): the PNG's structure (test/harness/png.ts), 960 pixels wide, bars or lines drawn in colour.
// Every results file of a bench has its plot, and a plot of another bench's file fails (each reads its own
// fields). bench:web's plot is webPlot, tested with its points in test/tools/web-bench.test.ts.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../tools/build.ts';
import { BENCH_NAMES, benchPlot } from '../../bench/plots.ts';
import { parsePng, colouredPixels } from '../harness/png.ts';

const RESULTS = join(ROOT, 'bench', 'results');
/** bench:web --tlb-flush writes web-tlb-flush.* beside web.*: the same points, drawn by the same plot. */
const WEB_TLB_FLUSH = 'web-tlb-flush';

for (const name of BENCH_NAMES) {
  test(`bench:${name}: a valid PNG from bench/results/${name}.json`, t => {
    t.true(existsSync(join(RESULTS, `${name}.json`)));
    const png = parsePng(t, benchPlot(name));
    t.is(png.width, 960);
    t.true(png.height >= 200, `height ${png.height}`);
    const coloured = colouredPixels(png);
    t.true(coloured > 2000, `${coloured} coloured pixels`);
  });
}

test('every bench with a results file has a plot; fuzz.json is the fuzzer\'s, not a bench\'s', t => {
  const results = readdirSync(RESULTS).filter(f => f.endsWith('.json')).map(f => f.slice(0, -5));
  t.deepEqual(results.filter(r => !(BENCH_NAMES as string[]).includes(r)), ['fuzz', WEB_TLB_FLUSH]);
});

test('bench:web --tlb-flush: a valid PNG from bench/results/web-tlb-flush.json', t => {
  const png = parsePng(t, benchPlot('web', join(RESULTS, `${WEB_TLB_FLUSH}.json`)));
  t.is(png.width, 960);
  t.true(colouredPixels(png) > 2000);
});

test('a plot reads its own bench\'s fields: another bench\'s results file is refused', t => {
  t.throws(() => benchPlot('net', join(RESULTS, 'kernel.json')));
  t.throws(() => benchPlot('request', join(RESULTS, 'vm.json')));
});
