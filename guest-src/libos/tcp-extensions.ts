// Contract: RFC 7323 ("TCP Extensions for High Performance") for the TCP's files: window scaling and
// timestamps with PAWS. Decides, never sends (tcp-output.ts writes the options, tcp.ts calls the checks).
// - Window scaling (§2): agreed when both SYNs carry Window Scale. Our shift (Rcv.Wind.Scale) is chosen
//   from the receive buffer as the SYN goes: the least that brings the buffer under 2^16 (§2.3); the
//   peer's is taken at most 14 (§2.3: "MUST use 14"). The window field of a SYN is never scaled (§2.2);
//   every other segment's is, both ways, from the segment after the SYN on.
// - Timestamps (§3-§4): agreed when both SYNs carry them; then every segment but a RST carries TSval
//   (our millisecond clock, netif.ts netMilliseconds, plus a per-connection offset, §7.1) and TSecr = TS.Recent.
//   TS.Recent takes SEG.TSval when SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent (§4.3, R3). RTTM
//   (§4.1) feeds the RTO estimator as Linux's tcp_ack_update_rtt does: the microsecond timing of one
//   segment (tcp-output.ts) is preferred, and when no segment is timed (after a retransmission Karn's
//   rule forbids it) an ACK of new data that echoes a TSecr gives the sample: its TSval was the
//   retransmission's, so no ambiguity (§4.1, §4.3).
// - PAWS (§5): a segment with timestamps agreed but no Timestamps option is dropped silently unless it
//   is a RST (§3.2: "SHOULD silently drop"); one whose SEG.TSval < TS.Recent is not acceptable (an ACK
//   answers, §5.3 R1), unless it is a RST (§5.3 R1: RSTs are acceptable whatever their timestamp) or
//   TS.Recent is older than 24 days (§5.5: then it is invalid and takes SEG.TSval).
// Owns Tcb.windowScaling/sndScale/rcvScale/timestamps/tsRecent/tsRecentAt/tsOffset (lastAckSent is
// tcp-output.ts's).
import { i32, u32, bool } from "dsl";
import { put32 } from "./bytes.ts";
import { netMilliseconds } from "./netif.ts";
import { Tcb, seqLt, seqLe } from "./tcp-tcb.ts";
import { TCP_OPTION_TIMESTAMPS, TCP_OPTION_TIMESTAMPS_LENGTH } from "./tcp-header.ts";

/** §2.3: the largest shift count. */
const TCP_MAX_WINDOW_SHIFT = 14;
/** §5.5: TS.Recent older than 24 days is invalid (in milliseconds: under 2^31). */
const PAWS_IDLE_MS: u32 = 2073600000;
/** RTTM samples longer than this (ms) are not believed (a peer's TSecr is input like any other). */
const RTTM_MAX_MS: u32 = 60000;
/** No RTTM sample. */
export const NO_SAMPLE: u32 = 0xffffffff;

/** Rcv.Wind.Scale for a receive buffer of `size` bytes (§2.3): the least shift under which it fits 16 bits. */
export function windowShiftFor(size: i32): i32 {
  let shift = 0;
  while (shift < TCP_MAX_WINDOW_SHIFT && (size >>> shift) > 0xffff) shift++;
  return shift;
}

/** The window field for RCV.WND = `window`: unscaled in a SYN (§2.2), else shifted by Rcv.Wind.Scale; 16 bits. */
export function windowField(tcb: Tcb, window: i32, syn: bool): i32 {
  const field = syn ? window : window >> tcb.rcvScale;
  return field > 0xffff ? 0xffff : field;
}

/** SND.WND from a non-SYN segment's window field (§2.3: SEG.WND << Snd.Wind.Scale). */
export function peerWindow(tcb: Tcb, field: u32): u32 { return u32(field << u32(tcb.sndScale)); }

/** The peer's Window Scale option: its shift, at most 14 (§2.3); -1 when absent (no scaling either way). */
export function agreeWindowScale(tcb: Tcb, peerShift: i32): void {
  tcb.windowScaling = peerShift >= 0;
  tcb.sndScale = peerShift < 0 ? 0 : peerShift > TCP_MAX_WINDOW_SHIFT ? TCP_MAX_WINDOW_SHIFT : peerShift;
  tcb.rcvScale = tcb.windowScaling ? windowShiftFor(tcb.rxSize) : 0;
}

/** The peer's SYN had Timestamps (`present`, with `tsVal`) or not: Snd.TS.OK, and TS.Recent from it. */
export function agreeTimestamps(tcb: Tcb, present: bool, tsVal: u32): void {
  tcb.timestamps = present;
  tcb.tsRecent = present ? tsVal : 0;
  tcb.tsRecentAt = netMilliseconds();
}

/** Our TSval now (§5.4: a clock of 1 ms a tick, offset per connection). */
export function timestampValue(tcb: Tcb): u32 { return u32(netMilliseconds() + tcb.tsOffset); }

/** Writes the Timestamps option (kind, length, TSval, TSecr = TS.Recent) at `frame[at..at+10)`. */
export function writeTimestamps(tcb: Tcb, frame: Uint8Array, at: i32): void {
  frame[at] = TCP_OPTION_TIMESTAMPS;
  frame[at + 1] = TCP_OPTION_TIMESTAMPS_LENGTH;
  put32(frame, at + 2, timestampValue(tcb));
  put32(frame, at + 6, tcb.tsRecent);
}

/**
 * PAWS (§5.3 R1, §3.2) for a segment of a synchronized connection: true when it is to be dropped. Sets pawsAck
 * when an ACK answers it (an old timestamp; not a segment lacking the option, dropped silently).
 */
export let pawsAck = false;
export function pawsReject(tcb: Tcb, present: bool, tsVal: u32, rst: bool): bool {
  pawsAck = false;
  if (!tcb.timestamps || rst) return false;
  if (!present) return true;
  if (!seqLt(tsVal, tcb.tsRecent)) return false;
  if (u32(netMilliseconds() - tcb.tsRecentAt) > PAWS_IDLE_MS) {   // §5.5: TS.Recent invalid after 24 days idle
    tcb.tsRecent = tsVal;
    tcb.tsRecentAt = netMilliseconds();
    return false;
  }
  pawsAck = true;
  return true;
}

/** §4.3 R3: an acceptable segment with SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent updates TS.Recent. */
export function timestampsTake(tcb: Tcb, present: bool, tsVal: u32, seq: u32): void {
  if (!tcb.timestamps || !present) return;
  if (seqLe(tcb.tsRecent, tsVal) && seqLe(seq, tcb.lastAckSent)) {
    tcb.tsRecent = tsVal;
    tcb.tsRecentAt = netMilliseconds();
  }
}

/** RTTM (§4.1): the round trip, in microseconds, an ACK of new data echoing `tsEcr` measures; NO_SAMPLE if none. */
export function timestampRtt(tcb: Tcb, present: bool, tsEcr: u32): u32 {
  if (!tcb.timestamps || !present) return NO_SAMPLE;
  const elapsed = u32(timestampValue(tcb) - tsEcr);
  if (elapsed > RTTM_MAX_MS) return NO_SAMPLE;   // from the future, or not ours
  return elapsed * 1000;
}
