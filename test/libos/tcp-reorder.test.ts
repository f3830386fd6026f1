// Contract: reordering in the guest's TCP sender (guest-src/libos/tcp-congestion.ts) on the simulated wire,
// every segment the guest sends checked byte for byte (test/libos/tcp-peer.ts): a hole filled by its
// original segment after data above it was SACKed raises the connection's DupThresh to the reordering's
// degree + 1 and turns the duplicate-ACK trigger off (RFC 8985 §6.2, as Linux), so the same reordering
// again starts no recovery; a real loss is still repaired (IsLost with the raised DupThresh, or the
// reordering timer); a fast recovery whose hole was filled by the original segment, as the ACK's timestamp
// echo older than the retransmission's TSval shows (Eifel, RFC 3522), is undone: cwnd and ssthresh as
// before it (RFC 4015), no partial-ACK recovery.
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG } from './packets.ts';
import { GUEST, learnPeer, Peer } from './tcp-peer.ts';

const MSS = 1460;
/** The window of a large-buffer port (256 KiB each way in the harness's 8 MiB VM): 65535 without scaling. */
const LARGE = 65535;

/** The bulk segment size: SMSS less 12 bytes of timestamps when agreed (RFC 6691). */
const size = (p: Peer): number => p.timestamps ? MSS - 12 : MSS;

function expectSegments(p: Peer, frames: Uint8Array[], segments: number[], message: string): void {
  p.t.is(frames.length, segments.length, `${message}: ${segments.length} segments`);
  frames.forEach((f, i) => p.checkBulk(f, segments[i] * size(p), size(p), `${message}: segment ${segments[i]}`));
}

/** Opens a SACK connection to the bulk port and grows cwnd to 6 segments: 3..8 in flight, 1 ms apart. */
function* sixInFlight(p: Peer, timestamps: boolean): Generator<void, void, void> {
  yield* p.connect(MSS, 65535, true, { timestamps });
  p.w.take();
  for (let k = 1; k <= 3; k++) { p.w.advance(1000); p.ackAt(k * size(p)); yield; p.w.take(); }
}

/**
 * Segment 3 arrives after 4 and 5 (never sent again): reordering of degree 3, DupThresh 4. Then segment 6 is
 * missing while 7..9 are SACKed: three duplicates, no recovery.
 */
function* reorderedThenHole(p: Peer): Generator<void, void, void> {
  const w = p.w;
  yield* sixInFlight(p, false);
  const s = (k: number) => k * MSS;
  p.ackAt(s(3), [[s(4), s(5)]]);
  yield;
  expectSegments(p, w.take(), [9], 'SACK of 4: a duplicate, limited transmit');
  p.ackAt(s(3), [[s(4), s(6)]]);
  yield;
  expectSegments(p, w.take(), [10], 'SACK of 5: a second duplicate, limited transmit');
  p.ackAt(s(6));
  yield;
  expectSegments(p, w.take(), [11, 12], 'segment 3 arrived late (never sent again): cwnd 7, 5 out');
  p.ackAt(s(6), [[s(7), s(8)]]);
  yield;
  expectSegments(p, w.take(), [13], 'the next hole: a duplicate, limited transmit');
  p.ackAt(s(6), [[s(7), s(9)]]);
  yield;
  expectSegments(p, w.take(), [14], 'a second duplicate');
  p.ackAt(s(6), [[s(7), s(10)]]);
  yield;
  p.t.deepEqual(w.take(), [], 'the third duplicate, 3 segments SACKed above the hole (DupThresh - 1): no recovery');
}

test('reordering seen (a hole filled by its original) raises DupThresh: the same reordering starts no recovery', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 45000, 1000, LARGE);
    yield* reorderedThenHole(p);
    p.ackAt(11 * MSS, [[12 * MSS, 15 * MSS]]);
    yield;
    expectSegments(p, w.take(), [15, 16, 17, 18, 19],
      'segment 6 came late too: SND.UNA 11, cwnd 8, 4 out, one more for the SACK (RFC 3042)');
    p.ackAt(15 * MSS);
    yield;
    expectSegments(p, w.take(), [20, 21, 22, 23], 'the hole at 11 filled: cwnd 9, and no retransmission in all this');
  });
});

test('after reordering was seen, a lost segment is found by IsLost with the raised DupThresh', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 45001, 1000, LARGE);
    yield* reorderedThenHole(p);
    p.ackAt(6 * MSS, [[7 * MSS, 11 * MSS]]);
    yield;
    expectSegments(p, w.take(), [6], 'four SACKed above it: IsLost with DupThresh 4, recovery sends the hole');
  });
});

test('after reordering was seen, a loss with little SACKed above it goes when the reordering window ends', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 45002, 1000, LARGE);
    yield* reorderedThenHole(p);
    t.is(w.alarmAt! - w.now, 2_000, 'the reordering window (SRTT / 4, at least 2 ms)');
    w.advanceToAlarm();
    yield;
    expectSegments(p, w.take(), [6], 'the hole is lost: recovery sends it');
  });
});

test('Eifel (RFC 3522): an ACK echoing a TSecr older than the retransmission undoes the recovery', t => {
  for (const original of [true, false]) {
    runGuest(GUEST, CONFIG, function* (w) {
      yield* learnPeer(w);
      const p = new Peer(t, w, 21, 45003 + Number(original), 1000, LARGE);
      yield* sixInFlight(p, true);
      const sent = p.echo;   // the TSval of segments 6..8, sent last (3..5 a millisecond before)
      const s = (k: number) => k * size(p);
      w.advance(5000);
      p.ackAt(s(3), [[s(4), s(5)]]);
      yield;
      expectSegments(p, w.take(), [9], 'limited transmit');
      p.ackAt(s(3), [[s(4), s(6)]]);
      yield;
      expectSegments(p, w.take(), [10], 'limited transmit');
      p.ackAt(s(3), [[s(4), s(7)]]);
      yield;
      expectSegments(p, w.take(), [3], 'the third duplicate: recovery, segment 3 again 5 ms later');
      const retransmitted = p.echo;
      t.true(retransmitted > sent);
      // The ACK of segment 3 echoes the TSval of the copy that filled the hole.
      p.echo = original ? sent - 1 : retransmitted;
      p.ackAt(s(7));
      yield;
      if (original) {
        // Undone: cwnd 6 (as before) + 1 (slow start), 7, 8, 9, 10 out: 11, 12, 13 go.
        expectSegments(p, w.take(), [11, 12, 13], 'the original arrived: recovery undone, cwnd back to 7');
      } else {
        // The retransmission filled it: still in recovery (recover = 11), cwnd = ssthresh = 4, pipe 4.
        t.deepEqual(w.take(), [], 'the retransmission filled the hole: recovery goes on, cwnd 4');
      }
    });
  }
});

test('a D-SACK doubles the reordering window for the next hole (RFC 8985 §6.2 reo_wnd_mult)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 45005, 1000, LARGE);
    yield* p.connect(MSS, 65535, true);
    let high = 0;   // segments sent so far (all new data, in order)
    const take = (message: string): number => {
      const out = w.take();
      expectSegments(p, out, out.map((_, i) => high + i), message);
      high += out.length;
      return out.length;
    };
    take('IW');
    for (let round = 0; round < 6; round++) {   // round trips of 40 ms: SRTT grows (a probe may go meanwhile)
      w.advance(40_000);
      yield;
      take('a probe, if any');
      p.ackAt(high * MSS);
      yield;
      take(`round ${round}`);
    }
    const h = high;   // segments h - n .. h - 1 are in flight, n > 4
    const s = (k: number) => k * MSS;
    p.ackAt(s(h - 6), [[s(h - 5), s(h - 4)]]);
    yield;
    take('a hole: limited transmit');
    const first = w.alarmAt! - w.now;
    t.true(first > 2_000, `the reordering window SRTT / 4: ${first} µs`);
    p.ackAt(s(h - 6), [[s(h - 8), s(h - 7)], [s(h - 5), s(h - 4)]]);
    yield;
    t.is(take('a D-SACK (a block below the ACK)'), 0, 'not a duplicate: nothing sent');
    p.ackAt(s(h - 4), [[s(h - 3), s(h - 2)]]);
    yield;
    take('the hole filled, another');
    const second = w.alarmAt! - w.now;
    // SRTT may have moved by one sample (at most an eighth down): SRTT / 4 * 2 is still more than 1.5 times the first.
    t.true(second > first * 1.5 && second <= 2 * first, `the reordering window SRTT / 4 * 2: ${second} µs`);
  });
});
