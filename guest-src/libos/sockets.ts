// A small blocking sockets API for threads (threads.ts) over the event-driven TCP (tcp.ts) — listen,
// accept, connect, read, write, close — and UDP (udp.ts) — open, receive (with the sender), send. A call that
// cannot complete waits on a channel that the TCP event handler below wakes (spurious wake-ups are
// fine: every call re-checks its condition in a loop).
//
// A socket is `connection | generation << 8`: TCP reuses a connection number once the connection is
// gone, and the generation tells an old socket from the new connection (such calls fail with
// SOCKET_GONE instead of touching a stranger's connection). Accepted connections wait in a queue per
// listener (at most SOCKET_ACCEPT_QUEUE; more are aborted, like a full backlog).
import { i32, u32, bool } from "dsl";
import {
  tcpListen, tcpConnect, tcpRead, tcpWrite, tcpClose, tcpAbort, tcpAvailable, tcpWriteSpace, tcpState, tcpLocalPort,
  TCP_EVENT_ACCEPTED, TCP_EVENT_CONNECTED, TCP_EVENT_REFUSED, TCP_EVENT_TIMED_OUT, TCP_EVENT_DATA, TCP_EVENT_WRITABLE,
  TCP_EVENT_PEER_CLOSED, TCP_EVENT_CLOSED, TCP_EVENT_RESET, TCP_ESTABLISHED, TCP_CLOSE_WAIT,
} from "./tcp.ts";
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
const SOCKET_ACCEPT_QUEUE = 16;

// Channels (threads.ts): one per listener and one per connection.
const ACCEPT_CHANNEL: u32 = 0x1000;
const CONNECTION_CHANNEL: u32 = 0x2000;
const UDP_CHANNEL: u32 = 0x3000;

const listenPorts = new Int32Array(8);
const acceptQueue = new Int32Array(8 * 16);
const acceptHead = new Int32Array(8);
const acceptCount = new Int32Array(8);
/** Per TCP connection: its generation (bumped on accept) and what happened to it. */
const generation = new Int32Array(16);
const peerClosed = new Uint8Array(16);
const gone = new Uint8Array(16);
/** Per TCP connection opened by socketConnect: 0 while in SYN-SENT, then its TCP_EVENT (CONNECTED, REFUSED...). */
const opened = new Int32Array(16);

function listenerOfPort(port: i32): i32 {
  for (let i = 0; i < SOCKET_LISTENERS; i++) if (listenPorts[i] === port) return i;
  return -1;
}

/** tcp.ts calls this for every event of a connection of our listeners. */
function onTcpEvent(connection: i32, event: i32): void {
  if (event === TCP_EVENT_ACCEPTED) {
    generation[connection] = (generation[connection] + 1) & 0x7fffff;
    peerClosed[connection] = 0;
    gone[connection] = 0;
    const l = listenerOfPort(tcpLocalPort(connection));
    if (l < 0 || acceptCount[l] === SOCKET_ACCEPT_QUEUE) { tcpAbort(connection); return; }
    acceptQueue[l * SOCKET_ACCEPT_QUEUE + (acceptHead[l] + acceptCount[l]) % SOCKET_ACCEPT_QUEUE] = connection | (generation[connection] << 8);
    acceptCount[l]++;
    threadWakeOne(ACCEPT_CHANNEL + u32(l));      // one worker per queued connection, not a herd
    return;
  }
  if (event === TCP_EVENT_CONNECTED || event === TCP_EVENT_REFUSED || event === TCP_EVENT_TIMED_OUT) {
    opened[connection] = event;
    if (event !== TCP_EVENT_CONNECTED) gone[connection] = 1;
  } else if (event === TCP_EVENT_PEER_CLOSED) peerClosed[connection] = 1;
  else if (event === TCP_EVENT_CLOSED || event === TCP_EVENT_RESET) gone[connection] = 1;
  else if (event !== TCP_EVENT_DATA && event !== TCP_EVENT_WRITABLE) return;
  threadWake(CONNECTION_CHANNEL + u32(connection));
}

/** Listens on a TCP port; a listener number for socketAccept, or SOCKET_IN_USE. */
export function socketListen(port: i32, backlog: i32): i32 {
  let free = -1;
  for (let i = 0; i < SOCKET_LISTENERS; i++) {
    if (listenPorts[i] === port) return SOCKET_IN_USE;
    if (listenPorts[i] === 0 && free < 0) free = i;
  }
  if (free < 0 || !tcpListen(port, backlog, onTcpEvent, false)) return SOCKET_IN_USE;
  listenPorts[free] = port;
  acceptHead[free] = 0;
  acceptCount[free] = 0;
  return free;
}

/** Waits for the next connection of `listener` and returns its socket. */
export function socketAccept(listener: i32): i32 {
  while (true) {
    if (acceptCount[listener] > 0) {
      const socket = acceptQueue[listener * SOCKET_ACCEPT_QUEUE + acceptHead[listener]];
      acceptHead[listener] = (acceptHead[listener] + 1) % SOCKET_ACCEPT_QUEUE;
      acceptCount[listener]--;
      if (connectionOf(socket) >= 0) return socket;   // one reset while it waited in the queue is skipped
      continue;
    }
    threadWait(ACCEPT_CHANNEL + u32(listener), 0);
  }
}

/**
 * Opens a TCP connection to `ip`:`port` (an address as a number: 10.0.0.1 is 0x0A000001) from an ephemeral port
 * and waits for the handshake: its socket, or SOCKET_REFUSED, SOCKET_TIMEOUT (no answer to the SYN and its
 * retransmissions, about 4 minutes), SOCKET_UNAVAILABLE.
 */
export function socketConnect(ip: u32, port: i32): i32 {
  const connection = tcpConnect(ip, port, onTcpEvent, false);
  if (connection < 0) return SOCKET_UNAVAILABLE;
  const mine = (generation[connection] + 1) & 0x7fffff;
  generation[connection] = mine;
  peerClosed[connection] = 0;
  gone[connection] = 0;
  opened[connection] = 0;
  while (true) {
    // A failed open frees the slot at once; an accepted connection may take it before we run (it leaves
    // `opened` alone; another connect resets it, and then the generation says ours ended).
    const outcome = opened[connection];
    if (outcome === TCP_EVENT_REFUSED) return SOCKET_REFUSED;
    if (outcome === TCP_EVENT_TIMED_OUT) return SOCKET_TIMEOUT;
    if (generation[connection] !== mine) return SOCKET_GONE;
    if (outcome === TCP_EVENT_CONNECTED) return connection | (mine << 8);
    threadWait(CONNECTION_CHANNEL + u32(connection), 0);
  }
}

/** The TCP connection of a socket, or -1 when it is gone. */
function connectionOf(socket: i32): i32 {
  const connection = socket & 0xff;
  if (socket < 0 || connection >= 16 || generation[connection] !== (socket >> 8) || gone[connection] !== 0) return -1;
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
    if (peerClosed[connection] !== 0) return 0;
    if (!threadWait(CONNECTION_CHANNEL + u32(connection), timeoutUs) && tcpAvailable(connection) === 0) return SOCKET_TIMEOUT;
  }
}

/** Writes all `length` bytes, waiting for room in the send buffer; `length`, or SOCKET_GONE. */
export function socketWrite(socket: i32, from: Uint8Array, offset: i32, length: i32): i32 {
  let done = 0;
  while (done < length) {
    const connection = connectionOf(socket);
    if (connection < 0) return SOCKET_GONE;
    const state = tcpState(connection);
    if (state !== TCP_ESTABLISHED && state !== TCP_CLOSE_WAIT) return SOCKET_GONE;
    if (tcpWriteSpace(connection) === 0) { threadWait(CONNECTION_CHANNEL + u32(connection), 0); continue; }
    done += tcpWrite(connection, from, offset + done, length - done);
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
