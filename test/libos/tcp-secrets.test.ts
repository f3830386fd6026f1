// Contract: the libos TCP keys what an off-path attacker must not guess with the VM's secret (BootInfo.entropy,
// drawn by the kernel: kernel-src/entropy.ts; guest-src/libos/tcp.ts tcpInit), through HalfSipHash-2-4: the
// initial sequence number of a connection (RFC 6528 §3), its timestamp offset, the SYN cookies. On the host
// interpreter with the simulated wire: the same SYN at the same simulated time gets the same SYN,ACK under the
// same secret (deterministic), and a different ISN and timestamp under another secret, one bit apart.
import test, { type ExecutionContext } from 'ava';
import { runGuest } from './harness.ts';
import { CONFIG } from './packets.ts';
import { GUEST, learnPeer, Peer } from './tcp-peer.ts';

/** The guest's SYN,ACK to one SYN (with Timestamps) on port 7 from port 40000, under `entropy`. */
function synAck(t: ExecutionContext, entropy: number[]): { iss: number; offset: number } {
  const got = { iss: 0, offset: 0 };
  runGuest(GUEST, { ...CONFIG, entropy }, function* (w) {
    yield* learnPeer(w);
    const p = new Peer(t, w, 7, 40000, 5000);
    yield* p.connect(1460, 65535, false, { timestamps: true });
    got.iss = p.iss;
    got.offset = p.guestOffset;
  });
  return got;
}

test('ISNs and timestamp offsets are keyed by the VM\'s secret: equal under one, unrelated under another', t => {
  const secret = [0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210];
  const a = synAck(t, secret);
  const again = synAck(t, secret);
  const other = synAck(t, [secret[0] ^ 1, secret[1], secret[2], secret[3]]);
  t.deepEqual(again, a, 'the same secret, the same SYN at the same time: the same ISN and offset');
  t.not(other.iss, a.iss, 'one bit of the secret changes the ISN');
  t.not(other.offset, a.offset, 'and the timestamp offset');
  // A PRF, not a sum: the two ISNs differ in about half their bits, not in one.
  const differing = (a.iss ^ other.iss).toString(2).split('').filter(b => b === '1').length;
  t.true(differing >= 6 && differing <= 26, `${differing} of 32 ISN bits differ`);
});
