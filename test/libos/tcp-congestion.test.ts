// Contract: the sender's congestion control (guest-src/libos/tcp-congestion.ts) on the simulated wire, one
// RFC rule a test, every segment the guest sends checked byte for byte (test/libos/tcp-peer.ts): RFC 5681's
// initial window, slow start and congestion avoidance seen in how many segments each ACK releases, the
// timeout's cwnd of one segment, RFC 6298's RTO from SRTT and RTTVAR with Karn's rule, back-off and the
// 3 s after a SYN,ACK timed out, RFC 3042's limited transmit, fast retransmit on the third duplicate ACK
// and RFC 6582's NewReno partial and full ACKs, and the restart after an idle period. The guest is
// test/libos/guests/stack.ts: port 21 sends 200,000 bytes of a pattern with 32 KiB buffers, port 22 echoes
// with 32 KiB buffers; the peer offers no SACK here (tcp-sack.test.ts has the SACK side).
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG, parseTcpFrame, TCP } from './packets.ts';
import { GUEST, learnPeer, Peer } from './tcp-peer.ts';

const { SYN, ACK, PSH } = TCP;
const MSS = 1460;
/** The window of a large-buffer port (256 KiB each way in the harness's 8 MiB VM): 65535 without scaling. */
const LARGE = 65535;

/** Checks that `frames` are `count` full bulk segments, the first `first` segments into the stream. */
function expectSegments(p: Peer, frames: Uint8Array[], first: number, count: number, message: string): void {
  p.t.is(frames.length, count, `${message}: ${count} segments`);
  frames.forEach((f, i) => p.checkBulk(f, (first + i) * MSS, MSS, `${message}: segment ${first + i}`));
}

test('slow start (RFC 5681 §3.1): IW of 3 segments, then every ACK of one segment releases two', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 42000, 1000, LARGE);
    yield* p.connect();
    expectSegments(p, w.take(), 0, 3, 'IW = 3 * SMSS for an SMSS of 1460 (eq. 1)');
    let next = 3;
    for (let k = 1; k <= 6; k++) {
      p.ackAt(k * MSS);
      yield;
      expectSegments(p, w.take(), next, 2, `ACK ${k}: cwnd += SMSS (eq. 2) and one segment left the network`);
      next += 2;
    }
    // cwnd is 9 segments; an ACK of three at once adds min(N, SMSS) = one: 6 were in flight, 10 may be.
    p.ackAt(9 * MSS);
    yield;
    expectSegments(p, w.take(), next, 4, 'an ACK of 3 segments grows cwnd by SMSS only');
  });
});

test('timeout (RFC 5681 §3.1, RFC 6298 §5): cwnd = 1 segment, ssthresh = FlightSize / 2, then avoidance', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 42001, 1000, LARGE);
    yield* p.connect();
    expectSegments(p, w.take(), 0, 3, 'IW');
    p.ackAt(MSS);
    yield;
    expectSegments(p, w.take(), 3, 2, 'slow start');   // 4 segments in flight, cwnd 4
    t.is(w.advanceToAlarm(), 200_000, 'RTO: the 200 ms floor (a zero RTT sample)');
    yield;
    expectSegments(p, w.take(), 1, 1, 'the timeout: cwnd = LW = 1 segment, the oldest again');
    t.is(w.advanceToAlarm(), 400_000, 'backed off');
    yield;
    expectSegments(p, w.take(), 1, 1, 'the second timeout: still one');
    // ssthresh = 4 segments in flight / 2 = 2 segments (eq. 4), kept at the second timeout.
    p.ackAt(2 * MSS);
    yield;
    expectSegments(p, w.take(), 2, 2, 'slow start up to ssthresh: cwnd 2');
    // Congestion avoidance from here: cwnd += SMSS each time the bytes acknowledged reach cwnd (§3.1 byte
    // counting); only full segments go.
    let cwnd = 2 * MSS, acked = 2, sent = 4, counted = 0;
    const counts: number[] = [];
    for (let k = 0; k < 6; k++) {
      acked++;
      p.ackAt(acked * MSS);
      yield;
      const out = w.take();
      out.forEach((f, i) => p.checkBulk(f, (sent + i) * MSS, MSS, 'congestion avoidance'));
      counted += MSS;
      if (counted >= cwnd) { counted -= cwnd; cwnd += MSS; }
      const allowed = Math.floor(cwnd / MSS) - (sent - acked);
      t.is(out.length, Math.max(0, allowed), `ACK ${k}: cwnd ${cwnd}`);
      counts.push(out.length);
      sent += out.length;
    }
    t.deepEqual(counts, [1, 2, 1, 1, 2, 1], 'one segment more per window of ACKs');
  });
});

test('RTO from SRTT and RTTVAR (RFC 6298 §2), Karn\'s rule and the backed-off RTO kept until a new sample', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 42002, 1000, LARGE);
    p.send(SYN, [], { options: [2, 4, MSS >> 8, MSS & 255], window: 65535 });
    yield;
    const [synAck] = w.take();
    p.iss = p.rcv = parseTcpFrame(synAck).seq;
    p.expect([synAck], SYN | ACK, [], LARGE);
    w.advance(100_000);
    p.send(ACK);
    yield;
    expectSegments(p, w.take(), 0, 3, 'IW');
    t.is(w.alarmAt! - w.now, 300_000, 'first sample R = 100 ms: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR');
    w.advance(20_000);
    p.ackAt(MSS);
    yield;
    expectSegments(p, w.take(), 3, 2, 'slow start');
    t.is(w.alarmAt! - w.now, 320_000, 'R = 20 ms: RTTVAR = 3/4 * 50 + 1/4 * 80, SRTT = 7/8 * 100 + 1/8 * 20');
    t.is(w.advanceToAlarm(), 320_000);
    yield;
    expectSegments(p, w.take(), 1, 1, 'timeout');
    t.is(w.alarmAt! - w.now, 640_000, 'backed off');
    w.advance(50_000);
    p.ackAt(2 * MSS);
    yield;
    expectSegments(p, w.take(), 2, 2, 'after the timeout, from SND.NXT = SND.UNA');
    t.is(w.alarmAt! - w.now, 640_000, 'Karn: no sample from a retransmitted segment, the backed-off RTO stays');
    w.advance(10_000);
    p.ackAt(4 * MSS);
    yield;
    expectSegments(p, w.take(), 4, 3, 'ssthresh reached, 2 segments acknowledged: cwnd 3; one old segment, two new');
    w.advance(30_000);
    p.ackAt(6 * MSS);
    yield;
    w.take();
    t.is(w.alarmAt! - w.now, 315_000, 'the new segment timed: R = 30 ms, SRTT 82.5 ms, RTTVAR 58.125 ms');
  });
});

test('RFC 6298 §5.7: after the SYN,ACK timed out, data starts with an RTO of 3 s (no RTT sample from it)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 42005, 1000, LARGE);
    p.send(SYN, [], { options: [2, 4, MSS >> 8, MSS & 255], window: 65535 });
    yield;
    const [synAck] = w.take();
    p.iss = p.rcv = parseTcpFrame(synAck).seq;
    t.is(w.advanceToAlarm(), 1_000_000, 'the initial RTO');
    yield;
    const [again] = w.take();
    p.expect([again], SYN | ACK, [], LARGE, 'the SYN,ACK again');
    p.send(ACK);
    yield;
    expectSegments(p, w.take(), 0, 3, 'IW');
    t.is(w.alarmAt! - w.now, 3_000_000, 'RTO re-initialized to 3 s');
  });
});

test('limited transmit (RFC 3042), fast retransmit on the third duplicate, NewReno partial and full ACKs', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 42003, 1000, LARGE);
    yield* p.connect();
    expectSegments(p, w.take(), 0, 3, 'IW');
    for (let k = 1; k <= 3; k++) {
      p.ackAt(k * MSS);
      yield;
      expectSegments(p, w.take(), 1 + 2 * k, 2, 'slow start');
    }
    // cwnd 6 segments, 3..8 in flight; 3 and 5 are lost. Each segment that arrives after a hole brings a
    // duplicate ACK of 3.
    p.ackAt(3 * MSS);
    yield;
    expectSegments(p, w.take(), 9, 1, 'first duplicate: one new segment past cwnd (limited transmit)');
    p.ackAt(3 * MSS);
    yield;
    expectSegments(p, w.take(), 10, 1, 'second duplicate: one more');
    p.ackAt(3 * MSS);
    yield;
    expectSegments(p, w.take(), 3, 1, 'third duplicate: segment 3 alone again (not go-back-N)');
    // ssthresh = 8 in flight / 2 = 4 segments; cwnd = ssthresh + 3 = 7 segments: 8 are out, nothing new.
    p.ackAt(3 * MSS);
    yield;
    t.deepEqual(w.take(), [], 'fourth duplicate: cwnd inflated to 8 segments, still 8 out');
    p.ackAt(3 * MSS);
    yield;
    expectSegments(p, w.take(), 11, 1, 'fifth duplicate: cwnd 9: a new segment');
    // The retransmitted 3 arrives: the ACK covers 3 and 4 but not recover (11): a partial ACK.
    p.ackAt(5 * MSS);
    yield;
    let out = w.take();
    t.is(out.length, 2, 'partial ACK: segment 5 again at once, and one new (cwnd deflated by 2, plus 1)');
    p.checkBulk(out[0], 5 * MSS, MSS, 'the next hole');
    p.checkBulk(out[1], 12 * MSS, MSS, 'new');
    // Everything up to recover: the full ACK ends recovery with cwnd = min(ssthresh, FlightSize + SMSS).
    p.ackAt(11 * MSS);
    yield;
    out = w.take();
    expectSegments(p, out, 13, 1, 'full ACK: cwnd = min(4, 2 + 1) = 3 segments, 2 out');
  });
});

test('restart after idle (RFC 5681 §4.1): after more than an RTO without sending, cwnd is back to IW', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 22, 42004, 1000, LARGE);
    yield* p.connect();
    const chunk = (k: number) => Array.from({ length: MSS }, (_, i) => (k * 31 + i) & 255);
    let k = 0;
    type Segment = ReturnType<typeof parseTcpFrame>;
    const dataOf = (frames: Uint8Array[]) => frames.map(f => parseTcpFrame(f)).filter(s => s.data.length > 0);
    /** Sends `n` segments at once; returns the data segments echoed before any ACK of them. */
    function* burst(n: number): Generator<void, Segment[], void> {
      for (let i = 0; i < n; i++) p.send(ACK | PSH, chunk(k++));
      yield;
      return dataOf(w.take());
    }
    /** Acknowledges the echoed data segment by segment until all of it is acknowledged. */
    function* drain(first: Segment[]): Generator<void, void, void> {
      let data = first;
      while (data.length > 0) {
        const more: Segment[] = [];
        for (const s of data) {
          p.send(ACK, [], { ack: (s.seq + s.data.length) >>> 0 });
          yield;
          more.push(...dataOf(w.take()));
        }
        data = more;
      }
    }
    let echoed = yield* burst(6);
    t.is(echoed.length, 3, 'a new connection: IW, 3 segments echoed, the other 3 wait');
    yield* drain(echoed);
    w.advance(100_000);
    echoed = yield* burst(6);
    t.is(echoed.length, 6, 'cwnd grew by a segment per ACK: after 100 ms (under an RTO) all 6 are echoed');
    yield* drain(echoed);
    w.advance(1_000_000);
    echoed = yield* burst(6);
    t.is(echoed.length, 3, 'after 1 s idle (over the RTO), cwnd restarts at IW: 3');
  });
});
