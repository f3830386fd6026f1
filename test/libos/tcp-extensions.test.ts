// Contract: RFC 7323 in guest-src/libos/tcp-extensions.ts on the simulated wire, every segment the guest
// sends checked byte for byte (test/libos/tcp-peer.ts): Window Scale answered with the shift the receive
// buffer needs, the SYN's window unscaled and every later one scaled both ways, more than 64 KiB in flight;
// Timestamps answered, TSval from the guest's millisecond clock, TSecr = TS.Recent (§4.3, an out-of-order
// segment's TSval not taken), RTTM after a retransmission (Karn's rule would give no sample), PAWS (§5.3:
// an old TSval answered with an ACK and dropped, a segment without the option dropped silently, a RST
// taken whatever its TSval; §5.5: after 24 days idle an old TSval is taken).
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG, TCP, parseTcpFrame } from './packets.ts';
import { GUEST, bytes, learnPeer, Peer } from './tcp-peer.ts';

const { ACK, PSH, RST } = TCP;
const MSS = 1460;
/** A large-buffer port's receive buffer in the harness's 8 MiB VM (tcp-buffers.ts): 256 KiB, shift 3. */
const LARGE_BUFFER = 262144;
const LARGE_SHIFT = 3;

test('window scaling: the shift from the buffer, the SYN unscaled, windows scaled both ways, > 64 KiB in flight', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 21, 44000, 1000, LARGE_BUFFER >> LARGE_SHIFT);
    // Our SYN offers shift 7; the guest's SYN,ACK: window 65535 unscaled (RFC 7323 §2.2), its shift 3.
    // Our ACK's window field 12 means 12 << 7 = 1536 bytes: one full segment may go, the 76 left wait (SWS).
    yield* p.connect(MSS, 12, true, { windowShift: 7 }, 65535, LARGE_SHIFT);
    let out = w.take();
    t.is(out.length, 1, 'the window read as 1536 bytes, not 12');
    p.checkBulk(out[0], 0, MSS, 'one segment; its window field 262144 >> 3 = 32768');
    // Open the window to 2048 << 7 = 256 KiB and grow cwnd by acknowledging segment by segment.
    let acked = MSS, sent = MSS;
    for (let round = 0; round < 5; round++) {   // 4, 8, 16, 32, 64 segments (slow start doubles per round)
      for (let a = acked; a <= sent; a += MSS) p.ackAt(Math.min(a, sent), [], 2048);
      acked = sent + MSS;
      yield;
      out = w.take();
      out.forEach((f, i) => {
        if (round === 0 && i === 0) p.checkBulk(f, sent, MSS, 'the first segment after the window opened');
        t.is(parseTcpFrame(f).window, 32768, 'every window field scaled');
      });
      sent += out.reduce((n, f) => n + parseTcpFrame(f).data.length, 0);
    }
    const inFlight = sent - (acked - MSS);
    t.is(inFlight, 64 * MSS, `more than 64 KiB in flight before any ACK of it: ${inFlight}`);
  });
});

test('timestamps: TSval from the clock, TSecr = TS.Recent, an out-of-order TSval not taken (RFC 7323 §3-§4)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 44001);
    yield* p.connect(MSS, 65535, true, { timestamps: true });
    p.send(ACK | PSH, bytes('hello'));
    yield;
    p.expect(w.take(), ACK | PSH, bytes('hello'), 4096, 'the echo: TSval the clock + offset, TSecr our TSval');
    w.advance(37_000);
    p.tsVal += 3;
    p.send(ACK | PSH, bytes('again'));
    yield;
    p.expect(w.take(), ACK | PSH, bytes('again'), 4096, '37 ms later: TSval 37 more, TSecr our new TSval');
    // A segment ahead of RCV.NXT (SEG.SEQ > Last.ACK.sent) with a newer TSval: held, TS.Recent unchanged.
    const before = p.recent;
    const base = p.seq;
    p.seq = (base + 10) >>> 0;
    p.tsVal += 5;
    p.send(ACK | PSH, bytes('later'));
    p.seq = base;
    p.recent = before;
    yield;
    p.expect(w.take(), ACK, [], 4096, 'a duplicate ACK echoing the old TS.Recent (§4.3 R3)', [[base + 10, base + 15]]);
  });
});

test('RTTM: the ACK of a retransmission gives an RTT sample by its TSecr, where Karn\'s rule gives none', t => {
  for (const timestamps of [false, true]) {
    runGuest(GUEST, CONFIG, function* (w) {
      yield* learnPeer(w);
      const p = new Peer(t, w, 21, 44002 + Number(timestamps), 1000, 65535);
      yield* p.connect(MSS, 65535, false, { timestamps });
      out(p, w.take(), [0, 1, 2]);
      t.is(w.advanceToAlarm(), 200_000, 'the RTO (the SYN,ACK\'s round trip: the 200 ms minimum)');
      yield;
      out(p, w.take(), [0], 'the timeout: segment 0 again, the RTO backed off to 400 ms');
      w.advance(30_000);
      p.ackAt(timestamps ? MSS - 12 : MSS);
      yield;
      out(p, w.take(), [1, 2], 'its ACK, 30 ms later; cwnd 2: segments 1 and 2 again');
      t.is(w.alarmAt! - w.now, timestamps ? 200_000 : 400_000, timestamps
        ? 'RTTM: 30 ms measured from the TSecr, the RTO back to 200 ms' : 'no timestamps: the backed-off RTO is kept');
    });
  }
});

/** Checks `frames` are the bulk segments numbered `segments` (1448 bytes of data beside timestamps: RFC 6691). */
function out(p: Peer, frames: Uint8Array[], segments: number[], message = ''): void {
  const size = p.timestamps ? MSS - 12 : MSS;
  p.t.is(frames.length, segments.length, `${message}: ${segments.length} segments`);
  frames.forEach((f, i) => p.checkBulk(f, segments[i] * size, size, `${message}: segment ${segments[i]}`));
}

test('PAWS (RFC 7323 §5): an old TSval gets an ACK, no option is dropped, 24 days idle lift it, a RST is taken', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 44004);
    yield* p.connect(MSS, 65535, false, { timestamps: true });
    p.send(ACK | PSH, bytes('one'));
    yield;
    p.expect(w.take(), ACK | PSH, bytes('one'), 4096, 'echo');
    // A segment at RCV.NXT whose TSval is older than TS.Recent: not acceptable, an ACK, the data dropped.
    const recent = p.recent;
    p.tsVal = recent - 100;
    p.send(ACK | PSH, bytes('old'));
    p.seq = (p.seq - 3) >>> 0;
    p.recent = recent;
    yield;
    p.expect(w.take(), ACK, [], 4096, 'PAWS: an ACK, TSecr still TS.Recent, the data not taken');
    // Without a Timestamps option: dropped silently (§3.2).
    p.timestamps = false;
    p.send(ACK | PSH, bytes('bare'));
    p.seq = (p.seq - 4) >>> 0;
    p.timestamps = true;
    yield;
    t.deepEqual(w.take(), [], 'no Timestamps option: no answer');
    // 25 days later the same old TSval is taken: TS.Recent was invalid (§5.5).
    w.advance(25 * 86400e6);
    p.tsVal = recent - 100;
    p.send(ACK | PSH, bytes('late'));
    yield;
    p.expect(w.take(), ACK | PSH, bytes('late'), 4096, 'after 24 days idle: taken, its TSval echoed');
    // A RST at RCV.NXT with an older TSval still resets (§5.3 R1 leaves RSTs out).
    p.tsVal -= 50;
    p.send(RST | ACK);
    yield;
    t.deepEqual(w.take(), [], 'reset: no answer');
  });
  t.regex(wire.console, /tcp 0 6\n$/, 'the RST was taken: RESET');
});
