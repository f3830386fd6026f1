// Contract: guest-src/libos/threads.ts on the host interpreter (the compiler's contextCreate and
// contextSwitch as the bytecode interpreter runs them) with the harness's simulated clock: threads run
// in creation order, yields take turns round robin, sleeps end in deadline order at their deadlines
// (the one alarm carries the nearest), a wait with a timeout times out, a wait on a channel ends when
// another thread wakes it, and finished threads leave the table.
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG } from './packets.ts';

test('threads: round-robin yields, sleeps in deadline order, wait timeout, wake by channel', t => {
  const { wire } = runGuest('test/libos/guests/threads.ts', { ...CONFIG, entry: 'testMain' }, function* (w) {
    for (let i = 0; i < 100 && !w.console.includes('threads done'); i++) {
      yield;
      if (w.alarmAt !== null && w.pending === 0) w.advanceToAlarm();
    }
  });
  t.is(wire.console, [
    'threads 6',
    't5 turn 0 at 0 ms', 't6 turn 0 at 0 ms', 't5 turn 1 at 0 ms', 't6 turn 1 at 0 ms',
    't3 timed out 5 at 5 ms',
    't2 slept 10 at 10 ms',
    't4 wakes 77 at 15 ms',
    't3 woken 0 at 15 ms',
    't1 slept 30 at 30 ms',
    'threads done, live 1',   // the last thread itself, about to end
    '',
  ].join('\n'));
});
