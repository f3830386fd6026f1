// Contract: active opens of guest-src/libos/tcp.ts (RFC 9293 §3.10.1, §3.10.7.3) through the blocking
// socketConnect of sockets.ts, on the simulated wire (test guest guests/client.ts), every frame the guest sends
// checked byte for byte (IP identification taken from the frame, checksums recomputed by test/libos/packets.ts):
// ARP for the peer (or the gateway, off the subnet) before the SYN; the SYN with MSS and SACK-permitted from an
// RFC 6056 ephemeral port; SYN retransmissions with the RTO's back-off, then the give-up (SOCKET_TIMEOUT); RST
// refusal (SOCKET_REFUSED) and the SYN-SENT rules for unacceptable ACKs and RSTs; a whole exchange closed from
// the client side into TIME-WAIT; text and a FIN on the SYN,ACK; two connections to one peer from distinct
// ports, a listener's port skipped; a simultaneous open (SYN meets SYN, the SYN,ACKs cross), and a RST refusing
// it in SYN-RECEIVED.
import test, { type ExecutionContext } from 'ava';
import { runGuest, type Wire } from './harness.ts';
import {
  CONFIG, GUEST_MAC, PEER_MAC, BROADCAST, GUEST_IP, PEER_IP, REMOTE_IP, ethernet, arp, ipv4, tcp, toGuest, get16,
  parseTcpFrame, TCP, u16, type TcpFields,
} from './packets.ts';
import { MSS_OPTION, hex, bytes, expected, Peer, be32, guestTimestamps } from './tcp-peer.ts';

const { FIN, SYN, RST, PSH, ACK } = TCP;
const GUEST = 'test/libos/guests/client.ts';
/**
 * Our SYN's options: MSS 1460, SACK-permitted, Timestamps (TSval, TSecr 0; RFC 7323 §3.2), NOP, Window Scale 0
 * (RFC 7323 §2: the 4 KiB buffer needs no shift, the option lets the peer scale its own window).
 */
const synOptions = (tsVal: number) => [...MSS_OPTION, 4, 2, 8, 10, ...be32(tsVal), 0, 0, 0, 0, 1, 3, 3, 0];
/** A SYN's TSval (its clock offset is the guest's secret; later SYNs are checked against it). */
const synTsVal = (frame: Uint8Array) => guestTimestamps(frame)?.[0] ?? 0;
const ZERO_MAC = [0, 0, 0, 0, 0, 0];
const ipNumber = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);

/** The guest's ARP request for `ip` (RFC 826; target hardware address zero). */
const arpRequest = (ip: string) => ethernet(BROADCAST, GUEST_MAC, 0x0806, arp(1, GUEST_MAC, GUEST_IP, ZERO_MAC, ip));
const arpReply = () => ethernet(GUEST_MAC, PEER_MAC, 0x0806, arp(2, PEER_MAC, PEER_IP, GUEST_MAC, GUEST_IP));

/**
 * Checks that `frame` is the guest's SYN to PEER_IP:80 and returns its port, ISS and timestamp offset (its TSval
 * less the clock in ms at `now`); given the first SYN's, a retransmission's TSval is checked against the clock.
 */
function checkSyn(t: ExecutionContext, frame: Uint8Array | undefined, message: string, port?: number, iss?: number,
  tsOffset?: number, now = 0) {
  if (!frame) { t.fail(`no SYN: ${message}`); return { port: 0, iss: 0, tsOffset: 0 }; }
  const seg = parseTcpFrame(frame);
  const fields: TcpFields = {
    sport: port ?? seg.sport, dport: 80, seq: iss ?? seg.seq, ack: 0, flags: SYN, window: 4096,
    options: synOptions(tsOffset === undefined ? synTsVal(frame) : (Math.floor(now / 1000) + tsOffset) >>> 0),
  };
  t.deepEqual(hex([frame]), hex([expected(frame, fields)]), message);
  t.true(seg.sport >= 49152 && seg.sport <= 65535, `an ephemeral port (RFC 6056): ${seg.sport}`);
  return { port: seg.sport, iss: seg.seq, tsOffset: (synTsVal(frame) - Math.floor(now / 1000)) >>> 0 };
}

/** The guest asks for the peer's MAC as it connects (a thread runs before the first idle); the reply frees its SYN. */
function* resolvePeer(w: Wire): Generator<void, void, void> {
  yield;
  if (w.take().length === 1) w.send(arpReply());
  yield;
}

/** The guest's TCP frames of this round, answering its ARP requests for the peer (its cache entry expires). */
function* tcpFrames(w: Wire): Generator<void, Uint8Array[], void> {
  let out = w.take();
  while (out.some(f => get16(f, 12) === 0x0806)) {
    w.send(arpReply());
    yield;
    out = [...out.filter(f => get16(f, 12) !== 0x0806), ...w.take()];
  }
  return out;
}

test('connect: ARP for the peer, then the SYN from an ephemeral port; an exchange; our FIN first, TIME-WAIT', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield;
    t.deepEqual(hex(w.take()), hex([arpRequest(PEER_IP)]), 'the next hop resolved before the SYN');
    w.send(arpReply());
    yield;
    const out = w.take();
    t.is(out.length, 1, 'the SYN, held while ARP resolved');
    const { port, iss } = checkSyn(t, out[0], 'SYN: <SEQ=ISS><CTL=SYN>, MSS and SACK-permitted, our window');
    const p = new Peer(t, w, port, 80, 700000);
    p.iss = iss;
    p.rcv = (iss + 1) >>> 0;
    p.sackPermitted = true;
    p.send(SYN | ACK, [], { options: [...MSS_OPTION, 1, 1, 4, 2], window: 65535 });
    yield;
    const [ack, request] = w.take();
    p.expect([ack], ACK, [], 4096, 'the handshake\'s ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>');
    p.expect([request], ACK | PSH, bytes('ping\n'), 4096, 'the request, once connect returned');
    p.send(ACK | PSH, bytes('pong\n'));
    yield;
    // The application reads the answer and closes in the same batch: our FIN carries the ACK (no ACK alone).
    p.expect(w.take(), FIN | ACK, [], 4096, 'our FIN acknowledging the answer (the window open again: it was read)');
    p.send(ACK);
    yield;
    t.deepEqual(w.take(), [], 'FIN-WAIT-2: nothing to say');
    p.send(FIN | ACK);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'the peer\'s FIN acknowledged: TIME-WAIT');
    w.send(p.segment(FIN | ACK, [], { seq: (p.seq - 1) >>> 0 }));
    yield;
    p.expect(w.take(), ACK, [], 4096, 'a retransmitted FIN in TIME-WAIT is acknowledged again');
  });
  t.is(wire.console, 'connect 0\nread 5: 112 111 110 103 10\nclosed\n');
});

test('a SYN,ACK carrying text and a FIN: both taken (§3.10.7.3 "continue processing at the sixth step")', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield* resolvePeer(w);
    const { port, iss } = checkSyn(t, w.take()[0], 'SYN');
    const p = new Peer(t, w, port, 80, 31337);
    p.iss = iss;
    p.rcv = (iss + 1) >>> 0;
    p.send(SYN | ACK | FIN, bytes('pong\n'), { options: MSS_OPTION });
    yield;
    const [ack, request, ourFin] = w.take();
    p.expect([ack], ACK, [], 4096 - 5, 'one ACK for the SYN, the text and the FIN');
    p.expect([request], ACK | PSH, bytes('ping\n'), 4096 - 5, 'the request still goes (CLOSE-WAIT), before the read');
    p.expect([ourFin], FIN | ACK, [], 4096, 'the answer read, our FIN: LAST-ACK');
    p.send(ACK);
    yield;
    t.deepEqual(w.take(), [], 'closed');
  });
  t.is(wire.console, 'connect 0\nread 5: 112 111 110 103 10\nclosed\n');
});

test('connect off the subnet: ARP resolves the gateway, the SYN goes to its MAC', t => {
  runGuest(GUEST, { ...CONFIG, entry: 'connectMain', argument: ipNumber(REMOTE_IP) }, function* (w) {
    yield;
    t.deepEqual(hex(w.take()), hex([arpRequest(PEER_IP)]), 'the gateway (10.0.0.1) resolved, not 192.0.2.9');
    w.send(arpReply());
    yield;
    const [frame] = w.take();
    const seg = parseTcpFrame(frame);
    const want = ethernet(PEER_MAC, GUEST_MAC, 0x0800, ipv4(GUEST_IP, REMOTE_IP, 6, tcp(GUEST_IP, REMOTE_IP,
      { sport: seg.sport, dport: 80, seq: seg.seq, ack: 0, flags: SYN, window: 4096,
        options: synOptions(synTsVal(frame)) }),
    { id: get16(frame, 18), flags: 2 }));
    t.deepEqual(hex([frame]), hex([want]), 'SYN to 192.0.2.9 through the gateway\'s MAC');
  });
});

test('SYN retransmitted with the RTO doubling (1 s, 2 s ... 60 s), then connect gives up (SOCKET_TIMEOUT)', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield* resolvePeer(w);
    const first = checkSyn(t, w.take()[0], 'the first SYN', undefined, undefined, undefined, w.now);
    const gaps: number[] = [];
    for (let k = 0; k < 8; k++) {
      gaps.push(w.advanceToAlarm() / 1e6);
      yield;
      const out = yield* tcpFrames(w);
      t.is(out.length, 1, `retransmission ${k + 1}`);
      checkSyn(t, out[0], `retransmission ${k + 1}: the same SYN, TSval from the clock`, first.port, first.iss,
        first.tsOffset, w.now);
    }
    t.deepEqual(gaps, [1, 2, 4, 8, 16, 32, 60, 60], 'RFC 6298 §5.5 back-off, at most 60 s');
    t.is(w.console, '', 'still connecting after 183 s');
    t.is(w.advanceToAlarm(), 60e6);
    yield;
    t.deepEqual(yield* tcpFrames(w), [], 'no RST for a connection that never was');
    // The connection is gone: a late SYN,ACK to its port gets a RST (§3.10.7.1).
    const p = new Peer(t, w, first.port, 80, 5000);
    p.send(SYN | ACK, [], { ack: (first.iss + 1) >>> 0 });
    yield;
    const [rst] = yield* tcpFrames(w);
    t.deepEqual(hex([rst]), hex([expected(rst, { sport: first.port, dport: 80, seq: (first.iss + 1) >>> 0, ack: 0,
      flags: RST, window: 0 })]), 'CLOSED: <SEQ=SEG.ACK><CTL=RST>');
  });
  t.is(wire.console, 'connect -2\n', '243 s after the first SYN: §3.8.3\'s "at least 3 minutes"');
});

test('SYN-SENT: a bad ACK gets a RST, RSTs without an acceptable ACK are ignored, an acceptable RST refuses', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield* resolvePeer(w);
    const { port, iss } = checkSyn(t, w.take()[0], 'SYN');
    const p = new Peer(t, w, port, 80, 9000);
    const check = (frame: Uint8Array | undefined, fields: TcpFields, message: string) =>
      t.deepEqual(hex(frame ? [frame] : []), frame ? hex([expected(frame, fields)]) : ['a frame'], message);
    for (const bad of [iss, (iss + 2) >>> 0]) {   // SEG.ACK =< ISS, SEG.ACK > SND.NXT
      w.send(p.segment(SYN | ACK, [], { ack: bad }));
      yield;
      check(w.take()[0], { sport: port, dport: 80, seq: bad, ack: 0, flags: RST, window: 0 },
        `SYN,ACK acknowledging ${bad - iss - 1 < 0 ? 'ISS' : 'past SND.NXT'}: <SEQ=SEG.ACK><CTL=RST>`);
    }
    w.send(p.segment(RST | ACK, [], { ack: iss }));
    w.send(p.segment(RST));
    w.send(p.segment(ACK | PSH, bytes('data'), { ack: (iss + 1) >>> 0 }));
    yield;
    t.deepEqual(w.take(), [], 'RST with a bad ACK, RST without ACK, and an ACK without SYN: dropped');
    t.is(w.console, '', 'still connecting');
    w.send(p.segment(RST | ACK, [], { seq: 0, ack: (iss + 1) >>> 0 }));
    yield;
    t.deepEqual(w.take(), [], 'refused: nothing sent');
    t.is(w.alarmAt, null, 'no timer left for the connection');
  });
  t.is(wire.console, 'connect -4\n');
});

/** Runs twoMain (listening on `listen` when not 0): the two SYNs' ports, both connections then established. */
function twoConnections(t: ExecutionContext, listen: number): number[] {
  const ports: number[] = [];
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'twoMain', argument: listen }, function* (w) {
    yield* resolvePeer(w);
    const out = w.take();
    t.is(out.length, 2, 'two SYNs (both held while ARP resolved)');
    const syns = out.map((f, i) => checkSyn(t, f, `SYN ${i}`));
    ports.push(...syns.map(s => s.port));
    for (const { port, iss } of syns) {
      const p = new Peer(t, w, port, 80, 1234);
      p.rcv = (iss + 1) >>> 0;
      p.send(SYN | ACK, [], { options: MSS_OPTION });
      yield;
      p.expect(w.take(), ACK, [], 4096, `connection from ${port} established (no SACK: the peer did not offer it)`);
    }
  });
  t.is(wire.console, 't1 connect 0\nt2 connect 0\n');
  return ports;
}

test('two connections to one peer at once: distinct ephemeral ports (RFC 6056 Algorithm 3), not a listener\'s', t => {
  const [first, second] = twoConnections(t, 0);
  t.not(first, second, 'distinct ports');
  // The guest's clock, and so its secret, is the same in every run: a listener on the second port moves it on.
  const [again, moved] = twoConnections(t, second);
  t.is(again, first, 'the same first port');
  t.not(moved, second, 'not the listener\'s port');
  t.not(moved, first);
});

test('simultaneous open (§3.5 figure 8): SYN meets SYN, the SYN,ACKs cross, connected; the exchange goes on', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield* resolvePeer(w);
    const { port, iss } = checkSyn(t, w.take()[0], 'SYN');
    const p = new Peer(t, w, port, 80, 300);
    p.iss = iss;
    p.rcv = iss;                                 // the guest's SYN,ACK repeats its ISS
    p.send(SYN, [], { ack: 0, options: MSS_OPTION, window: 65535 });
    yield;
    p.expect(w.take(), SYN | ACK, [], 4096, 'SYN-SENT met a SYN: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>');
    t.is(w.console, '', 'not connected yet (SYN-RECEIVED)');
    // The peer's own SYN,ACK: its SYN again (one below RCV.NXT) with the ACK of ours.
    w.send(p.segment(SYN | ACK, [], { seq: 300, options: MSS_OPTION, window: 65535 }));
    yield;
    const out = w.take();
    p.expect(out.slice(-1), ACK | PSH, bytes('ping\n'), 4096, 'connected: the request goes');
    t.is(out.length, 1, 'nothing else: the crossing SYN,ACKs acknowledged both SYNs');
    p.send(ACK | PSH, bytes('pong\n'));
    yield;
    p.expect(w.take(), FIN | ACK, [], 4096, 'our FIN, acknowledging the answer');
  });
  t.is(wire.console, 'connect 0\nread 5: 112 111 110 103 10\nclosed\n');
});

test('simultaneous open: a RST in SYN-RECEIVED refuses the connection (came from SYN-SENT, §3.10.7.4)', t => {
  const { wire } = runGuest(GUEST, { ...CONFIG, entry: 'connectMain' }, function* (w) {
    yield* resolvePeer(w);
    const { port, iss } = checkSyn(t, w.take()[0], 'SYN');
    const p = new Peer(t, w, port, 80, 300);
    p.iss = iss;
    p.rcv = iss;
    p.send(SYN, [], { ack: 0, options: MSS_OPTION, window: 65535 });
    yield;
    p.expect(w.take(), SYN | ACK, [], 4096, 'SYN,ACK');
    p.send(RST);
    yield;
    t.deepEqual(w.take(), [], 'refused: nothing sent');
    t.is(w.alarmAt, null, 'no timer left for the connection');
  });
  t.is(wire.console, 'connect -4\n');
});
