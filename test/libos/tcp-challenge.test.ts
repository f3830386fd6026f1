// Contract: RFC 5961 in guest-src/libos/tcp.ts on the simulated wire, every segment the guest sends checked
// byte for byte (test/libos/tcp-peer.ts): a RST outside the window ignored, inside it but not at RCV.NXT
// answered by a challenge ACK (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>), at RCV.NXT taken (§3.2); a SYN in a
// synchronized state, in the window or not, answered by a challenge ACK (§4.2); a segment whose ACK lies
// outside [SND.UNA - MAX.SND.WND, SND.NXT] dropped with its data and answered by a challenge ACK (§5.2);
// each time the connection intact (its echo still works). The limit of §7: across the VM's connections at
// most a randomized number (500 to 1499) of challenge ACKs a second.
import test from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG, TCP } from './packets.ts';
import { GUEST, bytes, learnPeer, Peer } from './tcp-peer.ts';

const { SYN, ACK, PSH, RST } = TCP;

/** Sends a segment that the guest must not take: p.seq stays where it was. */
function inject(p: Peer, flags: number, data: number[], seq: number, ack = p.rcv): void {
  const saved = p.seq;
  p.seq = seq >>> 0;
  p.send(flags, data, { ack: ack >>> 0, window: 1000 });
  p.seq = saved;
}

/** The echo still works: `text` goes and comes back (then the peer acknowledges it, offering `peerWindow`). */
function* intact(p: Peer, text: string, peerWindow = 65535): Generator<void, void, void> {
  p.send(ACK | PSH, bytes(text), { window: peerWindow });
  yield;
  p.expect(p.w.take(), ACK | PSH, bytes(text), 4096, `the connection intact: "${text}" echoed`);
  p.send(ACK, [], { window: peerWindow });
  yield;
  p.w.take();
}

test('RST (RFC 5961 §3.2): outside the window ignored, inside a challenge ACK, exactly at RCV.NXT a reset', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 45000);
    yield* p.connect();
    yield* intact(p, 'abc');
    inject(p, RST, [], p.seq + 5000);
    yield;
    t.deepEqual(w.take(), [], 'outside the window: nothing');
    inject(p, RST, [], p.seq + 100);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'in the window, not RCV.NXT: a challenge ACK');
    inject(p, RST | ACK, [], p.seq + 1);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'one past RCV.NXT: a challenge ACK');
    yield* intact(p, 'still here');
    p.send(RST);
    yield;
    t.deepEqual(w.take(), [], 'the RST at RCV.NXT: taken silently');
  });
  t.regex(wire.console, /tcp 0 6\n$/, 'RESET for the RST at RCV.NXT only');
});

test('SYN in ESTABLISHED (RFC 5961 §4.2): a challenge ACK whatever its sequence number, the connection intact', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 45001);
    yield* p.connect();
    yield* intact(p, 'abc');
    for (const [offset, where] of [[10, 'in the window'], [-100000, 'below it'], [0, 'at RCV.NXT']] as const) {
      inject(p, SYN, [], p.seq + offset, 0);
      yield;
      p.expect(w.take(), ACK, [], 4096, `a SYN ${where}: a challenge ACK`);
    }
    yield* intact(p, 'never reset');
  });
});

test('ACK acceptability (RFC 5961 §5.2): an ACK outside [SND.UNA - MAX.SND.WND, SND.NXT] drops the data', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 45002);
    yield* p.connect(1460, 1000);   // MAX.SND.WND is 1000
    yield* intact(p, 'hello', 1000);
    const sndUna = p.rcv;
    inject(p, ACK | PSH, bytes('evil'), p.seq, sndUna - 1001);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'SEG.ACK < SND.UNA - MAX.SND.WND: a challenge ACK, the data not taken');
    inject(p, ACK | PSH, bytes('evil'), p.seq, sndUna + 1);
    yield;
    p.expect(w.take(), ACK, [], 4096, 'SEG.ACK > SND.NXT: a challenge ACK, the data not taken');
    p.send(ACK | PSH, bytes('fine'), { ack: (sndUna - 1000) >>> 0, window: 1000 });
    yield;
    p.expect(w.take(), ACK | PSH, bytes('fine'), 4096, 'SEG.ACK = SND.UNA - MAX.SND.WND: acceptable, echoed');
  });
});

test('the challenge ACK limit (RFC 5961 §7): 500 to 1499 a second across the VM\'s connections', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(w);
    const a = new Peer(t, w, 7, 45003);
    const b = new Peer(t, w, 7, 45004);
    yield* a.connect();
    yield* b.connect();
    for (let i = 0; i < 1600; i++) inject(a, RST, [], a.seq + 1 + (i % 4000));
    yield;
    const answers = w.take();
    t.true(answers.length >= 500 && answers.length < 1500, `${answers.length} challenge ACKs for 1600 RSTs`);
    for (const frame of answers) a.check(frame, a.rcv, ACK, [], { message: 'each one the challenge ACK' });
    inject(b, RST, [], b.seq + 1);
    yield;
    t.deepEqual(w.take(), [], 'the limit is the VM\'s: another connection\'s challenge waits too');
    w.advance(1_000_000);
    inject(b, RST, [], b.seq + 1);
    yield;
    b.expect(w.take(), ACK, [], 4096, 'a second later: challenged again');
    yield* intact(a, 'a intact');
    yield* intact(b, 'b intact');
  });
});
