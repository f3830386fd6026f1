// Contract: tools/qemu.ts wholeLines, what tests and benches match the kernel's serial output against while
// it is still coming: only the lines already ended by a newline, after an offset. A line-anchored pattern
// ending in `$` (`$` also matches at the end of the text) must not match a line cut where the output stops:
// net-relay's report line was once read as `... timeouts 0, re` on a loaded host.
import test from 'ava';
import { wholeLines } from '../../tools/qemu.ts';

const REPORT = /^\[vm 0\] echo: closed, retransmits (\d+), .*$/m;

test('a line still being written is left out, so a pattern ending in $ waits for its newline', t => {
  const cut = 'boot\n[vm 0] echo: closed, retransmits 76, timeouts 0, re';
  t.regex(cut, REPORT);                                // the trap: `$` matches where the output stops
  t.is(wholeLines(cut), 'boot\n');
  t.notRegex(wholeLines(cut), REPORT);
  const whole = `${cut}coveries 9, out of order 4684\n[vm 0] next`;
  t.is(REPORT.exec(wholeLines(whole))![0],
    '[vm 0] echo: closed, retransmits 76, timeouts 0, recoveries 9, out of order 4684');
});

test('from an offset: the whole lines after it; nothing when no newline came after it', t => {
  t.is(wholeLines('a\nb\nc', 2), 'b\n');
  t.is(wholeLines('a\nb\nc', 4), '');
  t.is(wholeLines('a\nbc', 3), '');
  t.is(wholeLines('', 0), '');
});
