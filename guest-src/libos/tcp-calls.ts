// Contract: the application's calls on a TCP connection (tcp.ts has the protocol and the events): how much
// can be read and written, tcpRead (which opens the window, with receiver SWS avoidance, RFC 9293
// §3.8.6.2.2), tcpWrite (queued, sent at once unless a handler runs inside segment processing: then with the
// ACK), tcpClose (§3.10.4: the FIN after the queued data) and tcpAbort (§3.10.5). A bad connection number
// is harmless: it reads nothing, writes nothing.
import { i32, u32 } from "dsl";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_TCP } from "../../abi/boot.ts";
import {
  Tcb, TCP_CLOSED, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_CLOSE_WAIT, TCP_LAST_ACK,
  TCP_TIME_WAIT,
} from "./tcp-tcb.ts";
import { TCP_RST, TCP_OUR_MSS } from "./tcp-header.ts";
import { receiveTake, receivePeek, sendQueue, sendRoom } from "./tcp-buffers.ts";
import { emitReset, receiveWindow, sendAck, output } from "./tcp-output.ts";
import { tcbAt, inHandler, valid, release } from "./tcp-table.ts";

/** Bytes waiting to be read. */
export function tcpAvailable(connection: i32): i32 { return valid(connection) ? tcbAt(connection).rxCount : 0; }

/**
 * Room in the send buffer: 0 too when no send ring can be had now (tcp-buffers.ts), and then the
 * application hears WRITABLE once one is freed.
 */
export function tcpWriteSpace(connection: i32): i32 {
  if (!valid(connection)) return 0;
  const tcb = tcbAt(connection);
  if (tcb.closing || (tcb.state !== TCP_ESTABLISHED && tcb.state !== TCP_CLOSE_WAIT)) return 0;
  const room = sendRoom(tcb);
  if (room === 0 && tcb.txCount === 0) tcb.wantsRing = true;
  return room;
}

/** Copies up to `max` bytes waiting to be read into `to[offset..]` without taking them; returns how many. */
export function tcpPeek(connection: i32, to: Uint8Array, offset: i32, max: i32): i32 {
  if (!valid(connection)) return 0;
  const tcb = tcbAt(connection);
  let n = tcb.rxCount < max ? tcb.rxCount : max;
  if (n < 0) n = 0;
  receivePeek(tcb, 0, to, offset, n);
  return n;
}

export function tcpState(connection: i32): i32 { return valid(connection) ? tcbAt(connection).state : TCP_CLOSED; }
export function tcpLocalPort(connection: i32): i32 { return valid(connection) ? tcbAt(connection).localPort : 0; }

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
  const tcb = tcbAt(connection);
  let n = tcb.rxCount < max ? tcb.rxCount : max;
  if (n < 0) n = 0;
  receivePeek(tcb, 0, to, offset, n);
  return taken(tcb, n);
}

/**
 * Drops up to `max` bytes waiting to be read, uncopied (the application looked at them with tcpPeek); returns
 * how many. Opens the window as tcpRead does.
 */
export function tcpSkip(connection: i32, max: i32): i32 {
  if (!valid(connection)) return 0;
  const tcb = tcbAt(connection);
  let n = tcb.rxCount < max ? tcb.rxCount : max;
  if (n < 0) n = 0;
  return taken(tcb, n);
}

/** The application took `n` bytes: off the ring, and the window opened. */
function taken(tcb: Tcb, n: i32): i32 {
  receiveTake(tcb, n);
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
  const tcb = tcbAt(connection);
  if (!sendQueue(tcb, from, offset, n)) { tcb.wantsRing = true; return 0; }
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
  const tcb = tcbAt(connection);
  if (tcb.closing) return;
  if (tcb.state === TCP_SYN_SENT) { release(connection, 0); return; }   // §3.10.4: "Delete the TCB"
  if (tcb.state === TCP_ESTABLISHED) tcb.state = TCP_FIN_WAIT_1;
  else if (tcb.state === TCP_CLOSE_WAIT) tcb.state = TCP_LAST_ACK;
  else return;
  tcb.closing = true;
  tcb.finSeq = u32(tcb.sndUna + tcb.txCount);
  if (!inHandler) output(tcb);
}

/** Aborts (§3.10.5 ABORT): sends <SEQ=SND.NXT><CTL=RST> (not in SYN-SENT), frees the connection at once (no event). */
export function tcpAbort(connection: i32): void {
  if (!valid(connection)) return;
  const tcb = tcbAt(connection);
  if (tcb.state !== TCP_TIME_WAIT && tcb.state !== TCP_SYN_SENT) {
    emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST);
  }
  release(connection, 0);
}
