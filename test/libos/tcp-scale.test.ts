// Contract: guest-src/libos/tcp.ts at scale and under a SYN flood, on the host interpreter with the simulated
// wire (test/libos/harness.ts) and the peer of tcp-peer.ts (every segment checked byte for byte):
// - connections bounded by memory (tcp-table.ts, tcp-buffers.ts): 300 at once in a VM of 1 MiB, an idle one
//   holding no ring, every TCB and ring back once they close (the guest's UDP 11 tells its figures);
// - the listen backlog and SYN cookies (tcp-cookies.ts, RFC 4987 §3.6): past the backlog a SYN gets a cookie
//   SYN,ACK and nothing is kept; the ACK that brings the cookie back makes the connection with the cookie's
//   MSS; a forged cookie (a wrong cookie, or the right one for another ISN) is refused with a RST; window
//   scaling and SACK-permitted ride in the TSval's low bits when the SYN had Timestamps.
import test, { type ExecutionContext } from 'ava';
import { runGuest, type Wire } from './harness.ts';
import { CONFIG, PEER_IP, GUEST_IP, ipv4, udp, toGuest, parseTcpFrame, TCP, u16 } from './packets.ts';
import { GUEST, hex, bytes, expected, learnPeer, guestTimestamps, be32, Peer } from './tcp-peer.ts';

const { FIN, SYN, RST, PSH, ACK } = TCP;

/** The guest's TCP figures (its UDP 11: `live L most M rings R ...`) as numbers by name. */
function* stats(w: Wire, into: Record<string, number>): Generator<void, void, void> {
  w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, udp(PEER_IP, GUEST_IP, 40999, 11, [0]))));
  yield;
  const [reply] = w.take();
  const text = Buffer.from(reply.subarray(14 + 20 + 8)).toString('latin1');
  const words = text.split(' ');
  for (let i = 0; i + 1 < words.length; i += 2) into[words[i]] = Number(words[i + 1]);
}

/** `count` connections to the echo port from ports 20000 + i, all established; the guest's figures in `s`. */
function* connectAll(t: ExecutionContext, w: Wire, count: number, s: Record<string, number>):
  Generator<void, Peer[], void> {
  yield* learnPeer(w);
  const peers = Array.from({ length: count }, (_, i) => new Peer(t, w, 7, 20000 + i, 1000 + 7919 * i));
  for (const p of peers) yield* p.connect();
  w.take();
  yield* stats(w, s);
  t.is(s.live, count, 'every connection is there');
  return peers;
}

test('300 connections at once in a VM of 1 MiB: each echoes; idle ones hold no ring; closed, all is given back', t => {
  const CONNECTIONS = 300;
  const { wire } = runGuest(GUEST, { ...CONFIG, memoryKiB: 1024 }, function* (w) {
    const s: Record<string, number> = {};
    const peers = yield* connectAll(t, w, CONNECTIONS, s);
    t.is(s.rings, 0, 'established and idle: no ring held');
    t.true(s.table >= CONNECTIONS * 100 && s.table < 1024 * 1024, `the table in the VM's memory (${s.table} bytes)`);
    // All 300 send at once: 600 rings of 4 KiB do not fit in 1 MiB. Text that finds no receive ring is dropped
    // (not acknowledged: the peer sends it again), an echo that finds no send ring waits for WRITABLE (a ring
    // given back when another echo is acknowledged); every connection is served in the end.
    const message = (p: Peer) => bytes(`hello from ${p.sport}`);
    const waiting = new Set(peers);
    const taken = new Set<Peer>();
    for (const p of peers) p.send(ACK | PSH, message(p));
    for (let round = 0; round < 50 && waiting.size > 0; round++) {
      yield;
      for (const frame of w.take()) {
        const seg = parseTcpFrame(frame);
        const p = peers[seg.dport - 20000];
        if (seg.ack === p.seq) taken.add(p);
        if (seg.data.length === 0) continue;
        t.deepEqual([seg.seq, Buffer.from(seg.data).toString('latin1')], [p.rcv, `hello from ${p.sport}`], 'the echo');
        p.rcv = (p.rcv + seg.data.length) >>> 0;
        waiting.delete(p);
        p.send(ACK);
      }
      for (const p of waiting) {
        if (taken.has(p)) continue;
        p.seq = (p.seq - message(p).length) >>> 0;   // not acknowledged: sent again
        p.send(ACK | PSH, message(p));
      }
    }
    t.is(waiting.size, 0, 'every connection echoed');
    yield;
    t.deepEqual(w.take(), [], 'nothing more');
    yield* stats(w, s);
    t.true(s.nomem > 0, `the rings ran out (${s.nomem} segments dropped) ...`);
    t.true(s.ringsMost > 16, `... at ${s.ringsMost} rings (256-byte chunks and pages)`);
    t.is(s.rings, 0, 'every echo acknowledged: every ring given back');
    for (const p of peers) p.send(FIN | ACK);
    yield;
    t.is(w.take().length, CONNECTIONS, 'every connection answers the FIN with its own');
    for (const p of peers) { p.rcv++; p.send(ACK); }
    yield;
    yield* stats(w, s);
    t.deepEqual([s.live, s.most, s.rings], [0, CONNECTIONS, 0], 'all closed: nothing held');
  });
  t.regex(wire.console, /^stack up\n/);
});

test('1,200 connections in a VM of 2 MiB: past the 512 whose TCB pages the image holds, into a directory page', t => {
  // tcp-table.ts: connections 0..511 are found through the image's inlinePages, the others through directory
  // pages; each connection echoes its own message and answers its own FIN, so a TCB of one scheme read
  // through the other would show.
  const CONNECTIONS = 1200;
  const BATCH = 100;
  const { wire } = runGuest(GUEST, { ...CONFIG, memoryKiB: 2048 }, function* (w) {
    const s: Record<string, number> = {};
    const peers = yield* connectAll(t, w, CONNECTIONS, s);
    let echoed = 0;
    for (let first = 0; first < CONNECTIONS; first += BATCH) {
      const batch = peers.slice(first, first + BATCH);
      for (const p of batch) p.send(ACK | PSH, bytes(`hello from ${p.sport}`));
      yield;
      for (const frame of w.take()) {
        const seg = parseTcpFrame(frame);
        const p = peers[seg.dport - 20000];
        if (seg.data.length === 0) continue;
        t.is(Buffer.from(seg.data).toString('latin1'), `hello from ${p.sport}`, 'its own echo');
        p.rcv = (p.rcv + seg.data.length) >>> 0;
        p.send(ACK);
        echoed++;
      }
      yield;
      w.take();
    }
    t.is(echoed, CONNECTIONS, 'every connection echoed');
    for (const p of peers) p.send(FIN | ACK);
    yield;
    const fins = w.take().map(parseTcpFrame).filter(seg => (seg.flags & FIN) !== 0).map(seg => seg.dport - 20000);
    t.is(new Set(fins).size, CONNECTIONS, 'every connection answers the FIN with its own');
    for (const p of peers) { p.rcv++; p.send(ACK); }
    yield;
    yield* stats(w, s);
    t.deepEqual([s.live, s.most], [0, CONNECTIONS], 'all closed');
  });
  t.regex(wire.console, /^stack up\n/);
});

test('past the backlog a SYN gets a cookie, nothing kept; its ACK makes the connection with the cookie\'s MSS', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    // Port 20 (bulk) listens with a backlog of 4: four SYNs that never complete fill its SYN queue.
    const halfOpen = Array.from({ length: 4 }, (_, i) => new Peer(t, w, 20, 30000 + i, 5000 * i));
    for (const p of halfOpen) p.send(SYN, [], { options: [2, 4, ...u16(1460)] });
    yield;
    t.is(w.take().length, 4, 'four SYN,ACKs with state');
    const s: Record<string, number> = {};
    yield* stats(w, s);
    t.deepEqual([s.live, s.cookies], [4, 0]);
    // The fifth: a SYN,ACK exactly as ever (checked byte for byte by connect), its ISS a cookie, no state.
    const p = new Peer(t, w, 20, 31000, 777777);
    p.send(SYN, [], { options: [2, 4, ...u16(1300)], window: 65535 });
    yield;
    const [synAck] = w.take();
    p.iss = parseTcpFrame(synAck).seq;
    p.rcv = (p.iss + 1) >>> 0;
    t.deepEqual(hex([synAck]), hex([expected(synAck, { sport: 20, dport: 31000, seq: p.iss, ack: p.seq,
      flags: SYN | ACK,
      window: 4096, options: [2, 4, ...u16(1460)] })]), 'the cookie SYN,ACK');
    yield* stats(w, s);
    t.deepEqual([s.live, s.cookies], [4, 1], 'a cookie sent, nothing kept');
    // A forged cookie: one more than ours, and ours for another ISN: both refused with <SEQ=SEG.ACK><CTL=RST>.
    const forged = new Peer(t, w, 20, 31000, 777777 + 1);
    forged.send(ACK, [], { ack: (p.iss + 1 + 0x10000) >>> 0 });
    yield;
    const [wrong] = w.take();
    t.deepEqual(hex([wrong]), hex([expected(wrong, { sport: 20, dport: 31000, seq: (p.iss + 1 + 0x10000) >>> 0, ack: 0,
      flags: RST,
      window: 0 })]), 'a blind guess at the cookie: RST');
    const other = new Peer(t, w, 20, 31000, 900000);
    other.send(ACK, [], { ack: (p.iss + 1) >>> 0 });
    yield;
    const [rst] = w.take();
    t.deepEqual(hex([rst]),
      hex([expected(rst, { sport: 20, dport: 31000, seq: (p.iss + 1) >>> 0, ack: 0, flags: RST, window: 0 })]),
      'the cookie for another ISN: RST');
    yield* stats(w, s);
    t.deepEqual([s.live, s.bad, s.ok], [4, 2, 0], 'two forged cookies refused, nothing kept');
    // The right ACK: ESTABLISHED; the bulk port writes at once, in segments of the cookie's MSS (1300).
    p.send(ACK, [], { window: 65535 });
    yield;
    const data = w.take();
    t.true(data.length >= 1, 'data at once');
    p.checkBulk(data[0], 0, 1300, 'the first segment: the cookie\'s MSS, 1300');
    yield* stats(w, s);
    t.deepEqual([s.live, s.ok], [5, 1], 'the cookie made the connection');
  });
});

test('a cookie keeps the window shift and SACK-permitted in the TSval when the SYN had Timestamps; else neither', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const halfOpen = Array.from({ length: 4 }, (_, i) => new Peer(t, w, 7, 32000 + i, 5000 * i));
    for (const p of halfOpen) p.send(SYN, [], { options: [2, 4, ...u16(1460)] });
    yield;
    w.take();
    // SYN with MSS, SACK-permitted, Timestamps (TSval 5000) and Window Scale 7, as Linux sends it.
    const p = new Peer(t, w, 7, 33000, 123456);
    const offer = [2, 4, ...u16(1460), 4, 2, 8, 10, ...be32(5000), 0, 0, 0, 0, 1, 3, 3, 7];
    p.send(SYN, [], { options: offer, window: 65535 });
    yield;
    const [synAck] = w.take();
    const seg = parseTcpFrame(synAck);
    const stamps = guestTimestamps(synAck)!;
    t.is(stamps[0] & 63, 7 | 16, 'TSval\'s low bits: shift 7, SACK-permitted');
    t.is(stamps[1], 5000, 'TSecr: our TSval');
    t.deepEqual([...seg.options], [2, 4, ...u16(1460), 4, 2, 8, 10, ...be32(stamps[0]), ...be32(5000), 1, 3, 3, 0],
      'the SYN,ACK offers SACK, Timestamps and Window Scale (ours 0: a 4 KiB window)');
    // The ACK echoes the TSval: the connection takes shift 7 (its window field 512 means 65536) and SACK.
    p.iss = seg.seq; p.rcv = (p.iss + 1) >>> 0;
    const echoStamps = [1, 1, 8, 10, ...be32(5001), ...be32(stamps[0])];
    p.send(ACK | PSH, bytes('cookie with options'), { window: 512, options: echoStamps });
    yield;
    const [echo] = w.take();
    const e = parseTcpFrame(echo);
    t.deepEqual([e.flags, Buffer.from(e.data).toString('latin1')], [ACK | PSH, 'cookie with options'], 'echoed');
    t.deepEqual(guestTimestamps(echo)?.[1], 5001, 'timestamps in use: TSecr is our TSval');
    // Without Timestamps: the cookie SYN,ACK offers neither SACK nor Window Scale.
    const q = new Peer(t, w, 7, 33001, 654321);
    q.send(SYN, [], { options: [2, 4, ...u16(1460), 1, 1, 4, 2, 1, 3, 3, 7], window: 65535 });
    yield;
    const [plain] = w.take();
    t.deepEqual([...parseTcpFrame(plain).options], [2, 4, ...u16(1460)], 'only the MSS');
    const s: Record<string, number> = {};
    yield* stats(w, s);
    t.deepEqual([s.cookies, s.ok, s.bad], [2, 1, 0]);
  });
});
