// Contract: tools/progress.ts reports as its contract says, with a fake clock and a recording stream: without a
// terminal a line per stage, one when the total is reached, at most one per lineEveryMs in between, and the
// summary; on a terminal the bar redrawn in place with `\r` and cleared, at most every 100 ms unless the
// stage changes, cut to the terminal's width, and the summary replacing it on a line of its own.
import test from 'ava';
import { Progress, type ProgressStream } from '../../tools/progress.ts';

function recorder(isTTY: boolean, columns?: number): ProgressStream & { text: string } {
  return { isTTY, columns, text: '', write(s: string) { this.text += s; } };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: ms => { t += ms; } };
}

test('not a terminal: a line per stage, then per lineEveryMs, one at the total, and the summary', t => {
  const stream = recorder(false), c = clock();
  const p = new Progress('boot', 4, { stream, now: c.now, lineEveryMs: 10_000 });
  p.update(0, 'build');
  c.advance(1500); p.update(1, 'build');          // same stage, too soon: nothing
  p.update(1, 'listening');                       // a new stage: a line
  c.advance(9000); p.update(2, 'listening');      // 9 s since the last line: nothing
  c.advance(1000); p.update(3, 'listening');      // 10 s: a line
  c.advance(500); p.update(4, 'listening');       // the total: a line
  c.advance(250); p.finish('4 VMs listening');
  t.is(stream.text, [
    'boot: build 0/4 (0.0 s)',
    'boot: listening 1/4 (1.5 s)',
    'boot: listening 3/4 (11.5 s)',
    'boot: listening 4/4 (12.0 s)',
    'boot: 4 VMs listening (12.3 s)',
    '',
  ].join('\n'));
});

test('a terminal: one bar redrawn in place, cut to the width; the summary replaces it on its own line', t => {
  const stream = recorder(true, 60), c = clock();
  const p = new Progress('bench:vm', 4, { stream, now: c.now });
  p.update(1, 'costs');
  c.advance(50); p.update(1, 'costs');            // same stage within 100 ms: no redraw
  c.advance(50); p.update(2, 'costs');            // 100 ms: redrawn
  p.update(2, 'a stage with a name long enough to be cut at the width');
  c.advance(1900); p.finish();
  const frames = stream.text.split('\r').slice(1);
  t.deepEqual(frames, [
    'bench:vm [######------------------] 1/4 costs 0.0 s\x1b[K',
    'bench:vm [############------------] 2/4 costs 0.1 s\x1b[K',
    'bench:vm [############------------] 2/4 a stage with a name\x1b[K',
    'bench:vm: done (2.0 s)\x1b[K\n',
  ]);
  t.is(frames[2].length - '\x1b[K'.length, 59);
  t.false(stream.text.slice(0, -1).includes('\n'));
});

test('finish without any update writes just the summary line, on a terminal too', t => {
  const stream = recorder(true), c = clock();
  new Progress('images', 0, { stream, now: c.now }).finish('nothing to build');
  t.is(stream.text, 'images: nothing to build (0.0 s)\n');
});
