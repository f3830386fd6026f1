// TCP (RFC 9293) for a server: passive opens only. Segment validation and checksum (§3.1), the MSS
// option (§3.2, §3.7.1), the three-way handshake from LISTEN (§3.5), receive with the receive window
// (§3.8.6, §3.10.7.4) and an out-of-order queue (tcp-reassembly.ts), SACK both ways (RFC 2018: the
// blocks we report, the peer's used by loss recovery), sending under congestion control with fast
// retransmit, NewReno and SACK recovery, tail loss probes and the RFC 6298 timer (tcp-congestion.ts;
// segments built and sent by tcp-output.ts), sender SWS avoidance (§3.8.6.2.1), zero-window probes
// (§3.8.6.1), FIN both ways and TIME-WAIT (§3.6), RST for segments of no connection (§3.10.7.1) and RFC
// 5961's challenge ACKs (§3.10.7.4), a table of connections with a listen backlog; send and receive rings
// from tcp-buffers.ts.
//
// Applications are event-driven: `tcpListen(port, backlog, handler, largeBuffers)`; the handler gets
// (connection, event) with TCP_EVENT_ACCEPTED / DATA / WRITABLE / PEER_CLOSED / CLOSED / RESET and
// calls tcpRead, tcpWrite, tcpClose, tcpAbort. A connection number is valid until CLOSED or RESET.
//
// Limits: no Nagle, no delayed ACKs, no window scaling or timestamps (RFC 7323: windows stay under
// 64 KiB, no PAWS), no urgent data, no active open, 16 connections.
import { i32, u32, bool, structArray } from "dsl";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_TCP } from "../../abi/boot.ts";
import { get16, get32, checksumAdd, checksumFinish, pseudoHeaderSum } from "./bytes.ts";
import {
  netNow, netStats, STAT_TCP_DROP, STAT_TCP_RETRANSMIT, STAT_TCP_TIMEOUT, STAT_TCP_RECOVERY, STAT_TCP_OUT_OF_ORDER,
} from "./netif.ts";
import { IP_PROTOCOL_TCP } from "./ipv4.ts";
import {
  Tcb, TcpHandler, noHandler, seqLt, seqLe, TIMER_PROBE, TIMER_REORDER, TCP_CLOSED, TCP_SYN_RECEIVED, TCP_ESTABLISHED,
  TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
} from "./tcp-tcb.ts";
import {
  TCP_SOURCE_PORT, TCP_DESTINATION_PORT, TCP_SEQUENCE, TCP_ACKNOWLEDGMENT, TCP_DATA_OFFSET, TCP_FLAGS, TCP_WINDOW,
  TCP_HEADER, TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK, TCP_OPTION_END, TCP_OPTION_NOP, TCP_OPTION_MSS, TCP_OPTION_MSS_LENGTH,
  TCP_OPTION_SACK_PERMITTED, TCP_OPTION_SACK_PERMITTED_LENGTH, TCP_OPTION_SACK, TCP_DEFAULT_MSS, TCP_OUR_MSS,
  TCP_MIN_MSS,
} from "./tcp-header.ts";
import {
  TCP_MAX_CONNECTIONS, buffersInit, buffersAssign, buffersRelease, receiveTake, sendQueue, sendAcknowledged,
} from "./tcp-buffers.ts";
import { reassemblyClear, reassemblyInput } from "./tcp-reassembly.ts";
import {
  TCP_INITIAL_RTO_US, congestionInit, rttSample, rtoBackOff, congestionOnAck, congestionOnDuplicate,
  congestionOnTimeout, scoreboardAdd, scoreboardAcknowledged, detectLostRetransmissions, probeAcknowledged,
  congestionOnReorderTimeout,
} from "./tcp-congestion.ts";
import {
  emitReset, receiveWindow, sendAck, sendSynAck, startTimer, armTimer, armReorderTimer, output, tailLossProbe,
} from "./tcp-output.ts";

export { TCP_ESTABLISHED, TCP_CLOSE_WAIT } from "./tcp-tcb.ts";
export { TCP_MAX_CONNECTIONS } from "./tcp-buffers.ts";

// ---- events for the application -------------------------------------------------------------------------
/** The handshake completed: a new connection of a listener. */
export const TCP_EVENT_ACCEPTED = 1;
/** Data arrived: tcpRead it. */
export const TCP_EVENT_DATA = 2;
/** Sent data was acknowledged: there is room for tcpWrite. */
export const TCP_EVENT_WRITABLE = 3;
/** The peer sent FIN: no more data will come (tcpClose when done sending). */
export const TCP_EVENT_PEER_CLOSED = 4;
/** Both sides closed: the connection number is free. */
export const TCP_EVENT_CLOSED = 5;
/** Reset by the peer or aborted (retransmissions exhausted): the connection number is free. */
export const TCP_EVENT_RESET = 6;

// ---- sizes and timers -------------------------------------------------------------------------------------
const TCP_MAX_LISTENERS = 8;
/** Retransmissions of one segment before the connection is aborted (§3.8.3 R2). */
const TCP_MAX_RETRIES = 8;
/** RFC 6298 §5.7: the RTO once the handshake completes when the SYN,ACK had to be sent again. */
const TCP_SYN_TIMEOUT_RTO_US: u32 = 3000000;
/**
 * TIME-WAIT lasts 2 MSL (§3.4.2: MSL = 2 minutes); shortened here, and a TIME-WAIT slot is reused when the table is
 * full.
 */
const TCP_TIME_WAIT_US: u32 = 2000000;

const NO_DEADLINE: u32 = 0xffffffff;

class Listener {
  port: i32 = 0;
  backlog: i32 = 0;
  handler: TcpHandler = noHandler;
  /** Its connections ask for a large buffer slot (tcp-buffers.ts). */
  large: bool = false;
}

const tcbs = structArray(Tcb, 16);
const listeners = structArray(Listener, 8);
/** True while a handler runs inside segment processing: writes are sent once, after it, with the ACK. */
let inHandler = false;
/** A secret for initial sequence numbers (RFC 6528 §3: ISN = M + F(4-tuple, secretkey)). */
let issSecret: u32 = 0;

// The segment being processed (RFC 9293 §3.3.1 "Current Segment Variables").
let segSeq: u32 = 0;
let segAck: u32 = 0;
let segFlags: i32 = 0;
let segWnd: u32 = 0;
let segData: i32 = 0;
let segLen: i32 = 0;
/** Its options: `frame[segOptions .. segOptions + segOptionsLength)`. */
let segOptions: i32 = 0;
let segOptionsLength: i32 = 0;

export function tcpInit(): void {
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) tcbs[i].state = TCP_CLOSED;
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) listeners[i].port = 0;
  buffersInit();
  issSecret = (netNow * 2654435761) ^ 0x5bd1e995;
}

/**
 * Listens on `port` with at most `backlog` connections in SYN-RECEIVED; `largeBuffers` asks for the large
 * send and receive buffers (for bulk transfers). False if the port is taken or no listener is free.
 */
export function tcpListen(port: i32, backlog: i32, handler: TcpHandler, largeBuffers: bool): bool {
  if (port <= 0 || port > 0xffff) return false;
  let free = -1;
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) {
    if (listeners[i].port === port) return false;
    if (listeners[i].port === 0 && free < 0) free = i;
  }
  if (free < 0) return false;
  listeners[free].port = port;
  listeners[free].backlog = backlog < 1 ? 1 : backlog;
  listeners[free].handler = handler;
  listeners[free].large = largeBuffers;
  return true;
}

// ---- connections -------------------------------------------------------------------------------------------

function lookup(remoteIp: u32, remotePort: i32, localPort: i32): i32 {
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const tcb = tcbs[i];
    if (tcb.state !== TCP_CLOSED && tcb.remoteIp === remoteIp && tcb.remotePort === remotePort
      && tcb.localPort === localPort) return i;
  }
  return -1;
}

/** A free slot, else the TIME-WAIT connection closest to its end; -1 when every slot is busy. */
function allocate(): i32 {
  let victim = -1;
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const state = tcbs[i].state;
    if (state === TCP_CLOSED) return i;
    if (state === TCP_TIME_WAIT && (victim < 0 || seqLt(tcbs[i].timerAt, tcbs[victim].timerAt))) victim = i;
  }
  if (victim >= 0) release(victim, 0);
  return victim;
}

/** Frees the connection and tells the application (`event`: CLOSED or RESET; 0 tells nobody). */
function release(index: i32, event: i32): void {
  const tcb = tcbs[index];
  const wasKnown = tcb.state !== TCP_SYN_RECEIVED;
  tcb.state = TCP_CLOSED;
  tcb.timerOn = false;
  buffersRelease(tcb);
  if (event !== 0 && wasKnown) tcb.handler(index, event);
}

/** RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock. */
function initialSequence(remoteIp: u32, remotePort: i32, localPort: i32): u32 {
  let h: u32 = issSecret ^ remoteIp;
  h = u32(Math.imul(i32(h ^ (h >>> 16)), 0x45d9f3b));
  h = h ^ u32((remotePort << 16) | localPort);
  h = u32(Math.imul(i32(h ^ (h >>> 16)), 0x45d9f3b));
  h = h ^ (h >>> 16);
  return u32(h + (netNow >>> 2));
}

/** SACK-permitted was in the SYN parseSynOptions read last. */
let synSackPermitted = false;

/**
 * The options of the SYN at `frame[offset..offset+length)` (§3.2): returns its MSS (0 if absent, -1 if an option
 * is malformed) and sets synSackPermitted.
 */
function parseSynOptions(frame: Uint8Array, offset: i32, length: i32): i32 {
  synSackPermitted = false;
  let mss = 0;
  let i = offset;
  const end = offset + length;
  while (i < end) {
    const kind = frame[i];
    if (kind === TCP_OPTION_END) break;
    if (kind === TCP_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end) return -1;
    const optionLength = frame[i + 1];
    if (optionLength < 2 || i + optionLength > end) return -1;   // §3.2: an illegal option length
    if (kind === TCP_OPTION_MSS) {
      if (optionLength !== TCP_OPTION_MSS_LENGTH) return -1;
      mss = get16(frame, i + 2);
    } else if (kind === TCP_OPTION_SACK_PERMITTED && optionLength === TCP_OPTION_SACK_PERMITTED_LENGTH) {
      synSackPermitted = true;
    }
    i += optionLength;   // §3.2: unknown options are skipped by their length
  }
  return mss;
}

/**
 * Takes the SACK blocks (RFC 2018 §3) of the current segment's options into the scoreboard; returns true
 * when one SACKed bytes not SACKed before. A malformed option ends the scan (the segment still counts).
 */
function takeSackBlocks(tcb: Tcb, frame: Uint8Array): bool {
  let news = false;
  let i = segOptions;
  const end = segOptions + segOptionsLength;
  while (i < end) {
    const kind = frame[i];
    if (kind === TCP_OPTION_END) break;
    if (kind === TCP_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end) break;
    const optionLength = frame[i + 1];
    if (optionLength < 2 || i + optionLength > end) break;
    if (kind === TCP_OPTION_SACK && (optionLength - 2) % 8 === 0) {
      // RFC 2883 §4: a first block at or below the ACK field reports a duplicate segment (D-SACK).
      if (optionLength >= 10 && seqLe(get32(frame, i + 6), segAck)) tcb.tlpDsack = true;
      for (let b = i + 2; b < i + optionLength; b += 8) {
        if (scoreboardAdd(tcb, get32(frame, b), get32(frame, b + 4))) news = true;
      }
    }
    i += optionLength;
  }
  return news;
}

/** Whether the current segment carries a SACK option at all. */
function hasSackOption(frame: Uint8Array): bool {
  let i = segOptions;
  const end = segOptions + segOptionsLength;
  while (i < end && frame[i] !== TCP_OPTION_END) {
    if (frame[i] === TCP_OPTION_NOP) { i++; continue; }
    if (frame[i] === TCP_OPTION_SACK) return true;
    if (i + 1 >= end || frame[i + 1] < 2) return false;
    i += frame[i + 1];
  }
  return false;
}

// ---- receiving ---------------------------------------------------------------------------------------------

/** Handles the TCP segment at `frame[offset..offset+length)` (addressed to our unicast address). */
export function tcpInput(frame: Uint8Array, offset: i32, length: i32, source: u32, destination: u32): void {
  if (!profileActive()) { segmentInput(frame, offset, length, source, destination); return; }
  const previous = profileEnter(PROFILE_GUEST_TCP);
  segmentInput(frame, offset, length, source, destination);
  profileLeave(previous);
}

function segmentInput(frame: Uint8Array, offset: i32, length: i32, source: u32, destination: u32): void {
  if (length < TCP_HEADER) { netStats[STAT_TCP_DROP]++; return; }
  const headerLength = (frame[offset + TCP_DATA_OFFSET] >>> 4) * 4;
  if (headerLength < TCP_HEADER || headerLength > length) { netStats[STAT_TCP_DROP]++; return; }
  // §3.1 Checksum; RFC 1122 §4.2.2.7: a segment with a bad checksum is silently discarded.
  const sum = checksumAdd(pseudoHeaderSum(source, destination, IP_PROTOCOL_TCP, length), frame, offset, length);
  if (checksumFinish(sum) !== 0) {
    netStats[STAT_TCP_DROP]++;
    return;
  }
  const remotePort = get16(frame, offset + TCP_SOURCE_PORT);
  const localPort = get16(frame, offset + TCP_DESTINATION_PORT);
  if (remotePort === 0 || localPort === 0) { netStats[STAT_TCP_DROP]++; return; }
  segSeq = get32(frame, offset + TCP_SEQUENCE);
  segAck = get32(frame, offset + TCP_ACKNOWLEDGMENT);
  segFlags = frame[offset + TCP_FLAGS];
  segWnd = u32(get16(frame, offset + TCP_WINDOW));
  segData = offset + headerLength;
  segLen = length - headerLength;
  segOptions = offset + TCP_HEADER;
  segOptionsLength = headerLength - TCP_HEADER;
  let index = lookup(source, remotePort, localPort);
  // A new SYN above the old connection's sequence space ends its TIME-WAIT (RFC 6191 §2, RFC 1122 §4.2.2.13).
  if (index >= 0 && tcbs[index].state === TCP_TIME_WAIT && (segFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN
      && seqLt(tcbs[index].rcvNxt, segSeq)) {
    release(index, 0);
    index = -1;
  }
  if (index >= 0) { segmentArrives(index, frame); return; }
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) {
    if (listeners[i].port === localPort) {
      listenInput(i, frame, source, remotePort);
      return;
    }
  }
  closedInput(source, remotePort, localPort);
}

/**
 * §3.10.7.1 CLOSED: "all data in the incoming segment is discarded ... An incoming segment not containing a RST causes
 * a RST to be sent".
 */
function closedInput(remoteIp: u32, remotePort: i32, localPort: i32): void {
  if ((segFlags & TCP_RST) !== 0) return;
  if ((segFlags & TCP_ACK) !== 0) {
    // "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
    emitReset(remoteIp, localPort, remotePort, segAck, 0, TCP_RST);
  } else {
    // "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    const length = segLen + ((segFlags & TCP_SYN) !== 0 ? 1 : 0) + ((segFlags & TCP_FIN) !== 0 ? 1 : 0);
    emitReset(remoteIp, localPort, remotePort, 0, u32(segSeq + length), TCP_RST | TCP_ACK);
  }
}

/** §3.10.7.2 LISTEN. */
function listenInput(listenerIndex: i32, frame: Uint8Array, remoteIp: u32, remotePort: i32): void {
  const listener = listeners[listenerIndex];
  // "first, check for a RST: An incoming RST segment could not be valid ... should be ignored."
  if ((segFlags & TCP_RST) !== 0) return;
  // "second, check for an ACK: any acknowledgment is bad if it arrives on a connection still in the
  // LISTEN state. An acceptable reset segment should be formed for any arriving ACK-bearing segment."
  if ((segFlags & TCP_ACK) !== 0) { closedInput(remoteIp, remotePort, listener.port); return; }
  // "third, check for a SYN"; SYN with FIN is nonsense and dropped (as Linux and BSD do).
  if ((segFlags & TCP_SYN) === 0 || (segFlags & TCP_FIN) !== 0) return;
  const mss = parseSynOptions(frame, segOptions, segOptionsLength);
  if (mss < 0) { netStats[STAT_TCP_DROP]++; return; }
  // The backlog bounds half-open connections (a SYN flood fills it, not the table).
  let halfOpen = 0;
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    if (tcbs[i].state === TCP_SYN_RECEIVED && tcbs[i].listener === listenerIndex) halfOpen++;
  }
  if (halfOpen >= listener.backlog) return;
  const index = allocate();
  if (index < 0) return;   // the table is full: the peer's SYN retransmission will try again
  const tcb = tcbs[index];
  tcb.state = TCP_SYN_RECEIVED;
  tcb.remoteIp = remoteIp;
  tcb.remotePort = remotePort;
  tcb.localPort = listener.port;
  tcb.listener = listenerIndex;
  tcb.handler = listener.handler;
  // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN segment sent
  // of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and SND.UNA to ISS."
  tcb.irs = segSeq;
  tcb.rcvNxt = u32(segSeq + 1);
  tcb.iss = initialSequence(remoteIp, remotePort, listener.port);
  tcb.sndUna = tcb.iss;
  tcb.sndNxt = u32(tcb.iss + 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.sndWnd = segWnd;   // the window of a SYN is never scaled (RFC 7323 §2.2)
  tcb.sndWndMax = segWnd;
  tcb.sndWl1 = segSeq;
  tcb.sndWl2 = tcb.iss;
  // §3.7.1: the send MSS is the peer's MSS option or 536, at most what our MTU allows.
  let sendMss = mss === 0 ? TCP_DEFAULT_MSS : mss;
  if (sendMss > TCP_OUR_MSS) sendMss = TCP_OUR_MSS;
  if (sendMss < TCP_MIN_MSS) sendMss = TCP_MIN_MSS;
  tcb.sndMss = sendMss;
  tcb.sackPermitted = synSackPermitted;   // RFC 2018 §2: we answer SACK-permitted with our own
  buffersAssign(tcb, index, listener.large);
  reassemblyClear(tcb);
  congestionInit(tcb, netNow);
  tcb.closing = false;
  tcb.retries = 0;
  tcb.timing = false; tcb.timedSeq = tcb.sndUna; tcb.probe = false; tcb.ackNow = false;
  // Data in the SYN is not queued (it will be retransmitted after the handshake).
  sendSynAck(tcb);
  startTimer(tcb);
}

/** §3.10.7.4: SYN-RECEIVED and every synchronized state. */
function segmentArrives(index: i32, frame: Uint8Array): void {
  const tcb = tcbs[index];
  const state = tcb.state;
  const window = receiveWindow(tcb);
  // A retransmitted SYN while in SYN-RECEIVED: our SYN,ACK was lost; send it again.
  if (state === TCP_SYN_RECEIVED && (segFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && segSeq === tcb.irs) {
    sendSynAck(tcb);
    return;
  }
  // "first, check sequence number": the four acceptability cases of §3.10.7.4.
  const length = segLen + ((segFlags & TCP_SYN) !== 0 ? 1 : 0) + ((segFlags & TCP_FIN) !== 0 ? 1 : 0);
  let acceptable: bool;
  const rcvNxt = tcb.rcvNxt;
  const fromStart = i32(segSeq - rcvNxt);                  // SEG.SEQ - RCV.NXT
  const lastFromStart = fromStart + length - 1;            // SEG.SEQ + SEG.LEN - 1 - RCV.NXT
  if (length === 0) acceptable = window === 0 ? fromStart === 0 : fromStart >= 0 && fromStart < window;
  else {
    acceptable = window !== 0
      && ((fromStart >= 0 && fromStart < window) || (lastFromStart >= 0 && lastFromStart < window));
  }
  // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be made to
  // accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT is processed with its text dropped.
  let fin = (segFlags & TCP_FIN) !== 0;
  let dataStart = segData;
  let dataLength = segLen;
  if (!acceptable && window === 0 && fromStart === 0) { acceptable = true; dataLength = 0; fin = false; }
  if (!acceptable) {
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply (unless the RST bit is set)"
    if ((segFlags & TCP_RST) === 0) sendAck(tcb);
    return;
  }
  // Trim to the window: drop what precedes RCV.NXT (already received) and what passes its right edge.
  if (fromStart < 0) {
    const skip = -fromStart;
    if (skip > dataLength) { dataLength = 0; fin = false; }   // only an old FIN was left: already counted
    else { dataStart += skip; dataLength -= skip; }
  }
  const seq: u32 = fromStart < 0 ? rcvNxt : segSeq;
  const ahead = i32(seq - rcvNxt);
  if (ahead + dataLength > window) { dataLength = window - ahead; fin = false; }
  if (dataLength < segLen) tcb.ackNow = true;   // some text was not taken: tell the peer where we are

  // "second, check the RST bit" (RFC 5961 §3.2): exactly at RCV.NXT resets, elsewhere in the window
  // gets a challenge ACK.
  if ((segFlags & TCP_RST) !== 0) {
    if (segSeq !== rcvNxt) { sendAck(tcb); return; }
    if (state === TCP_SYN_RECEIVED) { release(index, 0); return; }   // "return this connection to LISTEN"
    const reset = state === TCP_ESTABLISHED || state === TCP_FIN_WAIT_1 || state === TCP_FIN_WAIT_2
      || state === TCP_CLOSE_WAIT;
    release(index, reset ? TCP_EVENT_RESET : TCP_EVENT_CLOSED);
    return;
  }
  // "fourth, check the SYN bit": in a synchronized state (RFC 5961 §4) a challenge ACK, nothing else.
  if ((segFlags & TCP_SYN) !== 0) { sendAck(tcb); return; }
  // "fifth, check the ACK field": "if the ACK bit is off, drop the segment and return".
  if ((segFlags & TCP_ACK) === 0) return;
  let accepted = false, writable = false;
  if (state === TCP_SYN_RECEIVED) {
    if (!establish(tcb)) return;
    accepted = true;
  } else {
    const result = acknowledge(tcb, frame);
    if (result < 0) return;
    writable = result > 0;
    if (tcb.closing && seqLt(tcb.finSeq, tcb.sndUna)) {                       // our FIN is acknowledged
      if (state === TCP_FIN_WAIT_1) tcb.state = TCP_FIN_WAIT_2;                 // "enter FIN-WAIT-2"
      else if (state === TCP_CLOSING) enterTimeWait(tcb);                      // "enter the TIME-WAIT state"
      else if (state === TCP_LAST_ACK) { release(index, TCP_EVENT_CLOSED); return; }   // "delete the TCB"
    }
  }
  const data = receiveText(tcb, seq, frame, dataStart, dataLength);
  const peerClosed = receiveFin(tcb, fin, u32(seq + dataLength));
  // The application hears of it, then whatever it queued goes out (carrying the ACK), else a bare ACK.
  inHandler = true;
  if (accepted) tcb.handler(index, TCP_EVENT_ACCEPTED);
  if (data && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_DATA);
  if (writable && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_WRITABLE);
  if (peerClosed && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_PEER_CLOSED);
  // TIME-WAIT is the stack's business: for the application the connection is over.
  if (tcb.state === TCP_TIME_WAIT && state !== TCP_TIME_WAIT) tcb.handler(index, TCP_EVENT_CLOSED);
  inHandler = false;
  if (tcb.state === TCP_CLOSED) return;   // aborted by the application
  output(tcb);
  if (tcb.ackNow) sendAck(tcb);
}

/**
 * SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing with the
 * variables SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK". Otherwise <SEQ=SEG.ACK><CTL=RST>.
 */
function establish(tcb: Tcb): bool {
  if (!(seqLt(tcb.sndUna, segAck) && seqLe(segAck, tcb.sndNxt))) {
    emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, segAck, 0, TCP_RST);
    return false;
  }
  tcb.state = TCP_ESTABLISHED;
  tcb.sndUna = segAck;
  tcb.sndWnd = segWnd;
  if (segWnd > tcb.sndWndMax) tcb.sndWndMax = segWnd;
  tcb.sndWl1 = segSeq;
  tcb.sndWl2 = segAck;
  tcb.timerOn = false;
  tcb.retries = 0;
  if (tcb.srtt === 0 && tcb.rto === TCP_INITIAL_RTO_US) rttSample(tcb, netNow - (tcb.timerAt - tcb.rto));   // SYN,ACK
  else if (tcb.srtt === 0) tcb.rto = TCP_SYN_TIMEOUT_RTO_US;   // RFC 6298 §5.7: the SYN,ACK timed out
  return true;
}

/**
 * "fifth, check the ACK field" in a synchronized state: SND.UNA, the scoreboard, the RTT, congestion control,
 * duplicate ACKs, the send window. Returns -1 when the segment is done with, 1 when sent data was
 * acknowledged (room to write), else 0.
 */
function acknowledge(tcb: Tcb, frame: Uint8Array): i32 {
  // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return."
  if (seqLt(tcb.sndMax, segAck)) { sendAck(tcb); return -1; }
  let writable = false, restartTimer = true;
  const advanced = seqLt(tcb.sndUna, segAck);
  const wasInRecovery = tcb.inRecovery;
  if (advanced) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any segments on the
    // retransmission queue that are thereby entirely acknowledged are removed."
    const advance = u32(segAck - tcb.sndUna);
    const acked = i32(advance) < tcb.txCount ? i32(advance) : tcb.txCount;
    sendAcknowledged(tcb, acked);
    tcb.sndUna = segAck;
    if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
    scoreboardAcknowledged(tcb);
    if (tcb.timing && seqLe(tcb.timedSeq, segAck)) { tcb.timing = false; rttSample(tcb, netNow - tcb.timedAt); }
    tcb.retries = 0;
    restartTimer = congestionOnAck(tcb, advance);
    if (acked > 0) writable = true;
  }
  const sacked = tcb.sackPermitted && segOptionsLength > 0 && takeSackBlocks(tcb, frame);
  if (sacked) detectLostRetransmissions(tcb);
  probeAcknowledged(tcb, advanced);   // after the blocks: a D-SACK among them says the probe was not needed
  // Duplicate ACKs: RFC 6675 §2 with SACK (any ACK SACKing new data), else RFC 5681 §2: data outstanding,
  // no data, no SYN/FIN, SEG.ACK = SND.UNA, the same window (not zero: the answer to a window probe).
  const outstanding = tcb.sndUna !== tcb.sndMax;
  const plain = !advanced && segAck === tcb.sndUna && segLen === 0 && (segFlags & (TCP_SYN | TCP_FIN)) === 0
    && segWnd === tcb.sndWnd && segWnd !== 0 && !(tcb.sackPermitted && hasSackOption(frame));
  if (outstanding && (sacked || plain)) {
    tcb.dupAcks++;
    congestionOnDuplicate(tcb);
    if (tcb.inRecovery && !wasInRecovery) netStats[STAT_TCP_RECOVERY]++;
  }
  // RFC 6298 §5.2-§5.3: all acknowledged: stop the timer; else restart it. A hole with SACKed data above it
  // and no recovery yet: RACK's reordering timer (tcp-congestion.ts); recovery began: the PTO or RTO again.
  if (!outstanding) tcb.timerOn = false;
  else {
    if (advanced && restartTimer) armTimer(tcb);
    if (sacked && !tcb.inRecovery) armReorderTimer(tcb);
    else if (tcb.inRecovery && tcb.timerKind === TIMER_REORDER) armTimer(tcb);
  }
  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 < SEG.SEQ or
  // (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK."
  const newer = seqLt(tcb.sndWl1, segSeq) || (tcb.sndWl1 === segSeq && seqLe(tcb.sndWl2, segAck));
  if (seqLe(tcb.sndUna, segAck) && newer) {
    // A window reopening after zero: a probe byte past it was dropped by the peer; send from SND.UNA.
    if (tcb.sndWnd === 0 && segWnd !== 0) tcb.sndNxt = tcb.sndUna;
    tcb.sndWnd = segWnd;
    if (segWnd > tcb.sndWndMax) tcb.sndWndMax = segWnd;
    tcb.sndWl1 = segSeq;
    tcb.sndWl2 = segAck;
  }
  return writable ? 1 : 0;
}

/**
 * "seventh, process the segment text" (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2): `n` bytes at `seq` (trimmed to
 * the window), in order or held out of order (tcp-reassembly.ts). Returns true when in-order data arrived.
 */
function receiveText(tcb: Tcb, seq: u32, frame: Uint8Array, dataStart: i32, n: i32): bool {
  if (n <= 0) return false;
  if (tcb.state !== TCP_ESTABLISHED && tcb.state !== TCP_FIN_WAIT_1 && tcb.state !== TCP_FIN_WAIT_2) return false;
  // RFC 5681 §4.2: an out-of-order segment and one that fills a gap are acknowledged at once.
  tcb.ackNow = true;
  if (seq !== tcb.rcvNxt) netStats[STAT_TCP_OUT_OF_ORDER]++;
  return reassemblyInput(tcb, seq, frame, dataStart, n) > 0;
}

/**
 * "eighth, check the FIN bit": a FIN at `finAt` counts once all the data before it is in (one held out of
 * order waits for the gap to fill). Returns true when the peer's FIN was taken now.
 */
function receiveFin(tcb: Tcb, fin: bool, finAt: u32): bool {
  if (tcb.state === TCP_SYN_RECEIVED || tcb.state === TCP_CLOSED) return false;
  if (fin && seqLt(tcb.rcvNxt, finAt) && !tcb.finPending) {
    tcb.finPending = true;
    tcb.finPendingSeq = finAt;
    tcb.ackNow = true;
  }
  let now = fin && finAt === tcb.rcvNxt;
  if (tcb.finPending && tcb.finPendingSeq === tcb.rcvNxt) now = true;
  if (!now) return false;
  tcb.finPending = false;
  tcb.rcvNxt = u32(tcb.rcvNxt + 1);
  tcb.ackNow = true;
  const state = tcb.state;
  if (state === TCP_ESTABLISHED) { tcb.state = TCP_CLOSE_WAIT; return true; }
  if (state === TCP_FIN_WAIT_1) {
    if (tcb.closing && seqLt(tcb.finSeq, tcb.sndUna)) enterTimeWait(tcb); else tcb.state = TCP_CLOSING;
    return true;
  }
  if (state === TCP_FIN_WAIT_2) { enterTimeWait(tcb); return true; }
  if (state === TCP_TIME_WAIT) enterTimeWait(tcb);   // "Restart the 2 MSL time-wait timeout"
  return false;
}

function enterTimeWait(tcb: Tcb): void {
  tcb.state = TCP_TIME_WAIT;
  tcb.timerOn = true;
  tcb.timerAt = netNow + TCP_TIME_WAIT_US;
}

// ---- timers -----------------------------------------------------------------------------------------------

/**
 * The retransmission timer expired (RFC 6298 §5.4-§5.7): back off, shrink cwnd (tcp-congestion.ts) and send
 * again from SND.UNA; or, with a zero window and nothing in flight, send a probe (§3.8.6.1).
 */
function retransmit(tcb: Tcb, index: i32): void {
  const probing = tcb.sndUna === tcb.sndMax && tcb.sndWnd === 0 && tcb.txCount > 0;
  if (!probing) {
    tcb.retries++;
    if (tcb.retries > TCP_MAX_RETRIES) {
      // §3.8.3 R2 exceeded: abort, telling the peer.
      if (tcb.state !== TCP_SYN_RECEIVED) {
        emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST);
      }
      release(index, TCP_EVENT_RESET);
      return;
    }
    netStats[STAT_TCP_TIMEOUT]++;
    if (tcb.state !== TCP_SYN_RECEIVED) congestionOnTimeout(tcb, tcb.retries === 1);
  }
  rtoBackOff(tcb);
  tcb.timing = false;                                // Karn: no sample from a retransmitted segment
  tcb.timerOn = false;
  if (tcb.state === TCP_SYN_RECEIVED) {
    netStats[STAT_TCP_RETRANSMIT]++;
    sendSynAck(tcb);
    startTimer(tcb);
    return;
  }
  tcb.sndNxt = tcb.sndUna;                           // go back N, one segment at a time (cwnd = 1 SMSS)
  tcb.probe = probing;
  output(tcb);
}

/** The reordering window passed with the hole still there: recovery retransmits it; then the PTO or RTO runs. */
function reorderTimeout(tcb: Tcb): void {
  tcb.timerOn = false;
  if (congestionOnReorderTimeout(tcb)) netStats[STAT_TCP_RECOVERY]++;
  output(tcb);
  if (!tcb.timerOn && tcb.sndUna !== tcb.sndMax) armTimer(tcb);
}

/** Runs the expired timers; returns microseconds until the next deadline (0xffffffff: none). */
export function tcpTimer(): u32 {
  if (!profileActive()) return runTimers();
  const previous = profileEnter(PROFILE_GUEST_TCP);
  const result = runTimers();
  profileLeave(previous);
  return result;
}

function runTimers(): u32 {
  let next = NO_DEADLINE;
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const tcb = tcbs[i];
    if (tcb.state === TCP_CLOSED || !tcb.timerOn) continue;
    if (i32(netNow - tcb.timerAt) >= 0) {
      if (tcb.state === TCP_TIME_WAIT) { release(i, 0); continue; }   // the application heard CLOSED on entering it
      if (tcb.timerKind === TIMER_PROBE) tailLossProbe(tcb);
      else if (tcb.timerKind === TIMER_REORDER) reorderTimeout(tcb);
      else retransmit(tcb, i);
      if (tcb.state === TCP_CLOSED || !tcb.timerOn) continue;
    }
    const left = u32(tcb.timerAt - netNow);
    if (left < next) next = left;
  }
  return next;
}

// ---- the application's calls ----------------------------------------------------------------------------

function valid(connection: i32): bool {
  return connection >= 0 && connection < TCP_MAX_CONNECTIONS && tcbs[connection].state !== TCP_CLOSED;
}

/** Bytes waiting to be read. */
export function tcpAvailable(connection: i32): i32 { return valid(connection) ? tcbs[connection].rxCount : 0; }

/** Room in the send buffer. */
export function tcpWriteSpace(connection: i32): i32 {
  if (!valid(connection)) return 0;
  const tcb = tcbs[connection];
  if (tcb.closing || (tcb.state !== TCP_ESTABLISHED && tcb.state !== TCP_CLOSE_WAIT)) return 0;
  return tcb.txSize - tcb.txCount;
}

export function tcpState(connection: i32): i32 { return valid(connection) ? tcbs[connection].state : TCP_CLOSED; }
export function tcpLocalPort(connection: i32): i32 { return valid(connection) ? tcbs[connection].localPort : 0; }

/** Reads up to `max` bytes into `to[offset..]`; returns how many. Opens the window (§3.8.6.2.2). */
export function tcpRead(connection: i32, to: Uint8Array, offset: i32, max: i32): i32 {
  if (!profileActive()) return readData(connection, to, offset, max);
  const previous = profileEnter(PROFILE_GUEST_TCP);
  const result = readData(connection, to, offset, max);
  profileLeave(previous);
  return result;
}

function readData(connection: i32, to: Uint8Array, offset: i32, max: i32): i32 {
  if (!valid(connection)) return 0;
  const tcb = tcbs[connection];
  let n = tcb.rxCount < max ? tcb.rxCount : max;
  if (n < 0) n = 0;
  receiveTake(tcb, to, offset, n);
  // Receiver SWS avoidance: announce a window update once the right edge can move by
  // min(buffer / 2, MSS), and at once when the window was closed.
  const edge = u32(tcb.rcvNxt + receiveWindow(tcb));
  const gain = i32(edge - tcb.rcvEdge);
  const closed = tcb.rcvEdge === tcb.rcvNxt;
  if (n > 0 && tcb.state !== TCP_SYN_RECEIVED && (closed || gain >= tcb.rxSize / 2 || gain >= TCP_OUR_MSS)) {
    if (inHandler) tcb.ackNow = true; else sendAck(tcb);
  }
  return n;
}

/** Queues up to `length` bytes of `from[offset..]` and sends what the window allows; returns how many were queued. */
export function tcpWrite(connection: i32, from: Uint8Array, offset: i32, length: i32): i32 {
  if (!profileActive()) return writeData(connection, from, offset, length);
  const previous = profileEnter(PROFILE_GUEST_TCP);
  const result = writeData(connection, from, offset, length);
  profileLeave(previous);
  return result;
}

function writeData(connection: i32, from: Uint8Array, offset: i32, length: i32): i32 {
  const space = tcpWriteSpace(connection);
  const n = length < space ? length : space;
  if (n <= 0) return 0;
  const tcb = tcbs[connection];
  sendQueue(tcb, from, offset, n);
  tcb.txCount += n;
  if (!inHandler) output(tcb);
  return n;
}

/**
 * Closes our direction (§3.10.4 CLOSE): the FIN follows the queued data. ESTABLISHED -> FIN-WAIT-1,
 * CLOSE-WAIT -> LAST-ACK. The application hears CLOSED when the connection is gone (or RESET).
 */
export function tcpClose(connection: i32): void {
  if (!profileActive()) { closeOurSide(connection); return; }
  const previous = profileEnter(PROFILE_GUEST_TCP);
  closeOurSide(connection);
  profileLeave(previous);
}

function closeOurSide(connection: i32): void {
  if (!valid(connection)) return;
  const tcb = tcbs[connection];
  if (tcb.closing) return;
  if (tcb.state === TCP_ESTABLISHED) tcb.state = TCP_FIN_WAIT_1;
  else if (tcb.state === TCP_CLOSE_WAIT) tcb.state = TCP_LAST_ACK;
  else return;
  tcb.closing = true;
  tcb.finSeq = u32(tcb.sndUna + tcb.txCount);
  if (!inHandler) output(tcb);
}

/** Aborts (§3.10.5 ABORT): sends <SEQ=SND.NXT><CTL=RST> and frees the connection at once (no event). */
export function tcpAbort(connection: i32): void {
  if (!valid(connection)) return;
  const tcb = tcbs[connection];
  if (tcb.state !== TCP_TIME_WAIT) emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST);
  release(connection, 0);
}
