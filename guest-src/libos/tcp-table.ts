// Contract: the TCP's tables: the connections (Transmission Control Blocks, tcp-tcb.ts) and the listeners.
// The connection table lies in the VM's memory above the image (tcp-buffers.ts gives it room from the bottom
// of that region up): TCB i at tableBase() + i * sizeOf(Tcb), carved one at a time when no carved one is
// free, so the number of connections is bounded by the VM's memory (and TCP_CONNECTION_CEILING, connection
// numbers being 16 bits for sockets.ts), not by a constant. Freed TCBs wait on a free list; when memory
// allows no more, the TIME-WAIT connection closest to its end is reused. A connection is found by its
// 4-tuple through a hash table (chains through Tcb.hashNext); allocating one, binding its 4-tuple,
// releasing one (its buffers back, the application told), the listeners' half-open counts (the SYN
// queue, RFC 4987 §3.6: tcp.ts answers with SYN cookies past it), and whether a handler is running
// inside segment processing (the application's writes then wait to go with the ACK). tcp.ts runs the
// protocol over them, tcp-calls.ts the application's calls.
// Owns Tcb.hashNext and the state CLOSED; Listener.halfOpen.
import { i32, u32, bool, structArray, overlay, sizeOf } from "dsl";
import { Tcb, TcpHandler, noHandler, seqLt, TCP_CLOSED, TCP_SYN_RECEIVED, TCP_TIME_WAIT } from "./tcp-tcb.ts";
import { buffersRelease, tableBase, tableGrow } from "./tcp-buffers.ts";

export const TCP_MAX_LISTENERS = 8;
/** The most connections whatever the memory: a connection number fits sockets.ts's 16 bits. */
const TCP_CONNECTION_CEILING = 65535;
/** Hash buckets of the 4-tuple lookup (a power of two). */
const HASH_BUCKETS = 1024;
const NONE = -1;

class Listener {
  port: i32 = 0;
  /** The most connections in SYN-RECEIVED at once (the SYN queue); past it, SYN cookies (tcp.ts). */
  backlog: i32 = 0;
  /** Connections of this listener in SYN-RECEIVED now. */
  halfOpen: i32 = 0;
  handler: TcpHandler = noHandler;
  /** Its connections ask for a large buffer slot (tcp-buffers.ts). */
  large: bool = false;
}

export const listeners = structArray(Listener, 8);   // TCP_MAX_LISTENERS
/** Per bucket, the first connection of its chain + 1 (0: empty). */
const buckets = new Int32Array(1024);                 // HASH_BUCKETS
/** TCBs carved so far (connection numbers 0 .. carved - 1), the free ones chained from freeHead. */
let carved = 0;
let freeHead = NONE;
/** Connections not CLOSED, and at most so far. */
let live = 0;
let livePeak = 0;
/** True while a handler runs inside segment processing: writes are sent once, after it, with the ACK. */
export let inHandler = false;
export function setInHandler(running: bool): void { inHandler = running; }

/** Connection `index`'s TCB (index < tableSlots()). */
export function tcbAt(index: i32): Tcb { return overlay(Tcb, tableBase() + u32(index) * u32(sizeOf(Tcb))); }
/** Connection numbers in use so far are below this (the timers walk them). */
export function tableSlots(): i32 { return carved; }
export function connectionsLive(): i32 { return live; }
export function connectionsMost(): i32 { return livePeak; }

/** Empties the tables (after buffersInit). */
export function tableInit(): void {
  carved = 0; freeHead = NONE; live = 0; livePeak = 0;
  for (let i = 0; i < HASH_BUCKETS; i++) buckets[i] = 0;
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) { listeners[i].port = 0; listeners[i].halfOpen = 0; }
}

function bucketOf(remoteIp: u32, remotePort: i32, localPort: i32): i32 {
  let h: u32 = remoteIp ^ u32((remotePort << 16) | localPort);
  h = u32(Math.imul(i32(h ^ (h >>> 16)), 0x45d9f3b));
  return i32((h ^ (h >>> 16)) & u32(HASH_BUCKETS - 1));
}

export function lookup(remoteIp: u32, remotePort: i32, localPort: i32): i32 {
  let i = buckets[bucketOf(remoteIp, remotePort, localPort)] - 1;
  while (i >= 0) {
    const tcb = tcbAt(i);
    if (tcb.remoteIp === remoteIp && tcb.remotePort === remotePort && tcb.localPort === localPort) return i;
    i = tcb.hashNext;
  }
  return -1;
}

/** Gives connection `index` (just allocated) its 4-tuple: lookup finds it from now on. */
export function bind(index: i32, remoteIp: u32, remotePort: i32, localPort: i32): void {
  const tcb = tcbAt(index);
  tcb.remoteIp = remoteIp;
  tcb.remotePort = remotePort;
  tcb.localPort = localPort;
  const b = bucketOf(remoteIp, remotePort, localPort);
  tcb.hashNext = buckets[b] - 1;
  buckets[b] = index + 1;
}

function unbind(index: i32): void {
  const tcb = tcbAt(index);
  const b = bucketOf(tcb.remoteIp, tcb.remotePort, tcb.localPort);
  let i = buckets[b] - 1;
  if (i === index) { buckets[b] = tcb.hashNext + 1; return; }
  while (i >= 0) {
    const previous = tcbAt(i);
    if (previous.hashNext === index) { previous.hashNext = tcb.hashNext; return; }
    i = previous.hashNext;
  }
}

/**
 * A free connection (CLOSED, unbound: the caller sets its state and binds it): a freed one, else a new one
 * while memory allows, else the TIME-WAIT connection closest to its end; -1 when every one is busy.
 */
export function allocate(): i32 {
  let index = freeHead;
  if (index >= 0) freeHead = tcbAt(index).hashNext;
  else if (carved < TCP_CONNECTION_CEILING && tableGrow(u32(sizeOf(Tcb)))) index = carved++;
  else {
    let victim = -1;
    for (let i = 0; i < carved; i++) {
      const tcb = tcbAt(i);
      if (tcb.state === TCP_TIME_WAIT && (victim < 0 || seqLt(tcb.timerAt, tcbAt(victim).timerAt))) victim = i;
    }
    if (victim < 0) return -1;
    release(victim, 0);
    index = freeHead;
    freeHead = tcbAt(index).hashNext;
  }
  const tcb = tcbAt(index);
  tcb.state = TCP_CLOSED;
  tcb.timerOn = false;
  tcb.largeSlot = -1; tcb.rxBase = 0; tcb.txBase = 0;
  tcb.listener = -1;
  tcb.wantsRing = false;
  live++;
  if (live > livePeak) livePeak = live;
  return index;
}

/** A connection of `listener` leaves SYN-RECEIVED (established, or gone). */
export function leaveSynReceived(tcb: Tcb): void {
  if (tcb.state === TCP_SYN_RECEIVED && tcb.listener >= 0) listeners[tcb.listener].halfOpen--;
}

/** Frees the connection and tells the application (`event`: CLOSED or RESET; 0 tells nobody). */
export function release(index: i32, event: i32): void {
  const tcb = tcbAt(index);
  if (tcb.state === TCP_CLOSED) return;
  const wasKnown = tcb.state !== TCP_SYN_RECEIVED || tcb.listener < 0;   // (an active open's: the application's)
  leaveSynReceived(tcb);
  unbind(index);
  tcb.state = TCP_CLOSED;
  tcb.timerOn = false;
  buffersRelease(tcb);
  tcb.hashNext = freeHead;
  freeHead = index;
  live--;
  if (event !== 0 && wasKnown) tcb.handler(index, event);
}

/** A connection number the application may use: in range and not CLOSED. */
export function valid(connection: i32): bool {
  return connection >= 0 && connection < carved && tcbAt(connection).state !== TCP_CLOSED;
}
