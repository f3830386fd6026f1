// Contract: guest-src/libos/threads.ts on the host interpreter (the compiler's contextCreate and
// contextSwitch as the bytecode interpreter runs them) with the harness's simulated clock: threads run
// in creation order, yields take turns round robin, sleeps end in deadline order at their deadlines
// (the one alarm carries the nearest), a wait with a timeout times out, a wait on a channel ends when
// another thread wakes it, and finished threads leave the table.
import test from 'ava';
import { runGuest } from './harness.ts';
import {
  CONFIG, GUEST_IP, PEER_IP, PEER_MAC, BROADCAST, ethernet, arp, ipv4, udp, toGuest, parseIpv4Frame,
} from './packets.ts';

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

test('threadWakeOne: one waiter per call, the lowest numbered that waits (the one just woken waits again)', t => {
  const { wire } = runGuest('test/libos/guests/threads.ts', { ...CONFIG, entry: 'wakeOneMain' }, function* (w) {
    for (let i = 0; i < 100 && !w.console.includes('dealer done'); i++) {
      yield;
      if (w.alarmAt !== null && w.pending === 0) w.advanceToAlarm();
    }
  });
  // Waking every waiter would print four lines per wake-up; t1 took the first and waits again by the next.
  t.is(wire.console, ['t1 took one', 't1 took one', 't2 took one', 'dealer done', ''].join('\n'));
});

test('UDP sockets: two threads share a blocking socket (the first woken takes both queued datagrams); they are echoed to their senders; receive times out', t => {
  const { wire } = runGuest('test/libos/guests/threads.ts', { ...CONFIG, entry: 'udpEchoMain' }, function* (w) {
    w.send(ethernet(BROADCAST, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP)));
    yield;
    w.take();
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, udp(PEER_IP, GUEST_IP, 5000, 7, [...Buffer.from('first')]))));
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, udp(PEER_IP, GUEST_IP, 5001, 7, [...Buffer.from('second one')]))));
    yield;
    const out = w.take();
    const echoes = out.map(f => parseIpv4Frame(f).payload);
    t.deepEqual(echoes.map(p => Buffer.from(p.subarray(8)).toString()), ['first', 'second one']);
    t.deepEqual(echoes.map(p => (p[2] << 8) | p[3]), [5000, 5001], 'to the senders\' ports');
    w.advanceToAlarm();   // both receives time out after 50 ms
    yield;
  });
  t.is(wire.console, 'udp echo up\nt1 echoes 5 bytes to port 5000\nt1 echoes 10 bytes to port 5001\nt1 idle 50 ms\nt2 idle 50 ms\n');
});
