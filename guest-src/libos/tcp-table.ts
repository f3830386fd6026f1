// Contract: the TCP's tables: the connections (Transmission Control Blocks, tcp-tcb.ts) and the listeners.
// The connection table lies in the VM's memory above the image, in pages tcp-buffers.ts gives it (tablePage):
// TCBS_PER_PAGE TCBs a page. The first INLINE_PAGES pages' addresses are in the image (inlinePages: 256 bytes
// among the small data), the others in directory pages of DIRECTORY_ENTRIES addresses each (directories[]
// their addresses), so connection i is at
//   (i < INLINE_CONNECTIONS ? inlinePages[i >> 3] : load32(directories[i >> 13] + ((i >> 3) & 1023) * 4))
//     + (i & 7) * sizeOf(Tcb)
// (directory 0's first INLINE_PAGES entries unused). A VM with up to INLINE_CONNECTIONS connections (an httpd
// in 1 MiB holds ~300) then touches no directory page: it was one page more in every residency's working set.
// TCBs are carved one at a time when no carved one is free, so the number of connections is bounded by the
// VM's memory (and TCP_CONNECTION_CEILING, connection numbers being 16 bits for sockets.ts), not by a
// constant. Freed TCBs wait on a free list; when memory allows no more, the TIME-WAIT connection closest to
// its end is reused. A connection is found by its 4-tuple through a hash table (chains through
// Tcb.hashNext); allocating one, binding its 4-tuple,
// releasing one (its buffers back, the application told), the listeners' half-open counts (the SYN
// queue, RFC 4987 §3.6: tcp.ts answers with SYN cookies past it), and whether a handler is running
// inside segment processing (the application's writes then wait to go with the ACK). tcp.ts runs the
// protocol over them, tcp-calls.ts the application's calls.
// Owns Tcb.hashNext and the state CLOSED; Listener.halfOpen (tcp.ts sets Listener.full).
import { i32, u32, bool, structArray, overlay, sizeOf, load32, store32, panic, addressOf } from "dsl";
import { Tcb, TcpHandler, noHandler, seqLt, TCP_CLOSED, TCP_SYN_RECEIVED, TCP_TIME_WAIT } from "./tcp-tcb.ts";
import { buffersRelease, tablePage } from "./tcp-buffers.ts";

export const TCP_MAX_LISTENERS = 8;
/** The most connections whatever the memory: a connection number fits sockets.ts's 16 bits. */
const TCP_CONNECTION_CEILING = 65535;
/** TCBs in a page (sizeOf(Tcb) <= 512), page addresses in a directory page, directories. */
const TCBS_PER_PAGE = 8;
const DIRECTORY_ENTRIES = 1024;
const DIRECTORIES = 8;
/** TCB pages whose addresses the image holds, and the connections in them. */
const INLINE_PAGES = 64;
const INLINE_CONNECTIONS = 512;                     // INLINE_PAGES * TCBS_PER_PAGE
/**
 * Hash buckets of the 4-tuple lookup (a power of two): 64 words lie among the VM's other small data (the
 * linker places it smallest first), where 1,024 took a page of their own in every httpd VM's working set,
 * read and written with it at each swap-in; chains of ~5 at the ~300 connections of a 1 MiB VM.
 */
const HASH_BUCKETS = 64;
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
  /**
   * Its owner's accept queue is full (tcpListenerFull): a handshake's last ACK is dropped, as Linux does, and
   * the connection stays in SYN-RECEIVED (or, from a cookie, is not made) until the peer sends it again.
   */
  full: bool = false;
  /**
   * Its clients speak first (tcpListenerDefersAccept, as Linux's TCP_DEFER_ACCEPT): a handshake's bare ACK may
   * wait for the VM's next wake-up (the request that follows it, or the SYN,ACK's retransmission timer).
   */
  defersAccept: bool = false;
}

export const listeners = structArray(Listener, 8);   // TCP_MAX_LISTENERS
/** The directory pages (0: not yet taken). */
const directories = new Uint32Array(8);              // DIRECTORIES
/** The first INLINE_PAGES TCB pages (0: not yet taken). */
const inlinePages = new Uint32Array(64);             // INLINE_PAGES
/** Per bucket, the first connection of its chain + 1 (0: empty). */
const buckets = new Int32Array(64);                   // HASH_BUCKETS
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
export function tcbAt(index: i32): Tcb {
  // inlinePages[index >>> 3], or directories[index >>> 13] then its entry (index >>> 3) & 1023, as byte offsets
  // (index < TCP_CONNECTION_CEILING: the masks change nothing). Small enough, and without a bounds check's call,
  // for the compiler to inline it at its call sites: tens of them for each segment and each request.
  const i = u32(index);
  const page = i < u32(INLINE_CONNECTIONS) ? load32(addressOf(inlinePages) + (i >>> 1 & 0xfc))
    : load32(load32(addressOf(directories) + (i >>> 11 & 28)) + (i >>> 1 & 0xffc));
  return overlay(Tcb, page + u32(index & 7) * u32(sizeOf(Tcb)));
}

/** Room for TCB number `carved` (a new page, and a new directory, when it starts one); false when memory is short. */
function carveRoom(): bool {
  if (carved >= TCP_CONNECTION_CEILING) return false;
  if ((carved & (TCBS_PER_PAGE - 1)) !== 0) return true;
  const chunk = carved >>> 3;
  if (chunk < INLINE_PAGES) {
    inlinePages[chunk] = tablePage();
    return inlinePages[chunk] !== 0;
  }
  const d = chunk >>> 10;
  if (directories[d] === 0) {
    directories[d] = tablePage();
    if (directories[d] === 0) return false;
  }
  const page = tablePage();
  if (page === 0) return false;
  store32(directories[d] + u32(chunk & (DIRECTORY_ENTRIES - 1)) * 4, page);
  return true;
}
/** Connection numbers in use so far are below this (the timers walk them). */
export function tableSlots(): i32 { return carved; }
export function connectionsLive(): i32 { return live; }
export function connectionsMost(): i32 { return livePeak; }

/** Empties the tables (after buffersInit). */
export function tableInit(): void {
  if (u32(sizeOf(Tcb) * TCBS_PER_PAGE) > 4096) panic("a Tcb over 512 bytes");
  carved = 0; freeHead = NONE; live = 0; livePeak = 0;
  for (let i = 0; i < DIRECTORIES; i++) directories[i] = 0;
  for (let i = 0; i < INLINE_PAGES; i++) inlinePages[i] = 0;
  for (let i = 0; i < HASH_BUCKETS; i++) buckets[i] = 0;
  for (let i = 0; i < TCP_MAX_LISTENERS; i++) {
    listeners[i].port = 0; listeners[i].halfOpen = 0; listeners[i].full = false;
  }
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
  else if (carveRoom()) index = carved++;
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
  tcb.largeSlot = -1; tcb.rxBase = 0; tcb.rxCap = 0; tcb.txBase = 0;
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

/**
 * The connection is a handshake of a listener whose clients speak first (Listener.defersAccept): its last
 * ACK need not wake the VM (tcp-timers.ts, lazy ACKs), the data after it does and completes it as well.
 */
export function acceptDeferred(tcb: Tcb): bool {
  return tcb.state === TCP_SYN_RECEIVED && tcb.listener >= 0 && listeners[tcb.listener].defersAccept;
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
