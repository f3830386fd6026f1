// Contract: the out-of-order queue and SACK (guest-src/libos/tcp-reassembly.ts, tcp-congestion.ts) on the
// simulated wire, every segment the guest sends checked byte for byte (test/libos/tcp-peer.ts): a segment
// ahead of RCV.NXT is held and delivered with the gap's data under one cumulative ACK; held ranges are
// reported as SACK blocks in RFC 2018 §4's order (also on data segments), at most four, a fifth dropped;
// a FIN held out of order counts when the gap fills; SACK-permitted in the handshake; the sender's RFC 6675
// recovery sends only the holes (IsLost, pipe, NextSeg), a retransmission found lost is sent again, and
// RFC 8985's tail loss probe and reordering timer start repairs no duplicate ACK would.
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG, TCP } from './packets.ts';
import { GUEST, bytes, learnPeer, Peer } from './tcp-peer.ts';

const { FIN, ACK, PSH } = TCP;
const MSS = 1460;
/** The window of a large-buffer port (256 KiB each way in the harness's 8 MiB VM): 65535 without scaling. */
const LARGE = 65535;

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

/** Opens a SACK connection to the large bulk port and grows cwnd to 6 segments: 3..8 in flight. */
function* sixInFlight(p: Peer): Generator<void, void, void> {
  yield* p.connect(1460, 65535, true);
  p.w.take();
  for (let k = 1; k <= 3; k++) { p.ackAt(k * MSS); yield; p.w.take(); }
}

function expectSegments(p: Peer, frames: Uint8Array[], segments: number[], message: string): void {
  p.t.is(frames.length, segments.length, `${message}: ${segments.length} segments`);
  frames.forEach((f, i) => p.checkBulk(f, segments[i] * MSS, MSS, `${message}: segment ${segments[i]}`));
}

test('SACK recovery (RFC 6675): IsLost, pipe and NextSeg send the holes only, then new data; a full ACK ends it', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 43010, 1000, LARGE);
    yield* sixInFlight(p);
    const s = (k: number) => k * MSS;
    // 3 and 5 are lost.
    p.ackAt(s(3), [[s(4), s(5)]]);
    yield;
    expectSegments(p, w.take(), [9], 'SACK of 4: a duplicate (RFC 6675 §2); limited transmit');
    p.ackAt(s(3), [[s(6), s(7)], [s(4), s(5)]]);
    yield;
    expectSegments(p, w.take(), [10], 'SACK of 6: a second duplicate');
    p.ackAt(s(3), [[s(6), s(8)], [s(4), s(5)]]);
    yield;
    expectSegments(p, w.take(), [3], 'third: recovery, segment 3 again; cwnd = ssthresh = 4, pipe 5');
    p.ackAt(s(3), [[s(6), s(9)], [s(4), s(5)]]);
    yield;
    expectSegments(p, w.take(), [5], 'SACK of 8: 5 now IsLost (3 segments SACKed above): sent, pipe back to 4');
    p.ackAt(s(5), [[s(6), s(9)]]);
    yield;
    expectSegments(p, w.take(), [11], 'the retransmitted 3 arrived: no hole left to send, new data (NextSeg rule 2)');
    p.ackAt(s(9));
    yield;
    expectSegments(p, w.take(), [12], 'the retransmitted 5 arrived: still below the recovery point');
    p.ackAt(s(11));
    yield;
    expectSegments(p, w.take(), [13], 'the recovery point reached: cwnd = min(ssthresh, FlightSize + SMSS) = 3');
  });
});

test('a lost retransmission: once data sent after it is SACKed, the hole goes again (no RTO)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 43011, 1000, LARGE);
    yield* sixInFlight(p);
    const s = (k: number) => k * MSS;
    p.ackAt(s(3), [[s(4), s(5)]]);
    yield;
    expectSegments(p, w.take(), [9], 'limited transmit');
    p.ackAt(s(3), [[s(4), s(6)]]);
    yield;
    expectSegments(p, w.take(), [10], 'limited transmit');
    p.ackAt(s(3), [[s(4), s(7)]]);
    yield;
    expectSegments(p, w.take(), [3], 'recovery: 3 again');
    p.ackAt(s(3), [[s(4), s(8)]]);
    yield;
    t.deepEqual(w.take(), [], 'pipe = cwnd');
    for (const k of [9, 10, 11]) {
      p.ackAt(s(3), [[s(4), s(k)]]);
      yield;
      expectSegments(p, w.take(), [k + 2], `SACK up to ${k}: one new segment`);
    }
    // Segment 11 was sent after the retransmission of 3; its SACK says that retransmission was lost.
    p.ackAt(s(3), [[s(4), s(12)]]);
    yield;
    expectSegments(p, w.take(), [3, 14], 'segment 3 a third time, then new data');
  });
});

test('tail loss probe (RFC 8985 §7): after PTO, new data when it may go, else the last segment again', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 43012, 1000, LARGE);
    yield* p.connect(1460, 65535, true);
    expectSegments(p, w.take(), [0, 1, 2], 'IW');
    t.is(w.alarmAt! - w.now, 10_000, 'PTO = 2 SRTT, at least 10 ms');
    w.advanceToAlarm();
    yield;
    expectSegments(p, w.take(), [3], 'the probe: a new segment, past cwnd');
    t.is(w.alarmAt! - w.now, 200_000, 'then the RTO');
    // With the peer's window full, the probe is the last segment again.
    const q = new Peer(t, w, 21, 43013, 1000, LARGE);
    yield* q.connect(1460, 3 * MSS, true);
    expectSegments(q, w.take(), [0, 1, 2], 'IW, the window full');
    w.advanceToAlarm();
    yield;
    expectSegments(q, w.take(), [2], 'the probe: segment 2 again');
    // 0 and 1 were lost: the probe's SACK shows it. One duplicate with 3 segments out is not enough for
    // RFC 5827 (2 needed); RACK's reordering timer starts recovery.
    q.ackAt(0, [[2 * MSS, 3 * MSS]], 3 * MSS);
    yield;
    t.deepEqual(w.take(), []);
    t.is(w.alarmAt! - w.now, 2_000, 'the reordering window: SRTT / 4, at least 2 ms');
    w.advanceToAlarm();
    yield;
    expectSegments(q, w.take(), [0], 'the hole at SND.UNA is lost: recovery sends it');
  });
});
