// A small blocking sockets API for threads (threads.ts) over the event-driven TCP (tcp.ts) — listen,
// accept, connect, read, write, close — and UDP (udp.ts) — open, receive (with the sender), send. A call that
// cannot complete waits on a channel that the TCP event handler below wakes (spurious wake-ups are
// fine: every call re-checks its condition in a loop).
//
// A socket is `connection | generation << 16`: TCP reuses a connection number once the connection is
// gone, and the generation tells an old socket from the new connection (such calls fail with
// SOCKET_GONE instead of touching a stranger's connection). What a socket knows of its connection lives in
// the TCB's socket* fields (tcp-tcb.ts), so sockets are as many as connections (bounded by memory).
// Accepted connections wait in a queue per listener (a list through Tcb.socketNext); once it holds
// ACCEPT_QUEUE_FACTOR times the backlog given to socketListen (a burst of handshakes completes before any
// thread runs; each waiting connection costs only its TCB), TCP completes no more handshakes of that
// listener until one is taken (tcpListenerFull: the peers send their ACKs again, as with Linux's full accept
// queue). A server that
// serves many connections with few threads parks a connection it has nothing to do for (socketPark, e.g.
// an idle keep-alive connection): it holds no thread and comes back through socketAccept once it has data
// or its peer closed; socketSweepIdle closes the parked connections idle too long.
import { i32, u32, bool } from "dsl";
import {
  tcpListen, tcpListenerFull, tcpListenerDefersAccept, tcpConnect, tcpRead, tcpPeek, tcpSkip, tcpWrite, tcpClose,
  tcpAbort, tcpAvailable, tcpWriteSpace, tcpState, tcpLocalPort, TCP_EVENT_ACCEPTED, TCP_EVENT_CONNECTED,
  TCP_EVENT_REFUSED,
  TCP_EVENT_TIMED_OUT, TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED, TCP_EVENT_CLOSED, TCP_EVENT_RESET,
  TCP_ESTABLISHED, TCP_CLOSE_WAIT,
} from "./tcp.ts";
import { tcbAt, tableSlots } from "./tcp-table.ts";
import { Tcb } from "./tcp-tcb.ts";
import { netNow } from "./netif.ts";
import { udpBind, udpSend, UDP_MAX_DATA } from "./udp.ts";
import { threadWait, threadWake, threadWakeOne } from "./threads.ts";

/** A call on a socket whose connection is gone (reset, or closed and reused) or was never ours. */
const SOCKET_GONE = -1;
/** socketRead with a timeout: nothing arrived in time; socketConnect: the SYN was never answered (ETIMEDOUT). */
export const SOCKET_TIMEOUT = -2;
/** No free listener, or the port is taken. */
const SOCKET_IN_USE = -3;
/** socketConnect: the peer answered with a RST (ECONNREFUSED). */
export const SOCKET_REFUSED = -4;
/** socketConnect: a bad address or port, or no free connection or ephemeral port. */
const SOCKET_UNAVAILABLE = -5;

const SOCKET_LISTENERS = 8;
/** An accept queue holds this many times the backlog of half-open connections. */
const ACCEPT_QUEUE_FACTOR = 4;
const GENERATION_MASK = 0x7fff;
const NONE = -1;

// Tcb.socketFlags
const FLAG_PEER_CLOSED = 1;
const FLAG_GONE = 2;
/** Parked (socketPark): no thread serves it until it has data or its peer closed. */
const FLAG_PARKED = 4;
/**
 * In an accept queue. The entry outlives a connection gone meanwhile, and a new connection with the same
 * number rides on it (socketAccept sorts out whose it is): a TCB is never in a queue twice.
 */
const FLAG_QUEUED = 8;

// Channels (threads.ts): one per listener and one per connection.
const ACCEPT_CHANNEL: u32 = 0x1000;
const CONNECTION_CHANNEL: u32 = 0x10000;
const UDP_CHANNEL: u32 = 0x3000;

const listenPorts = new Int32Array(8);
/** Per listener: its accept queue (first, last, how many) and the most it may hold (the backlog). */
const acceptHead = new Int32Array(8);
const acceptTail = new Int32Array(8);
const acceptCount = new Int32Array(8);
const acceptLimit = new Int32Array(8);
/** Sockets parked now; whether the idle sweep is due at sweepAt (socketSweepIdle). */
let parked = 0;
let sweepDue = false;
let sweepAt: u32 = 0;

function unpark(tcb: Tcb): void {
  if ((tcb.socketFlags & FLAG_PARKED) === 0) return;
  tcb.socketFlags &= ~FLAG_PARKED;
  parked--;
}

function listenerOfPort(port: i32): i32 {
  for (let i = 0; i < SOCKET_LISTENERS; i++) if (listenPorts[i] === port) return i;
  return -1;
}

/** Appends connection `connection` (its current socket) to listener `l`'s queue and wakes one waiter. */
function enqueueAccept(l: i32, connection: i32): void {
  const tcb = tcbAt(connection);
  if ((tcb.socketFlags & FLAG_QUEUED) !== 0) return;
  tcb.socketFlags |= FLAG_QUEUED;
  tcb.socketNext = NONE;
  if (acceptCount[l] === 0) acceptHead[l] = connection; else tcbAt(acceptTail[l]).socketNext = connection;
  acceptTail[l] = connection;
  acceptCount[l]++;
  threadWakeOne(ACCEPT_CHANNEL + u32(l));      // one worker per queued connection, not a herd
}

/** tcp.ts calls this for every event of a connection of our listeners. */
function onTcpEvent(connection: i32, event: i32): void {
  const tcb = tcbAt(connection);
  if (event === TCP_EVENT_ACCEPTED) {
    tcb.socketGeneration = (tcb.socketGeneration + 1) & GENERATION_MASK;
    unpark(tcb);
    tcb.socketFlags &= FLAG_QUEUED;
    const l = listenerOfPort(tcpLocalPort(connection));
    tcb.socketListener = l;
    if (l < 0) { tcpAbort(connection); return; }
    if ((tcb.socketFlags & FLAG_QUEUED) !== 0) threadWakeOne(ACCEPT_CHANNEL + u32(l));   // rides on its entry
    else enqueueAccept(l, connection);
    if (acceptCount[l] >= acceptLimit[l]) tcpListenerFull(listenPorts[l], true);   // TCP holds back the next
    return;
  }
  if (event === TCP_EVENT_CONNECTED || event === TCP_EVENT_REFUSED || event === TCP_EVENT_TIMED_OUT) {
    tcb.socketOpened = event;
    if (event !== TCP_EVENT_CONNECTED) tcb.socketFlags |= FLAG_GONE;
  } else if (event === TCP_EVENT_PEER_CLOSED) tcb.socketFlags |= FLAG_PEER_CLOSED;
  else if (event === TCP_EVENT_CLOSED || event === TCP_EVENT_RESET) tcb.socketFlags |= FLAG_GONE;
  else if (event !== TCP_EVENT_DATA && event !== TCP_EVENT_WRITABLE) return;
  if ((tcb.socketFlags & FLAG_PARKED) !== 0 && event !== TCP_EVENT_WRITABLE) {
    unpark(tcb);
    const l = tcb.socketListener;
    if (l < 0) return;
    if ((tcb.socketFlags & FLAG_GONE) === 0) enqueueAccept(l, connection);
    else threadWakeOne(ACCEPT_CHANNEL + u32(l));   // gone (reset): the sweep's deadline may be no more
    return;
  }
  threadWake(CONNECTION_CHANNEL + u32(connection));
}

/**
 * Listens on a TCP port; a listener number for socketAccept, or SOCKET_IN_USE. `backlog` bounds the
 * connections in SYN-RECEIVED (tcp.ts: SYN cookies past it), ACCEPT_QUEUE_FACTOR times it those accepted
 * but not yet taken.
 */
export function socketListen(port: i32, backlog: i32): i32 {
  let free = -1;
  for (let i = 0; i < SOCKET_LISTENERS; i++) {
    if (listenPorts[i] === port) return SOCKET_IN_USE;
    if (listenPorts[i] === 0 && free < 0) free = i;
  }
  if (free < 0 || !tcpListen(port, backlog, onTcpEvent, false)) return SOCKET_IN_USE;
  listenPorts[free] = port;
  acceptHead[free] = NONE;
  acceptCount[free] = 0;
  acceptLimit[free] = ACCEPT_QUEUE_FACTOR * (backlog < 1 ? 1 : backlog);
  return free;
}

/**
 * `listener`'s clients speak first (HTTP): a connection is worth waking the VM for when its first data comes,
 * not at the handshake's last ACK (tcp.ts tcpListenerDefersAccept; Linux's TCP_DEFER_ACCEPT).
 */
export function socketDeferAccept(listener: i32): void { tcpListenerDefersAccept(listenPorts[listener]); }

/**
 * Waits for the next connection of `listener` (a new one, or a parked one with something to do): its socket.
 * With `timeoutUs` > 0, SOCKET_TIMEOUT when none came within that many microseconds (a server's idle sweep:
 * socketSweepIdle's next deadline), or earlier when a parked connection of the listener is gone (reset: the
 * caller's next sweep finds the deadline that is left, if any); 0 waits as long as it takes.
 */
export function socketAccept(listener: i32, timeoutUs: u32): i32 {
  while (true) {
    if (acceptCount[listener] > 0) {
      const connection = acceptHead[listener];
      const tcb = tcbAt(connection);
      acceptHead[listener] = tcb.socketNext;
      acceptCount[listener]--;
      if (acceptCount[listener] === acceptLimit[listener] - 1) tcpListenerFull(listenPorts[listener], false);
      tcb.socketFlags &= ~FLAG_QUEUED;
      const socket = connection | (tcb.socketGeneration << 16);
      // One gone while it waited in the queue is skipped; a new connection on its number is handed to its listener.
      if (connectionOf(socket) < 0 || tcb.listener < 0) continue;
      const own = tcb.socketListener;
      if (own === listener) return socket;
      if (own >= 0) enqueueAccept(own, connection);
      continue;
    }
    const woken = threadWait(ACCEPT_CHANNEL + u32(listener), timeoutUs);
    if (!woken || (timeoutUs !== 0 && acceptCount[listener] === 0)) return SOCKET_TIMEOUT;
  }
}

/**
 * Parks an accepted socket: it comes back through socketAccept once more data arrives or its peer closes (at
 * once if that happened already; what has arrived is the caller's to have looked at); meanwhile no thread
 * waits for it.
 */
export function socketPark(socket: i32): void {
  const connection = connectionOf(socket);
  if (connection < 0) return;
  const tcb = tcbAt(connection);
  const l = tcb.socketListener;
  if (l < 0) return;
  if ((tcb.socketFlags & FLAG_PEER_CLOSED) !== 0) { enqueueAccept(l, connection); return; }
  if ((tcb.socketFlags & FLAG_PARKED) === 0) parked++;
  tcb.socketFlags |= FLAG_PARKED;
  tcb.socketSince = netNow;
}

/**
 * The idle sweep, for a server's thread about to wait for connections (socketAccept's timeout): closes the
 * parked sockets idle for `idleUs` or more once one may be (socketCloseIdle walks every connection: not at
 * each call), and returns the microseconds until the next one may be; 0 once none is parked (no timer, so
 * an idle VM is not woken, or read back from the swap disk, to find nothing to close).
 */
export function socketSweepIdle(idleUs: u32): u32 {
  if (parked === 0) { sweepDue = false; return 0; }
  if (!sweepDue || i32(netNow - sweepAt) >= 0) {
    const next = socketCloseIdle(idleUs);
    sweepDue = next !== 0;
    sweepAt = u32(netNow + next);
    if (!sweepDue) return 0;
  }
  const left = u32(sweepAt - netNow);
  return left === 0 ? 1 : left;
}

/**
 * Closes every parked socket idle (parked, and no segment from its peer since, even one whose text found no
 * ring) for `idleUs` or more; returns the microseconds until the next parked one will have been idle that
 * long (0: none is parked).
 */
function socketCloseIdle(idleUs: u32): u32 {
  let next: u32 = 0;
  const slots = tableSlots();
  for (let i = 0; i < slots; i++) {
    const tcb = tcbAt(i);
    if ((tcb.socketFlags & FLAG_PARKED) === 0) continue;
    const parkedFor = u32(netNow - tcb.socketSince);
    const silentFor = u32(netNow - tcb.heardAt);
    const idle = silentFor < parkedFor ? silentFor : parkedFor;
    if (idle < idleUs) {
      if (next === 0 || idleUs - idle < next) next = idleUs - idle;
      continue;
    }
    unpark(tcb);
    if ((tcb.socketFlags & FLAG_GONE) === 0) tcpClose(i);
  }
  return next;
}

/**
 * Opens a TCP connection to `ip`:`port` (an address as a number: 10.0.0.1 is 0x0A000001) from an ephemeral port
 * and waits for the handshake: its socket, or SOCKET_REFUSED, SOCKET_TIMEOUT (no answer to the SYN and its
 * retransmissions, about 4 minutes), SOCKET_UNAVAILABLE.
 */
export function socketConnect(ip: u32, port: i32): i32 {
  const connection = tcpConnect(ip, port, onTcpEvent, false);
  if (connection < 0) return SOCKET_UNAVAILABLE;
  const tcb = tcbAt(connection);
  const mine = (tcb.socketGeneration + 1) & GENERATION_MASK;
  tcb.socketGeneration = mine;
  tcb.socketListener = -1;
  unpark(tcb);
  tcb.socketFlags &= FLAG_QUEUED;
  tcb.socketOpened = 0;
  while (true) {
    // A failed open frees the slot at once; an accepted connection may take it before we run (it leaves
    // socketOpened alone; another connect resets it, and then the generation says ours ended).
    const outcome = tcb.socketOpened;
    if (outcome === TCP_EVENT_REFUSED) return SOCKET_REFUSED;
    if (outcome === TCP_EVENT_TIMED_OUT) return SOCKET_TIMEOUT;
    if (tcb.socketGeneration !== mine) return SOCKET_GONE;
    if (outcome === TCP_EVENT_CONNECTED) return connection | (mine << 16);
    threadWait(CONNECTION_CHANNEL + u32(connection), 0);
  }
}

/** The TCP connection of a socket, or -1 when it is gone. */
function connectionOf(socket: i32): i32 {
  const connection = socket & 0xffff;
  if (socket < 0 || connection >= tableSlots()) return -1;
  const tcb: Tcb = tcbAt(connection);
  if (tcb.socketGeneration !== (socket >> 16) || (tcb.socketFlags & FLAG_GONE) !== 0) return -1;
  return connection;
}

/**
 * Reads up to `max` bytes (at least one, waiting for them); 0 when the peer closed its side and
 * everything was read; SOCKET_GONE; or SOCKET_TIMEOUT after `timeoutUs` (> 0) without data.
 */
export function socketRead(socket: i32, to: Uint8Array, offset: i32, max: i32, timeoutUs: u32): i32 {
  while (true) {
    const connection = connectionOf(socket);
    if (connection < 0) return SOCKET_GONE;
    if (tcpAvailable(connection) > 0) return tcpRead(connection, to, offset, max);
    if ((tcbAt(connection).socketFlags & FLAG_PEER_CLOSED) !== 0) return 0;
    if (!threadWait(CONNECTION_CHANNEL + u32(connection), timeoutUs) && tcpAvailable(connection) === 0) return SOCKET_TIMEOUT;
  }
}

/**
 * Copies up to `max` bytes that wait to be read without taking them (never waits): how many, or SOCKET_GONE;
 * with socketPeerClosed a server sees whether a whole request is there before it takes it.
 */
export function socketPeek(socket: i32, to: Uint8Array, offset: i32, max: i32): i32 {
  const connection = connectionOf(socket);
  if (connection < 0) return SOCKET_GONE;
  return tcpPeek(connection, to, offset, max);
}

/** Takes up to `max` bytes that wait to be read, uncopied (after socketPeek): how many, or SOCKET_GONE. */
export function socketSkip(socket: i32, max: i32): i32 {
  const connection = connectionOf(socket);
  if (connection < 0) return SOCKET_GONE;
  return tcpSkip(connection, max);
}

/** The peer closed its side (whatever is left to read, nothing more will come); true for a gone socket too. */
export function socketPeerClosed(socket: i32): bool {
  const connection = connectionOf(socket);
  return connection < 0 || (tcbAt(connection).socketFlags & FLAG_PEER_CLOSED) !== 0;
}

/** Writes all `length` bytes, waiting for room in the send buffer; `length`, or SOCKET_GONE. */
export function socketWrite(socket: i32, from: Uint8Array, offset: i32, length: i32): i32 {
  let done = 0;
  while (done < length) {
    const connection = connectionOf(socket);
    if (connection < 0) return SOCKET_GONE;
    const state = tcpState(connection);
    if (state !== TCP_ESTABLISHED && state !== TCP_CLOSE_WAIT) return SOCKET_GONE;
    const wrote = tcpWriteSpace(connection) === 0 ? 0 : tcpWrite(connection, from, offset + done, length - done);
    if (wrote === 0) { threadWait(CONNECTION_CHANNEL + u32(connection), 0); continue; }
    done += wrote;
  }
  return length;
}

/** The local port of a socket's connection (an accepted one's listening port, a connected one's ephemeral), or 0. */
export function socketLocalPort(socket: i32): i32 {
  const connection = connectionOf(socket);
  return connection < 0 ? 0 : tcpLocalPort(connection);
}

/** Closes our side (the FIN follows the queued data); the socket is not used again. */
export function socketClose(socket: i32): void {
  const connection = connectionOf(socket);
  if (connection >= 0) tcpClose(connection);
}

// ---- UDP ----------------------------------------------------------------------------------------------------
// Each UDP socket keeps up to SOCKET_UDP_QUEUE datagrams (more are dropped and counted, as a full
// socket buffer drops them); a datagram waits in a fixed slot of UDP_MAX_DATA bytes.

const SOCKET_UDP_SOCKETS = 4;
const SOCKET_UDP_QUEUE = 8;
const udpPorts = new Int32Array(4);
const udpHead = new Int32Array(4);
const udpCount = new Int32Array(4);
const udpSlots = new Uint8Array(4 * 8 * 1472);
const udpLengths = new Int32Array(4 * 8);
const udpSources = new Uint32Array(4 * 8);
const udpSourcePorts = new Int32Array(4 * 8);
let udpDropped: u32 = 0;
let lastSource: u32 = 0;
let lastSourcePort: i32 = 0;

function udpSocketOfPort(port: i32): i32 {
  for (let i = 0; i < SOCKET_UDP_SOCKETS; i++) if (udpPorts[i] === port) return i;
  return -1;
}

/** udp.ts calls this for each datagram to one of our ports: queued for socketUdpReceive. */
function onUdp(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  const s = udpSocketOfPort(localPort);
  if (s < 0 || udpCount[s] === SOCKET_UDP_QUEUE) { udpDropped++; return; }
  const slot = s * SOCKET_UDP_QUEUE + (udpHead[s] + udpCount[s]) % SOCKET_UDP_QUEUE;
  for (let i = 0; i < length; i++) udpSlots[slot * UDP_MAX_DATA + i] = data[offset + i];
  udpLengths[slot] = length;
  udpSources[slot] = source;
  udpSourcePorts[slot] = sourcePort;
  udpCount[s]++;
  threadWake(UDP_CHANNEL + u32(s));
}

function udpOpen(socket: i32): bool { return socket >= 0 && socket < SOCKET_UDP_SOCKETS && udpPorts[socket] !== 0; }

/** A UDP socket on `port`, or SOCKET_IN_USE. */
export function socketUdpOpen(port: i32): i32 {
  let free = -1;
  for (let i = 0; i < SOCKET_UDP_SOCKETS; i++) {
    if (udpPorts[i] === port) return SOCKET_IN_USE;
    if (udpPorts[i] === 0 && free < 0) free = i;
  }
  if (free < 0 || !udpBind(port, onUdp)) return SOCKET_IN_USE;
  udpPorts[free] = port;
  udpHead[free] = 0;
  udpCount[free] = 0;
  return free;
}

/**
 * Waits for the next datagram (at most `timeoutUs` when > 0) and copies up to `max` bytes of it
 * (the rest is discarded, as recv does); its length, SOCKET_TIMEOUT or SOCKET_GONE (not open).
 * The sender is socketUdpSource() / socketUdpSourcePort() until the next receive.
 */
export function socketUdpReceive(socket: i32, to: Uint8Array, offset: i32, max: i32, timeoutUs: u32): i32 {
  while (true) {
    if (!udpOpen(socket)) return SOCKET_GONE;
    if (udpCount[socket] > 0) {
      const slot = socket * SOCKET_UDP_QUEUE + udpHead[socket];
      const n = udpLengths[slot] < max ? udpLengths[slot] : max;
      for (let i = 0; i < n; i++) to[offset + i] = udpSlots[slot * UDP_MAX_DATA + i];
      lastSource = udpSources[slot];
      lastSourcePort = udpSourcePorts[slot];
      udpHead[socket] = (udpHead[socket] + 1) % SOCKET_UDP_QUEUE;
      udpCount[socket]--;
      return n;
    }
    if (!threadWait(UDP_CHANNEL + u32(socket), timeoutUs) && udpCount[socket] === 0) return SOCKET_TIMEOUT;
  }
}

export function socketUdpSource(): u32 { return lastSource; }
export function socketUdpSourcePort(): i32 { return lastSourcePort; }

/** Sends one datagram from the socket's port; `length`, or SOCKET_GONE (not open, or too long). */
export function socketUdpSend(socket: i32, destination: u32, destinationPort: i32, from: Uint8Array, offset: i32, length: i32): i32 {
  if (!udpOpen(socket)) return SOCKET_GONE;
  return udpSend(destination, destinationPort, udpPorts[socket], from, offset, length) ? length : SOCKET_GONE;
}
