// TCP (RFC 9293) for a server: passive opens only. Segment validation and checksum (§3.1), the MSS
// option (§3.2, §3.7.1), the three-way handshake from LISTEN (§3.5), in-order receive with the
// receive window (§3.8.6, §3.10.7.4), sending with retransmission on a timeout that adapts
// (RFC 6298), go-back-N from SND.UNA, zero-window probes (§3.8.6.1), FIN both ways and TIME-WAIT
// (§3.6), RST for segments of no connection (§3.10.7.1) and RFC 5961's challenge ACKs (§3.10.7.4),
// a table of connections with a listen backlog.
//
// Applications are event-driven: `tcpListen(port, backlog, handler)`; the handler gets
// (connection, event) with TCP_EVENT_ACCEPTED / DATA / WRITABLE / PEER_CLOSED / CLOSED / RESET and
// calls tcpRead, tcpWrite, tcpClose, tcpAbort. A connection number is valid until CLOSED or RESET.
//
// Fast retransmit on the third duplicate ACK (RFC 5681 §3.2).
// Limits: out-of-order segments are dropped (and a duplicate ACK sent), so the peer retransmits;
// no congestion control (RFC 5681: no slow start, no fast recovery), no Nagle, no delayed ACKs, no window scaling or
// timestamps (RFC 7323), no urgent data, no active open.
import { i32, u32, bool, structArray } from "dsl";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_TCP } from "../../abi/boot.ts";
import { get16, get32, put16, put32, copyBytes, checksumAdd, checksumFinish, pseudoHeaderSum } from "./bytes.ts";
import { txFrame, ourIp, netNow, netStats, STAT_TCP_DROP, STAT_TCP_RESET_SENT, STAT_TCP_RETRANSMIT } from "./netif.ts";
import { ipv4Send, IP_PAYLOAD_OFFSET, IP_PROTOCOL_TCP } from "./ipv4.ts";

// ---- header (RFC 9293 §3.1 "Header Format") ----------------------------------------------------------
const TCP_SOURCE_PORT = 0;
const TCP_DESTINATION_PORT = 2;
const TCP_SEQUENCE = 4;
const TCP_ACKNOWLEDGMENT = 8;
/** Data Offset: the header length in 32-bit words, high 4 bits (then 4 reserved bits). */
const TCP_DATA_OFFSET = 12;
/** Control bits: CWR ECE URG ACK PSH RST SYN FIN. */
const TCP_FLAGS = 13;
const TCP_WINDOW = 14;
const TCP_CHECKSUM = 16;
const TCP_URGENT = 18;
const TCP_HEADER = 20;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;
const TCP_URG = 0x20;

// ---- options (RFC 9293 §3.2 "Specific Option Definitions") --------------------------------------------
const TCP_OPTION_END = 0;
const TCP_OPTION_NOP = 1;
/** Maximum Segment Size: kind 2, length 4, a 16-bit MSS; only in SYN segments. */
const TCP_OPTION_MSS = 2;
const TCP_OPTION_MSS_LENGTH = 4;
/** Send MSS when the peer sends no MSS option (§3.7.1: "536"; RFC 1122 §4.2.2.6). */
const TCP_DEFAULT_MSS = 536;
/** Our MSS: the Ethernet MTU minus the IPv4 and TCP headers (§3.7.1 MMS_R - 20). */
const TCP_OUR_MSS = 1460;
/** We never send segments smaller than this much data per full segment, whatever MSS the peer asks. */
const TCP_MIN_MSS = 64;

// ---- states (RFC 9293 §3.3.2) ---------------------------------------------------------------------------
const TCP_CLOSED = 0;
const TCP_LISTEN = 1;
const TCP_SYN_SENT = 2;
const TCP_SYN_RECEIVED = 3;
export const TCP_ESTABLISHED = 4;
const TCP_FIN_WAIT_1 = 5;
const TCP_FIN_WAIT_2 = 6;
export const TCP_CLOSE_WAIT = 7;
const TCP_CLOSING = 8;
const TCP_LAST_ACK = 9;
const TCP_TIME_WAIT = 10;

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

type TcpHandler = (connection: i32, event: i32) => void;

// ---- sizes and timers -------------------------------------------------------------------------------------
export const TCP_MAX_CONNECTIONS = 16;
const TCP_MAX_LISTENERS = 8;
/** Receive buffer per connection: the most we advertise as RCV.WND. */
const TCP_RECEIVE_BUFFER = 4096;
/** Send buffer per connection: unacknowledged and not yet sent data. */
const TCP_SEND_BUFFER = 4096;
/** RFC 6298 §2.1: "set RTO <- 1 second" before any RTT measurement. */
const TCP_INITIAL_RTO_US: u32 = 1000000;
/** RFC 6298 §2.4 says 1 s; like Linux we use 200 ms (VMs on one switch have sub-millisecond RTTs). */
const TCP_MIN_RTO_US: u32 = 200000;
/** RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds". */
const TCP_MAX_RTO_US: u32 = 60000000;
/** Retransmissions of one segment before the connection is aborted (§3.8.3 R2). */
const TCP_MAX_RETRIES = 8;
/**
 * TIME-WAIT lasts 2 MSL (§3.4.2: MSL = 2 minutes); shortened here, and a TIME-WAIT slot is reused when the table is
 * full.
 */
const TCP_TIME_WAIT_US: u32 = 2000000;

const NO_DEADLINE: u32 = 0xffffffff;
/** Where a segment's data starts in txFrame (no options except in SYN segments, which carry no data). */
const DATA_AT: i32 = 54;   // IP_PAYLOAD_OFFSET + TCP_HEADER (a literal: constants across an import cycle)

/** The Transmission Control Block (RFC 9293 §3.3.1: the send and receive sequence variables). */
class Tcb {
  state: i32 = 0;
  remoteIp: u32 = 0;
  localPort: i32 = 0;
  remotePort: i32 = 0;
  listener: i32 = 0;
  handler: TcpHandler = noHandler;
  // send sequence variables
  iss: u32 = 0;
  sndUna: u32 = 0;
  sndNxt: u32 = 0;
  /** The highest SND.NXT so far (a timeout moves SND.NXT back to SND.UNA: go-back-N). */
  sndMax: u32 = 0;
  sndWnd: u32 = 0;
  sndWl1: u32 = 0;
  sndWl2: u32 = 0;
  sndMss: i32 = 0;
  // receive sequence variables
  irs: u32 = 0;
  rcvNxt: u32 = 0;
  /** RCV.NXT + RCV.WND as last advertised (the right edge never moves left, §3.8.6.2.2). */
  rcvEdge: u32 = 0;
  // buffers: rings at index * size in rxRing and txRing
  rxStart: i32 = 0;
  rxCount: i32 = 0;
  /** txStart is the byte at SND.UNA; txCount bytes from there are queued (sent or not). */
  txStart: i32 = 0;
  txCount: i32 = 0;
  /** The application closed: a FIN goes at finSeq after the queued data. */
  closing: bool = false;
  finSeq: u32 = 0;
  // retransmission timer (RFC 6298) and TIME-WAIT
  timerOn: bool = false;
  timerAt: u32 = 0;
  rto: u32 = 0;
  srtt: u32 = 0;
  rttvar: u32 = 0;
  retries: i32 = 0;
  timing: bool = false;
  timedSeq: u32 = 0;
  timedAt: u32 = 0;
  probe: bool = false;
  ackNow: bool = false;
  /** Duplicate ACKs in a row (RFC 5681 §2): the third triggers a fast retransmit. */
  dupAcks: i32 = 0;
}

class Listener {
  port: i32 = 0;
  backlog: i32 = 0;
  handler: TcpHandler = noHandler;
}

function noHandler(connection: i32, event: i32): void {}

const tcbs = structArray(Tcb, 16);
const listeners = structArray(Listener, 8);
const rxRing = new Uint8Array(16 * 4096);
const txRing = new Uint8Array(16 * 4096);
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

function seqLt(a: u32, b: u32): bool { return i32(a - b) < 0; }
function seqLe(a: u32, b: u32): bool { return i32(a - b) <= 0; }

export function tcpInit(): void {
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) tcbs[i].state = TCP_CLOSED;
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) listeners[i].port = 0;
  issSecret = (netNow * 2654435761) ^ 0x5bd1e995;
}

/** Listens on `port` with at most `backlog` connections in SYN-RECEIVED; false if taken or full. */
export function tcpListen(port: i32, backlog: i32, handler: TcpHandler): bool {
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
  return true;
}

// ---- sending ------------------------------------------------------------------------------------------------

/** Sends one segment whose `dataLength` bytes are at txFrame[DATA_AT]; a SYN carries our MSS option. */
function emit(remoteIp: u32, localPort: i32, remotePort: i32, seq: u32, ack: u32, flags: i32, window: i32, dataLength: i32): void {
  const p = IP_PAYLOAD_OFFSET;
  const headerLength = (flags & TCP_SYN) !== 0 ? TCP_HEADER + TCP_OPTION_MSS_LENGTH : TCP_HEADER;
  put16(txFrame, p + TCP_SOURCE_PORT, localPort);
  put16(txFrame, p + TCP_DESTINATION_PORT, remotePort);
  put32(txFrame, p + TCP_SEQUENCE, seq);
  put32(txFrame, p + TCP_ACKNOWLEDGMENT, ack);
  txFrame[p + TCP_DATA_OFFSET] = (headerLength / 4) << 4;
  txFrame[p + TCP_FLAGS] = flags;
  put16(txFrame, p + TCP_WINDOW, window);
  put16(txFrame, p + TCP_CHECKSUM, 0);
  put16(txFrame, p + TCP_URGENT, 0);
  if ((flags & TCP_SYN) !== 0) {
    txFrame[p + TCP_HEADER] = TCP_OPTION_MSS;
    txFrame[p + TCP_HEADER + 1] = TCP_OPTION_MSS_LENGTH;
    put16(txFrame, p + TCP_HEADER + 2, TCP_OUR_MSS);
  }
  const length = headerLength + dataLength;
  // §3.1 Checksum: over the pseudo-header (source, destination, zero, PTCL, TCP length), header and data.
  put16(txFrame, p + TCP_CHECKSUM, checksumFinish(checksumAdd(pseudoHeaderSum(ourIp, remoteIp, IP_PROTOCOL_TCP, length), txFrame, p, length)));
  ipv4Send(remoteIp, IP_PROTOCOL_TCP, length);
}

/** RCV.WND: the free room of the receive buffer. */
function receiveWindow(tcb: Tcb): i32 { return TCP_RECEIVE_BUFFER - tcb.rxCount; }

/** A segment of connection `tcb` at `seq` with ACK = RCV.NXT and the current window. */
function sendSegment(tcb: Tcb, seq: u32, flags: i32, dataLength: i32): void {
  const window = receiveWindow(tcb);
  tcb.rcvEdge = u32(tcb.rcvNxt + window);
  tcb.ackNow = false;
  emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, seq, tcb.rcvNxt, flags | TCP_ACK, window, dataLength);
}

function sendAck(tcb: Tcb): void { sendSegment(tcb, tcb.sndNxt, TCP_ACK, 0); }

function sendSynAck(tcb: Tcb): void { sendSegment(tcb, tcb.iss, TCP_SYN | TCP_ACK, 0); }

function startTimer(tcb: Tcb): void {
  tcb.timerOn = true;
  tcb.timerAt = netNow + tcb.rto;
}

/** May data be sent in this state (after the handshake, before our FIN is acknowledged)? */
function canSend(state: i32): bool {
  return state === TCP_ESTABLISHED || state === TCP_CLOSE_WAIT || state === TCP_FIN_WAIT_1 || state === TCP_CLOSING || state === TCP_LAST_ACK;
}

/**
 * Copies `n` bytes out of a connection's ring (`ring[base .. base + size)`, starting `at` and wrapping)
 * into `to[offset..]`: at most two copies (bytes.ts copyBytes, checked and a word at a time).
 */
function ringRead(ring: Uint8Array, base: i32, size: i32, at: i32, to: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyBytes(to, offset, ring, base + at, first);
  copyBytes(to, offset + first, ring, base, n - first);
}

/** Copies `n` bytes of `from[offset..]` into a connection's ring at `at`, wrapping (as ringRead). */
function ringWrite(ring: Uint8Array, base: i32, size: i32, at: i32, from: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyBytes(ring, base + at, from, offset, first);
  copyBytes(ring, base, from, offset + first, n - first);
}

/** Sends what the window allows: queued data in MSS-sized segments, then the FIN. */
function output(tcb: Tcb, index: i32): void {
  if (!canSend(tcb.state)) return;
  while (true) {
    const inFlight = i32(tcb.sndNxt - tcb.sndUna);
    const dataInFlight = inFlight < tcb.txCount ? inFlight : tcb.txCount;
    const unsent = tcb.txCount - dataInFlight;
    let window = i32(tcb.sndWnd);
    if (tcb.probe && window === 0) window = 1;   // §3.8.6.1 zero-window probe: one byte
    let n = window - inFlight;
    if (n > unsent) n = unsent;
    if (n > tcb.sndMss) n = tcb.sndMss;
    if (n < 0) n = 0;
    const fin = tcb.closing && u32(tcb.sndNxt + n) === tcb.finSeq;
    if (n === 0 && !fin) break;
    // copy from the ring, wrapping
    ringRead(txRing, index * TCP_SEND_BUFFER, TCP_SEND_BUFFER, (tcb.txStart + dataInFlight) % TCP_SEND_BUFFER,
      txFrame, DATA_AT, n);
    // RFC 6298 §3 / Karn: time one segment at a time, never a retransmitted one.
    if (!tcb.timing && n > 0 && tcb.sndNxt === tcb.sndMax) {
      tcb.timing = true;
      tcb.timedSeq = u32(tcb.sndNxt + n);
      tcb.timedAt = netNow;
    }
    sendSegment(tcb, tcb.sndNxt, (n > 0 ? TCP_PSH : 0) | (fin ? TCP_FIN : 0), n);
    tcb.sndNxt = u32(tcb.sndNxt + n + (fin ? 1 : 0));
    if (seqLt(tcb.sndMax, tcb.sndNxt)) tcb.sndMax = tcb.sndNxt;
    if (!tcb.timerOn) startTimer(tcb);   // RFC 6298 §5.1
    if (fin) break;
  }
  tcb.probe = false;
  // Data waits for a window: the persist timer (§3.8.6.1) is the retransmission timer here.
  if (!tcb.timerOn && tcb.txCount > i32(tcb.sndNxt - tcb.sndUna)) startTimer(tcb);
}

// ---- connections -------------------------------------------------------------------------------------------

function lookup(remoteIp: u32, remotePort: i32, localPort: i32): i32 {
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const tcb = tcbs[i];
    if (tcb.state !== TCP_CLOSED && tcb.remoteIp === remoteIp && tcb.remotePort === remotePort && tcb.localPort === localPort) return i;
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
  return victim;
}

/** Frees the connection and tells the application (`event`: CLOSED or RESET; 0 tells nobody). */
function release(index: i32, event: i32): void {
  const tcb = tcbs[index];
  const wasKnown = tcb.state !== TCP_SYN_RECEIVED;
  tcb.state = TCP_CLOSED;
  tcb.timerOn = false;
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

/** The MSS option of the SYN at `frame[offset..offset+length)`; 0 if absent, -1 if malformed (§3.2). */
function parseMss(frame: Uint8Array, offset: i32, length: i32): i32 {
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
      return get16(frame, i + 2);
    }
    i += optionLength;   // §3.2: unknown options are skipped by their length
  }
  return 0;
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
  if (checksumFinish(checksumAdd(pseudoHeaderSum(source, destination, IP_PROTOCOL_TCP, length), frame, offset, length)) !== 0) {
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
      listenInput(i, frame, offset + TCP_HEADER, headerLength - TCP_HEADER, source, remotePort);
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
  netStats[STAT_TCP_RESET_SENT]++;
  if ((segFlags & TCP_ACK) !== 0) {
    // "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
    emit(remoteIp, localPort, remotePort, segAck, 0, TCP_RST, 0, 0);
  } else {
    // "If the ACK bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    const length = segLen + ((segFlags & TCP_SYN) !== 0 ? 1 : 0) + ((segFlags & TCP_FIN) !== 0 ? 1 : 0);
    emit(remoteIp, localPort, remotePort, 0, u32(segSeq + length), TCP_RST | TCP_ACK, 0, 0);
  }
}

/** §3.10.7.2 LISTEN. */
function listenInput(listenerIndex: i32, frame: Uint8Array, optionsOffset: i32, optionsLength: i32, remoteIp: u32, remotePort: i32): void {
  const listener = listeners[listenerIndex];
  // "first, check for a RST: An incoming RST segment could not be valid ... should be ignored."
  if ((segFlags & TCP_RST) !== 0) return;
  // "second, check for an ACK: any acknowledgment is bad if it arrives on a connection still in the
  // LISTEN state. An acceptable reset segment should be formed for any arriving ACK-bearing segment."
  if ((segFlags & TCP_ACK) !== 0) { closedInput(remoteIp, remotePort, listener.port); return; }
  // "third, check for a SYN"; SYN with FIN is nonsense and dropped (as Linux and BSD do).
  if ((segFlags & TCP_SYN) === 0 || (segFlags & TCP_FIN) !== 0) return;
  const mss = parseMss(frame, optionsOffset, optionsLength);
  if (mss < 0) { netStats[STAT_TCP_DROP]++; return; }
  // The backlog bounds half-open connections (a SYN flood fills it, not the table).
  let halfOpen = 0;
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) if (tcbs[i].state === TCP_SYN_RECEIVED && tcbs[i].listener === listenerIndex) halfOpen++;
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
  tcb.dupAcks = 0;
  tcb.sndUna = tcb.iss;
  tcb.sndNxt = u32(tcb.iss + 1);
  tcb.sndMax = tcb.sndNxt;
  tcb.sndWnd = segWnd;   // the window of a SYN is never scaled (RFC 7323 §2.2)
  tcb.sndWl1 = segSeq;
  tcb.sndWl2 = tcb.iss;
  // §3.7.1: the send MSS is the peer's MSS option or 536, at most what our MTU allows.
  let sendMss = mss === 0 ? TCP_DEFAULT_MSS : mss;
  if (sendMss > TCP_OUR_MSS) sendMss = TCP_OUR_MSS;
  if (sendMss < TCP_MIN_MSS) sendMss = TCP_MIN_MSS;
  tcb.sndMss = sendMss;
  tcb.rxStart = 0; tcb.rxCount = 0; tcb.txStart = 0; tcb.txCount = 0;
  tcb.closing = false;
  tcb.rto = TCP_INITIAL_RTO_US; tcb.srtt = 0; tcb.rttvar = 0; tcb.retries = 0;
  tcb.timing = false; tcb.probe = false; tcb.ackNow = false;
  // Data in the SYN is not queued (it will be retransmitted after the handshake).
  sendSynAck(tcb);
  startTimer(tcb);
}

/** RFC 6298 §2.2-§2.3: a new RTT sample R (microseconds). */
function rttSample(tcb: Tcb, r: u32): void {
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
  let length = segLen + ((segFlags & TCP_SYN) !== 0 ? 1 : 0) + ((segFlags & TCP_FIN) !== 0 ? 1 : 0);
  let acceptable: bool;
  const rcvNxt = tcb.rcvNxt;
  const fromStart = i32(segSeq - rcvNxt);                  // SEG.SEQ - RCV.NXT
  const lastFromStart = fromStart + length - 1;            // SEG.SEQ + SEG.LEN - 1 - RCV.NXT
  if (length === 0) acceptable = window === 0 ? fromStart === 0 : fromStart >= 0 && fromStart < window;
  else acceptable = window !== 0 && ((fromStart >= 0 && fromStart < window) || (lastFromStart >= 0 && lastFromStart < window));
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
  if (dataLength > window) { dataLength = window; fin = false; }
  if (dataLength < segLen) tcb.ackNow = true;   // some text was not taken: tell the peer where we are
  const inOrder = seq === rcvNxt;

  // "second, check the RST bit" (RFC 5961 §3.2): exactly at RCV.NXT resets, elsewhere in the window
  // gets a challenge ACK.
  if ((segFlags & TCP_RST) !== 0) {
    if (segSeq !== rcvNxt) { sendAck(tcb); return; }
    if (state === TCP_SYN_RECEIVED) { release(index, 0); return; }   // "return this connection to LISTEN"
    const event = state === TCP_ESTABLISHED || state === TCP_FIN_WAIT_1 || state === TCP_FIN_WAIT_2 || state === TCP_CLOSE_WAIT ? TCP_EVENT_RESET : TCP_EVENT_CLOSED;
    release(index, event);
    return;
  }
  // "fourth, check the SYN bit": in a synchronized state (RFC 5961 §4) a challenge ACK, nothing else.
  if ((segFlags & TCP_SYN) !== 0) { sendAck(tcb); return; }
  // "fifth, check the ACK field": "if the ACK bit is off, drop the segment and return".
  if ((segFlags & TCP_ACK) === 0) return;
  let accepted = false, writable = false;
  if (state === TCP_SYN_RECEIVED) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing with the
    // variables SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK". Otherwise <SEQ=SEG.ACK><CTL=RST>.
    if (!(seqLt(tcb.sndUna, segAck) && seqLe(segAck, tcb.sndNxt))) {
      netStats[STAT_TCP_RESET_SENT]++;
      emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, segAck, 0, TCP_RST, 0, 0);
      return;
    }
    tcb.state = TCP_ESTABLISHED;
    tcb.sndUna = segAck;
    tcb.sndWnd = segWnd;
    tcb.sndWl1 = segSeq;
    tcb.sndWl2 = segAck;
    tcb.timerOn = false;
    tcb.retries = 0;
    if (tcb.srtt === 0 && tcb.rto === TCP_INITIAL_RTO_US) rttSample(tcb, netNow - (tcb.timerAt - tcb.rto));   // the SYN,ACK's round trip
    accepted = true;
  } else {
    // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return."
    if (seqLt(tcb.sndMax, segAck)) { sendAck(tcb); return; }
    if (seqLt(tcb.sndUna, segAck)) {
      // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any segments on the
      // retransmission queue that are thereby entirely acknowledged are removed."
      const advance = i32(segAck - tcb.sndUna);
      const acked = advance < tcb.txCount ? advance : tcb.txCount;
      tcb.txStart = (tcb.txStart + acked) % TCP_SEND_BUFFER;
      tcb.txCount -= acked;
      tcb.sndUna = segAck;
      if (seqLt(tcb.sndNxt, tcb.sndUna)) tcb.sndNxt = tcb.sndUna;
      if (tcb.timing && seqLe(tcb.timedSeq, segAck)) { tcb.timing = false; rttSample(tcb, netNow - tcb.timedAt); }
      tcb.retries = 0;
      tcb.dupAcks = 0;
      // RFC 6298 §5.2-§5.3: all acknowledged: stop the timer; else restart it.
      if (tcb.sndUna === tcb.sndMax) tcb.timerOn = false; else startTimer(tcb);
      if (acked > 0) writable = true;
    }
    // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": data outstanding, no data, no SYN/FIN, SEG.ACK = SND.UNA,
    // the same window. §3.2: on the third, retransmit from SND.UNA at once (fast retransmit) instead
    // of waiting for the RTO; no congestion window here, so no fast recovery.
    else if (segAck === tcb.sndUna && tcb.sndUna !== tcb.sndMax && segLen === 0 && (segFlags & (TCP_SYN | TCP_FIN)) === 0 && segWnd === tcb.sndWnd) {
      tcb.dupAcks++;
      if (tcb.dupAcks === 3) {
        netStats[STAT_TCP_RETRANSMIT]++;
        tcb.timing = false;                          // Karn
        tcb.sndNxt = tcb.sndUna;                     // sent again below, with the ACK
        startTimer(tcb);
      }
    }
    // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 < SEG.SEQ or
    // (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK."
    if (seqLt(tcb.sndWl1, segSeq) || (tcb.sndWl1 === segSeq && seqLe(tcb.sndWl2, segAck))) {
      // A window reopening after zero: a probe byte past it was dropped by the peer; send from SND.UNA.
      if (tcb.sndWnd === 0 && segWnd !== 0) tcb.sndNxt = tcb.sndUna;
      tcb.sndWnd = segWnd;
      tcb.sndWl1 = segSeq;
      tcb.sndWl2 = segAck;
    }
    const finAcked = tcb.closing && seqLt(tcb.finSeq, tcb.sndUna);
    if (finAcked) {
      if (state === TCP_FIN_WAIT_1) tcb.state = TCP_FIN_WAIT_2;                 // "enter FIN-WAIT-2"
      else if (state === TCP_CLOSING) enterTimeWait(tcb);                      // "enter the TIME-WAIT state"
      else if (state === TCP_LAST_ACK) { release(index, TCP_EVENT_CLOSED); return; }   // "delete the TCB, enter CLOSED"
    }
  }
  // "seventh, process the segment text" (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2), in order only.
  let data = false, peerClosed = false;
  const receiving = tcb.state === TCP_ESTABLISHED || tcb.state === TCP_FIN_WAIT_1 || tcb.state === TCP_FIN_WAIT_2;
  if (!inOrder) {
    tcb.ackNow = true;   // out of order: dropped; a duplicate ACK tells the peer where we are
  } else if (dataLength > 0 && receiving) {
    ringWrite(rxRing, index * TCP_RECEIVE_BUFFER, TCP_RECEIVE_BUFFER, (tcb.rxStart + tcb.rxCount) % TCP_RECEIVE_BUFFER,
      frame, dataStart, dataLength);
    tcb.rxCount += dataLength;
    tcb.rcvNxt = u32(tcb.rcvNxt + dataLength);
    tcb.ackNow = true;
    data = true;
  }
  // "eighth, check the FIN bit": only an in-order FIN (after all the data) counts.
  if (fin && inOrder && u32(seq + dataLength) === tcb.rcvNxt && tcb.state !== TCP_SYN_RECEIVED) {
    tcb.rcvNxt = u32(tcb.rcvNxt + 1);
    tcb.ackNow = true;
    const now = tcb.state;
    if (now === TCP_ESTABLISHED) { tcb.state = TCP_CLOSE_WAIT; peerClosed = true; }
    else if (now === TCP_FIN_WAIT_1) {
      if (tcb.closing && seqLt(tcb.finSeq, tcb.sndUna)) enterTimeWait(tcb); else tcb.state = TCP_CLOSING;
      peerClosed = true;
    } else if (now === TCP_FIN_WAIT_2) { enterTimeWait(tcb); peerClosed = true; }
    else if (now === TCP_TIME_WAIT) enterTimeWait(tcb);   // "Restart the 2 MSL time-wait timeout"
  }
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
  output(tcb, index);
  if (tcb.ackNow) sendAck(tcb);
}

function enterTimeWait(tcb: Tcb): void {
  tcb.state = TCP_TIME_WAIT;
  tcb.timerOn = true;
  tcb.timerAt = netNow + TCP_TIME_WAIT_US;
}

// ---- timers -----------------------------------------------------------------------------------------------

/** The retransmission timer expired (RFC 6298 §5.4-§5.7): back off and send again from SND.UNA. */
function retransmit(tcb: Tcb, index: i32): void {
  const probing = tcb.sndUna === tcb.sndMax && tcb.sndWnd === 0 && tcb.txCount > 0;
  if (!probing) {
    tcb.retries++;
    if (tcb.retries > TCP_MAX_RETRIES) {
      // §3.8.3 R2 exceeded: abort, telling the peer.
      if (tcb.state !== TCP_SYN_RECEIVED) emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST, 0, 0);
      netStats[STAT_TCP_RESET_SENT]++;
      release(index, TCP_EVENT_RESET);
      return;
    }
    netStats[STAT_TCP_RETRANSMIT]++;
  }
  let rto = tcb.rto * 2;                             // §5.5 "back off the timer"
  if (rto > TCP_MAX_RTO_US) rto = TCP_MAX_RTO_US;
  tcb.rto = rto;
  tcb.timing = false;                                // Karn: no sample from a retransmitted segment
  tcb.timerOn = false;
  if (tcb.state === TCP_SYN_RECEIVED) {
    sendSynAck(tcb);
    startTimer(tcb);
    return;
  }
  tcb.sndNxt = tcb.sndUna;                           // go back N
  tcb.probe = probing;
  output(tcb, index);
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
      retransmit(tcb, i);
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
  return TCP_SEND_BUFFER - tcb.txCount;
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
  ringRead(rxRing, connection * TCP_RECEIVE_BUFFER, TCP_RECEIVE_BUFFER, tcb.rxStart, to, offset, n);
  tcb.rxStart = (tcb.rxStart + n) % TCP_RECEIVE_BUFFER;
  tcb.rxCount -= n;
  // Receiver SWS avoidance: announce a window update once the right edge can move by
  // min(buffer / 2, MSS), and at once when the window was closed.
  const edge = u32(tcb.rcvNxt + receiveWindow(tcb));
  const gain = i32(edge - tcb.rcvEdge);
  const closed = tcb.rcvEdge === tcb.rcvNxt;
  if (n > 0 && tcb.state !== TCP_SYN_RECEIVED && (closed || gain >= TCP_RECEIVE_BUFFER / 2 || gain >= TCP_OUR_MSS)) {
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
  let n = length < space ? length : space;
  if (n <= 0) return 0;
  const tcb = tcbs[connection];
  ringWrite(txRing, connection * TCP_SEND_BUFFER, TCP_SEND_BUFFER, (tcb.txStart + tcb.txCount) % TCP_SEND_BUFFER,
    from, offset, n);
  tcb.txCount += n;
  if (!inHandler) output(tcb, connection);
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
  if (!inHandler) output(tcb, connection);
}

/** Aborts (§3.10.5 ABORT): sends <SEQ=SND.NXT><CTL=RST> and frees the connection at once (no event). */
export function tcpAbort(connection: i32): void {
  if (!valid(connection)) return;
  const tcb = tcbs[connection];
  if (tcb.state !== TCP_TIME_WAIT) {
    netStats[STAT_TCP_RESET_SENT]++;
    emit(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST, 0, 0);
  }
  release(connection, 0);
}
