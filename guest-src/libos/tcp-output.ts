// Contract: the TCP's sending side: building segments (header, options, checksum) in txFrame and
// handing them to IPv4, and output(), which sends what a connection owes its peer in this order: the
// retransmission loss recovery asked for (tcp-congestion.ts), further SACK-recovery retransmissions while
// cwnd - pipe allows, then new data and the FIN within cwnd and the peer's window with sender SWS
// avoidance (RFC 9293 §3.8.6.2.1), one-byte zero-window probes (§3.8.6.1); and the timer a connection
// with data in flight runs: the RTO (RFC 6298 §5), or a tail loss probe's PTO (RFC 8985 §7) that sends
// one segment when it expires. Every segment of a connection carries ACK = RCV.NXT, our window (scaled
// after the SYN, RFC 7323 §2), the Timestamps option when agreed (RFC 7323 §3, first), and, when SACK
// was agreed and data is held out of order, the SACK blocks (RFC 2018 §4; 3 at most beside timestamps).
// Owns Tcb.sndNxt/sndMax (advancing), rcvEdge, lastAckSent, ackNow and ackLater (clearing), timerOn/timerAt/
// timerKind/timerSetAt, timing, rxtHigh and undoTsSet/undoTsVal (the retransmissions' marks).
import { i32, u32, bool } from "dsl";
import { put16, put32, checksumAdd, checksumFinish, pseudoHeaderSum } from "./bytes.ts";
import {
  txFrame, ourIp, netNow, netStats, STAT_TCP_RESET_SENT, STAT_TCP_RETRANSMIT, STAT_TCP_TAIL_PROBE,
} from "./netif.ts";
import { ipv4Send, IP_PAYLOAD_OFFSET, IP_PROTOCOL_TCP } from "./ipv4.ts";
import {
  Tcb, seqLt, TIMER_RTO, TIMER_PROBE, TIMER_REORDER, TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_CLOSE_WAIT, TCP_CLOSING,
  TCP_LAST_ACK,
} from "./tcp-tcb.ts";
import {
  TCP_SOURCE_PORT, TCP_DESTINATION_PORT, TCP_SEQUENCE, TCP_ACKNOWLEDGMENT, TCP_DATA_OFFSET, TCP_FLAGS, TCP_WINDOW,
  TCP_CHECKSUM, TCP_URGENT, TCP_HEADER, TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK, TCP_OPTION_NOP, TCP_OPTION_MSS,
  TCP_OPTION_MSS_LENGTH, TCP_OPTION_SACK_PERMITTED, TCP_OPTION_SACK_PERMITTED_LENGTH, TCP_OUR_MSS,
  TCP_OPTION_WINDOW_SCALE, TCP_OPTION_WINDOW_SCALE_LENGTH, TCP_OPTION_TIMESTAMPS_LENGTH,
} from "./tcp-header.ts";
import { windowField, writeTimestamps, timestampValue } from "./tcp-extensions.ts";
import { sendPeek } from "./tcp-buffers.ts";
import { sackOptionLength, writeSackOption } from "./tcp-reassembly.ts";
import {
  congestionRestartAfterIdle, congestionAllowance, nextHole, holeStart, holeEnd, recoverySent, probeTimeout,
  reorderWindow,
} from "./tcp-congestion.ts";

/** Bytes of options the next emit sends (written at txFrame's TCP_HEADER by its caller); emit clears it. */
let emitOptions = 0;

/**
 * Completes the segment in txFrame (its emitOptions bytes of options already at TCP_HEADER, its
 * `dataLength` bytes of data after them) with the header and checksum, and sends it.
 */
function emit(remoteIp: u32, localPort: i32, remotePort: i32, seq: u32, ack: u32, flags: i32, window: i32,
  dataLength: i32): void {
  const p = IP_PAYLOAD_OFFSET;
  const headerLength = TCP_HEADER + emitOptions;
  emitOptions = 0;
  put16(txFrame, p + TCP_SOURCE_PORT, localPort);
  put16(txFrame, p + TCP_DESTINATION_PORT, remotePort);
  put32(txFrame, p + TCP_SEQUENCE, seq);
  put32(txFrame, p + TCP_ACKNOWLEDGMENT, ack);
  txFrame[p + TCP_DATA_OFFSET] = (headerLength / 4) << 4;
  txFrame[p + TCP_FLAGS] = flags;
  put16(txFrame, p + TCP_WINDOW, window);
  put16(txFrame, p + TCP_CHECKSUM, 0);
  put16(txFrame, p + TCP_URGENT, 0);
  const length = headerLength + dataLength;
  // §3.1 Checksum: over the pseudo-header (source, destination, zero, PTCL, TCP length), header and data.
  const sum = checksumAdd(pseudoHeaderSum(ourIp, remoteIp, IP_PROTOCOL_TCP, length), txFrame, p, length);
  put16(txFrame, p + TCP_CHECKSUM, checksumFinish(sum));
  ipv4Send(remoteIp, IP_PROTOCOL_TCP, length);
}

/** A RST (or RST,ACK) outside any connection's flow: no options, no data, window 0. */
export function emitReset(remoteIp: u32, localPort: i32, remotePort: i32, seq: u32, ack: u32, flags: i32): void {
  netStats[STAT_TCP_RESET_SENT]++;
  emit(remoteIp, localPort, remotePort, seq, ack, flags, 0, 0);
}

/** RCV.WND: the free room of the receive buffer. */
export function receiveWindow(tcb: Tcb): i32 { return tcb.rxSize - tcb.rxCount; }

/** Bytes of the Timestamps option of a segment after the SYN: NOP, NOP, the option; 0 without timestamps. */
function timestampsLength(tcb: Tcb): i32 { return tcb.timestamps ? 2 + TCP_OPTION_TIMESTAMPS_LENGTH : 0; }

/**
 * Writes a SYN's options at txFrame's TCP_HEADER: our MSS, then what the peer's SYN offered (in our own SYN:
 * everything): SACK-permitted and Timestamps (packed together, else each after two NOPs), NOP and Window Scale.
 */
function writeSynOptions(tcb: Tcb): i32 {
  const start = IP_PAYLOAD_OFFSET + TCP_HEADER;
  let at = start;
  txFrame[at] = TCP_OPTION_MSS;
  txFrame[at + 1] = TCP_OPTION_MSS_LENGTH;
  put16(txFrame, at + 2, TCP_OUR_MSS);
  at += TCP_OPTION_MSS_LENGTH;
  if (!tcb.sackPermitted || !tcb.timestamps) {
    txFrame[at] = TCP_OPTION_NOP;
    txFrame[at + 1] = TCP_OPTION_NOP;
    if (tcb.sackPermitted || tcb.timestamps) at += 2;
  }
  if (tcb.sackPermitted) {
    txFrame[at] = TCP_OPTION_SACK_PERMITTED;
    txFrame[at + 1] = TCP_OPTION_SACK_PERMITTED_LENGTH;
    at += TCP_OPTION_SACK_PERMITTED_LENGTH;
  }
  if (tcb.timestamps) {
    writeTimestamps(tcb, txFrame, at);
    at += TCP_OPTION_TIMESTAMPS_LENGTH;
  }
  if (tcb.windowScaling) {
    txFrame[at] = TCP_OPTION_NOP;
    txFrame[at + 1] = TCP_OPTION_WINDOW_SCALE;
    txFrame[at + 2] = TCP_OPTION_WINDOW_SCALE_LENGTH;
    txFrame[at + 3] = tcb.rcvScale;
    at += 4;
  }
  return at - start;
}

/** Writes the options of a segment after the SYN (Timestamps, then SACK blocks); returns their length. */
function writeOptions(tcb: Tcb): i32 {
  const at = IP_PAYLOAD_OFFSET + TCP_HEADER;
  const stamps = timestampsLength(tcb);
  if (stamps > 0) {
    txFrame[at] = TCP_OPTION_NOP;
    txFrame[at + 1] = TCP_OPTION_NOP;
    writeTimestamps(tcb, txFrame, at + 2);
  }
  const sack = sackOptionLength(tcb);
  if (sack > 0) writeSackOption(tcb, txFrame, at + stamps);
  return stamps + sack;
}

/**
 * A segment of connection `tcb` at `seq` with ACK = RCV.NXT, the current window and our SACK blocks;
 * its `dataLength` bytes of data are the queued bytes from `skip` bytes past SND.UNA.
 */
function sendSegment(tcb: Tcb, seq: u32, flags: i32, skip: i32, dataLength: i32): void {
  const syn = (flags & TCP_SYN) !== 0;
  const window = windowField(tcb, receiveWindow(tcb), syn);
  tcb.rcvEdge = u32(tcb.rcvNxt + u32(syn ? window : window << tcb.rcvScale));
  tcb.lastAckSent = tcb.rcvNxt;
  tcb.ackNow = false;
  tcb.ackLater = false;
  const options = syn ? writeSynOptions(tcb) : writeOptions(tcb);
  if (dataLength > 0) sendPeek(tcb, skip, txFrame, IP_PAYLOAD_OFFSET + TCP_HEADER + options, dataLength);
  emitOptions = options;
  emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, seq, tcb.rcvNxt, flags | TCP_ACK, window, dataLength);
}

export function sendAck(tcb: Tcb): void { sendSegment(tcb, tcb.sndNxt, TCP_ACK, 0, 0); }

export function sendSynAck(tcb: Tcb): void { sendSegment(tcb, tcb.iss, TCP_SYN | TCP_ACK, 0, 0); }

/**
 * An active open's SYN (RFC 9293 §3.10.1: <SEQ=ISS><CTL=SYN>): no ACK, our window, the same options as our
 * SYN,ACK (the MSS, and SACK-permitted: tcb.sackPermitted is true until the peer's SYN,ACK says otherwise).
 */
export function sendSyn(tcb: Tcb): void {
  const window = windowField(tcb, receiveWindow(tcb), true);
  emitOptions = writeSynOptions(tcb);
  emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.iss, 0, TCP_SYN, window, 0);
}

/** Starts the retransmission timer with the RTO (RFC 6298 §5.1, §5.3). */
export function startTimer(tcb: Tcb): void {
  tcb.timerOn = true;
  tcb.timerKind = TIMER_RTO;
  tcb.timerAt = netNow + tcb.rto;
  tcb.timerSetAt = netNow;
}

/** Starts the timer for data in flight: a probe timeout when RFC 8985 §7.2 allows one, else the RTO. */
export function armTimer(tcb: Tcb): void {
  const pto = probeTimeout(tcb);
  if (pto === 0) { startTimer(tcb); return; }
  tcb.timerOn = true;
  tcb.timerKind = TIMER_PROBE;
  tcb.timerAt = netNow + pto;
}

/** A hole at SND.UNA has SACKed data above it: the reordering timer runs (unless it does, or the RTO is sooner). */
export function armReorderTimer(tcb: Tcb): void {
  if (tcb.timerOn && tcb.timerKind === TIMER_REORDER) return;
  const at = u32(netNow + reorderWindow(tcb));
  if (tcb.timerOn && tcb.timerKind === TIMER_RTO && i32(tcb.timerAt - at) <= 0) return;
  tcb.timerOn = true;
  tcb.timerKind = TIMER_REORDER;
  tcb.timerAt = at;
}

/** May data be sent in this state (after the handshake, before our FIN is acknowledged)? */
function canSend(state: i32): bool {
  return state === TCP_ESTABLISHED || state === TCP_CLOSE_WAIT || state === TCP_FIN_WAIT_1 || state === TCP_CLOSING
    || state === TCP_LAST_ACK;
}

/** The most data one segment carries now: SMSS less the options it will carry (RFC 6691). */
function segmentRoom(tcb: Tcb): i32 { return tcb.sndMss - timestampsLength(tcb) - sackOptionLength(tcb); }

/**
 * Sends again one segment of data already sent, from `seq` (at or after SND.UNA) to at most `limit`, with
 * the FIN if it ends there; returns the sequence space it covered (0: nothing to send).
 */
function sendOld(tcb: Tcb, seq: u32, limit: u32): i32 {
  const skip = i32(seq - tcb.sndUna);
  let n = tcb.txCount - skip;
  const room = i32(limit - seq);
  if (n > room) n = room;
  const most = segmentRoom(tcb);
  if (n > most) n = most;
  if (n < 0) n = 0;
  const fin = tcb.closing && u32(seq + n) === tcb.finSeq && seqLt(tcb.finSeq, tcb.sndMax);
  if (n === 0 && !fin) return 0;
  if (seqLt(seq, tcb.timedSeq)) tcb.timing = false;      // Karn: the timed segment is being sent again
  netStats[STAT_TCP_RETRANSMIT]++;
  const end = u32(seq + n + (fin ? 1 : 0));
  if (seqLt(tcb.rxtHigh, end)) tcb.rxtHigh = end;
  if (tcb.undoArmed && !tcb.undoTsSet) { tcb.undoTsSet = true; tcb.undoTsVal = timestampValue(tcb); }   // Eifel
  sendSegment(tcb, seq, (n > 0 ? TCP_PSH : 0) | (fin ? TCP_FIN : 0), skip, n);
  tcb.lastSendAt = netNow;
  return n + (fin ? 1 : 0);
}

/** SACK recovery (RFC 6675 (4.4), (C)): while cwnd - pipe >= SMSS, the holes NextSeg names go again. */
function sackRetransmissions(tcb: Tcb): void {
  while (congestionAllowance(tcb) >= segmentRoom(tcb)) {
    const inFlight = i32(tcb.sndNxt - tcb.sndUna);
    const newData = tcb.txCount > inFlight && i32(tcb.sndWnd) > inFlight;   // NextSeg rule 2 possible
    if (!nextHole(tcb, !newData)) return;
    const sent = sendOld(tcb, holeStart, holeEnd);
    if (sent === 0) return;
    recoverySent(tcb, u32(holeStart + sent));
  }
}

/**
 * New data (or, after a timeout, data again from SND.NXT): as much as cwnd, the peer's window and the
 * queue allow, in segments of at most SMSS, with sender SWS avoidance (§3.8.6.2.1: a full segment, all
 * that is queued, half the largest window offered, or anything when nothing is in flight); then the FIN.
 */
function sendNew(tcb: Tcb): void {
  congestionRestartAfterIdle(tcb, netNow);
  while (true) {
    const inFlight = i32(tcb.sndNxt - tcb.sndUna);
    const dataInFlight = inFlight < tcb.txCount ? inFlight : tcb.txCount;
    const unsent = tcb.txCount - dataInFlight;
    let usable = i32(tcb.sndWnd) - inFlight;
    if (tcb.probe && tcb.sndWnd === 0) usable = 1 - inFlight;   // §3.8.6.1 zero-window probe: one byte
    const most = segmentRoom(tcb);
    let n = unsent;
    if (n > usable) n = usable;
    if (n > most) n = most;
    const allowance = congestionAllowance(tcb);
    if (n > allowance && !tcb.probing) n = allowance;                        // a tail loss probe goes anyway
    if (n < 0) n = 0;
    if (n > 0 && n < most && n < unsent && n < i32(tcb.sndWndMax / 2) && inFlight > 0 && !tcb.probing) n = 0;   // SWS
    const fin = tcb.closing && u32(tcb.sndNxt + n) === tcb.finSeq;
    if (n === 0 && !fin) break;
    if (seqLt(tcb.sndNxt, tcb.sndMax)) {                                  // going back after a timeout
      netStats[STAT_TCP_RETRANSMIT]++;
      const end = u32(tcb.sndNxt + n + (fin ? 1 : 0));
      if (seqLt(tcb.rxtHigh, end)) tcb.rxtHigh = end;
    }
    // RFC 6298 §3 / Karn: time one segment at a time, never a retransmitted one.
    if (!tcb.timing && n > 0 && tcb.sndNxt === tcb.sndMax) {
      tcb.timing = true;
      tcb.timedSeq = u32(tcb.sndNxt + n);
      tcb.timedAt = netNow;
    }
    // Our FIN after the peer's, carrying the first ACK of theirs with nothing else in flight: if it is lost, so
    // is that ACK, and the peer sends its FIN again (tcp.ts answers it with ours). No timer of ours need wake us.
    if (fin && n === 0 && tcb.state === TCP_LAST_ACK && tcb.lastAckSent !== tcb.rcvNxt && tcb.sndUna === tcb.finSeq) {
      tcb.finQuiet = true;
    }
    sendSegment(tcb, tcb.sndNxt, (n > 0 ? TCP_PSH : 0) | (fin ? TCP_FIN : 0), dataInFlight, n);
    tcb.sndNxt = u32(tcb.sndNxt + n + (fin ? 1 : 0));
    if (seqLt(tcb.sndMax, tcb.sndNxt)) tcb.sndMax = tcb.sndNxt;
    tcb.lastSendAt = netNow;
    // RFC 6298 §5.1: start the timer if it is off; RFC 8985 §7.2: a new segment moves the PTO (and replaces an
    // RTO once a probe may run: two segments out, say, where one could not).
    if (!tcb.timerOn || tcb.timerKind === TIMER_PROBE || (tcb.timerKind === TIMER_RTO && probeTimeout(tcb) !== 0)) {
      armTimer(tcb);
    }
    if (fin || tcb.probing) break;
  }
}

/** Sends what is due: a retransmission loss recovery asks for, then new data and the FIN. */
export function output(tcb: Tcb): void {
  if (!canSend(tcb.state)) return;
  if (tcb.retransmitFirst) {
    tcb.retransmitFirst = false;
    const sent = sendOld(tcb, tcb.sndUna, tcb.sndMax);
    if (tcb.inRecovery && tcb.sackPermitted) recoverySent(tcb, u32(tcb.sndUna + sent));
  }
  if (tcb.inRecovery && tcb.sackPermitted) sackRetransmissions(tcb);
  sendNew(tcb);
  tcb.probe = false;
  // Data waits for a window: the persist timer (§3.8.6.1) is the retransmission timer here.
  if (!tcb.timerOn && tcb.txCount > i32(tcb.sndNxt - tcb.sndUna)) startTimer(tcb);
  // A probe timeout may no longer run (a timeout began, or the peer has no SACK): the RTO instead.
  if (tcb.timerOn && tcb.timerKind === TIMER_PROBE && probeTimeout(tcb) === 0) startTimer(tcb);
}

/**
 * The probe timeout expired (RFC 8985 §7.3): one segment goes, new data when the peer's window allows,
 * else the last segment sent; in SACK recovery the first hole (tcp-congestion.ts); then the RTO runs.
 */
export function tailLossProbe(tcb: Tcb): void {
  tcb.timerOn = false;
  if (!canSend(tcb.state) || tcb.sndUna === tcb.sndMax) return;
  netStats[STAT_TCP_TAIL_PROBE]++;
  if (tcb.inRecovery) {
    // In SACK recovery: the first hole again (its retransmission is presumed lost), then the RTO.
    tcb.highRxt = tcb.sndUna;
    tcb.retransmitFirst = true;
    output(tcb);
    startTimer(tcb);
    return;
  }
  const before = tcb.sndMax;
  tcb.probing = true;
  sendNew(tcb);
  tcb.probing = false;
  tcb.tlpRetransmitted = tcb.sndMax === before;
  if (tcb.tlpRetransmitted) {
    const finSent = tcb.closing && seqLt(tcb.finSeq, tcb.sndMax);
    const dataEnd = finSent ? tcb.finSeq : tcb.sndMax;
    let n = i32(dataEnd - tcb.sndUna);
    const room = segmentRoom(tcb);
    if (n > room) n = room;
    sendOld(tcb, u32(dataEnd - n), tcb.sndMax);
  }
  tcb.tlpActive = true;
  tcb.tlpEnd = tcb.sndMax;
  tcb.tlpDsack = false;
  startTimer(tcb);
}

