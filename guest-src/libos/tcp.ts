// TCP (RFC 9293): passive opens (tcpListen) and active ones (tcpConnect, from RFC 6056 ephemeral ports).
// Segment validation and checksum (§3.1), the MSS option (§3.2, §3.7.1), the three-way handshake from
// LISTEN and from SYN-SENT (§3.5, §3.10.7.3), receive with the receive window
// (§3.8.6, §3.10.7.4) and an out-of-order queue (tcp-reassembly.ts), SACK both ways (RFC 2018: the
// blocks we report, the peer's used by loss recovery), sending under congestion control with fast
// retransmit, NewReno and SACK recovery, tail loss probes and the RFC 6298 timer (tcp-congestion.ts;
// segments built and sent by tcp-output.ts), sender SWS avoidance (§3.8.6.2.1), zero-window probes
// (§3.8.6.1), FIN both ways and TIME-WAIT (§3.6), RST for segments of no connection (§3.10.7.1), RFC
// 5961's challenge ACKs (blind RST, SYN and data injection, §3.10.7.4) under a VM-wide rate limit, window
// scaling, timestamps and PAWS (RFC 7323, tcp-extensions.ts); the connection and listener tables
// (tcp-table.ts) with a listen backlog; send and receive rings from tcp-buffers.ts; the application's
// calls in tcp-calls.ts; the timers in tcp-timers.ts.
//
// Applications are event-driven: `tcpListen(port, backlog, handler, largeBuffers)` or `tcpConnect(ip, port,
// handler, largeBuffers)`; the handler gets (connection, event) with TCP_EVENT_ACCEPTED or CONNECTED (or
// REFUSED, TIMED_OUT: the open failed) / DATA / WRITABLE / PEER_CLOSED / CLOSED / RESET and
// calls tcpRead, tcpWrite, tcpClose, tcpAbort. A connection number is valid until CLOSED or RESET.
//
// Connections are bounded by the VM's memory (tcp-table.ts, tcp-buffers.ts); past a listener's backlog of
// half-open connections, SYN cookies (tcp-cookies.ts, RFC 4987 §3.6).
// ACKs: out-of-order data, a segment filling a gap and every second in-order segment are acknowledged at once;
// the first in-order segment (or the peer's FIN) since our last ACK at the end of the VM's batch (Tcb.ackLater,
// tcp-timers.ts), where the application's answer or FIN carries it: no timed delayed ACK.
// Limits: no Nagle, no urgent data (a simultaneous open works: synSentInput, segmentArrives).
import { i32, u32, bool } from "dsl";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_TCP } from "../../abi/boot.ts";
import { get16, get32, checksumAdd, checksumFinish, pseudoHeaderSum } from "./bytes.ts";
import {
  ourIp, netNow, netStats, STAT_TCP_DROP, STAT_TCP_RECOVERY, STAT_TCP_OUT_OF_ORDER, STAT_TCP_UNDONE,
  STAT_TCP_COOKIE_SENT, STAT_TCP_COOKIE_OK, STAT_TCP_COOKIE_BAD, netMilliseconds, netSecret,
} from "./netif.ts";
import { halfSipHash3 } from "../../dsl/runtime/halfsiphash.ts";
import { IP_PROTOCOL_TCP } from "./ipv4.ts";
import {
  Tcb, TcpHandler, seqLt, seqLe, TIMER_REORDER, TCP_CLOSED, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_ESTABLISHED,
  TCP_FIN_WAIT_1, TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT, TCP_EVENT_ACCEPTED,
  TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED, TCP_EVENT_CLOSED, TCP_EVENT_RESET, TCP_EVENT_CONNECTED,
  TCP_EVENT_REFUSED, TCP_EVENT_TIMED_OUT,
} from "./tcp-tcb.ts";
import {
  TCP_SOURCE_PORT, TCP_DESTINATION_PORT, TCP_SEQUENCE, TCP_ACKNOWLEDGMENT, TCP_DATA_OFFSET, TCP_FLAGS, TCP_WINDOW,
  TCP_HEADER, TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK, TCP_DEFAULT_MSS, TCP_OUR_MSS, TCP_MIN_MSS,
} from "./tcp-header.ts";
import { buffersInit, buffersAssign, sendAcknowledged } from "./tcp-buffers.ts";
import {
  cookiesInit, cookieMake, cookieCheck, cookieTimestampBits, cookieTimestamp, cookieWindowShift, cookieSack,
} from "./tcp-cookies.ts";
import { reassemblyClear, reassemblyInput } from "./tcp-reassembly.ts";
import {
  synSackPermitted, synWindowShift, segTimestamps, segTsVal, segTsEcr, parseSynOptions, parseTimestamps,
  takeSackBlocks, hasSackOption,
} from "./tcp-options.ts";
import {
  NO_SAMPLE, windowShiftFor, peerWindow, agreeWindowScale, agreeTimestamps, pawsReject, pawsAck, timestampsTake,
  timestampRtt, timestampValue,
} from "./tcp-extensions.ts";
import {
  TCP_INITIAL_RTO_US, congestionInit, rttSample, congestionOnAck, congestionOnDuplicate, scoreboardAcknowledged,
  detectLostRetransmissions, probeAcknowledged, reorderingOnAck, reorderingOnDsack,
} from "./tcp-congestion.ts";
import {
  emitReset, receiveWindow, sendAck, sendSyn, sendSynAck, startTimer, armTimer, armReorderTimer, output,
} from "./tcp-output.ts";
import {
  TCP_MAX_LISTENERS, tcbAt, tableInit, listeners, setInHandler, lookup, bind, allocate, release, leaveSynReceived,
} from "./tcp-table.ts";
import { tellRingWaiters } from "./tcp-timers.ts";

export { TCP_ESTABLISHED, TCP_CLOSE_WAIT } from "./tcp-tcb.ts";
export {
  TCP_EVENT_ACCEPTED, TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED, TCP_EVENT_CLOSED,
  TCP_EVENT_RESET, TCP_EVENT_CONNECTED, TCP_EVENT_REFUSED, TCP_EVENT_TIMED_OUT,
} from "./tcp-tcb.ts";
export { tcpTimer, tcpAcksMayWait } from "./tcp-timers.ts";
export {
  tcpAvailable, tcpWriteSpace, tcpState, tcpLocalPort, tcpRead, tcpPeek, tcpSkip, tcpWrite, tcpClose, tcpAbort,
} from "./tcp-calls.ts";

// ---- sizes and timers -------------------------------------------------------------------------------------
/** RFC 6298 §5.7: the RTO once the handshake completes when the SYN,ACK had to be sent again. */
const TCP_SYN_TIMEOUT_RTO_US: u32 = 3000000;
/**
 * TIME-WAIT lasts 2 MSL (§3.4.2: MSL = 2 minutes); shortened here, and a TIME-WAIT slot is reused when the table is
 * full.
 */
const TCP_TIME_WAIT_US: u32 = 2000000;


/**
 * The keys of the TCP's secrets, 64 bits each, for HalfSipHash-2-4 (dsl/runtime/halfsiphash.ts, a PRF: one
 * value seen tells nothing of the key): initial sequence numbers and timestamp offsets (RFC 6528 §3: ISN = M +
 * F(4-tuple, secretkey)); ephemeral ports (RFC 6056 §3.3.3's F) and challenge ACK spacing. Drawn at tcpInit from
 * the VM's secret (netSecret: the kernel's BootInfo.entropy) mixed with the clock and the address.
 */
let issKey0: u32 = 0;
let issKey1: u32 = 0;
let portKey0: u32 = 0;
let portKey1: u32 = 0;

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
  buffersInit();
  tableInit();
  // Four subkeys from the secret, the clock and the address (a kernel without entropy still gets distinct keys).
  const k0 = u32(netSecret[0] ^ netNow);
  const k1 = u32(netSecret[1] ^ ourIp);
  const k2 = u32(netSecret[2] ^ netMilliseconds());
  const k3 = netSecret[3];
  issKey0 = halfSipHash3(k0, k1, k2, k3, 0); issKey1 = halfSipHash3(k0, k1, k2, k3, 1);
  portKey0 = halfSipHash3(k0, k1, k2, k3, 2); portKey1 = halfSipHash3(k0, k1, k2, k3, 3);
  cookiesInit(halfSipHash3(k0, k1, k2, k3, 4), halfSipHash3(k0, k1, k2, k3, 5));
  nextEphemeral = 0;
  challengePeriodStart = u32(netNow - CHALLENGE_PERIOD_US);
  challengeLeft = 0;
  challengeSeed = portKey1;
}

/**
 * Listens on `port` with at most `backlog` connections in SYN-RECEIVED (more SYNs are answered with SYN
 * cookies); `largeBuffers` asks for the large send and receive buffers (for bulk transfers). False if the
 * port is taken or no listener is free.
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
  listeners[free].halfOpen = 0;
  listeners[free].full = false;
  listeners[free].handler = handler;
  listeners[free].large = largeBuffers;
  listeners[free].defersAccept = false;
  return true;
}

/**
 * The listener on `port` serves clients that speak first (HTTP, not SMTP): a handshake's last ACK, bare, may
 * wait until the VM wakes for the request after it (Linux's TCP_DEFER_ACCEPT; tcp-table.ts acceptDeferred).
 * A client that sends nothing is accepted when the SYN,ACK's retransmission timer wakes the VM (1 s).
 */
export function tcpListenerDefersAccept(port: i32): void {
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) if (listeners[i].port === port) listeners[i].defersAccept = true;
}

/**
 * The listener on `port` may (false) or may not (true) complete handshakes now: its owner's queue of
 * connections not yet taken is full (sockets.ts). Meanwhile a handshake's ACK is dropped (the peer sends it again).
 */
export function tcpListenerFull(port: i32, full: bool): void {
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) if (listeners[i].port === port) listeners[i].full = full;
}

// ---- connections -------------------------------------------------------------------------------------------

/** RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock. */
function initialSequence(remoteIp: u32, remotePort: i32, localPort: i32): u32 {
  return u32(halfSipHash3(issKey0, issKey1, remoteIp, u32((remotePort << 16) | localPort), 0) + (netNow >>> 2));
}

/** §3.7.1: the send MSS is the peer's MSS option (`mss`, 0 when absent: 536), at most what our MTU allows. */
function sendMssOf(mss: i32): i32 {
  let sendMss = mss === 0 ? TCP_DEFAULT_MSS : mss;
  if (sendMss > TCP_OUR_MSS) sendMss = TCP_OUR_MSS;
  if (sendMss < TCP_MIN_MSS) sendMss = TCP_MIN_MSS;
  return sendMss;
}

// ---- active open (§3.10.1 OPEN, active) ----------------------------------------------------------------------

/** RFC 6056 §2.1: the ephemeral ports, 49152-65535 (IANA's dynamic range). */
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 16384;
/** RFC 6056 §3.3.3 Algorithm 3: next_ephemeral (the secret key of its F: portKey0, portKey1). */
let nextEphemeral: u32 = 0;

/** check_suitable_port: no connection in any state (TIME-WAIT too) has this 4-tuple, and no listener the port. */
function portSuitable(remoteIp: u32, remotePort: i32, port: i32): bool {
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) if (listeners[i].port === port) return false;
  return lookup(remoteIp, remotePort, port) < 0;
}

/**
 * RFC 6056 §3.3.3 Algorithm 3 ("Simple Hash-Based"): port = min + (F(remote address, remote port, secret) +
 * next_ephemeral) % num, trying the next while one is in use; a peer cannot guess the sequence another
 * peer sees, and successive connections to one peer get successive ports. 0 when every port is in use.
 */
function ephemeralPort(remoteIp: u32, remotePort: i32): i32 {
  const offset = halfSipHash3(portKey0, portKey1, remoteIp, u32(remotePort), 0);
  for (let count = 0; count < EPHEMERAL_COUNT; count++) {
    const port = EPHEMERAL_FIRST + i32((offset + nextEphemeral) % u32(EPHEMERAL_COUNT));
    nextEphemeral++;
    if (portSuitable(remoteIp, remotePort, port)) return port;
  }
  return 0;
}

/**
 * What both opens set up on a new connection: the timestamp offset of its 4-tuple (`ports`: local << 16 |
 * remote), an empty reassembly queue, congestion control's start, and no close, retry, probe or timing yet.
 */
function startConnection(tcb: Tcb, remoteIp: u32, ports: u32): void {
  tcb.tsOffset = halfSipHash3(issKey0, issKey1, remoteIp, ports, 1);
  reassemblyClear(tcb);
  congestionInit(tcb, netNow);
  tcb.closing = false;
  tcb.finQuiet = false;
  tcb.retries = 0;
  tcb.persisting = false;
  tcb.timing = false; tcb.timedSeq = tcb.sndUna; tcb.probe = false; tcb.ackNow = false;
  tcb.ackLater = false;
}

/**
 * Opens a connection to `remoteIp`:`remotePort` from an ephemeral port (§3.10.1 active OPEN: SYN-SENT, our SYN
 * <SEQ=ISS><CTL=SYN> with the MSS and SACK-permitted sent at once; IPv4 resolves the next hop by ARP first,
 * holding the SYN). The handler hears CONNECTED, or REFUSED (a RST) or TIMED_OUT (TCP_MAX_RETRIES
 * retransmissions of the SYN with the RTO's back-off: 243 s, §3.8.3's "at least 3 minutes"), then the
 * usual events. Returns the connection number, or -1 (a bad address or port, no free connection or port).
 * A simultaneous open (the peer's SYN without an ACK in SYN-SENT, §3.5 figure 8) goes through SYN-RECEIVED
 * (synSentInput, segmentArrives) to CONNECTED as well.
 */
export function tcpConnect(remoteIp: u32, remotePort: i32, handler: TcpHandler, largeBuffers: bool): i32 {
  if (remotePort <= 0 || remotePort > 0xffff || remoteIp === 0 || remoteIp === ourIp || remoteIp === 0xffffffff
    || (remoteIp >>> 28) === 14 || (remoteIp >>> 24) === 127) return -1;   // none, ours, broadcast, multicast, loopback
  const localPort = ephemeralPort(remoteIp, remotePort);
  if (localPort === 0) return -1;
  const index = allocate();
  if (index < 0) return -1;
  bind(index, remoteIp, remotePort, localPort);
  const tcb = tcbAt(index);
  tcb.state = TCP_SYN_SENT;
  tcb.listener = -1;
  tcb.handler = handler;
  // "An initial send sequence number (ISS) is selected. A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent.
  // Set SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state".
  tcb.iss = initialSequence(remoteIp, remotePort, localPort);
  tcb.sndUna = tcb.iss;
  tcb.sndNxt = u32(tcb.iss + 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.sndWnd = 0; tcb.sndWndMax = 0; tcb.sndWl1 = 0; tcb.sndWl2 = tcb.iss;
  tcb.irs = 0; tcb.rcvNxt = 0;
  tcb.sndMss = TCP_DEFAULT_MSS;   // until the SYN,ACK's option says
  tcb.sackPermitted = true;       // offered in our SYN (RFC 2018 §2); the SYN,ACK decides
  buffersAssign(tcb, largeBuffers);
  tcb.windowScaling = true;       // offered too (RFC 7323 §2.2, §3.2), our shift from the receive buffer
  tcb.sndScale = 0;
  tcb.rcvScale = windowShiftFor(tcb.rxSize);
  tcb.timestamps = true;
  tcb.tsRecent = 0;               // TSecr of a SYN is 0 (§3.2)
  startConnection(tcb, remoteIp, u32((localPort << 16) | remotePort));
  sendSyn(tcb);
  startTimer(tcb);
  return index;
}

/** §3.10.7.3 SYN-SENT, a simultaneous open (a SYN without an ACK) included. */
function synSentInput(index: i32, frame: Uint8Array): void {
  const tcb = tcbAt(index);
  const ack = (segFlags & TCP_ACK) !== 0;
  // "first, check the ACK bit: If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set,
  // if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the segment."
  if (ack && (seqLe(segAck, tcb.iss) || seqLt(tcb.sndNxt, segAck))) {
    if ((segFlags & TCP_RST) === 0) emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, segAck, 0, TCP_RST);
    return;
  }
  // "second, check the RST bit: ... If the ACK was acceptable, then signal to the user 'error: connection
  // reset', drop the segment, enter CLOSED state, delete TCB, and return. Otherwise (no ACK), drop the segment".
  if ((segFlags & TCP_RST) !== 0) {
    if (ack) release(index, TCP_EVENT_REFUSED);
    return;
  }
  // "fourth, check the SYN bit": a SYN acknowledging ours (SND.UNA > ISS) enters ESTABLISHED.
  if ((segFlags & TCP_SYN) === 0) return;
  const mss = parseSynOptions(frame, segOptions, segOptionsLength);
  if (mss < 0) { netStats[STAT_TCP_DROP]++; return; }
  if (!ack) { simultaneousOpen(tcb, mss); return; }
  // "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ. SND.UNA should be advanced to equal SEG.ACK";
  // the window as §3.10.7.4 sets it: SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
  tcb.irs = segSeq;
  tcb.rcvNxt = u32(segSeq + 1);
  tcb.sndUna = segAck;
  tcb.sndWnd = segWnd;   // never scaled in a SYN (RFC 7323 §2.2)
  tcb.sndWndMax = segWnd;
  tcb.sndWl1 = segSeq;
  tcb.sndWl2 = segAck;
  tcb.sndMss = sendMssOf(mss);
  tcb.sackPermitted = synSackPermitted;
  agreeWindowScale(tcb, synWindowShift);
  agreeTimestamps(tcb, segTimestamps, segTsVal);
  // Congestion control starts with the MSS now known; the SYN's round trip is the first RTT sample unless it
  // was sent again (Karn), and then RFC 6298 §5.7's 3 s RTO holds until a sample.
  const sentAt = tcb.timerAt - tcb.rto;
  const retried = tcb.retries > 0;
  congestionInit(tcb, netNow);
  if (retried) tcb.rto = TCP_SYN_TIMEOUT_RTO_US; else rttSample(tcb, netNow - sentAt);
  tcb.state = TCP_ESTABLISHED;
  tcb.timerOn = false;
  tcb.retries = 0;
  // "form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it. Data or controls that were queued
  // for transmission may be included. If there are other controls or text in the segment, then continue
  // processing at the sixth step": text on the SYN,ACK (within our window) and a FIN after it are taken.
  tcb.ackNow = true;
  let dataLength = segLen;
  let fin = (segFlags & TCP_FIN) !== 0;
  if (dataLength > receiveWindow(tcb)) { dataLength = receiveWindow(tcb); fin = false; }
  const data = receiveText(tcb, tcb.rcvNxt, frame, segData, dataLength);
  const peerClosed = receiveFin(tcb, fin, u32(segSeq + 1 + dataLength));
  setInHandler(true);
  tcb.handler(index, TCP_EVENT_CONNECTED);
  if (data && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_DATA);
  if (peerClosed && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_PEER_CLOSED);
  setInHandler(false);
  if (tcb.state === TCP_CLOSED) return;   // aborted by the application
  output(tcb);
  if (tcb.ackNow) sendAck(tcb);
}

/**
 * §3.10.7.3 SYN-SENT, a SYN without an ACK (the peer opened at the same time: §3.5 figure 8): "enter
 * SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. Set the variables: SND.WND
 * <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK"; its options agreed as a listener's would. Text in the SYN
 * is not queued (the peer sends it again after the handshake). The SYN's timer goes on, for the SYN,ACK now.
 */
function simultaneousOpen(tcb: Tcb, mss: i32): void {
  tcb.irs = segSeq;
  tcb.rcvNxt = u32(segSeq + 1);
  tcb.sndWnd = segWnd;   // never scaled in a SYN (RFC 7323 §2.2)
  tcb.sndWndMax = segWnd;
  tcb.sndWl1 = segSeq;
  tcb.sndWl2 = tcb.iss;
  tcb.sndMss = sendMssOf(mss);
  tcb.sackPermitted = synSackPermitted;
  agreeWindowScale(tcb, synWindowShift);
  agreeTimestamps(tcb, segTimestamps, segTsVal);
  congestionInit(tcb, netNow);
  tcb.state = TCP_SYN_RECEIVED;
  sendSynAck(tcb);
}

// ---- challenge ACKs (RFC 5961) -----------------------------------------------------------------------------

/**
 * RFC 5961 §7: challenge ACKs a second, across the VM's connections (randomized as below): Linux's
 * tcp_challenge_ack_limit before 6.0 (a sweep of probes paced by round trips, as scapy's in net-hostile.test.ts,
 * stays under it; a flood does not).
 */
const CHALLENGE_ACK_LIMIT = 1000;
const CHALLENGE_PERIOD_US: u32 = 1000000;
let challengePeriodStart: u32 = 0;
/** Challenge ACKs still allowed in this period. */
let challengeLeft = 0;

/**
 * An ACK <SEQ=SND.NXT><ACK=RCV.NXT> challenging a RST, SYN or ACK a blind attacker could have sent (RFC 5961 §3.2,
 * §4.2, §5.2), within §7's limit: at most a number of them a second, drawn each second between half and one and
 * a half CHALLENGE_ACK_LIMIT (as Linux since CVE-2016-5696: a fixed count shared by every connection would tell
 * an off-path attacker, counting the ACKs of its own connection, when it hit another's window).
 */
function challengeAck(tcb: Tcb): void {
  if (u32(netNow - challengePeriodStart) >= CHALLENGE_PERIOD_US) {
    challengePeriodStart = netNow;
    challengeSeed = halfSipHash3(portKey0, portKey1, challengeSeed, netNow, 1);
    challengeLeft = CHALLENGE_ACK_LIMIT / 2 + i32(challengeSeed % u32(CHALLENGE_ACK_LIMIT));
  }
  if (challengeLeft <= 0) return;
  challengeLeft--;
  sendAck(tcb);
}

let challengeSeed: u32 = 0;

// ---- receiving ---------------------------------------------------------------------------------------------

/** Handles the TCP segment at `frame[offset..offset+length)` (addressed to our unicast address). */
export function tcpInput(frame: Uint8Array, offset: i32, length: i32, source: u32, destination: u32): void {
  if (!profileActive()) { segmentInput(frame, offset, length, source, destination); tellRingWaiters(); return; }
  const previous = profileEnter(PROFILE_GUEST_TCP);
  segmentInput(frame, offset, length, source, destination);
  tellRingWaiters();
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
  if (index >= 0 && tcbAt(index).state === TCP_TIME_WAIT && (segFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN
      && seqLt(tcbAt(index).rcvNxt, segSeq)) {
    release(index, 0);
    index = -1;
  }
  if (index >= 0 && tcbAt(index).state === TCP_SYN_SENT) { synSentInput(index, frame); return; }
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
  // Unless it brings back a valid SYN cookie (RFC 4987 §3.6): then it completes the handshake.
  if ((segFlags & TCP_ACK) !== 0) {
    if ((segFlags & TCP_SYN) === 0 && cookieAck(listenerIndex, frame, remoteIp, remotePort)) return;
    closedInput(remoteIp, remotePort, listener.port);
    return;
  }
  // "third, check for a SYN"; SYN with FIN is nonsense and dropped (as Linux and BSD do).
  if ((segFlags & TCP_SYN) === 0 || (segFlags & TCP_FIN) !== 0) return;
  const mss = parseSynOptions(frame, segOptions, segOptionsLength);
  if (mss < 0) { netStats[STAT_TCP_DROP]++; return; }
  // The backlog bounds half-open connections: past it (a SYN flood) or with no connection to be had, a cookie.
  const index = listener.halfOpen < listener.backlog ? allocate() : -1;
  if (index < 0) { cookieSynAck(listenerIndex, remoteIp, remotePort, mss); return; }
  bind(index, remoteIp, remotePort, listener.port);
  const tcb = tcbAt(index);
  passiveOpen(tcb, listenerIndex, segSeq, mss);
  tcb.sackPermitted = synSackPermitted;   // RFC 2018 §2: we answer SACK-permitted with our own
  agreeWindowScale(tcb, synWindowShift);    // RFC 7323: answered likewise
  agreeTimestamps(tcb, segTimestamps, segTsVal);
  // Data in the SYN is not queued (it will be retransmitted after the handshake).
  sendSynAck(tcb);
  startTimer(tcb);
}

/**
 * A connection of `listenerIndex` enters SYN-RECEIVED for a SYN of sequence number `peerIsn` and MSS option
 * `mss`: "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be selected and a SYN segment sent
 * of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to ISS+1 and SND.UNA to ISS." The options
 * are the caller's; the window is the SYN's (never scaled, RFC 7323 §2.2).
 */
function passiveOpen(tcb: Tcb, listenerIndex: i32, peerIsn: u32, mss: i32): void {
  const listener = listeners[listenerIndex];
  tcb.state = TCP_SYN_RECEIVED;
  listener.halfOpen++;
  tcb.listener = listenerIndex;
  tcb.handler = listener.handler;
  tcb.irs = peerIsn;
  tcb.rcvNxt = u32(peerIsn + 1);
  tcb.iss = initialSequence(tcb.remoteIp, tcb.remotePort, listener.port);
  tcb.sndUna = tcb.iss;
  tcb.sndNxt = u32(tcb.iss + 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.sndWnd = segWnd;
  tcb.sndWndMax = segWnd;
  tcb.sndWl1 = peerIsn;
  tcb.sndWl2 = tcb.iss;
  tcb.sndMss = sendMssOf(mss);
  buffersAssign(tcb, listener.large);
  startConnection(tcb, tcb.remoteIp, u32((listener.port << 16) | tcb.remotePort));
}

/** The connection a cookie SYN,ACK stands for, never kept: what sendSynAck reads of it. */
const cookieTcb = new Tcb();

/**
 * Answers a SYN with a SYN cookie (tcp-cookies.ts): a SYN,ACK as passiveOpen's would be, its ISS the cookie,
 * its TSval carrying the window shift and SACK-permitted when the SYN had Timestamps; nothing is kept.
 */
function cookieSynAck(listenerIndex: i32, remoteIp: u32, remotePort: i32, mss: i32): void {
  const listener = listeners[listenerIndex];
  const tcb = cookieTcb;
  const ports = u32((remotePort << 16) | listener.port);
  tcb.remoteIp = remoteIp; tcb.remotePort = remotePort; tcb.localPort = listener.port;
  tcb.rcvNxt = u32(segSeq + 1);
  tcb.iss = cookieMake(remoteIp, ports, segSeq, mss, netNow);
  tcb.largeSlot = -1; tcb.rxCount = 0; tcb.oooCount = 0;
  buffersAssign(tcb, false);   // the nominal small window (no ring is held)
  tcb.sackPermitted = synSackPermitted && segTimestamps;
  agreeWindowScale(tcb, segTimestamps ? synWindowShift : -1);
  agreeTimestamps(tcb, segTimestamps, segTsVal);
  tcb.tsOffset = halfSipHash3(issKey0, issKey1, remoteIp, u32((listener.port << 16) | remotePort), 1);
  if (segTimestamps) {
    const bits = cookieTimestampBits(synWindowShift, synSackPermitted);
    tcb.tsOffset = u32(cookieTimestamp(timestampValue(tcb), bits) - netMilliseconds());
  }
  sendSynAck(tcb);
  netStats[STAT_TCP_COOKIE_SENT]++;
}

/**
 * An ACK to a listener: when it brings back a valid cookie (SEG.ACK - 1, for the ISN SEG.SEQ - 1) the connection
 * is made as passiveOpen would have made it, with the cookie's MSS and, from TSecr, the options, and the
 * segment goes on as in SYN-RECEIVED (ESTABLISHED, its data taken). True when the segment was taken care of
 * (a connection made, or none could be had: dropped, the peer will send it again).
 */
function cookieAck(listenerIndex: i32, frame: Uint8Array, remoteIp: u32, remotePort: i32): bool {
  const listener = listeners[listenerIndex];
  const peerIsn = u32(segSeq - 1);
  const cookie = u32(segAck - 1);
  const mss = cookieCheck(remoteIp, u32((remotePort << 16) | listener.port), peerIsn, cookie, netNow);
  if (mss < 0) { netStats[STAT_TCP_COOKIE_BAD]++; return false; }
  parseTimestamps(frame, segOptions, segOptionsLength);
  const shift = segTimestamps ? cookieWindowShift(segTsEcr) : -1;
  if (shift < -1) { netStats[STAT_TCP_COOKIE_BAD]++; return false; }
  const index = listener.full ? -1 : allocate();
  if (index < 0) return true;
  netStats[STAT_TCP_COOKIE_OK]++;
  bind(index, remoteIp, remotePort, listener.port);
  const tcb = tcbAt(index);
  passiveOpen(tcb, listenerIndex, peerIsn, mss);
  tcb.iss = cookie;
  tcb.sndUna = cookie;
  tcb.sndNxt = u32(cookie + 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.sndWl2 = cookie;
  tcb.sackPermitted = segTimestamps && cookieSack(segTsEcr);
  agreeWindowScale(tcb, shift);
  agreeTimestamps(tcb, segTimestamps, segTsVal);
  tcb.lastAckSent = tcb.rcvNxt;
  startTimer(tcb);
  segmentArrives(index, frame);
  return true;
}

/** §3.10.7.4: SYN-RECEIVED and every synchronized state. */
function segmentArrives(index: i32, frame: Uint8Array): void {
  const tcb = tcbAt(index);
  const state = tcb.state;
  const window = receiveWindow(tcb);
  // A retransmitted SYN while in SYN-RECEIVED: our SYN,ACK was lost; send it again.
  if (state === TCP_SYN_RECEIVED && (segFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && segSeq === tcb.irs) {
    sendSynAck(tcb);
    return;
  }
  // RFC 7323: the window field is scaled (§2.3); PAWS (§5.3 R1) and a missing Timestamps option (§3.2).
  const rst = (segFlags & TCP_RST) !== 0;
  if ((segFlags & TCP_SYN) === 0) segWnd = peerWindow(tcb, segWnd);
  // A simultaneous open (§3.5 figure 8; Linux's tcp_validate_incoming passes the same): in SYN-RECEIVED from
  // SYN-SENT, the peer's SYN,ACK repeats its SYN, one below RCV.NXT, and acknowledges ours: the SYN is old news,
  // the ACK establishes the connection.
  const synAck = (segFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === (TCP_SYN | TCP_ACK);
  if (state === TCP_SYN_RECEIVED && tcb.listener < 0 && synAck && u32(segSeq + 1) === tcb.rcvNxt
    && segAck === tcb.sndNxt) {
    segFlags = segFlags & ~TCP_SYN;
    segSeq = tcb.rcvNxt;
  }
  if (tcb.timestamps) parseTimestamps(frame, segOptions, segOptionsLength);
  if (pawsReject(tcb, segTimestamps, segTsVal, rst)) {
    if (pawsAck) sendAck(tcb);
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
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply (unless the RST bit is
    // set)"; for a SYN (RFC 5961 §4.2: whatever its sequence number) that is a challenge ACK.
    if (rst) return;
    if ((segFlags & TCP_SYN) !== 0) challengeAck(tcb);
    else if (tcb.finQuiet) { tcb.sndNxt = tcb.sndUna; output(tcb); }   // the peer's FIN again: so is ours
    else sendAck(tcb);
    return;
  }
  timestampsTake(tcb, segTimestamps, segTsVal, segSeq);   // RFC 7323 §4.3 R3
  tcb.heardAt = netNow;
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
  if (rst) {
    if (segSeq !== rcvNxt) { challengeAck(tcb); return; }
    // "If this connection was initiated with a passive OPEN ... return this connection to LISTEN state ... If
    // this connection was initiated with an active OPEN (i.e., came from SYN-SENT state), then the connection
    // was refused".
    if (state === TCP_SYN_RECEIVED) { release(index, tcb.listener < 0 ? TCP_EVENT_REFUSED : 0); return; }
    const reset = state === TCP_ESTABLISHED || state === TCP_FIN_WAIT_1 || state === TCP_FIN_WAIT_2
      || state === TCP_CLOSE_WAIT;
    release(index, reset ? TCP_EVENT_RESET : TCP_EVENT_CLOSED);
    return;
  }
  // "fourth, check the SYN bit": in a synchronized state (RFC 5961 §4) a challenge ACK, nothing else.
  if ((segFlags & TCP_SYN) !== 0) { challengeAck(tcb); return; }
  // "fifth, check the ACK field": "if the ACK bit is off, drop the segment and return".
  if ((segFlags & TCP_ACK) === 0) return;
  let accepted = false, writable = false;
  if (state === TCP_SYN_RECEIVED) {
    if (tcb.listener >= 0 && listeners[tcb.listener].full) return;   // no room to accept it yet
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
  setInHandler(true);
  if (accepted) tcb.handler(index, tcb.listener < 0 ? TCP_EVENT_CONNECTED : TCP_EVENT_ACCEPTED);
  if (data && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_DATA);
  if (writable && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_WRITABLE);
  if (peerClosed && tcb.state !== TCP_CLOSED) tcb.handler(index, TCP_EVENT_PEER_CLOSED);
  // TIME-WAIT is the stack's business: for the application the connection is over.
  if (tcb.state === TCP_TIME_WAIT && state !== TCP_TIME_WAIT) tcb.handler(index, TCP_EVENT_CLOSED);
  setInHandler(false);
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
  leaveSynReceived(tcb);
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
  // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return";
  // RFC 5961 §5.2: nor one below SND.UNA - MAX.SND.WND (data injection): a challenge ACK, the segment dropped.
  if (seqLt(tcb.sndMax, segAck) || seqLt(segAck, u32(tcb.sndUna - tcb.sndWndMax))) { challengeAck(tcb); return -1; }
  let writable = false, restartTimer = true;
  if (tcb.persisting) tcb.retries = 0;   // the peer answers our window probes
  const advanced = seqLt(tcb.sndUna, segAck);
  const wasInRecovery = tcb.inRecovery;
  if (advanced) {
    // Reordering seen, or the recovery spurious (Eifel): decided before SND.UNA and the scoreboard move.
    if (reorderingOnAck(tcb, segAck, segTimestamps, segTsEcr)) netStats[STAT_TCP_UNDONE]++;
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any segments on the
    // retransmission queue that are thereby entirely acknowledged are removed."
    const advance = u32(segAck - tcb.sndUna);
    const acked = i32(advance) < tcb.txCount ? i32(advance) : tcb.txCount;
    sendAcknowledged(tcb, acked);
    tcb.sndUna = segAck;
    if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
    scoreboardAcknowledged(tcb);
    // The RTT: the timed segment's, else (none timed: Karn's rule after a retransmission) RTTM's (tcp-extensions.ts).
    if (tcb.timing && seqLe(tcb.timedSeq, segAck)) { tcb.timing = false; rttSample(tcb, netNow - tcb.timedAt); }
    else if (!tcb.timing) {
      const r = timestampRtt(tcb, segTimestamps, segTsEcr);
      if (r !== NO_SAMPLE) rttSample(tcb, r);
    }
    tcb.retries = 0;
    restartTimer = congestionOnAck(tcb, advance);
    if (acked > 0) writable = true;
  }
  const sacked = tcb.sackPermitted && segOptionsLength > 0
    && takeSackBlocks(tcb, frame, segOptions, segOptionsLength, segAck);
  if (sacked) detectLostRetransmissions(tcb);
  reorderingOnDsack(tcb);
  probeAcknowledged(tcb, advanced);   // after the blocks: a D-SACK among them says the probe was not needed
  // Duplicate ACKs: RFC 6675 §2 with SACK (any ACK SACKing new data), else RFC 5681 §2: data outstanding,
  // no data, no SYN/FIN, SEG.ACK = SND.UNA, the same window (not zero: the answer to a window probe).
  const outstanding = tcb.sndUna !== tcb.sndMax;
  const plain = !advanced && segAck === tcb.sndUna && segLen === 0 && (segFlags & (TCP_SYN | TCP_FIN)) === 0
    && segWnd === tcb.sndWnd && segWnd !== 0
    && !(tcb.sackPermitted && hasSackOption(frame, segOptions, segOptionsLength));
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
    if (tcb.sndWnd === 0 && segWnd !== 0) { tcb.sndNxt = tcb.sndUna; tcb.persisting = false; }
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
  // RFC 5681 §4.2: an out-of-order segment and one that fills a gap are acknowledged at once, and in-order data
  // at least every second segment; the first in-order one since our last ACK waits for the end of the VM's
  // batch (tcp-timers.ts), where the application's answer carries the ACK (an ACK alone before it was one
  // frame more a request).
  if (seq === tcb.rcvNxt && tcb.oooCount === 0 && tcb.lastAckSent === tcb.rcvNxt) tcb.ackLater = true;
  else tcb.ackNow = true;
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
  const state = tcb.state;
  // The peer closed first: the application's FIN, if it closes in this batch, carries the ACK (ackLater).
  if (state === TCP_ESTABLISHED) { tcb.ackLater = true; tcb.state = TCP_CLOSE_WAIT; return true; }
  tcb.ackNow = true;
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
