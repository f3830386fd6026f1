// Contract: guest-src/apps/echo.ts (UDP and TCP echo on the manifest's port) on the host interpreter
// with a simulated wire: a datagram comes back; a TCP connection echoes 20 KB sent in MSS segments
// (more than the send and receive buffers: flow control both ways) and closes with the client.
import test from 'ava';
import { runGuest } from './harness.ts';
import {
  CONFIG, PEER_MAC, BROADCAST, GUEST_IP, PEER_IP, ethernet, arp, ipv4, udp, tcp, toGuest, parseIpv4Frame, parseTcpFrame,
  TCP, u16,
} from './packets.ts';

const ECHO = { ...CONFIG, argument: 5007, entry: 'testMain' };
const { FIN, SYN, PSH, ACK } = TCP;

test('UDP and TCP echo on the argument port', t => {
  const { wire } = runGuest('test/libos/guests/echo.ts', ECHO, function* (w) {
    w.send(ethernet(BROADCAST, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP)));
    yield;
    w.take();
    const data = [...Buffer.from('echo me')];
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, udp(PEER_IP, GUEST_IP, 33333, 5007, data))));
    yield;
    const [reply] = w.take();
    t.deepEqual(Array.from(parseIpv4Frame(reply).payload), udp(GUEST_IP, PEER_IP, 5007, 33333, data));

    const seg = (seq: number, ack: number, flags: number, payload: number[] = [], options: number[] = []) =>
      toGuest(ipv4(PEER_IP, GUEST_IP, 6, tcp(PEER_IP, GUEST_IP, { sport: 40000, dport: 5007, seq, ack, flags, data: payload, options, window: 8192 })));
    w.send(seg(1, 0, SYN, [], [2, 4, ...u16(1460)]));
    yield;
    const synAck = parseTcpFrame(w.take()[0]);
    t.is(synAck.flags, SYN | ACK);
    let rcv = synAck.seq + 1, snd = 2;
    const total = 20000;
    const stream = Array.from({ length: total }, (_, i) => (i * 31 + 7) & 255);
    const echoed: number[] = [];
    let sent = 0, rounds = 0, finSent = false, finReceived = false;
    w.send(seg(snd, rcv, ACK));
    while (!finReceived && rounds++ < 200) {
      // send what the guest's window allows (at most 2 segments a round), acknowledging everything received
      let window = 1460 * 2;
      while (sent < total && window > 0) {
        const n = Math.min(1460, total - sent, window);
        w.send(seg(snd, rcv, ACK | PSH, stream.slice(sent, sent + n)));
        snd += n; sent += n; window -= n;
      }
      if (sent === total && echoed.length === total && !finSent) { w.send(seg(snd, rcv, FIN | ACK)); snd++; finSent = true; }
      yield;
      for (const frame of w.take()) {
        const s = parseTcpFrame(frame);
        t.true(s.checksumOk);
        if (s.seq === rcv) { echoed.push(...s.data); rcv += s.data.length; }
        if (s.flags & FIN) { rcv++; finReceived = true; }
        // the guest acknowledged less than we sent: send again from there (its window was full)
        if (s.ack < snd && !finSent) { sent -= snd - s.ack; snd = s.ack; }
      }
      w.send(seg(snd, rcv, ACK));
    }
    t.true(finReceived, 'the server closed after the client');
    t.is(echoed.length, total);
    t.deepEqual(echoed, stream, 'every byte echoed in order');
    yield;
  });
  // The configuration the boot page gave (stackReport), then the app's line.
  t.is(wire.console, `vm 0 net ${GUEST_IP} netmask ${CONFIG.netmask} gateway ${PEER_IP}\nvm 0 echo on port 5007\n`);
});
