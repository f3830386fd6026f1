// Contract: the TCP's send and receive buffers, rings carved from one pool. Every connection slot owns a
// small slot (TCP_SMALL_BUFFER each way, the window of a request/response service); a listener that asks
// for large buffers gets one of TCP_LARGE_SLOTS large slots (TCP_LARGE_BUFFER each way: enough segments in
// flight for fast retransmit and SACK recovery to work) while one is free, else the small one. A ring's
// start goes back to 0 whenever it is empty (and, for the receive ring, no out-of-order data is held), so
// a connection touches only the pages its largest burst needs: the pool is bss, and pages never touched
// cost a VM nothing. Reads and writes go through bytes.ts copyBytes (bounds-checked, a word at a time).
//
// Owns Tcb.rxBase/rxSize/txBase/txSize/largeSlot/rxStart/txStart; rxCount and txCount shrink here (taken,
// acknowledged) and grow in tcp.ts and tcp-reassembly.ts.
import { i32, bool } from "dsl";
import { copyBytes } from "./bytes.ts";
import { Tcb } from "./tcp-tcb.ts";

export const TCP_MAX_CONNECTIONS = 16;
/** Receive (and send) buffer of a small slot: the most we advertise as RCV.WND. */
const TCP_SMALL_BUFFER = 4096;
/** Receive (and send) buffer of a large slot: under 64 KiB, so the window needs no scaling (RFC 7323). */
const TCP_LARGE_BUFFER = 32768;
const TCP_LARGE_SLOTS = 4;

const SMALL_SLOT = 2 * TCP_SMALL_BUFFER;
const LARGE_SLOT = 2 * TCP_LARGE_BUFFER;
const LARGE_AREA = TCP_MAX_CONNECTIONS * SMALL_SLOT;
const pool = new Uint8Array(16 * 2 * 4096 + 4 * 2 * 32768);   // LARGE_AREA + TCP_LARGE_SLOTS * LARGE_SLOT
const largeTaken = new Uint8Array(TCP_LARGE_SLOTS);

export function buffersInit(): void {
  for (let i = 0; i < TCP_LARGE_SLOTS; i++) largeTaken[i] = 0;
}

/** Gives connection `index` its rings: a large slot when `large` and one is free, else its small slot. */
export function buffersAssign(tcb: Tcb, index: i32, large: bool): void {
  let slot = -1;
  if (large) {
    for (let i = 0; i < TCP_LARGE_SLOTS && slot < 0; i++) if (largeTaken[i] === 0) slot = i;
  }
  tcb.largeSlot = slot;
  if (slot >= 0) {
    largeTaken[slot] = 1;
    tcb.rxBase = LARGE_AREA + slot * LARGE_SLOT;
    tcb.rxSize = TCP_LARGE_BUFFER;
  } else {
    tcb.rxBase = index * SMALL_SLOT;
    tcb.rxSize = TCP_SMALL_BUFFER;
  }
  tcb.txBase = tcb.rxBase + tcb.rxSize;
  tcb.txSize = tcb.rxSize;
  tcb.rxStart = 0; tcb.rxCount = 0; tcb.txStart = 0; tcb.txCount = 0;
}

/** Returns a large slot to the pool (the connection is gone). */
export function buffersRelease(tcb: Tcb): void {
  if (tcb.largeSlot >= 0) largeTaken[tcb.largeSlot] = 0;
  tcb.largeSlot = -1;
}

/**
 * Copies `n` bytes out of a ring (`pool[base .. base + size)`, starting `at` and wrapping) into `to[offset..]`:
 * at most two copies.
 */
function ringRead(base: i32, size: i32, at: i32, to: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyBytes(to, offset, pool, base + at, first);
  copyBytes(to, offset + first, pool, base, n - first);
}

/** Copies `n` bytes of `from[offset..]` into a ring at `at`, wrapping (as ringRead). */
function ringWrite(base: i32, size: i32, at: i32, from: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyBytes(pool, base + at, from, offset, first);
  copyBytes(pool, base, from, offset + first, n - first);
}

/** Stores `n` received bytes `ahead` bytes past the in-order data (0: in order; more: out of order). */
export function receiveStore(tcb: Tcb, ahead: i32, from: Uint8Array, offset: i32, n: i32): void {
  ringWrite(tcb.rxBase, tcb.rxSize, (tcb.rxStart + tcb.rxCount + ahead) % tcb.rxSize, from, offset, n);
}

/** Takes `n` (at most rxCount) in-order bytes for the application. */
export function receiveTake(tcb: Tcb, to: Uint8Array, offset: i32, n: i32): void {
  ringRead(tcb.rxBase, tcb.rxSize, tcb.rxStart, to, offset, n);
  tcb.rxStart = (tcb.rxStart + n) % tcb.rxSize;
  tcb.rxCount -= n;
  if (tcb.rxCount === 0 && tcb.oooCount === 0) tcb.rxStart = 0;
}

/** Queues `n` bytes to send after those queued (txCount is the caller's). */
export function sendQueue(tcb: Tcb, from: Uint8Array, offset: i32, n: i32): void {
  if (tcb.txCount === 0) tcb.txStart = 0;
  ringWrite(tcb.txBase, tcb.txSize, (tcb.txStart + tcb.txCount) % tcb.txSize, from, offset, n);
}

/** Copies `n` queued bytes starting `skip` bytes after SND.UNA into `to[offset..]` (a segment's data). */
export function sendPeek(tcb: Tcb, skip: i32, to: Uint8Array, offset: i32, n: i32): void {
  ringRead(tcb.txBase, tcb.txSize, (tcb.txStart + skip) % tcb.txSize, to, offset, n);
}

/** Drops `n` acknowledged bytes from the front of the send ring. */
export function sendAcknowledged(tcb: Tcb, n: i32): void {
  tcb.txStart = (tcb.txStart + n) % tcb.txSize;
  tcb.txCount -= n;
  if (tcb.txCount === 0) tcb.txStart = 0;
}
