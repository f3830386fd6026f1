// Contract: bench/plots.ts draws a valid PNG for every bench from the results file committed in bench/results/
// (no bench runs): the PNG's structure (test/harness/png.ts), 960 pixels wide, bars or lines drawn in colour.
// Every results file of a bench has its plot, and a plot of another bench's file fails (each reads its own
// fields). bench:web's plot is webPlot, tested with its points in test/tools/web-bench.test.ts.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../tools/build.ts';
import { BENCH_NAMES, benchPlot } from '../../bench/plots.ts';
import { placeTickLabels } from '../../bench/plot.ts';
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

test('x tick labels: inside the image, and one that would touch the label before it goes to a second row', t => {
  // bench:web's VM counts on its log scale: 500 and 1,000 sit 38 pixels apart, 100,000 at the right edge.
  const at = (x: number) => 110 + (Math.log10(x) / 5) * 820;
  const ticks = [1, 10, 100, 500, 1000, 10000, 100000]
    .map(x => ({ at: at(x), width: x.toLocaleString('en-US').length * 12 }));
  const placed = placeTickLabels(ticks, 960);
  t.deepEqual(placed.map(p => p.row), [0, 0, 0, 0, 1, 0, 0]);
  for (const [k, p] of placed.entries()) {
    t.true(p.x >= 0 && p.x + ticks[k].width <= 960, `label ${k} inside the image`);
    const before = placed.slice(0, k).filter(q => q.row === p.row).pop();
    if (before) t.true(p.x >= before.x + ticks[placed.indexOf(before)].width, `label ${k} clear of the one before`);
  }
  t.true(placed[6].x + ticks[6].width <= 952, 'the last label moved in from the edge');
});
