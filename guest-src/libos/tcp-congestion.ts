// Contract: the sender's congestion control and loss recovery; decides how much may be in flight and
// what to retransmit, never sends (tcp-output.ts does, from output()). Sources:
// - RFC 5681: the initial window (§3.1 eq. 1), slow start (eq. 2: cwnd += min(N, SMSS) per ACK of new
//   data), congestion avoidance by byte counting (§3.1: cwnd += SMSS each time the bytes acknowledged
//   reach cwnd, so a peer that acknowledges every other segment does not halve the growth, as eq. 3
//   would; RFC 3465), ssthresh after a loss (eq. 4:
//   max(FlightSize / 2, 2*SMSS), counted in whole segments), cwnd = 1 SMSS after a timeout, fast
//   retransmit on the third duplicate ACK (§3.2), restart after an idle period longer than the RTO (§4.1:
//   cwnd = min(IW, cwnd)).
// - RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment go past cwnd.
// - RFC 5827 early retransmit: with fewer than 4 segments outstanding and nothing new to send, the loss
//   is signalled by one duplicate ACK fewer than segments outstanding (at least 1).
// - RFC 6582 NewReno (peers without SACK): recover = SND.MAX at the loss; cwnd = ssthresh + 3*SMSS and
//   inflated by SMSS per further duplicate; a partial ACK resends the next segment and deflates cwnd by
//   what it acknowledged (adding SMSS back when that was at least SMSS), restarting the timer only for
//   the first; a full ACK leaves with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS); a third
//   duplicate ACK that does not cover recover starts no new recovery (§3.2 step 2, §4 "avoid multiple
//   fast retransmits").
// - RFC 6675 SACK loss recovery (peers with SACK): the scoreboard of SACKed ranges (at most TCP_RANGES,
//   the lowest kept), IsLost (DupThresh discontiguous ranges or more than (DupThresh - 1)*SMSS bytes
//   SACKed above), pipe, NextSeg's rules 1 (lost holes), 2 (new data) and 3 (other holes below the
//   highest SACK when no new data can go), cwnd = ssthresh during recovery; recovery also starts when
//   IsLost(SND.UNA) before the third duplicate. Beyond RFC 6675 (as Linux did before RACK, RFC 8985's
//   rule in sequence rather than time): when a segment's worth of data sent after our latest
//   retransmission is SACKed, the holes still missing were retransmitted in vain and are sent again,
//   instead of waiting for the RTO.
// - RFC 8985 §6 RACK's reordering window, by sequence rather than send time: when SACKed data lies above
//   the hole at SND.UNA and no recovery starts from duplicate ACKs, a timer of reo_wnd = SRTT/4 (at least
//   2 ms) runs; if the hole is still there when it expires, recovery starts (the hole is retransmitted).
//   This repairs a loss followed by only one or two delivered segments, when more data waits on cwnd.
// - Reordering (RFC 8985 §6.2 step 2, as Linux's tcp_check_sack_reordering): when SND.UNA moves past data
//   that was never sent again (or that Eifel below found arrived first) while data above it had been
//   SACKed, the hole was reordered, not lost: its degree (segments from SND.UNA to the highest SACKed
//   byte) + 1 becomes the connection's DupThresh (never lowered, at most MAX_REORDERING), used by IsLost
//   to start a recovery; and from then on duplicate ACK counts start none (RFC 8985 replaces DupThresh
//   by the reordering window): the reordering timer or IsLost with the raised DupThresh do. Inside a
//   recovery IsLost keeps RFC 6675's DupThresh of 3 for the holes to resend. The reordering window grows
//   by SRTT/4 for each round trip that brought a D-SACK (RFC 8985 §6.2 step 4 reo_wnd_mult, at most
//   SRTT; back to SRTT/4 after 16 recoveries without one).
// - Eifel detection (RFC 3522) with a simplified RFC 4015 response: the TSval of a recovery's first
//   retransmission is kept; when the ACK that first covers SND.UNA at the recovery's start echoes an
//   older TSecr, the original arrived and the recovery was spurious: it ends, cwnd and ssthresh return to
//   their values before it (cwnd not below its current one), and the reordering is recorded as above.
// - RFC 8985 §7 tail loss probes (with SACK, outside a timeout): after PTO = 2*SRTT (plus the 200 ms
//   worst-case delayed ACK when one segment is outstanding; at least 10 ms here, for the scheduling
//   jitter of VMs on a shared CPU) without an ACK, one segment goes: new data if the peer's window
//   allows, else the last segment again; its ACK or SACK then starts the repair that no duplicate ACK
//   would have. A probe that repaired a loss (its ACK came with no D-SACK, RFC 2883) halves cwnd (§7.4).
//   Beyond RFC 8985, the PTO also runs in SACK recovery (restarted by partial ACKs): when it expires, the
//   first hole is sent again. This repairs a lost retransmission when nothing sent after it can reveal
//   the loss (the send buffer or cwnd allows no new data), which RFC 6675 and RACK leave to the RTO.
//   Not on a connection whose ACKs may wait (ackMayWait): the VM is not woken for them (the kernel's
//   INTERRUPT_LAZY_ACKS), and a probe would wake it for what they say; its RTO runs instead.
// - RFC 6298 the retransmission timeout: SRTT, RTTVAR, RTO = SRTT + 4*RTTVAR, Karn's rule (tcp-output.ts
//   times one segment at a time, never a retransmitted one), back-off by doubling, at most 60 s.
//   Deviation: the minimum RTO is 200 ms, not §2.4's 1 s, as in Linux (TCP_RTO_MIN): these VMs talk
//   over a switch and a LAN with round trips under a millisecond, where a 1 s floor turns every loss the
//   duplicate ACKs cannot repair into a second of silence; 200 ms still exceeds the 40 to 200 ms a
//   delayed-ACK peer may hold its ACK (RFC 5681 §4.2's 500 ms bound is the worst case; Linux uses 40).
// Owns Tcb.cwnd/ssthresh/bytesAcked/dupAcks/inRecovery/recover/partialAcked/retransmitFirst/highRxt/rxtMark/
// lastSendAt/sackedCount/sackedStart/sackedEnd/tlpActive, srtt/rttvar/rto, dupThresh/reorderSeen/reoWndMult/
// reoRoundEnd/reoPersist and undoArmed/undoUna/undoCwnd/undoSsthresh.
import { i32, u32, bool } from "dsl";
import { Tcb, TCP_RANGES, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_LAST_ACK, seqLt, seqLe } from "./tcp-tcb.ts";

/** RFC 6298 §2.1: "set RTO <- 1 second" before any RTT measurement. */
export const TCP_INITIAL_RTO_US: u32 = 1000000;
/** See the deviation above: Linux's TCP_RTO_MIN. */
const TCP_MIN_RTO_US: u32 = 200000;
/** RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds". */
const TCP_MAX_RTO_US: u32 = 60000000;
/**
 * The least RTO of a connection whose ACKs may wait (ackMayWait): RFC 6298 §2.4's 1 s, not TCP_MIN_RTO_US. Its
 * peer's ACKs do not wake the VM, so its timer is what wakes it to read them: at 200 ms an HTTP connection
 * kept alive cost a wake-up after each answer, where its next request, or the client's FIN, within the second
 * brings the ACK along (bench:web, 100,000 VMs). A loss of its last segments is repaired after 1 s.
 */
export const LAZY_MIN_RTO_US: u32 = 1000000;
/** At most this many segments in flight, a connection's ACKs may wait (ackMayWait): too few for a fast retransmit. */
const LAZY_FLIGHT_SEGMENTS: u32 = 3;

/**
 * True when the connection's ACKs may wait for the VM's next wake-up (stack.ts asks the kernel for
 * INTERRUPT_LAZY_ACKS while every connection's may): no handshake runs, its send buffer has room (no writer
 * waits for an ACK to make some), everything queued has been sent,
 * at most LAZY_FLIGHT_SEGMENTS segments are in flight (three duplicate ACKs cannot come) and no recovery
 * runs, so an ACK can only free what it acknowledges. Its loss is left to the RTO (no probe: probeTimeout), of
 * at least LAZY_MIN_RTO_US (tcp-timers.ts).
 */
export function ackMayWait(tcb: Tcb): bool {
  if (tcb.state === TCP_SYN_SENT || tcb.state === TCP_SYN_RECEIVED) return false;   // a handshake to finish
  const flight = u32(tcb.sndMax - tcb.sndUna);
  // A full send buffer: a writer may be waiting for the room an ACK makes (the control API's long answers).
  if (tcb.txSize !== 0 && tcb.txCount >= tcb.txSize) return false;
  return !tcb.inRecovery && tcb.sndNxt === tcb.sndMax && u32(tcb.txCount) <= flight
    && flight <= LAZY_FLIGHT_SEGMENTS * u32(tcb.sndMss);
}

/** RFC 5681 §3.2, RFC 6675 §2: duplicate ACKs that signal a loss. */
const DUP_THRESHOLD = 3;
/** The highest DupThresh reordering raises (Linux's default tcp_max_reordering is 300; 127 here). */
const MAX_REORDERING = 127;
/** RFC 8985 §6.2 step 4: reo_wnd_mult stays raised for this many recoveries after the latest D-SACK round. */
const REORDER_PERSIST = 16;
/** cwnd stops growing here (past any window our buffers let us use), so it never wraps. */
const CWND_LIMIT: u32 = 0x1000000;
/** RFC 5681 §3.1: "initial value of ssthresh SHOULD be set arbitrarily high (e.g., to the size of the largest
 * possible advertised window)": with window scaling (RFC 7323) that is past CWND_LIMIT. */
const SSTHRESH_INITIAL: u32 = CWND_LIMIT;
/** RFC 8985 §7.2 WCDelAckT: how long a peer may hold the ACK of a lone segment. */
const TLP_DELAYED_ACK_US: u32 = 200000;
/** The shortest PTO (see above). */
const TLP_MIN_US: u32 = 10000;
/** The shortest reordering window: the virtual alarm's useful resolution under load. */
const REORDER_MIN_US: u32 = 2000;

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
  tcb.bytesAcked = 0;
  tcb.dupAcks = 0;
  tcb.inRecovery = false;
  tcb.recover = tcb.sndMax;            // RFC 6582 §3.2 step 1: "initialized to the initial send sequence number"
  tcb.partialAcked = false;
  tcb.retransmitFirst = false;
  tcb.sackedCount = 0;
  tcb.rxtHigh = tcb.sndMax;
  tcb.dupThresh = DUP_THRESHOLD;
  tcb.reorderSeen = false;
  tcb.reoWndMult = 1;
  tcb.reoRoundEnd = tcb.sndMax;
  tcb.reoPersist = 0;
  tcb.dsackSeen = false;
  tcb.undoArmed = false;
  tcb.undoTsSet = false;
  tcb.lastSendAt = now;
  tcb.rto = TCP_INITIAL_RTO_US;
  tcb.srtt = 0;
  tcb.rttvar = 0;
}

/**
 * RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS), counted in whole segments as Linux counts cwnd:
 * half the segments in flight, rounded up, times SMSS (in bytes, a FlightSize of segments shorter than
 * SMSS, shortened by SACK options, halves to a few bytes short of whole segments, and recovery stalls).
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
 * SND.UNA moved forward by `acked` (tcp.ts has moved it and trimmed the scoreboard). Grows cwnd, or in
 * recovery handles the partial or full ACK. Returns false when the retransmission timer must keep running
 * as it is (RFC 6582's later partial ACKs), true when it restarts as usual (RFC 6298 §5.3).
 */
export function congestionOnAck(tcb: Tcb, acked: u32): bool {
  const mss = u32(tcb.sndMss);
  if (tcb.inRecovery) {
    if (seqLe(tcb.recover, tcb.sndUna)) {
      // Full ACK (RFC 6582 §3.2 step 3 option 1; RFC 6675 leaves recovery with cwnd = ssthresh).
      const flight = u32(tcb.sndMax - tcb.sndUna);
      const bound = (flight > mss ? flight : mss) + mss;
      tcb.cwnd = tcb.ssthresh < bound ? tcb.ssthresh : bound;
      tcb.inRecovery = false;
      tcb.dupAcks = 0;
      return true;
    }
    if (tcb.sackPermitted) return true;           // RFC 6675 (C): the pipe decides what goes next
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
    tcb.bytesAcked = 0;
  } else {
    tcb.bytesAcked += acked;                                   // congestion avoidance, byte counting
    if (tcb.bytesAcked >= tcb.cwnd) {
      tcb.bytesAcked -= tcb.cwnd;
      tcb.cwnd += mss;
    }
  }
  if (tcb.cwnd > CWND_LIMIT) tcb.cwnd = CWND_LIMIT;
  return true;
}

/** A duplicate ACK (tcp.ts has counted it in dupAcks). Inflates cwnd in NewReno, or starts recovery. */
export function congestionOnDuplicate(tcb: Tcb): void {
  if (tcb.inRecovery) {
    if (!tcb.sackPermitted) tcb.cwnd += u32(tcb.sndMss);   // RFC 5681 §3.2 step 4
    return;
  }
  const lost = (!tcb.reorderSeen && tcb.dupAcks >= duplicateThreshold(tcb))
    || (tcb.sackPermitted && holeLost(tcb, 0, tcb.dupThresh));
  if (!lost) return;   // RFC 3042 meanwhile
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

/**
 * RFC 8985 §6.2 reo_wnd: a quarter of SRTT (min_RTT is not tracked) times reo_wnd_mult, at most SRTT, at least
 * REORDER_MIN_US.
 */
export function reorderWindow(tcb: Tcb): u32 {
  let w = tcb.srtt / 4 * u32(tcb.reoWndMult);
  if (w > tcb.srtt) w = tcb.srtt;
  return w > REORDER_MIN_US ? w : REORDER_MIN_US;
}

/**
 * SND.UNA is about to move to `ack` (the scoreboard still holds what was SACKed before); `tsPresent`, `tsEcr`:
 * the ACK's timestamp echo. Eifel detection, then reordering detection (see above). Returns true when the
 * recovery was undone.
 */
export function reorderingOnAck(tcb: Tcb, ack: u32, tsPresent: bool, tsEcr: u32): bool {
  let spurious = false;
  if (tcb.undoArmed && seqLt(tcb.undoUna, ack)) {
    tcb.undoArmed = false;
    spurious = tcb.inRecovery && tcb.undoTsSet && tcb.timestamps && tsPresent && seqLt(tsEcr, tcb.undoTsVal);
  }
  if (tcb.sackedCount > 0 && (spurious || seqLe(tcb.rxtHigh, tcb.sndUna))) {
    const highest = tcb.sackedEnd[tcb.sackedCount - 1];
    if (seqLt(tcb.sndUna, highest)) {
      const mss = u32(tcb.sndMss);
      const degree = i32((u32(highest - tcb.sndUna) + mss - 1) / mss);
      const thresh = degree + 1 < MAX_REORDERING ? degree + 1 : MAX_REORDERING;
      if (thresh > tcb.dupThresh) tcb.dupThresh = thresh;
      tcb.reorderSeen = true;
    }
  }
  if (seqLt(tcb.rxtHigh, ack)) tcb.rxtHigh = ack;   // kept near SND.UNA, never wrapping behind it
  if (!spurious) return false;
  // RFC 4015 §3.2, simplified: the recovery ends; cwnd and ssthresh as before it.
  if (tcb.cwnd < tcb.undoCwnd) tcb.cwnd = tcb.undoCwnd;
  if (tcb.ssthresh < tcb.undoSsthresh) tcb.ssthresh = tcb.undoSsthresh;
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.retransmitFirst = false;
  tcb.recover = ack;                    // a later loss may start a recovery at once
  return true;
}

/**
 * After an ACK's SACK blocks: a D-SACK grows reo_wnd_mult, once per round trip (RFC 8985 §6.2 step 4).
 */
export function reorderingOnDsack(tcb: Tcb): void {
  if (!tcb.dsackSeen) return;
  tcb.dsackSeen = false;
  if (seqLt(tcb.sndUna, tcb.reoRoundEnd)) return;
  if (tcb.reoWndMult < 4) tcb.reoWndMult++;   // 4 * SRTT/4 = SRTT, the cap
  tcb.reoRoundEnd = tcb.sndMax;
  tcb.reoPersist = REORDER_PERSIST;
}

/**
 * The reordering timer expired (RFC 8985 §6.3, by sequence: data above the hole at SND.UNA was SACKed a
 * reordering window ago and the hole is still there): the hole is lost, recovery starts as on the third
 * duplicate ACK. Returns true when it did.
 */
export function congestionOnReorderTimeout(tcb: Tcb): bool {
  if (tcb.inRecovery || tcb.sackedCount === 0 || seqLt(tcb.sndUna, tcb.recover)) return false;
  enterRecovery(tcb);
  return true;
}

function enterRecovery(tcb: Tcb): void {
  tcb.undoArmed = true;                           // Eifel: tcp-output.ts records the first retransmission's TSval
  tcb.undoTsSet = false;
  tcb.undoUna = tcb.sndUna;
  tcb.undoCwnd = tcb.cwnd;
  tcb.undoSsthresh = tcb.ssthresh;
  if (tcb.reoPersist > 0) {
    tcb.reoPersist--;
    if (tcb.reoPersist === 0) tcb.reoWndMult = 1;
  }
  tcb.ssthresh = halveFlight(tcb);
  tcb.bytesAcked = 0;
  tcb.recover = tcb.sndMax;
  tcb.inRecovery = true;
  tcb.partialAcked = false;
  tcb.retransmitFirst = true;                     // RFC 5681 §3.2 step 2, RFC 6675 (4.3)
  if (tcb.sackPermitted) {
    tcb.cwnd = tcb.ssthresh;                      // RFC 6675 (4.2)
    tcb.highRxt = tcb.sndUna;
    tcb.rxtMark = tcb.sndMax;
  } else {
    tcb.cwnd = tcb.ssthresh + u32(DUP_THRESHOLD * tcb.sndMss);   // RFC 5681 §3.2 step 3
  }
}

/**
 * The retransmission timer expired with data outstanding (not a window probe). RFC 5681 eq. 4 the first
 * time a segment times out (held when it times out again), cwnd = 1 SMSS, RFC 6582 §3.2 step 4 (recover =
 * SND.MAX, recovery over), RFC 2018 §8 (SACK information is not trusted after a timeout).
 */
export function congestionOnTimeout(tcb: Tcb, first: bool): void {
  if (first) tcb.ssthresh = halveFlight(tcb);
  tcb.cwnd = u32(tcb.sndMss);
  tcb.bytesAcked = 0;
  tcb.recover = tcb.sndMax;
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.retransmitFirst = false;
  tcb.sackedCount = 0;
  tcb.tlpActive = false;
  tcb.undoArmed = false;
}

/**
 * RFC 8985 §7.2: the probe timeout to arm now instead of the RTO, or 0 for none (no SACK, after a timeout,
 * a probe already out, no RTT yet, nothing in flight, or not sooner than the RTO). Beyond RFC 8985, also in
 * SACK recovery (see tcp-output.ts tailLossProbe).
 */
export function probeTimeout(tcb: Tcb): u32 {
  if (ackMayWait(tcb)) return 0;
  if (!tcb.sackPermitted || tcb.tlpActive || tcb.srtt === 0 || tcb.sndNxt !== tcb.sndMax || tcb.retries !== 0) return 0;
  const flight = u32(tcb.sndMax - tcb.sndUna);
  if (flight === 0) return 0;
  let pto = 2 * tcb.srtt;
  // One segment out: the peer may hold its ACK, unless it is our FIN after the peer's (its FIN-WAIT-2 or
  // CLOSING answers at once, RFC 9293 §3.10.7.4 "eighth"; Linux does).
  if (flight <= u32(tcb.sndMss) && tcb.state !== TCP_LAST_ACK) pto += TLP_DELAYED_ACK_US;
  if (pto < TLP_MIN_US) pto = TLP_MIN_US;
  return pto < tcb.rto ? pto : 0;
}

/**
 * An ACK after a probe (RFC 8985 §7.4, decided as Linux does): once SND.UNA covers it the episode ends. A
 * probe of new data, a D-SACK (both copies arrived) or a pure duplicate ACK at its end mean no loss; an ACK
 * past its end (or of everything) without a D-SACK means the probe repaired one, answered as a loss:
 * ssthresh = cwnd = max(cwnd / 2, 2*SMSS). An ACK exactly at its end waits for the next.
 */
export function probeAcknowledged(tcb: Tcb, advanced: bool): void {
  if (!tcb.tlpActive || seqLt(tcb.sndUna, tcb.tlpEnd)) return;
  if (!tcb.tlpRetransmitted || tcb.tlpDsack || !advanced) { tcb.tlpActive = false; return; }
  if (tcb.sndUna === tcb.tlpEnd && tcb.sndUna !== tcb.sndMax) return;
  tcb.tlpActive = false;
  if (tcb.inRecovery) return;
  const half = tcb.cwnd / 2;
  const floor = u32(2 * tcb.sndMss);
  tcb.ssthresh = half > floor ? half : floor;
  tcb.cwnd = tcb.ssthresh;
}

/** RFC 5681 §4.1: about to send after nothing was outstanding; idle longer than the RTO restarts at IW. */
export function congestionRestartAfterIdle(tcb: Tcb, now: u32): void {
  if (tcb.sndUna !== tcb.sndMax || u32(now - tcb.lastSendAt) <= tcb.rto) return;
  const restart = initialWindow(tcb.sndMss);
  if (tcb.cwnd > restart) tcb.cwnd = restart;
}

/**
 * Bytes of new data cwnd lets go now, beyond SND.NXT (the receiver's window is tcp-output.ts's). Outside recovery
 * cwnd minus what is in flight, plus RFC 3042's one segment per duplicate ACK before the third; in SACK
 * recovery cwnd minus pipe.
 */
export function congestionAllowance(tcb: Tcb): i32 {
  let window = tcb.cwnd;
  let used = u32(tcb.sndNxt - tcb.sndUna);
  if (tcb.inRecovery && tcb.sackPermitted) used = pipe(tcb);
  else if (!tcb.inRecovery && tcb.dupAcks > 0 && tcb.dupAcks < DUP_THRESHOLD) window += u32(tcb.dupAcks * tcb.sndMss);
  return window > used ? i32(window - used) : 0;
}

// ---- the SACK scoreboard (RFC 6675 §3-§4) ---------------------------------------------------------------------

/**
 * Records the SACK block [start, end) of an arriving ACK (after SND.UNA moved). Blocks outside
 * (SND.UNA, SND.MAX] are ignored (RFC 2018 §8 leaves the sender free to). Returns true when it SACKs
 * bytes not SACKed before (RFC 6675 §2: such an ACK counts as a duplicate).
 */
export function scoreboardAdd(tcb: Tcb, start: u32, end: u32): bool {
  let s = seqLt(start, tcb.sndUna) ? tcb.sndUna : start;
  let e = end;
  if (!seqLt(s, e) || seqLt(tcb.sndMax, e)) return false;
  for (let i = 0; i < tcb.sackedCount; i++) {
    if (seqLe(tcb.sackedStart[i], s) && seqLe(e, tcb.sackedEnd[i])) return false;   // nothing new
  }
  // Merge every range it overlaps or touches, then insert in order; full: the highest range goes.
  let i = 0;
  while (i < tcb.sackedCount) {
    if (seqLe(tcb.sackedStart[i], e) && seqLe(s, tcb.sackedEnd[i])) {
      if (seqLt(tcb.sackedStart[i], s)) s = tcb.sackedStart[i];
      if (seqLt(e, tcb.sackedEnd[i])) e = tcb.sackedEnd[i];
      removeSacked(tcb, i);
    } else {
      i++;
    }
  }
  let at = 0;
  while (at < tcb.sackedCount && seqLt(tcb.sackedStart[at], s)) at++;
  if (tcb.sackedCount === TCP_RANGES) {
    if (at === TCP_RANGES) return true;            // above every range we keep: forgotten, still news
    tcb.sackedCount--;
  }
  for (let k = tcb.sackedCount; k > at; k--) {
    tcb.sackedStart[k] = tcb.sackedStart[k - 1];
    tcb.sackedEnd[k] = tcb.sackedEnd[k - 1];
  }
  tcb.sackedStart[at] = s;
  tcb.sackedEnd[at] = e;
  tcb.sackedCount++;
  return true;
}

function removeSacked(tcb: Tcb, index: i32): void {
  for (let k = index; k < tcb.sackedCount - 1; k++) {
    tcb.sackedStart[k] = tcb.sackedStart[k + 1];
    tcb.sackedEnd[k] = tcb.sackedEnd[k + 1];
  }
  tcb.sackedCount--;
}

/** SND.UNA moved: ranges it covers go, a range it enters starts at it. */
export function scoreboardAcknowledged(tcb: Tcb): void {
  while (tcb.sackedCount > 0 && seqLe(tcb.sackedEnd[0], tcb.sndUna)) removeSacked(tcb, 0);
  if (tcb.sackedCount > 0 && seqLt(tcb.sackedStart[0], tcb.sndUna)) tcb.sackedStart[0] = tcb.sndUna;
}

/** IsLost, DupThresh `thresh`, for the hole below range `index` (every byte of it has the same SACKed data above). */
function holeLost(tcb: Tcb, index: i32, thresh: i32): bool {
  if (index >= tcb.sackedCount) return false;
  if (tcb.sackedCount - index >= thresh) return true;
  let above: u32 = 0;
  for (let i = index; i < tcb.sackedCount; i++) above += u32(tcb.sackedEnd[i] - tcb.sackedStart[i]);
  return above > u32((thresh - 1) * tcb.sndMss);
}

/** RFC 6675 SetPipe: bytes in flight, neither SACKed nor lost, plus those retransmitted (up to HighRxt). */
function pipe(tcb: Tcb): u32 {
  let total: u32 = 0;
  let at = tcb.sndUna;
  for (let i = 0; i <= tcb.sackedCount; i++) {
    const end = i < tcb.sackedCount ? tcb.sackedStart[i] : tcb.sndNxt;
    if (seqLt(at, end)) {
      if (!holeLost(tcb, i, DUP_THRESHOLD)) total += u32(end - at);
      if (seqLt(at, tcb.highRxt)) total += u32((seqLt(tcb.highRxt, end) ? tcb.highRxt : end) - at);
    }
    if (i < tcb.sackedCount) at = tcb.sackedEnd[i];
  }
  return total;
}

/** Where the hole nextHole found starts and ends (the retransmission stops there). */
export let holeStart: u32 = 0;
export let holeEnd: u32 = 0;

/**
 * RFC 6675 NextSeg rules 1 and 3: the first byte not SACKed, above HighRxt and below the highest SACKed
 * byte, that is lost (or, with `anyHole`, whether lost or not: rule 3, when no new data can be sent);
 * sets holeEnd. Returns false when there is none.
 */
export function nextHole(tcb: Tcb, anyHole: bool): bool {
  let at = tcb.sndUna;
  for (let i = 0; i < tcb.sackedCount; i++) {
    const start = seqLt(at, tcb.highRxt) ? tcb.highRxt : at;
    if (seqLt(start, tcb.sackedStart[i]) && (anyHole || holeLost(tcb, i, DUP_THRESHOLD))) {
      holeStart = start;
      holeEnd = tcb.sackedStart[i];
      return true;
    }
    at = tcb.sackedEnd[i];
  }
  return false;
}

/** A retransmission of [seq, end) went out in SACK recovery: HighRxt and the mark of SND.MAX move. */
export function recoverySent(tcb: Tcb, end: u32): void {
  if (seqLt(tcb.highRxt, end)) tcb.highRxt = end;
  tcb.rxtMark = tcb.sndMax;
}

/**
 * After the scoreboard took an ACK's blocks in SACK recovery: when a segment's worth of data sent after the
 * latest retransmission is SACKed, the retransmissions still missing were lost too: HighRxt goes back to
 * SND.UNA so NextSeg sends them again.
 */
export function detectLostRetransmissions(tcb: Tcb): void {
  if (!tcb.inRecovery || !tcb.sackPermitted || tcb.sackedCount === 0 || !seqLt(tcb.sndUna, tcb.highRxt)) return;
  const highest = tcb.sackedEnd[tcb.sackedCount - 1];
  if (seqLe(u32(tcb.rxtMark + u32(tcb.sndMss)), highest)) {
    tcb.highRxt = tcb.sndUna;
    tcb.rxtMark = tcb.sndMax;
  }
}
