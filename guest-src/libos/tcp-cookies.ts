// Contract: SYN cookies (RFC 4987 §3.6), as Linux makes them (net/ipv4/syncookies.c): when a listener's SYN
// queue is full (its backlog of connections in SYN-RECEIVED) or no connection can be had, tcp.ts answers a
// SYN with a SYN,ACK whose ISS is a cookie and keeps nothing; the ACK that completes the handshake brings
// the cookie back (SEG.ACK - 1) with the peer's ISN (SEG.SEQ - 1), and a valid one makes the connection then.
//   cookie = H(k, 4-tuple, 0) + peer ISN + (count << 24) + ((H(k, 4-tuple, count) + MSS index) mod 2^24)
// where count is the clock in units of 2^26 µs (67 s): a cookie is good while count has moved by at most
// one (67 to 134 s, Linux's MAX_SYNCOOKIE_AGE of 2), and its MSS index picks one of COOKIE_MSS (the largest
// not above the peer's MSS option). H is HalfSipHash-2-4 (dsl/runtime/halfsiphash.ts; Linux's hsiphash) over
// three 32-bit words with a 64-bit key derived at start from the VM's secret (BootInfo.entropy, drawn by the
// kernel: kernel-src/entropy.ts; repeating from boot to boot only under -icount).
// Options beyond the MSS need state, so they ride in our timestamp as Linux's cookie_init_timestamp does:
// when the SYN carries Timestamps, the low 6 bits of the SYN,ACK's TSval hold the peer's window shift (15:
// none) and SACK-permitted, and the ACK's TSecr brings them back; without Timestamps a cookie connection
// has neither window scaling nor SACK. Cookies are taken only within two counts of the last one sent (Linux's
// tcp_synq_no_recent_overflow): otherwise an ACK to a listener is answered with a RST as before.
import { i32, u32, bool } from "dsl";
import { halfSipHash3 } from "../../dsl/runtime/halfsiphash.ts";

/** The MSS a cookie can say (Linux's msstab): its 2-bit index. */
const COOKIE_MSS: i32[] = [536, 1300, 1440, 1460];
const COOKIE_BITS = 24;
const COOKIE_MASK: u32 = 0xffffff;
/** The count's unit: 2^26 µs (about 67 s). */
const COUNT_SHIFT = 26;
/** The count wraps with the 32-bit microsecond clock: compared modulo 64. */
const COUNT_WRAP: u32 = 63;
/** The timestamp's option bits (Linux's TSBITS): the window shift (15: none) and SACK-permitted (16). */
const TS_BITS: u32 = 0x3f;
const TS_WSCALE_NONE = 15;
const TS_SACK = 16;

let key0: u32 = 0;
let key1: u32 = 0;
let lastSentCount: u32 = 0;
let sentAny = false;

/** Sets the key (once, at tcpInit). */
export function cookiesInit(k0: u32, k1: u32): void { key0 = k0; key1 = k1; sentAny = false; }

function countAt(now: u32): u32 { return now >>> COUNT_SHIFT; }

/** The index in COOKIE_MSS of the largest MSS not above `mss` (0: 536 for anything smaller). */
function mssIndex(mss: i32): i32 {
  let index = 0;
  for (let i = 1; i < 4; i++) if (COOKIE_MSS[i] <= mss) index = i;
  return index;
}

/** The cookie for a SYN of `peerIsn` on (remoteIp, ports = remote << 16 | local) with MSS option `mss`. */
export function cookieMake(remoteIp: u32, ports: u32, peerIsn: u32, mss: i32, now: u32): u32 {
  const count = countAt(now);
  lastSentCount = count;
  sentAny = true;
  const first = halfSipHash3(key0, key1, remoteIp, ports, 0);
  const second = halfSipHash3(key0, key1, remoteIp, ports, count);
  return u32(first + peerIsn + (count << COOKIE_BITS) + ((second + u32(mssIndex(mss))) & COOKIE_MASK));
}

/** The MSS `cookie` encodes when it is ours for this 4-tuple and peer ISN and still fresh, else -1. */
export function cookieCheck(remoteIp: u32, ports: u32, peerIsn: u32, cookie: u32, now: u32): i32 {
  const count = countAt(now);
  if (!sentAny || ((count - lastSentCount) & COUNT_WRAP) > 1) return -1;   // no recent overflow: no cookies
  const rest = u32(cookie - halfSipHash3(key0, key1, remoteIp, ports, 0) - peerIsn);
  const made = rest >>> COOKIE_BITS;
  if (((count - made) & COUNT_WRAP) > 1 || made > COUNT_WRAP) return -1;
  const index = u32(rest - halfSipHash3(key0, key1, remoteIp, ports, made)) & COOKIE_MASK;
  return index < 4 ? COOKIE_MSS[i32(index)] : -1;
}

/** The option bits our SYN,ACK's TSval carries: the peer's window shift (-1: none) and SACK-permitted. */
export function cookieTimestampBits(peerShift: i32, sack: bool): u32 {
  const shift = peerShift < 0 ? TS_WSCALE_NONE : peerShift;
  return u32(shift | (sack ? TS_SACK : 0));
}

/** A TSval not above `tsVal` whose low bits are `bits` (time never runs backwards for the peer). */
export function cookieTimestamp(tsVal: u32, bits: u32): u32 {
  let ts = u32((tsVal & ~TS_BITS) | bits);
  if (ts > tsVal) ts = u32(ts - (TS_BITS + 1));
  return ts;
}

/** The peer's window shift a TSecr carries back (-1: none; -2: not a shift we could have sent). */
export function cookieWindowShift(tsEcr: u32): i32 {
  const shift = i32(tsEcr & 15);
  if (shift === TS_WSCALE_NONE) return -1;
  return shift > 14 ? -2 : shift;
}

export function cookieSack(tsEcr: u32): bool { return (tsEcr & u32(TS_SACK)) !== 0; }
