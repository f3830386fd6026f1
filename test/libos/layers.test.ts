// Contract: guest-src/libos's Ethernet, ARP, IPv4, ICMP and UDP layers, run on the host interpreter
// with a simulated wire (test/libos/harness.ts), every reply checked byte by byte against frames the
// test builds itself (checksums recomputed here, RFC 1071). Malformed input is dropped without a
// reply and without hurting the guest: a valid request afterwards is still answered.
import test from 'ava';
import { runGuest, type Wire } from './harness.ts';
import {
  CONFIG, GUEST_MAC, PEER_MAC, OTHER_MAC, BROADCAST, GUEST_IP, PEER_IP, OTHER_IP, REMOTE_IP,
  ethernet, arp, ipv4, udp, icmpEcho, toGuest, parseIpv4Frame, get16, u16,
} from './packets.ts';

const GUEST = 'test/libos/guests/stack.ts';
const hex = (frames: Uint8Array[]): string[] => frames.map(f => Buffer.from(f).toString('hex'));

/** The ARP exchange that teaches the guest PEER's MAC (and checks the reply). */
function* learnPeer(t: import('ava').ExecutionContext, w: Wire, mac = PEER_MAC, ip = PEER_IP): Generator<void, void, void> {
  w.send(ethernet(BROADCAST, mac, 0x0806, arp(1, mac, ip, [0, 0, 0, 0, 0, 0], GUEST_IP)));
  yield;
  t.deepEqual(hex(w.take()), hex([ethernet(mac, GUEST_MAC, 0x0806, arp(2, GUEST_MAC, GUEST_IP, mac, ip))]), 'ARP reply');
}

/** An echo request from PEER and the exact reply expected (the identification is the guest's). */
function* ping(t: import('ava').ExecutionContext, w: Wire, seq: number, from = PEER_IP, mac = PEER_MAC, message = 'ping answered'): Generator<void, void, void> {
  const data = Array.from({ length: 40 }, (_, i) => (i * 7 + seq) & 255);
  w.send(toGuest(ipv4(from, GUEST_IP, 1, icmpEcho(8, 0x1234, seq, data)), mac));
  yield;
  const out = w.take();
  t.is(out.length, 1, message);
  if (out.length !== 1) return;
  const id = get16(out[0], 18);
  t.deepEqual(hex(out), hex([ethernet(mac, GUEST_MAC, 0x0800, ipv4(GUEST_IP, from, 1, icmpEcho(0, 0x1234, seq, data), { id, flags: 2 }))]), message);
}

test('boots and prints', t => {
  const { wire } = runGuest(GUEST, CONFIG, function* () { yield; });
  t.is(wire.console, 'stack up\n');
});

test('ARP: answers a request for our address with the RFC 826 reply, ignores requests for others and malformed packets', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(t, w);
    w.send(ethernet(BROADCAST, OTHER_MAC, 0x0806, arp(1, OTHER_MAC, OTHER_IP, [0, 0, 0, 0, 0, 0], '10.0.0.77')));
    yield;
    t.deepEqual(w.take(), [], 'a request for another address is not answered');
    const bad = [
      arp(1, OTHER_MAC, OTHER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP).slice(0, 27),                 // truncated: 27 bytes, unpadded
      [...u16(6), ...arp(1, OTHER_MAC, OTHER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP).slice(2)],   // hardware type 6
      [...arp(1, OTHER_MAC, OTHER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP).slice(0, 2), ...u16(0x86dd), ...arp(1, OTHER_MAC, OTHER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP).slice(4)], // protocol IPv6
      arp(1, BROADCAST, OTHER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP),                              // broadcast sender address
    ];
    for (const packet of bad) w.send(ethernet(BROADCAST, OTHER_MAC, 0x0806, packet, false));
    yield;
    t.deepEqual(w.take(), [], 'malformed ARP is dropped');
    yield* learnPeer(t, w, OTHER_MAC, OTHER_IP);
  });
});

test('ICMP: echo request answered byte for byte; the reply waits for ARP when the MAC is unknown', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    const data = [1, 2, 3, 4, 5];
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 1, icmpEcho(8, 7, 1, data))));
    yield;
    t.deepEqual(hex(w.take()), hex([ethernet(BROADCAST, GUEST_MAC, 0x0806, arp(1, GUEST_MAC, GUEST_IP, [0, 0, 0, 0, 0, 0], PEER_IP))]), 'ARP request for the sender');
    w.send(ethernet(GUEST_MAC, PEER_MAC, 0x0806, arp(2, PEER_MAC, PEER_IP, GUEST_MAC, GUEST_IP)));
    yield;
    const out = w.take();
    t.is(out.length, 1);
    const id = get16(out[0], 18);
    t.deepEqual(hex(out), hex([ethernet(PEER_MAC, GUEST_MAC, 0x0800, ipv4(GUEST_IP, PEER_IP, 1, icmpEcho(0, 7, 1, data), { id, flags: 2 }))]), 'the queued echo reply');
    for (let seq = 2; seq < 5; seq++) yield* ping(t, w, seq);
    // a large echo (1472 bytes of data: a full 1514-byte frame)
    const big = Array.from({ length: 1472 }, (_, i) => i & 255);
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 1, icmpEcho(8, 7, 9, big))));
    yield;
    const [reply] = w.take();
    t.is(reply?.length, 1514);
    t.deepEqual(Array.from(parseIpv4Frame(reply).payload.subarray(8)), big);
  });
});

test('ARP: an unanswered resolution is repeated each second, three times, then given up', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 1, icmpEcho(8, 7, 1, []))));
    yield;
    const request = hex([ethernet(BROADCAST, GUEST_MAC, 0x0806, arp(1, GUEST_MAC, GUEST_IP, [0, 0, 0, 0, 0, 0], PEER_IP))]);
    t.deepEqual(hex(w.take()), request);
    t.is(w.advanceToAlarm(), 1_000_000);
    yield;
    t.deepEqual(hex(w.take()), request, 'second request after 1 s');
    t.is(w.advanceToAlarm(), 1_000_000);
    yield;
    t.deepEqual(hex(w.take()), request, 'third request');
    w.advanceToAlarm();
    yield;
    t.deepEqual(w.take(), [], 'given up');
    t.is(w.alarmAt, null, 'no alarm left');
    // a late reply does not send the dropped packet
    w.send(ethernet(GUEST_MAC, PEER_MAC, 0x0806, arp(2, PEER_MAC, PEER_IP, GUEST_MAC, GUEST_IP)));
    yield;
    t.deepEqual(w.take(), []);
  });
});

test('ARP: an entry expires after 60 s of silence; traffic from its MAC confirms it, from another MAC does not', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    const zeros = [0, 0, 0, 0, 0, 0];
    const request = hex([ethernet(BROADCAST, GUEST_MAC, 0x0806, arp(1, GUEST_MAC, GUEST_IP, zeros, PEER_IP))]);
    yield* learnPeer(t, w);
    // Heard from every 50 s (a ping from the gateway's MAC, for a host behind it): three minutes on, the
    // replies still go straight out, no resolution.
    for (let seq = 1; seq <= 4; seq++) {
      w.advance(50_000_000);
      yield* ping(t, w, seq, REMOTE_IP, PEER_MAC, `reply ${seq} straight to the gateway`);
    }
    // Silent for 61 s: the entry has expired, and a frame claiming the gateway's path from another MAC does
    // not bring it back: the reply waits for a resolution.
    w.advance(61_000_000);
    w.send(toGuest(ipv4(REMOTE_IP, GUEST_IP, 1, icmpEcho(8, 0x1234, 9, [1, 2, 3])), OTHER_MAC));
    yield;
    t.deepEqual(hex(w.take()), request, 'expired: resolved again');
  });
});

test('IPv4: off-subnet replies go to the gateway MAC', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(t, w);   // PEER is the gateway
    yield* ping(t, w, 1, REMOTE_IP, PEER_MAC, 'reply through the gateway');
  });
});

test('IPv4: malformed, foreign and fragmented datagrams are dropped; options are skipped', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(t, w);
    const echo = icmpEcho(8, 1, 1, [9, 9, 9, 9]);
    const bad: [string, Uint8Array][] = [
      ['bad header checksum', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { badChecksum: true }))],
      ['version 6', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { version: 6 }))],
      ['IHL 4', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { ihl: 4 }))],
      ['IHL 15 past the datagram', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { ihl: 15 }))],
      ['total length past the frame', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { totalLength: 200 }))],
      ['total length below the header', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { totalLength: 19 }))],
      ['truncated frame', ethernet(GUEST_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 1, echo).slice(0, 19), false)],
      ['TTL 0', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { ttl: 0 }))],
      ['more fragments', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { flags: 1 }))],
      ['a last fragment', toGuest(ipv4(PEER_IP, GUEST_IP, 1, echo, { fragmentOffset: 100 }))],
      ['another destination', toGuest(ipv4(PEER_IP, OTHER_IP, 1, echo))],
      ['broadcast source', toGuest(ipv4('255.255.255.255', GUEST_IP, 1, echo))],
      ['loopback source', toGuest(ipv4('127.0.0.1', GUEST_IP, 1, echo))],
      ['bad ICMP checksum', toGuest(ipv4(PEER_IP, GUEST_IP, 1, [8, 0, 0, 0, 0, 1, 0, 1]))],
      ['ICMP truncated', toGuest(ipv4(PEER_IP, GUEST_IP, 1, [8, 0, 0xf7]))],
      ['unknown protocol', toGuest(ipv4(PEER_IP, GUEST_IP, 99, echo))],
      ['another MAC', ethernet(OTHER_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 1, echo))],
      ['shorter than an Ethernet header', Uint8Array.from([...GUEST_MAC, ...PEER_MAC, 8])],
      ['unknown EtherType', ethernet(GUEST_MAC, PEER_MAC, 0x86dd, ipv4(PEER_IP, GUEST_IP, 1, echo))],
    ];
    for (const [name, frame] of bad) {
      w.send(frame);
      yield;
      t.deepEqual(w.take(), [], name);
    }
    yield* ping(t, w, 2, PEER_IP, PEER_MAC, 'still answering');
    // options (RFC 791 §3.1): a NOP-padded header of 24 bytes; the reply has none
    const data = [1, 2, 3];
    w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 1, icmpEcho(8, 5, 5, data), { options: [1, 1, 1, 0] })));
    yield;
    const out = w.take();
    t.is(out.length, 1, 'options skipped');
    t.deepEqual(hex(out), hex([ethernet(PEER_MAC, GUEST_MAC, 0x0800, ipv4(GUEST_IP, PEER_IP, 1, icmpEcho(0, 5, 5, data), { id: get16(out[0], 18), flags: 2 }))]));
  });
});

test('UDP: echo with the pseudo-header checksum; no checksum accepted; bad checksum, bad length, unbound port dropped', t => {
  runGuest(GUEST, CONFIG, function* (w) {
    yield* learnPeer(t, w);
    const expectEcho = function* (datagram: number[], data: number[], message: string): Generator<void, void, void> {
      w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, datagram)));
      yield;
      const out = w.take();
      t.is(out.length, 1, message);
      if (out.length !== 1) return;
      t.deepEqual(hex(out), hex([ethernet(PEER_MAC, GUEST_MAC, 0x0800, ipv4(GUEST_IP, PEER_IP, 17, udp(GUEST_IP, PEER_IP, 7, 40000, data), { id: get16(out[0], 18), flags: 2 }))]), message);
    };
    const hello = [...Buffer.from('hello, denali')];
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, hello), hello, 'echo');
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, hello, { checksum: 0 }), hello, 'checksum 0: none');
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, []), [], 'empty datagram');
    const odd = [1, 2, 3, 4, 5, 6, 7];
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, odd), odd, 'odd length');
    const big = Array.from({ length: 1472 }, (_, i) => (i * 13) & 255);
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, big), big, 'largest datagram');
    const bad: [string, number[]][] = [
      ['bad checksum', udp(PEER_IP, GUEST_IP, 40000, 7, hello, { checksum: 0x1234 })],
      ['length past the datagram', udp(PEER_IP, GUEST_IP, 40000, 7, hello, { length: 100 })],
      ['length below the header', udp(PEER_IP, GUEST_IP, 40000, 7, hello, { length: 7 })],
      ['truncated header', udp(PEER_IP, GUEST_IP, 40000, 7, []).slice(0, 6)],
      ['unbound port', udp(PEER_IP, GUEST_IP, 40000, 8, hello)],
    ];
    for (const [name, datagram] of bad) {
      w.send(toGuest(ipv4(PEER_IP, GUEST_IP, 17, datagram)));
      yield;
      t.deepEqual(w.take(), [], name);
    }
    yield* expectEcho(udp(PEER_IP, GUEST_IP, 40000, 7, hello), hello, 'still echoing');
  });
});
