// Contract: guest-src/libos/tcp.ts (RFC 9293) on the host interpreter with a simulated wire. The test
// plays the peer with its own segment builder (test/libos/packets.ts) and checks every segment the
// guest sends byte by byte (IP identification taken from the frame, all checksums recomputed here):
// the handshake with the MSS option, echo, FIN both ways, RST for unknown connections, malformed
// segments, the receive window, retransmission with back-off, zero-window probes, 16 connections.
import test from 'ava';
import { runGuest, type Wire } from './harness.ts';
import {
  CONFIG, GUEST_MAC, PEER_MAC, PEER_IP, GUEST_IP, ethernet, arp, ipv4, tcp, toGuest, get16, parseTcpFrame, TCP, u16,
  type TcpFields,
} from './packets.ts';
import { GUEST, MSS_OPTION, hex, bytes, expected, learnPeer, Peer } from './tcp-peer.ts';

const { FIN, SYN, RST, PSH, ACK } = TCP;

test('handshake with the MSS option, echo, FIN from the peer answered by ours, then RST for the gone connection', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 40001);
    yield* p.connect();
    t.deepEqual(w.take(), [], 'nothing after the handshake');
    p.send(ACK | PSH, bytes('hello, tcp'));
    yield;
    p.expect(w.take(), ACK | PSH, bytes('hello, tcp'), 4096, 'echo carries the ACK');
    p.send(ACK);
    yield;
    t.deepEqual(w.take(), [], 'a pure ACK is not answered');
    // two segments queued at once: both echoed
    p.send(ACK | PSH, bytes('one '));
    p.send(ACK | PSH, bytes('two'));
    yield;
    const out = w.take();
    t.is(out.length, 2);
    const seqBefore = p.seq;
    p.seq = (seqBefore - 3) >>> 0; p.expect([out[0]], ACK | PSH, bytes('one '), 4096, 'first echo');
    p.seq = seqBefore; p.expect([out[1]], ACK | PSH, bytes('two'), 4096, 'second echo');
    // the peer closes: the guest acknowledges and closes too (CLOSE-WAIT -> LAST-ACK): one FIN,ACK
    p.send(FIN | ACK);
    yield;
    p.expect(w.take(), FIN | ACK, [], 4096, 'our FIN');
    p.send(ACK);
    yield;
    t.deepEqual(w.take(), [], 'LAST-ACK -> CLOSED');
    p.send(ACK | PSH, bytes('late'));
    yield;
    const [rst] = w.take();
    t.deepEqual(hex([rst]), hex([expected(rst, { sport: 7, dport: 40001, seq: p.rcv, ack: 0, flags: RST, window: 0 })]), '<SEQ=SEG.ACK><CTL=RST>');
  });
  // accepted, data, writable (the echo acknowledged), data, data, writable, peer closed, closed
  t.is(wire.console, 'stack up\ntcp 0 1\ntcp 0 2\ntcp 0 3\ntcp 0 2\ntcp 0 2\ntcp 0 3\ntcp 0 4\ntcp 0 5\n');
});

test('RST for segments of no connection (RFC 9293 §3.10.7.1); RST never answered; LISTEN answers an ACK with RST', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const check = (frame: Uint8Array | undefined, fields: TcpFields, message: string) => t.deepEqual(hex(frame ? [frame] : []), frame ? hex([expected(frame, fields)]) : ['a frame'], message);
    const p = new Peer(t, w, 81, 40002, 5000);
    p.send(SYN);
    yield;
    check(w.take()[0], { sport: 81, dport: 40002, seq: 0, ack: 5001, flags: RST | ACK, window: 0 }, 'SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>');
    p.send(ACK | PSH, [1, 2, 3], { ack: 777 });
    yield;
    check(w.take()[0], { sport: 81, dport: 40002, seq: 777, ack: 0, flags: RST, window: 0 }, 'ACK to a closed port: <SEQ=SEG.ACK><CTL=RST>');
    p.send(PSH | FIN, [1, 2, 3]);
    yield;
    check(w.take()[0], { sport: 81, dport: 40002, seq: 0, ack: p.seq, flags: RST | ACK, window: 0 }, 'no ACK: SEG.LEN counts data and FIN');
    p.send(RST);
    p.send(RST | ACK);
    yield;
    t.deepEqual(w.take(), [], 'RST is never answered');
    const l = new Peer(t, w, 7, 40003);
    l.send(ACK, [], { ack: 4242 });
    yield;
    check(w.take()[0], { sport: 7, dport: 40003, seq: 4242, ack: 0, flags: RST, window: 0 }, 'LISTEN: an ACK gets a RST');
    l.send(RST);
    yield;
    t.deepEqual(w.take(), [], 'LISTEN: RST ignored');
  });
});

test('malformed segments are dropped: bad checksum, data offset, truncation, port 0, SYN+FIN, bad option lengths', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const syn = (extra: Partial<TcpFields>) => toGuest(ipv4(PEER_IP, GUEST_IP, 6, tcp(PEER_IP, GUEST_IP, { sport: 40010, dport: 7, seq: 1, flags: SYN, ...extra })));
    const cases: [string, Uint8Array][] = [
      ['bad checksum', syn({ badChecksum: true })],
      ['data offset 4', syn({ dataOffset: 4 })],
      ['data offset past the segment', syn({ dataOffset: 15 })],
      ['truncated header', toGuest(ipv4(PEER_IP, GUEST_IP, 6, tcp(PEER_IP, GUEST_IP, { sport: 40010, dport: 7, seq: 1, flags: SYN }).slice(0, 19)))],
      ['source port 0', syn({ sport: 0 })],
      ['SYN+FIN', syn({ flags: SYN | FIN })],
      ['option length 0', syn({ options: [8, 0, 0, 0] })],
      ['option length past the header', syn({ options: [1, 8, 10, 0] })],
      ['MSS option of length 3', syn({ options: [2, 3, 5, 0] })],
    ];
    for (const [name, frame] of cases) {
      w.send(frame);
      yield;
      t.deepEqual(w.take(), [], name);
    }
    // unknown options are skipped by their length; the MSS after them counts; the SYN is answered
    const p = new Peer(t, w, 20, 40011);
    // NOP NOP SACK-perm, kind 30 (10 bytes), MSS=256, EOL
    p.send(SYN, [], { options: [1, 1, 4, 2, 30, 10, 0, 0, 0, 1, 0, 0, 0, 2, 2, 4, 1, 0, 0, 0] });
    yield;
    const [synAck] = w.take();
    p.iss = p.rcv = parseTcpFrame(synAck).seq;
    p.sackPermitted = true;   // the SACK-permitted among them is answered
    p.expect([synAck], SYN | ACK, [], 4096, 'options skipped');
    p.send(ACK, [], { window: 65535 });
    yield;
    const sizes = w.take().map(f => parseTcpFrame(f).data.length);
    t.deepEqual(sizes, new Array(4).fill(256),
      'bulk data in MSS-sized segments: the initial window, 4 of 256 (RFC 5681 §3.1)');
  });
});

test('bulk send: MSS segments, the peer window respected, FIN after the data; default MSS 536 without the option', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 20, 40020);
    p.send(SYN, [], { window: 3000 });   // no MSS option: 536
    yield;
    const [synAck] = w.take();
    p.iss = p.rcv = parseTcpFrame(synAck).seq;
    p.expect([synAck], SYN | ACK, [], 4096);
    p.send(ACK, [], { window: 3000 });
    const pattern = Array.from({ length: 10000 }, (_, i) => (i * 7) % 251);
    let rounds = 0, finSeen = false;
    while (!finSeen && rounds < 50) {
      rounds++;
      yield;
      const out = w.take();
      let inFlight = 0;
      for (const frame of out) {
        const seg = parseTcpFrame(frame);
        t.true(seg.checksumOk && seg.ip.headerChecksumOk);
        t.true(seg.data.length <= 536, 'at most the default MSS');
        inFlight += seg.data.length;
        p.expect([frame], seg.flags, Array.from(seg.data), 4096);
        if (seg.flags & FIN) finSeen = true;
      }
      t.true(inFlight <= 3000, `within the peer's window (${inFlight})`);
      p.send(ACK, [], { window: 3000 });
    }
    t.true(finSeen, 'FIN after the data');
    t.deepEqual(p.received, pattern, 'every byte, in order');
    yield;
    t.deepEqual(w.take(), [], 'FIN-WAIT-2');
    p.send(FIN | ACK);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'the peer FIN acknowledged (TIME-WAIT)');
    t.is(w.alarmAt! - w.now, 2_000_000, 'TIME-WAIT timer');
  });
});

test('retransmission on the alarm with exponential back-off (RFC 6298), then the ACK stops it', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 13, 40030);
    yield* p.connect();
    const first = w.take();
    const greeting = bytes('hello from denali\n');
    const save = p.rcv;
    p.expect(first, ACK | PSH | FIN, greeting, 4096, 'greeting and FIN in one segment');
    // One segment in flight: its ACKs may wait (lazy ACKs), so the RTO is at least 1 s (tcp-congestion.ts
    // LAZY_MIN_RTO_US; 200 ms otherwise after a zero RTT sample), and backs off from there.
    t.is(w.alarmAt! - w.now, 1_000_000, 'RTO: the lazy minimum');
    for (const rto of [1_000_000, 2_000_000, 4_000_000]) {
      t.is(w.advanceToAlarm(), rto);
      yield;
      p.rcv = save;
      p.received = [];
      p.expect(w.take(), ACK | PSH | FIN, greeting, 4096, `retransmitted after ${rto} µs`);
    }
    p.send(ACK);
    yield;
    t.deepEqual(w.take(), []);
    t.is(w.alarmAt, null, 'no timer in FIN-WAIT-2');
    p.send(FIN | ACK);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'TIME-WAIT');
    w.advanceToAlarm();
    yield;
    t.is(w.alarmAt, null, 'TIME-WAIT over');
  });
});

test('early retransmit (RFC 5827): one segment out and nothing new to send, the first duplicate ACK resends it', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 40040);
    yield* p.connect();
    const before = p.rcv;
    p.send(ACK | PSH, bytes('lost on the way back'));
    yield;
    const now = w.now;
    p.expect(w.take(), ACK | PSH, bytes('lost on the way back'), 4096, 'echo');
    // The echo "was lost": the peer's next segment acknowledges only up to before it.
    p.send(ACK, [], { ack: before, window: 65535 });
    yield;
    t.is(w.now, now, 'no time passed: not the RTO');
    p.rcv = before;
    p.received = [];
    p.expect(w.take(), ACK | PSH, bytes('lost on the way back'), 4096, 'resent on the first duplicate ACK');
    p.send(ACK, [], { window: 65535 });
    yield;
    t.deepEqual(w.take(), []);
    t.is(w.alarmAt, null, 'all acknowledged: no timer');
  });
});

test('retransmissions exhausted: the connection is reset', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 13, 40031);
    yield* p.connect();
    w.take();
    // Each alarm sends the segment again (backed off from the lazy RTO of 1 s: 1, 2, 4, ... 60 s), then the 9th
    // resets. On the way the ARP entry (60 s) expires: a segment waits for a new resolution, which we answer.
    let retransmissions = 0, arpRequests = 0, rst = false;
    for (let alarms = 0; alarms < 30 && !rst; alarms++) {
      w.advanceToAlarm();
      yield;
      for (const frame of w.take()) {
        if (get16(frame, 12) === 0x0806) {
          arpRequests++;
          w.send(ethernet(GUEST_MAC, PEER_MAC, 0x0806, arp(2, PEER_MAC, PEER_IP, GUEST_MAC, GUEST_IP)));
          yield;
          for (const after of w.take()) if (parseTcpFrame(after).flags & RST) rst = true; else retransmissions++;
        } else if (parseTcpFrame(frame).flags & RST) rst = true;
        else retransmissions++;
      }
    }
    t.true(rst, 'reset');
    t.is(retransmissions, 8, 'eight retransmissions first (TCP_MAX_RETRIES)');
    t.true(arpRequests >= 1, 'the ARP entry expired on the way');
    t.is(w.alarmAt, null);
  });
  t.regex(wire.console, /tcp 0 6\n$/);
});

test('receive window: data beyond it is trimmed, a zero window is advertised; an out-of-order segment gets a duplicate ACK', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 19, 40040);
    yield* p.connect();
    const chunk = (n: number, base: number) => Array.from({ length: n }, (_, i) => (base + i) & 255);
    p.send(ACK | PSH, chunk(1460, 0));
    yield;
    p.expect(w.take(), ACK, [], 4096 - 1460, 'window shrinks');
    p.send(ACK | PSH, chunk(1460, 1));
    yield;
    p.expect(w.take(), ACK, [], 4096 - 2920);
    const edge = p.seq + 4096 - 2920;
    p.send(ACK | PSH, chunk(1460, 2));   // 284 bytes past the window
    yield;
    p.seq = edge;                        // only 1176 bytes were taken
    p.expect(w.take(), ACK, [], 0, 'trimmed to the window; zero window');
    p.send(ACK | PSH, chunk(10, 3));
    p.seq -= 10;
    yield;
    p.expect(w.take(), ACK, [], 0, 'not acceptable: ACK with the same numbers');
    // out of order inside a window: dropped with a duplicate ACK (on the echo port)
    const e = new Peer(t, w, 7, 40041);
    yield* e.connect();
    e.seq += 100;
    e.send(ACK | PSH, bytes('ahead'));
    yield;
    e.seq -= 105;
    e.expect(w.take(), ACK, [], 4096, 'duplicate ACK for an out-of-order segment');
    e.send(ACK | PSH, bytes('in order'));
    yield;
    e.expect(w.take(), ACK | PSH, bytes('in order'));
  });
});

test('zero window from the peer: nothing sent, a one-byte probe on the persist timer, then the data', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 20, 40050);
    yield* p.connect(1460, 0);
    t.deepEqual(w.take(), [], 'window 0: no data');
    t.not(w.alarmAt, null, 'persist timer');
    w.advanceToAlarm();
    yield;
    const probe = w.take();
    p.expect(probe, ACK | PSH, [0], 4096, 'one-byte probe');
    p.rcv = (p.rcv - 1) >>> 0; p.received = [];   // the probe byte was not accepted
    p.send(ACK, [], { window: 0 });
    yield;
    t.deepEqual(w.take(), []);
    p.send(ACK, [], { window: 2000 });
    yield;
    const sizes = w.take().map(f => parseTcpFrame(f).data.length);
    // Sender SWS avoidance (§3.8.6.2.1): the 540 bytes left of the window are neither a full segment, nor
    // all that is queued, nor half the largest window: they wait for the ACK.
    t.deepEqual(sizes, [1460], 'the window opened: a full segment');
    p.rcv = (p.rcv + 1460) >>> 0;
    p.send(ACK, [], { window: 2000 });
    yield;
    t.deepEqual(w.take().map(f => parseTcpFrame(f).data.length), [1460], 'the window moved: the next');
  });
});

/** The guest's frames of this round, its ARP requests for the peer answered (its cache entries expire). */
function* answeringArp(w: Wire): Generator<void, Uint8Array[], void> {
  let out = w.take();
  while (out.some(f => get16(f, 12) === 0x0806)) {
    w.send(ethernet(GUEST_MAC, PEER_MAC, 0x0806, arp(2, PEER_MAC, PEER_IP, GUEST_MAC, GUEST_IP)));
    yield;
    out = [...out.filter(f => get16(f, 12) !== 0x0806), ...w.take()];
  }
  return out;
}

test('a zero window that never opens: probes backed off to 60 s while answered, reset after 10 min', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 20, 40051);
    yield* p.connect(1460, 0);
    const gaps: number[] = [];
    let elapsed = 0;
    for (;;) {
      const gap = w.advanceToAlarm();
      yield;
      const out = yield* answeringArp(w);
      if (gaps.length > 0) elapsed += gap;
      gaps.push(gap / 1e6);
      if (parseTcpFrame(out[0]).flags & RST) {
        const rst = expected(out[0], { sport: 20, dport: 40051, seq: p.rcv, ack: 0, flags: RST, window: 0 });
        t.deepEqual(hex(out), hex([rst]), 'the RST at SND.UNA (the peer\'s window ends there)');
        break;
      }
      p.expect(out, ACK | PSH, [0], 4096, `probe ${gaps.length}`);
      p.rcv = (p.rcv - 1) >>> 0; p.received = [];   // not accepted: the window is zero
      p.send(ACK, [], { window: 0 });                 // but answered
      yield;
      t.deepEqual(yield* answeringArp(w), []);
    }
    t.deepEqual(gaps, [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60, 60, 60, 60, 60, 60, 60, 60, 60],
      'RFC 6298 back-off up to 60 s; kept while the peer answers');
    t.true(elapsed >= 600e6 && elapsed < 660e6, `reset 10 minutes after the first probe: ${elapsed / 1e6} s`);
  });
  t.regex(wire.console, /tcp 0 6\n$/, 'the application hears RESET');
  // A peer that answers no probe at all is given up after 8 unanswered ones (§3.8.3 R2).
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 20, 40052);
    yield* p.connect(1460, 0);
    let probes = 0;
    for (;;) {
      w.advanceToAlarm();
      yield;
      const [frame] = yield* answeringArp(w);
      if (parseTcpFrame(frame).flags & RST) break;
      probes++;
    }
    t.is(probes, 9, 'the first probe and 8 unanswered retransmissions of it, then the RST');
  });
});

test('SYN-RECEIVED: a duplicate SYN and the alarm resend the SYN,ACK; a RST there is silent; RST and SYN in ESTABLISHED', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 9, 40060);
    const synAck = (frame: Uint8Array | undefined, message: string) => t.deepEqual(hex(frame ? [frame] : []),
      frame ? hex([expected(frame, { sport: 9, dport: 40060, seq: p.iss, ack: 1001, flags: SYN | ACK, window: 4096, options: MSS_OPTION })]) : ['a frame'], message);
    p.send(SYN, [], { options: MSS_OPTION });
    yield;
    p.iss = parseTcpFrame(w.take()[0]).seq;
    p.seq = 1000;
    p.send(SYN, [], { options: MSS_OPTION });
    yield;
    synAck(w.take()[0], 'a duplicate SYN: the SYN,ACK again');
    t.is(w.advanceToAlarm(), 1_000_000, 'initial RTO 1 s');
    yield;
    synAck(w.take()[0], 'retransmitted on the alarm');
    p.send(RST);   // at RCV.NXT: back to LISTEN, silently
    yield;
    t.deepEqual(w.take(), []);
    p.send(ACK, [], { ack: p.iss + 1 });
    yield;
    t.is(parseTcpFrame(w.take()[0]).flags, RST, 'the connection is gone: LISTEN answers the ACK with RST');
    // ESTABLISHED: RFC 5961 challenge ACKs
    const e = new Peer(t, w, 9, 40061);
    yield* e.connect();
    e.seq += 10; e.send(RST); e.seq -= 10;
    yield;
    e.expect(w.take(), ACK, [], 4096, 'RST inside the window but not at RCV.NXT: challenge ACK');
    e.send(SYN);
    e.seq -= 1;
    yield;
    e.expect(w.take(), ACK, [], 4096, 'SYN in ESTABLISHED: challenge ACK');
    e.send(RST);
    yield;
    t.deepEqual(w.take(), [], 'RST at RCV.NXT: reset');
  });
  t.regex(wire.console, /tcp 0 1\ntcp 0 6\n$/);
});

test('many connections at once: 16 echo connections interleaved, then closed (more: tcp-scale.test.ts)', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const peers = Array.from({ length: 16 }, (_, i) => new Peer(t, w, 7, 41000 + i, 100000 * i));
    for (const p of peers) yield* p.connect();
    w.take();
    for (let round = 0; round < 3; round++) {
      for (const p of peers) p.send(ACK | PSH, bytes(`round ${round} from ${p.sport}`));
      yield;
      const out = w.take();
      t.is(out.length, 16);
      for (const frame of out) {
        const seg = parseTcpFrame(frame);
        const p = peers.find(q => q.sport === seg.dport)!;
        p.expect([frame], ACK | PSH, bytes(`round ${round} from ${p.sport}`));
      }
    }
    for (const p of peers) p.send(FIN | ACK);
    yield;
    t.is(w.take().length, 16, 'every connection answers the FIN with its own');
    for (const p of peers) { p.rcv++; p.send(ACK); }
    yield;
    t.deepEqual(w.take(), [], 'LAST-ACK -> CLOSED');
  });
});
