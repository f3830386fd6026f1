// Contract: guest-src/apps/httpd.ts — the web server VM itself, with the libos threads (the
// compiler's contextCreate/contextSwitch, run by the bytecode interpreter), sockets and TCP — on the
// host interpreter with a simulated wire (harness.ts). The test plays HTTP clients with a small TCP
// peer of its own: a GET gets the 2,048-byte page naming the VM; keep-alive serves several requests
// on one connection, pipelined ones in order; HTTP/1.0 and `Connection: close` close after the
// answer; unknown paths get 404, other methods 405, malformed requests 400 (and a close), a request
// head over the limit 431; 300 keep-alive connections at once in a VM of 1 MiB are all served; a connection
// idle for 10 s of the guest's clock (no byte of a request) is closed by the server, not a microsecond earlier.
import test, { type ExecutionContext } from 'ava';
import { runGuest, type Wire } from './harness.ts';
import { INTERRUPT_LAZY_ACKS } from '../../abi/hypercalls.ts';
import {
  CONFIG, GUEST_IP, PEER_IP, PEER_MAC, BROADCAST, ethernet, arp, ipv4, tcp, toGuest, parseTcpFrame, TCP, u16,
} from './packets.ts';

const GUEST = 'test/libos/guests/httpd.ts';
const HTTPD = { ...CONFIG, entry: 'testMain' };
const VM_ID = 0;
const { FIN, SYN, RST, PSH, ACK } = TCP;
const bytes = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/**
 * A client connection: sends what it is given, acknowledges everything in order, collects the bytes; sends
 * again what the server has not acknowledged (retransmit: a server out of receive rings drops text).
 */
class Client {
  seq: number;
  rcv = 0;
  /** Data sent: [sequence number, bytes]; the server's latest ACK. */
  sent: [number, number[]][] = [];
  acked = 0;
  established = false;
  finReceived = false;
  /** The simulated clock when the server's FIN arrived. */
  finAt: number | null = null;
  received: number[] = [];
  constructor(readonly w: Wire, readonly sport: number) { this.seq = 10_000 * sport; }

  private segment(flags: number, data: number[] = [], options: number[] = [], seq = this.seq): void {
    const fields = { sport: this.sport, dport: 80, seq, ack: this.rcv, flags, data, options, window: 65535 };
    this.w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 6, tcp(PEER_IP, GUEST_IP, fields))));
    if (seq !== this.seq) return;
    if (data.length > 0) this.sent.push([seq, data]);
    this.seq = (this.seq + data.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
  }
  connect(): void { this.segment(SYN, [], [2, 4, ...u16(1460)]); }
  /** Sends `text` in segments of at most 1,460 bytes. */
  send(text: string): void {
    const all = bytes(text);
    for (let at = 0; at < all.length; at += 1460) this.segment(ACK | PSH, all.slice(at, at + 1460));
  }
  close(): void { this.segment(FIN | ACK); }
  /** The FIN again (its ACK did not come: the client's retransmission). */
  closeAgain(): void { this.segment(FIN | ACK, [], [], (this.seq - 1) >>> 0); }
  reset(): void { this.segment(RST | ACK); }
  /** Sends again the data the server has not acknowledged. */
  retransmit(): void {
    this.sent = this.sent.filter(([seq, data]) => ((seq + data.length - this.acked) | 0) > 0);
    for (const [seq, data] of this.sent) this.segment(ACK | PSH, data, [], seq);
  }
  /** A segment from the guest for this connection. */
  handle(frame: Uint8Array): void {
    const s = parseTcpFrame(frame);
    if (s.flags & ACK) this.acked = s.ack;
    if (s.flags & SYN) { this.rcv = (s.seq + 1) >>> 0; this.established = true; this.segment(ACK); return; }
    if (s.data.length === 0 && !(s.flags & FIN)) return;          // a pure ACK
    if (s.seq === this.rcv) {
      this.received.push(...s.data);
      this.rcv = (this.rcv + s.data.length) >>> 0;
      if (s.flags & FIN) { this.rcv = (this.rcv + 1) >>> 0; this.finReceived = true; this.finAt = this.w.now; }
    }
    this.segment(ACK);
  }
  text(): string { return Buffer.from(this.received).toString('latin1'); }
}

/** The responses in `text`: status, headers (lower-case names) and body, by Content-Length. */
function responses(text: string): { status: number; headers: Map<string, string>; body: string }[] {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...fields] = rest.slice(0, end).split('\r\n');
    const headers = new Map(fields.map(f => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()] as [string, string]));
    const length = Number(headers.get('content-length') ?? 0);
    if (rest.length < end + 4 + length) break;
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

type Waiter = (done: () => boolean) => Generator<void, void, void>;

type Steps = (clients: Client[], pump: Waiter, sleep: Waiter) => Generator<void, void, void>;

/**
 * Runs the server with `clients` ports; `steps` drives them. Frames are routed to clients by port.
 * `pump` lets 1 ms pass whenever the guest has nothing to say; `sleep` moves the clock from one of the
 * guest's alarms to the next (its timers decide when it acts), until `done` or 60 s of guest time.
 */
function serve(ports: number[], steps: Steps, memoryKiB = 8192, argument = 0): string {
  const { wire } = runGuest(GUEST, { ...HTTPD, memoryKiB, argument }, function* (w) {
    w.send(ethernet(BROADCAST, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP)));
    yield;
    w.take();
    const clients = ports.map(p => new Client(w, p));
    const route = () => {
      for (const frame of w.take()) {
        if (frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) continue;
        clients.find(c => c.sport === parseTcpFrame(frame).dport)?.handle(frame);
      }
    };
    function* pump(done: () => boolean): Generator<void, void, void> {
      for (let i = 0; i < 4000 && !done(); i++) {
        yield;
        route();
        if (w.pending === 0 && !done()) w.advance(1000);      // nothing to say: let time pass (timers)
        if (i % 200 === 199) for (const c of clients) c.retransmit();   // every 200 ms, as Linux's least RTO
      }
    }
    function* sleep(done: () => boolean): Generator<void, void, void> {
      for (const end = w.now + 60_000_000; !done() && w.now < end;) {
        yield;
        route();
        if (w.pending === 0 && !done()) w.advanceToAlarm();
      }
    }
    yield* steps(clients, pump, sleep);
  });
  return wire.console;
}

test('GET / answers the 2,048-byte page naming the VM; keep-alive serves three requests on one connection (pipelined too)', t => {
  const console = serve([40001], function* ([c], pump) {
    c.connect();
    yield* pump(() => c.established);
    c.send('GET / HTTP/1.1\r\nHost: vm\r\nUser-Agent: test\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 1);
    const [first] = responses(c.text());
    t.is(first.status, 200);
    t.is(first.body.length, 2048);
    t.true(first.body.includes(`<h1>Denali VM ${VM_ID}</h1>`));
    t.is(first.headers.get('connection'), 'keep-alive');
    t.is(first.headers.get('content-type'), 'text/html');
    // two pipelined requests in one segment: answered in order on the same connection
    c.send('GET /index.html HTTP/1.1\r\nHost: vm\r\n\r\nGET /missing HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 3);
    const all = responses(c.text());
    t.deepEqual(all.map(r => r.status), [200, 200, 404]);
    t.false(c.finReceived, 'still open');
    c.close();
    yield* pump(() => c.finReceived);
    t.true(c.finReceived, 'the server closes when the client does');
  });
  t.regex(console, /^vm 0 httpd on port 80$/m);
});

test('deferred accept: a handshake\'s ACK does not wake the VM, the request after it does; '
  + 'a silent client is accepted at the SYN,ACK\'s timer', t => {
  serve([40010, 40011], function* ([c, quiet], pump, sleep) {
    const w = c.w;
    w.lazyAcks = true;                          // the kernel's rule: bare ACKs held while the mask asks for it
    c.connect();
    yield* pump(() => c.established);
    t.true((w.mask & INTERRUPT_LAZY_ACKS) !== 0, 'idle in SYN-RECEIVED with bare ACKs allowed to wait');
    t.is(w.pending, 0, 'the handshake\'s ACK woke nothing');
    t.true(w.held, 'NET pending for the next wake-up');
    t.is(w.inbox.length, 1, 'it waits in the queue');
    c.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 1);
    t.is(responses(c.text())[0]?.status, 200, 'the request woke the VM: ACK and request handled together');
    // A client that sends nothing after its ACK: the SYN,ACK's retransmission timer (1 s) wakes the VM, which
    // takes the held ACK first: the connection is made, no SYN,ACK is sent again.
    let synAcks = 0;
    const handle = quiet.handle.bind(quiet);
    quiet.handle = frame => { if (parseTcpFrame(frame).flags & SYN) synAcks++; handle(frame); };
    quiet.connect();
    yield* pump(() => quiet.established);
    const before = w.now;
    yield* sleep(() => w.inbox.length === 0);
    t.true(w.now - before >= 900_000, `the held ACK waited for the timer (${w.now - before} us)`);
    yield* pump(() => false);
    t.is(synAcks, 1, 'no SYN,ACK sent again: the held ACK completed the handshake');
    quiet.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(quiet.text()).length === 1);
    t.is(responses(quiet.text())[0]?.status, 200);
  });
});

/** Lazy ACKs on (the kernel's rule), then `c` connects and gets one answer to a GET of the page. */
function* lazyGet(c: Client, pump: Waiter): Generator<void, void, void> {
  c.w.lazyAcks = true;
  c.connect();
  yield* pump(() => c.established);
  c.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
  yield* pump(() => responses(c.text()).length === 1);
}

test('lazy ACKs: the answer\'s ACK waits for the client\'s FIN 550 ms later (no wake-up between: RTO 1 s); '
  + 'the ACK of the VM\'s FIN waits for the next wake-up (no alarm: its FIN answered the client\'s)', t => {
  serve([40012], function* ([c], pump) {
    const w = c.w;
    yield* lazyGet(c, pump);
    t.is(responses(c.text())[0]?.status, 200);
    t.true((w.mask & INTERRUPT_LAZY_ACKS) !== 0, 'the answer in flight: its ACKs may wait');
    const answered = w.now, batches = w.batches;
    t.true(w.alarmAt !== null && w.alarmAt - answered >= 990_000, `the alarm ${(w.alarmAt ?? 0) - answered} us away`);
    for (let i = 0; i < 550; i++) { if (w.pending) yield; w.advance(1000); }
    t.is(w.batches, batches, 'the VM slept 550 ms with the answer\'s ACK held');
    c.close();
    yield* pump(() => c.finReceived);
    t.is(w.batches, batches + 1, 'one wake-up for the FIN and the held ACK');
    t.true(w.held, 'the client\'s ACK of the VM\'s FIN is held');
    t.is(w.alarmAt, null, 'no alarm: a lost FIN,ACK would bring the client\'s FIN again');
    for (let i = 0; i < 5000; i++) { if (w.pending) yield; w.advance(1000); }
    t.is(w.batches, batches + 1, 'no wake-up in the next 5 s');
    const frames = c.w.take().length;
    t.is(frames, 0, 'nothing sent again');
  });
});

test('the VM\'s FIN lost: the client\'s FIN again gets it again; the connection ends at the client\'s ACK, '
  + 'or at the next wake-up past the RTO when that ACK was lost too', t => {
  serve([40014, 40015], function* ([c, next], pump) {
    const w = c.w;
    yield* lazyGet(c, pump);
    const handle = c.handle.bind(c);
    let fins = 0, ackLost = true;
    c.handle = frame => {
      if ((parseTcpFrame(frame).flags & FIN) !== 0 && fins++ === 0) return;      // the first FIN,ACK is lost
      if (fins === 2 && ackLost) { ackLost = false; handle(frame); w.inbox.pop(); w.held = false; return; }
      handle(frame);
    };
    c.close();
    yield* pump(() => fins === 1);
    t.is(w.alarmAt, null, 'no alarm after the FIN,ACK');
    w.advance(200_000);
    c.closeAgain();                                  // the client's RTO
    yield* pump(() => c.finReceived);
    t.is(fins, 2, 'the VM\'s FIN,ACK again, answering the client\'s FIN');
    t.is(w.alarmAt, null, 'and still no alarm');
    // The client's ACK of it was lost as well: the next wake-up past the RTO ends the connection, sending nothing.
    w.advance(2_000_000);
    next.connect();
    yield* pump(() => next.established);
    t.is(fins, 2, 'no FIN sent a third time');
    next.send('GET /stats HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(next.text()).length === 1);
    t.regex(responses(next.text())[0]?.body ?? '', /^connections 1 /, 'one connection: the one asking');
  });
});

test('the answer carries the ACK of its request, the VM\'s FIN the ACK of the client\'s: no ACK goes alone', t => {
  serve([40013], function* ([c], pump) {
    c.connect();
    yield* pump(() => c.established);
    const seen: string[] = [];
    const handle = c.handle.bind(c);
    c.handle = frame => {
      const s = parseTcpFrame(frame);
      seen.push(`${s.flags & (FIN | ACK | PSH)}:${s.data.length}`);
      handle(frame);
    };
    c.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 1);
    t.is(responses(c.text())[0]?.status, 200);
    t.deepEqual(seen.filter(f => f.endsWith(':0')), [], `only the answer's segments: ${seen.join(' ')}`);
    seen.length = 0;
    c.close();
    yield* pump(() => c.finReceived);
    t.deepEqual(seen, [`${FIN | ACK}:0`], 'one segment: FIN,ACK');
  });
});

test('HTTP/1.0 and Connection: close get one answer, then the server closes; HEAD has no body; POST is 405', t => {
  serve([40002, 40003, 40004, 40005], function* ([a, b, h, p], pump) {
    for (const c of [a, b, h, p]) c.connect();
    yield* pump(() => a.established && b.established && h.established && p.established);
    a.send('GET / HTTP/1.0\r\n\r\n');
    b.send('GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    h.send('HEAD / HTTP/1.1\r\n\r\n');
    p.send('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n');
    yield* pump(() => a.finReceived && b.finReceived && h.text().includes('\r\n\r\n') && responses(p.text()).length === 1);
    for (const c of [a, b]) {
      const [r] = responses(c.text());
      t.is(r.status, 200);
      t.is(r.headers.get('connection'), 'close');
      t.true(c.finReceived);
    }
    t.regex(h.text(), /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 2048\r\n[^]*\r\n\r\n$/);
    const [post] = responses(p.text());
    t.is(post.status, 405);
    t.is(post.headers.get('allow'), 'GET, HEAD');
  });
});

test('malformed requests get 400 and a close; a request head over 4,096 bytes gets 431 and a close', t => {
  const bad = ['GARBAGE\r\n\r\n', 'GET / HTTP/2.0\r\n\r\n', 'GET noslash HTTP/1.1\r\n\r\n', 'GET / HTTP/1.1\r\nNo-Colon-Here\r\n\r\n',
    'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n', 'GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n', 'GET  / HTTP/1.1\r\n\r\n'];
  const ports = [...bad.map((_, i) => 41000 + i), 42000];
  serve(ports, function* (clients, pump) {
    for (const c of clients) c.connect();
    yield* pump(() => clients.every(c => c.established));
    bad.forEach((request, i) => clients[i].send(request));
    const big = clients[clients.length - 1];
    big.send(`GET / HTTP/1.1\r\nX-Filler: ${'a'.repeat(4200)}\r\n\r\n`);
    yield* pump(() => clients.every(c => c.finReceived));
    bad.forEach((request, i) => {
      const [r] = responses(clients[i].text());
      t.is(r?.status, 400, JSON.stringify(request));
      t.true(clients[i].finReceived, `closed after ${JSON.stringify(request)}`);
    });
    const [r] = responses(big.text());
    t.is(r?.status, 431);
    t.true(big.finReceived);
  });
});

/** Every client connects, then GETs / twice (all at once each round): each round, every one has its page. */
function* connectAndGetTwice(t: ExecutionContext, clients: Client[], pump: Waiter): Generator<void, void, void> {
  for (const c of clients) c.connect();
  yield* pump(() => clients.every(c => c.established));
  for (let round = 1; round <= 2; round++) {
    for (const c of clients) c.send('GET / HTTP/1.1\r\n\r\n');
    yield* pump(() => clients.every(c => responses(c.text()).length === round));
    const answered = clients.filter(c => {
      const all = responses(c.text());
      return all.length === round && all.every(r => r.status === 200 && r.body.length === 2048);
    });
    t.is(answered.length, clients.length, `round ${round}: every connection has its page`);
  }
}

test('300 keep-alive connections at once in 1 MiB (8 workers, idle ones parked): all served twice; /stats', t => {
  const ports = Array.from({ length: 300 }, (_, i) => 43000 + i);
  serve(ports, function* (clients, pump) {
    yield* connectAndGetTwice(t, clients, pump);
    t.false(clients.some(c => c.finReceived), 'all kept alive');
    const [first] = clients;
    first.send('GET /stats HTTP/1.1\r\n\r\n');
    yield* pump(() => responses(first.text()).length === 3);
    const stats = responses(first.text())[2];
    t.is(stats?.headers.get('content-type'), 'text/plain');
    // 300 SYNs at once: 256 (the backlog) in SYN-RECEIVED, 44 answered with cookies, whose ACKs made theirs.
    t.regex(stats?.body ?? '', /^connections 300 most 300 rings 0 ringsMost \d+ cookies 44 ok 44 bad 0 nomem \d+\n$/);
  }, 1024);
});

test('1,000 keep-alive connections at once in 1 MiB: rings run short, none for good: all served twice', t => {
  // 1,000 TCBs leave a few dozen pages for rings. A request waiting for a worker holds a receive chunk: 1,000
  // of them would take every page, and kept as chunk pages no reply could be queued again, whatever the
  // clients sent (tcp-buffers.ts: chunk pages go back once empty; the receive side leaves the send rings
  // their reserve). Requests that found no ring are dropped and sent again by their clients.
  const ports = Array.from({ length: 1000 }, (_, i) => 43000 + i);
  serve(ports, function* (clients, pump) {
    yield* connectAndGetTwice(t, clients, pump);
    const [first] = clients;
    first.send('GET /stats HTTP/1.1\r\n\r\n');
    yield* pump(() => responses(first.text()).length === 3);
    const body = responses(first.text())[2]?.body ?? '';
    const figures = /^connections 1000 most 1000 rings 0 ringsMost \d+ cookies (\d+) ok (\d+) bad 0 nomem (\d+)\n$/;
    const m = figures.exec(body);
    t.truthy(m, body);
    t.is(m?.[1], m?.[2], 'every cookie came back as a connection');
    t.true(Number(m?.[3]) > 0, `the rings ran short: ${body.trim()}`);
  }, 1024, 60 * 65536);
});

test("the argument's high 16 bits set the idle timeout in seconds (here 25 s), its low ones the port (0: 80)", t => {
  serve([44011, 44012], function* ([fresh, kept], pump, sleep) {
    for (const c of [fresh, kept]) c.connect();
    yield* pump(() => fresh.established && kept.established);
    const opened = fresh.w.now;
    kept.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(kept.text()).length === 1);
    const answered = kept.w.now;
    yield* sleep(() => fresh.w.now >= opened + 20_000_000);
    t.false(fresh.finReceived || kept.finReceived, 'nothing closed within 20 s (10 s is the default)');
    yield* sleep(() => fresh.finReceived && kept.finReceived);
    t.is(fresh.finAt! - opened, 25_000_000, 'closed 25 s after it opened');
    t.is(kept.finAt! - answered, 25_000_000, 'closed 25 s after its answer');
  }, 8192, 25 * 65536);
});

test('the longest idle timeout the argument may ask for is kept: the sweep sleeps, the connection stays', t => {
  // 65,535 s asked: the most is 2,000 s (a deadline more than 2^31 us ahead would read as past: threads.ts).
  serve([44021], function* ([c], pump, sleep) {
    c.connect();
    yield* pump(() => c.established);
    c.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 1);
    const answered = c.w.now;
    yield* pump(() => c.w.alarmAt !== null && c.w.alarmAt - c.w.now > 1_000_000_000);
    t.is(c.w.alarmAt! - answered, 2_000_000_000, 'the sweep sleeps 2,000 s');
    yield* sleep(() => c.w.now >= answered + 2_000_000_000);
    t.false(c.finReceived, 'open until then');
    // The guest's ARP entry for the peer (60 s) has long expired: the peer's request renews it for the FIN.
    c.w.send(ethernet(BROADCAST, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP)));
    yield* pump(() => c.finReceived);
    t.is(c.finAt! - answered, 2_000_000_000, 'closed 2,000 s after its answer, not before');
  }, 8192, 0xffff0000);
});

/**
 * One keep-alive answer, its connection parked with only the sweep's timer left (10 s); then the client closes
 * it (FIN) or resets it (RST): the VM must keep no alarm after.
 */
function goneKeepsNoAlarm(t: ExecutionContext, port: number, how: 'close' | 'reset'): void {
  serve([port], function* ([c], pump) {
    c.connect();
    yield* pump(() => c.established);
    c.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    yield* pump(() => responses(c.text()).length === 1);
    // Once the answer's own timer (its retransmission's) is gone, the sweep's is left: the parked one's 10 s.
    yield* pump(() => c.w.alarmAt !== null && c.w.alarmAt - c.w.now > 8_000_000);
    t.true(c.w.alarmAt! - c.w.now > 8_000_000, 'parked: the sweep will close it in 10 s');
    const ended = c.w.now;
    if (how === 'close') {
      c.close();
      yield* pump(() => c.finReceived && c.w.alarmAt === null);
      t.true(c.finReceived, 'the server closed its side');
      t.is(c.w.alarmAt, null, 'no timer left once the peer closed the one parked connection');
      t.true(c.w.now - ended < 1_000_000, `${c.w.now - ended} us after the client's FIN`);
    } else {
      c.reset();
      yield* pump(() => c.w.alarmAt === null || c.w.now - ended > 2_000_000);
      t.is(c.w.alarmAt, null, 'no timer left once the one parked connection was reset');
    }
  });
}

test('a VM whose parked connections are gone keeps no alarm: the idle sweep will not wake it (or swap it in) '
  + 'for nothing', t => goneKeepsNoAlarm(t, 44101, 'close'));

test('a VM whose parked connection was reset keeps no alarm either', t => goneKeepsNoAlarm(t, 44102, 'reset'));

test('an idle connection is closed after 10 s of the guest clock: before a request, after a keep-alive answer, '
  + 'and 10 s after the last byte', t => {
  const IDLE_US = 10_000_000;
  serve([44001, 44002, 44003], function* ([fresh, kept, slow], pump, sleep) {
    for (const c of [fresh, kept, slow]) c.connect();
    yield* pump(() => fresh.established && kept.established && slow.established);
    // The server reads with its timeout from when the handshake's ACK (or the last byte) arrived.
    const opened = fresh.w.now;
    kept.send('GET / HTTP/1.1\r\nHost: vm\r\n\r\n');
    slow.send('GET / HTTP/1.1\r\n');                        // half a request head
    yield* pump(() => responses(kept.text()).length === 1);
    const answered = kept.w.now;
    t.is(responses(kept.text())[0].headers.get('connection'), 'keep-alive');
    // 9 s on, one more byte of the slow head: its 10 s start again from here.
    yield* sleep(() => slow.w.now >= opened + 9_000_000);
    t.false(fresh.finReceived || kept.finReceived || slow.finReceived, 'nothing closed within 9 s');
    const lastByte = slow.w.now;
    slow.send('H');
    yield* sleep(() => fresh.finReceived && kept.finReceived);
    t.is(fresh.finAt! - opened, IDLE_US, 'a connection that never sent a request: closed 10 s after it opened');
    t.is(kept.finAt! - answered, IDLE_US, 'a keep-alive connection: closed 10 s after its answer');
    t.false(slow.finReceived, 'a byte 1 s ago: still open');
    yield* sleep(() => slow.finReceived);
    t.is(slow.finAt! - lastByte, IDLE_US, 'closed 10 s after its last byte');
    t.is(slow.text(), '', 'no answer to a head that never ended');
  });
});
