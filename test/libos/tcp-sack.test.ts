// Contract: the out-of-order queue and SACK (guest-src/libos/tcp-reassembly.ts) on the simulated wire,
// every segment the guest sends checked byte for byte (test/libos/tcp-peer.ts): a segment ahead of
// RCV.NXT is held and delivered with the gap's data under one cumulative ACK; held ranges are reported as
// SACK blocks in RFC 2018 §4's order (also on data segments), at most four, a fifth dropped; a FIN held
// out of order counts when the gap fills; SACK-permitted in the handshake.
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG, TCP } from './packets.ts';
import { GUEST, bytes, learnPeer, Peer } from './tcp-peer.ts';

const { FIN, ACK, PSH } = TCP;

/** Sends `data` at `offset` bytes past `base` (our sequence space), leaving p.seq where it was. */
function sendAt(p: Peer, base: number, offset: number, data: number[], flags = ACK | PSH): void {
  const saved = p.seq;
  p.seq = (base + offset) >>> 0;
  p.send(flags, data);
  p.seq = saved;
}

test('an out-of-order segment is held; the gap\'s data delivers both under one cumulative ACK (no SACK)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 43000);
    yield* p.connect();
    const base = p.seq;
    sendAt(p, base, 6, bytes('world'));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'a duplicate ACK at once (RFC 5681 §4.2), the data held');
    sendAt(p, base, 0, bytes('hello '));
    p.seq = (base + 11) >>> 0;
    yield;
    p.expect(w.take(), ACK | PSH, bytes('hello world'), 4096, 'one segment: both echoed, one ACK covering both');
  });
});

test('SACK blocks (RFC 2018): SACK-permitted answered, newest block first, merged, gone when the gap fills', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 43001);
    yield* p.connect(1460, 65535, true);
    const base = p.seq;
    const at = (x: number) => (base + x) >>> 0;
    const ten = (k: number) => Array.from({ length: 10 }, (_, i) => 48 + ((k + i) % 10));
    sendAt(p, base, 10, ten(1));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'one block', [[at(10), at(20)]]);
    sendAt(p, base, 30, ten(3));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'the newest block first', [[at(30), at(40)], [at(10), at(20)]]);
    sendAt(p, base, 50, ten(5));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'three', [[at(50), at(60)], [at(30), at(40)], [at(10), at(20)]]);
    sendAt(p, base, 20, ten(2));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'a segment joining two blocks: one block, first',
      [[at(10), at(40)], [at(50), at(60)]]);
    sendAt(p, base, 0, ten(0));
    p.seq = at(40);
    yield;
    p.expect(w.take(), ACK | PSH, [...ten(0), ...ten(1), ...ten(2), ...ten(3)], 4096,
      'the gap filled: 40 bytes echoed, the remaining block reported on the data segment', [[at(50), at(60)]]);
    sendAt(p, base, 40, ten(4));
    p.seq = at(60);
    yield;
    p.expect(w.take(), ACK | PSH, [...ten(4), ...ten(5)], 4096, 'all in: no SACK option');
  });
});

test('at most 4 held ranges: a fifth apart from them is dropped, the others delivered when their gaps fill', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 43002);
    yield* p.connect(1460, 65535, true);
    const base = p.seq;
    const at = (x: number) => (base + x) >>> 0;
    const five = (k: number) => Array.from({ length: 5 }, (_, i) => 65 + k + i);
    for (const x of [10, 30, 50, 70]) { sendAt(p, base, x, five(x)); yield; w.take(); }
    sendAt(p, base, 90, five(90));
    yield;
    const four: [number, number][] = [[at(70), at(75)], [at(50), at(55)], [at(30), at(35)], [at(10), at(15)]];
    p.expect(w.take(), ACK, [], 4096, 'the fifth range is not held: the same four blocks', four);
    sendAt(p, base, 0, [...Array(10).fill(1)]);
    p.seq = at(15);
    yield;
    p.expect(w.take(), ACK | PSH, [...Array(10).fill(1), ...five(10)], 4096, 'the first range joins RCV.NXT',
      [[at(70), at(75)], [at(50), at(55)], [at(30), at(35)]]);
    sendAt(p, base, 15, [...Array(15).fill(2)]);
    sendAt(p, base, 35, [...Array(15).fill(3)]);
    sendAt(p, base, 55, [...Array(15).fill(4)]);
    sendAt(p, base, 75, [...Array(15).fill(5)]);
    yield;
    const out = w.take();
    t.is(out.length, 4, 'each segment joins a held range: four echoes');
    const echoes: [number, number[], [number, number][]][] = [
      [35, [...Array(15).fill(2), ...five(30)], [[at(70), at(75)], [at(50), at(55)]]],
      [55, [...Array(15).fill(3), ...five(50)], [[at(70), at(75)]]],
      [75, [...Array(15).fill(4), ...five(70)], []],
      [90, [...Array(15).fill(5)], []],
    ];
    let seq = p.rcv;
    echoes.forEach(([ack, data, sack], i) => {
      p.seq = at(ack);
      p.check(out[i], seq, ACK | PSH, data, { message: `echo up to ${ack}`, sack });
      seq += data.length;
    });   // the last ACK is 90: the fifth range was not held, it must come again
  });
});

test('a FIN held out of order counts once the gap before it fills', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 43003);
    yield* p.connect();
    const base = p.seq;
    sendAt(p, base, 10, bytes('0123456789'), ACK | PSH | FIN);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'held: a duplicate ACK');
    sendAt(p, base, 0, bytes('abcdefghij'));
    p.seq = (base + 21) >>> 0;
    yield;
    p.expect(w.take(), ACK | PSH | FIN, bytes('abcdefghij0123456789'), 4096,
      'the data echoed, the FIN taken (ACK past it), and the echo app closes too');
  });
  t.regex(wire.console, /tcp 0 2\ntcp 0 4\n$/, 'DATA then PEER_CLOSED');
});
