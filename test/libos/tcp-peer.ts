// Contract: the peer the TCP tests play (test/libos/tcp*.test.ts) against guest-src/libos/tcp.ts on the
// simulated wire: it builds its segments with test/libos/packets.ts (its own encoder, not the guest's),
// keeps its end of the sequence numbers, and checks each segment the guest sends byte for byte against the
// frame it should be (IP identification copied from the frame; every checksum recomputed here), with the
// guest's window and options (MSS, SACK-permitted, Timestamps and Window Scale in a SYN,ACK; Timestamps
// (RFC 7323 §3: TSval the guest's millisecond clock plus its offset, learned from its SYN,ACK; TSecr the
// peer's latest TSval) then SACK blocks after RFC 2018 §4 on later segments).
import type { ExecutionContext } from 'ava';
import type { Wire } from './harness.ts';
import {
  GUEST_MAC, PEER_MAC, BROADCAST, GUEST_IP, PEER_IP, ethernet, arp, ipv4, tcp, toGuest, get16, parseTcpFrame, TCP, u16,
  type TcpFields,
} from './packets.ts';

export const GUEST = 'test/libos/guests/stack.ts';
const { FIN, SYN, ACK } = TCP;
export const MSS_OPTION = [2, 4, ...u16(1460)];
/** What the guest answers a SYN carrying SACK-permitted with: its MSS, NOP, NOP, SACK-permitted. */
const MSS_SACK_OPTIONS = [...MSS_OPTION, 1, 1, 4, 2];
export const hex = (frames: Uint8Array[]): string[] => frames.map(f => Buffer.from(f).toString('hex'));
export const bytes = (s: string): number[] => [...Buffer.from(s, 'latin1')];
/** A 32-bit big-endian field (wrapping). */
export const be32 = (x: number): number[] => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
/** The Timestamps option (RFC 7323 §3.2) after two NOPs. */
const timestampsOption = (tsVal: number, tsEcr: number): number[] => [1, 1, 8, 10, ...be32(tsVal), ...be32(tsEcr)];
/** The Timestamps option of a segment the guest sent: [TSval, TSecr], or null. */
export function guestTimestamps(frame: Uint8Array): [number, number] | null {
  const o = parseTcpFrame(frame).options;
  for (let i = 0; i < o.length;) {
    if (o[i] === 0) break;
    if (o[i] === 1) { i++; continue; }
    if (o[i] === 8) return [get32(o, i + 2), get32(o, i + 6)];
    i += Math.max(2, o[i + 1]);
  }
  return null;
}
const get32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
/** The SACK option (RFC 2018 §3) for blocks [start, end), after two NOPs. */
const sackOption = (blocks: [number, number][]): number[] =>
  blocks.length === 0 ? [] : [1, 1, 5, 2 + 8 * blocks.length, ...blocks.flatMap(([s, e]) => [...be32(s), ...be32(e)])];
/** The test guest's bulk pattern (guests/stack.ts): byte i of the stream is i * 7 mod 251. */
const pattern = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => ((from + i) * 7) % 251);

/** The exact frame the guest should send for `fields` (the guest's IP identification copied from `actual`). */
export function expected(actual: Uint8Array, fields: TcpFields): Uint8Array {
  return ethernet(PEER_MAC, GUEST_MAC, 0x0800,
    ipv4(GUEST_IP, PEER_IP, 6, tcp(GUEST_IP, PEER_IP, fields), { id: get16(actual, 18), flags: 2 }));
}

/** The guest learns the peer's MAC from an ARP request (so its first segment is not held for ARP). */
export function* learnPeer(w: Wire): Generator<void, void, void> {
  w.send(ethernet(BROADCAST, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, [0, 0, 0, 0, 0, 0], GUEST_IP)));
  yield;
  w.take();
}

interface Expect { window?: number; message?: string; sack?: [number, number][]; tsEcr?: number }
/** What the peer's SYN offers beyond the MSS (RFC 7323): Window Scale with this shift, Timestamps. */
interface Offer { windowShift?: number; timestamps?: boolean }

/** The peer's end of one connection. */
export class Peer {
  seq: number;              // our next sequence number
  rcv = 0;                  // the next byte expected from the guest
  iss = 0;                  // the guest's ISS
  sackPermitted = false;
  received: number[] = [];
  /** Timestamps agreed (RFC 7323): every segment of ours carries them, every one of the guest's must. */
  timestamps = false;
  /** Our timestamp clock (TSval of our next segment; tests move it). */
  tsVal = 5000;
  /** The TSecr the guest must send: the TSval of our latest segment it took (RFC 7323 §4.3). */
  recent = 0;
  /** Our TSecr: the guest's latest TSval. */
  echo = 0;
  /** The guest's TSval less its millisecond clock (its per-connection offset, RFC 7323 §7.1). */
  guestOffset = 0;
  /** Window Scale: the shift the guest offered in its SYN,ACK (-1: none). */
  guestShift = -1;
  /**
   * `window` is the guest's receive window when its buffer is empty (4096 on small-buffer ports, 65535 on
   * large ones).
   */
  constructor(readonly t: ExecutionContext, readonly w: Wire, readonly port: number, readonly sport: number, iss = 1000,
    readonly window = 4096) { this.seq = iss; }

  segment(flags: number, data: number[] = [], extra: Partial<TcpFields> = {}): Uint8Array {
    const stamps = this.timestamps && !(flags & SYN) ? timestampsOption(this.tsVal, this.echo) : [];
    const fields = { sport: this.sport, dport: this.port, seq: this.seq, ack: this.rcv, flags, data, ...extra,
      options: [...stamps, ...(extra.options ?? [])] };
    return toGuest(ipv4(PEER_IP, GUEST_IP, 6, tcp(PEER_IP, GUEST_IP, fields)));
  }
  /** Sends a segment and advances our sequence number by its length. */
  send(flags: number, data: number[] = [], extra: Partial<TcpFields> = {}): void {
    this.w.send(this.segment(flags, data, extra));
    if (this.timestamps) this.recent = this.tsVal;
    this.seq = (this.seq + data.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
  }
  /** An ACK of the guest's data up to `ack` (offset from its ISS + 1), with SACK blocks (offsets too). */
  ackAt(ack: number, sack: [number, number][] = [], window = 65535): void {
    const at = (x: number) => (this.iss + 1 + x) >>> 0;
    this.send(ACK, [], { ack: at(ack), window, options: sackOption(sack.map(([s, e]) => [at(s), at(e)])) });
  }
  /** Checks that `frames` is exactly one segment from the guest with `flags`, `data` and window; takes its data. */
  expect(frames: Uint8Array[], flags: number, data: number[] = [], window = this.window, message = '',
    sack: [number, number][] = []): void {
    this.t.is(frames.length, 1, `one segment ${message}`);
    if (frames.length !== 1) return;
    const seg = parseTcpFrame(frames[0]);
    this.check(frames[0], seg.seq, flags, data, { window, message, sack });
    this.t.is(seg.seq, this.rcv, `sequence number ${message}`);
    this.rcv = (this.rcv + data.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
    this.received.push(...data);
  }
  /** The guest's TSval now: its millisecond clock plus its offset. */
  guestTsVal(): number { return (Math.floor(this.w.now / 1000) + this.guestOffset) >>> 0; }
  /** The options the guest's SYN,ACK carries for what our SYN offered (tcp-output.ts writeSynOptions's layout). */
  synAckOptions(offer: Offer): number[] {
    const options = [...MSS_OPTION];
    const ts = offer.timestamps ? [8, 10, ...be32(this.guestTsVal()), ...be32(this.recent)] : [];
    if (this.sackPermitted && offer.timestamps) options.push(4, 2, ...ts);
    else if (this.sackPermitted) options.push(1, 1, 4, 2);
    else if (offer.timestamps) options.push(1, 1, ...ts);
    if (offer.windowShift !== undefined) options.push(1, 3, 3, this.guestShift);
    return options;
  }
  /** Checks one frame: the segment at `seq` (absolute) with `flags` and `data`, ACK = our next sequence number. */
  check(frame: Uint8Array, seq: number, flags: number, data: number[], e: Expect = {}): void {
    const stamps = this.timestamps ? timestampsOption(this.guestTsVal(), e.tsEcr ?? this.recent) : [];
    const options = flags & SYN ? (this.sackPermitted ? MSS_SACK_OPTIONS : MSS_OPTION)
      : [...stamps, ...sackOption(e.sack ?? [])];
    const window = e.window ?? this.window;
    const fields = { sport: this.port, dport: this.sport, seq: seq >>> 0, ack: this.seq, flags, window, data, options };
    const want = expected(frame, fields);
    this.t.deepEqual(hex([frame]), hex([want]), e.message);
    if (this.timestamps) this.echo = this.guestTsVal();
  }
  /** Checks a data segment of the bulk pattern starting `offset` bytes into the guest's stream, `n` bytes long. */
  checkBulk(frame: Uint8Array, offset: number, n: number, message = '', e: Expect = {}): void {
    this.check(frame, this.iss + 1 + offset, TCP.ACK | TCP.PSH, pattern(offset, n), { message, ...e });
  }
  /**
   * SYN (with our MSS, SACK-permitted when `sack`, and what `offer` says: MSS, SACK-permitted and Timestamps
   * packed, NOP and Window Scale, as Linux writes them) -> SYN,ACK (checked; its window `synAckWindow`, the
   * guest's buffer up to 65535, unscaled) -> ACK.
   */
  *connect(mss = 1460, window = 65535, sack = false, offer: Offer = {}, synAckWindow = Math.min(this.window, 65535),
    guestShift = -1): Generator<void, void, void> {
    this.sackPermitted = sack;
    const ts = offer.timestamps ? [8, 10, ...be32(this.tsVal), 0, 0, 0, 0] : [];
    const middle = sack && offer.timestamps ? [4, 2, ...ts]
      : sack ? [1, 1, 4, 2] : offer.timestamps ? [1, 1, ...ts] : [];
    const ws = offer.windowShift !== undefined ? [1, 3, 3, offer.windowShift] : [];
    this.send(SYN, [], { options: [2, 4, ...u16(mss), ...middle, ...ws], window });
    if (offer.timestamps) this.recent = this.tsVal;
    yield;
    const out = this.w.take();
    this.t.is(out.length, 1, 'SYN,ACK');
    const seg = parseTcpFrame(out[0]);
    this.iss = seg.seq;
    this.rcv = this.iss;
    this.guestShift = guestShift;
    const stamps = guestTimestamps(out[0]);
    if (offer.timestamps && stamps) this.guestOffset = (stamps[0] - Math.floor(this.w.now / 1000)) >>> 0;
    const fields = { sport: this.port, dport: this.sport, seq: seg.seq, ack: this.seq, flags: SYN | ACK,
      window: synAckWindow, options: this.synAckOptions(offer) };
    this.t.deepEqual(hex(out), hex([expected(out[0], fields)]), 'SYN,ACK');
    this.rcv = (this.rcv + 1) >>> 0;
    if (offer.timestamps) { this.timestamps = true; this.echo = stamps ? stamps[0] : 0; this.tsVal++; }
    this.send(ACK, [], { window });
    yield;
  }
}
