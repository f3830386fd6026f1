// Contract: the sender's congestion control and loss recovery; decides how much may be in flight and
// what to retransmit, never sends (tcp-output.ts does, from output()). Sources:
// - RFC 5681: the initial window (§3.1 eq. 1), slow start (eq. 2: cwnd += min(N, SMSS) per ACK of new
//   data), congestion avoidance (eq. 3: cwnd += SMSS*SMSS/cwnd), ssthresh after a loss (eq. 4:
//   max(FlightSize / 2, 2*SMSS), counted in whole segments), cwnd = 1 SMSS after a timeout, fast
//   retransmit on the third duplicate ACK (§3.2), restart after an idle period longer than the RTO (§4.1:
//   cwnd = min(IW, cwnd)).
// - RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment go past cwnd.
// - RFC 5827 early retransmit: with fewer than 4 segments outstanding and nothing new to send, the loss
//   is signalled by one duplicate ACK fewer than segments outstanding (at least 1).
// - RFC 6582 NewReno: recover = SND.MAX at the loss; cwnd = ssthresh + 3*SMSS and inflated by SMSS per
//   further duplicate; a partial ACK resends the next segment and deflates cwnd by what it acknowledged
//   (adding SMSS back when that was at least SMSS), restarting the timer only for the first; a full ACK
//   leaves with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS); a third duplicate ACK that does not
//   cover recover starts no new recovery (§3.2 step 2, §4 "avoid multiple fast retransmits").
// - RFC 6298 the retransmission timeout: SRTT, RTTVAR, RTO = SRTT + 4*RTTVAR, Karn's rule (tcp-output.ts
//   times one segment at a time, never a retransmitted one), back-off by doubling, at most 60 s.
//   Deviation: the minimum RTO is 200 ms, not §2.4's 1 s, as in Linux (TCP_RTO_MIN): these VMs talk
//   over a switch and a LAN with round trips under a millisecond, where a 1 s floor turns every loss the
//   duplicate ACKs cannot repair into a second of silence; 200 ms still exceeds the 40 to 200 ms a
//   delayed-ACK peer may hold its ACK (RFC 5681 §4.2's 500 ms bound is the worst case; Linux uses 40).
// Owns Tcb.cwnd/ssthresh/dupAcks/inRecovery/recover/partialAcked/retransmitFirst/lastSendAt and
// srtt/rttvar/rto.
import { i32, u32, bool } from "dsl";
import { Tcb, seqLt, seqLe } from "./tcp-tcb.ts";

/** RFC 6298 §2.1: "set RTO <- 1 second" before any RTT measurement. */
export const TCP_INITIAL_RTO_US: u32 = 1000000;
/** See the deviation above: Linux's TCP_RTO_MIN. */
const TCP_MIN_RTO_US: u32 = 200000;
/** RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds". */
const TCP_MAX_RTO_US: u32 = 60000000;
/** RFC 5681 §3.2: duplicate ACKs that signal a loss. */
const DUP_THRESHOLD = 3;
/** RFC 5681 §3.1: "initial value of ssthresh SHOULD be set arbitrarily high (e.g., to the size of the largest
 * possible advertised window)": 65535 without window scaling. */
const SSTHRESH_INITIAL: u32 = 65535;
/** cwnd stops growing here (far past any window we can be offered), so it never wraps. */
const CWND_LIMIT: u32 = 0x1000000;

/** RFC 5681 §3.1 eq. 1: IW by SMSS (2, 3 or 4 segments). */
function initialWindow(mss: i32): u32 {
  if (mss > 2190) return u32(2 * mss);
  if (mss > 1095) return u32(3 * mss);
  return u32(4 * mss);
}

/** A new connection's state (SMSS known, SND.MAX = ISS + 1). */
export function congestionInit(tcb: Tcb, now: u32): void {
  tcb.cwnd = initialWindow(tcb.sndMss);
  tcb.ssthresh = SSTHRESH_INITIAL;
  tcb.dupAcks = 0;
  tcb.inRecovery = false;
  tcb.recover = tcb.sndMax;            // RFC 6582 §3.2 step 1: "initialized to the initial send sequence number"
  tcb.partialAcked = false;
  tcb.retransmitFirst = false;
  tcb.lastSendAt = now;
  tcb.rto = TCP_INITIAL_RTO_US;
  tcb.srtt = 0;
  tcb.rttvar = 0;
}

/**
 * RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS), counted in whole segments as Linux counts cwnd:
 * half the segments in flight, rounded up, times SMSS (in bytes, a FlightSize of segments shorter than
 * SMSS halves to a few bytes short of whole segments, and recovery waits on them).
 */
function halveFlight(tcb: Tcb): u32 {
  const mss = u32(tcb.sndMss);
  const segments = (u32(tcb.sndMax - tcb.sndUna) + mss - 1) / mss;
  const half = (segments + 1) / 2;
  return (half > 2 ? half : 2) * mss;
}

// ---- RFC 6298 ---------------------------------------------------------------------------------------------

/** RFC 6298 §2.2-§2.3: a new RTT sample R (microseconds). */
export function rttSample(tcb: Tcb, r: u32): void {
  if (tcb.srtt === 0) {
    tcb.srtt = r === 0 ? 1 : r;
    tcb.rttvar = r / 2;
  } else {
    const delta = tcb.srtt > r ? tcb.srtt - r : r - tcb.srtt;
    tcb.rttvar = (3 * tcb.rttvar + delta) / 4;       // RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|
    tcb.srtt = (7 * tcb.srtt + r) / 8;               // SRTT <- (1 - 1/8) * SRTT + 1/8 * R'
  }
  let rto = tcb.srtt + 4 * tcb.rttvar;               // RTO <- SRTT + max (G, K*RTTVAR), K = 4
  if (rto < TCP_MIN_RTO_US) rto = TCP_MIN_RTO_US;
  if (rto > TCP_MAX_RTO_US) rto = TCP_MAX_RTO_US;
  tcb.rto = rto;
}

/** RFC 6298 §5.5: "back off the timer" (doubling, at most the maximum). */
export function rtoBackOff(tcb: Tcb): void {
  let rto = tcb.rto * 2;
  if (rto > TCP_MAX_RTO_US) rto = TCP_MAX_RTO_US;
  tcb.rto = rto;
}

// ---- acknowledgments ----------------------------------------------------------------------------------------

/**
 * SND.UNA moved forward by `acked` (tcp.ts has moved it). Grows cwnd, or in
 * recovery handles the partial or full ACK. Returns false when the retransmission timer must keep running
 * as it is (RFC 6582's later partial ACKs), true when it restarts as usual (RFC 6298 §5.3).
 */
export function congestionOnAck(tcb: Tcb, acked: u32): bool {
  const mss = u32(tcb.sndMss);
  if (tcb.inRecovery) {
    if (seqLe(tcb.recover, tcb.sndUna)) {
      // Full ACK (RFC 6582 §3.2 step 3 option 1).
      const flight = u32(tcb.sndMax - tcb.sndUna);
      const bound = (flight > mss ? flight : mss) + mss;
      tcb.cwnd = tcb.ssthresh < bound ? tcb.ssthresh : bound;
      tcb.inRecovery = false;
      tcb.dupAcks = 0;
      return true;
    }
    // NewReno partial ACK (RFC 6582 §3.2 step 5): resend the next segment, deflate, restart the timer once.
    tcb.retransmitFirst = true;
    tcb.cwnd = tcb.cwnd > acked ? tcb.cwnd - acked : 0;
    if (acked >= mss) tcb.cwnd += mss;
    if (tcb.cwnd < mss) tcb.cwnd = mss;
    const first = !tcb.partialAcked;
    tcb.partialAcked = true;
    return first;
  }
  tcb.dupAcks = 0;
  if (tcb.cwnd < tcb.ssthresh) {
    tcb.cwnd += acked < mss ? acked : mss;                    // slow start, eq. 2
  } else {
    const step = mss * mss / tcb.cwnd;                         // congestion avoidance, eq. 3
    tcb.cwnd += step > 0 ? step : 1;
  }
  if (tcb.cwnd > CWND_LIMIT) tcb.cwnd = CWND_LIMIT;
  return true;
}

/** A duplicate ACK (tcp.ts has counted it in dupAcks). Inflates cwnd in NewReno, or starts recovery. */
export function congestionOnDuplicate(tcb: Tcb): void {
  if (tcb.inRecovery) {
    tcb.cwnd += u32(tcb.sndMss);   // RFC 5681 §3.2 step 4
    return;
  }
  if (tcb.dupAcks < duplicateThreshold(tcb)) return;   // RFC 3042 meanwhile
  // RFC 6582 §3.2 step 2: a new recovery only once the ACKs cover the previous one's `recover`.
  if (seqLt(tcb.sndUna, tcb.recover)) return;
  enterRecovery(tcb);
}

/** DupThresh, or RFC 5827's lower one when fewer than 4 segments are out and nothing new can be sent. */
function duplicateThreshold(tcb: Tcb): i32 {
  const flight = i32(tcb.sndMax - tcb.sndUna);
  const unsent = tcb.txCount - (flight < tcb.txCount ? flight : tcb.txCount);
  if (unsent > 0 && i32(tcb.sndWnd) > flight) return DUP_THRESHOLD;
  const segments = (flight + tcb.sndMss - 1) / tcb.sndMss;
  if (segments >= DUP_THRESHOLD + 1) return DUP_THRESHOLD;
  return segments > 2 ? segments - 1 : 1;
}

function enterRecovery(tcb: Tcb): void {
  tcb.ssthresh = halveFlight(tcb);
  tcb.recover = tcb.sndMax;
  tcb.inRecovery = true;
  tcb.partialAcked = false;
  tcb.retransmitFirst = true;                                   // RFC 5681 §3.2 step 2
  tcb.cwnd = tcb.ssthresh + u32(DUP_THRESHOLD * tcb.sndMss);   // RFC 5681 §3.2 step 3
}

/**
 * The retransmission timer expired with data outstanding (not a window probe). RFC 5681 eq. 4 the first
 * time a segment times out (held when it times out again), cwnd = 1 SMSS, RFC 6582 §3.2 step 4 (recover =
 * SND.MAX, recovery over).
 */
export function congestionOnTimeout(tcb: Tcb, first: bool): void {
  if (first) tcb.ssthresh = halveFlight(tcb);
  tcb.cwnd = u32(tcb.sndMss);
  tcb.recover = tcb.sndMax;
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.retransmitFirst = false;
}

/** RFC 5681 §4.1: about to send after nothing was outstanding; idle longer than the RTO restarts at IW. */
export function congestionRestartAfterIdle(tcb: Tcb, now: u32): void {
  if (tcb.sndUna !== tcb.sndMax || u32(now - tcb.lastSendAt) <= tcb.rto) return;
  const restart = initialWindow(tcb.sndMss);
  if (tcb.cwnd > restart) tcb.cwnd = restart;
}

/**
 * Bytes of new data cwnd lets go now, beyond SND.NXT (the receiver's window is tcp-output.ts's): cwnd minus
 * what is in flight, plus RFC 3042's one segment per duplicate ACK before the third.
 */
export function congestionAllowance(tcb: Tcb): i32 {
  let window = tcb.cwnd;
  const used = u32(tcb.sndNxt - tcb.sndUna);
  if (!tcb.inRecovery && tcb.dupAcks > 0 && tcb.dupAcks < DUP_THRESHOLD) window += u32(tcb.dupAcks * tcb.sndMss);
  return window > used ? i32(window - used) : 0;
}
