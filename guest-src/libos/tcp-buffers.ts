// Contract: the TCP's send and receive buffers, rings addressed by their memory address. Every connection
// slot owns a small slot (TCP_SMALL_BUFFER each way, the window of a request/response service) in a
// pool in the image's bss; a listener or an active open that asks for large buffers gets one of the
// large slots while one is free, else its small one. The large slots are not in the image: they lie in
// the VM's memory above it (linkerAddress("imageEnd") up to the boot page, the VM's last page), sized
// as the stack starts from what is there: up to TCP_LARGE_SLOTS slots of the largest power of two each
// way from TCP_LARGE_BUFFER_MIN to TCP_LARGE_BUFFER_MAX that lets them all fit (fewer slots of the
// minimum when even that does not; none in a VM without room for one). The echo app (a 236 KiB image)
// gets 4 x 32 KiB each way in 512 KiB, 4 x 64 KiB in 1 MiB, 4 x 256 KiB from 3 MiB: windows past 64 KiB
// need RFC 7323's scaling (tcp-extensions.ts).
// A ring's start goes back to 0 whenever it is empty (and, for the receive ring, no out-of-order data
// is held), so a connection touches only the pages its largest burst needs: pages never touched cost a
// VM nothing. Reads and writes go through bytes.ts copyWithAddress (the application's array
// bounds-checked, a word at a time).
//
// Owns Tcb.rxBase/rxSize/txBase/txSize/largeSlot/rxStart/txStart; rxCount and txCount shrink here (taken,
// acknowledged) and grow in tcp.ts and tcp-reassembly.ts.
import { i32, u32, bool, addressOf, linkerAddress } from "dsl";
import { copyWithAddress } from "./bytes.ts";
import { memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { Tcb } from "./tcp-tcb.ts";

export const TCP_MAX_CONNECTIONS = 16;
/** Receive (and send) buffer of a small slot: the most we advertise as RCV.WND. */
const TCP_SMALL_BUFFER = 4096;
/** The bounds of a large slot's buffer each way (powers of two). */
const TCP_LARGE_BUFFER_MIN = 32768;
const TCP_LARGE_BUFFER_MAX = 262144;
const TCP_LARGE_SLOTS = 4;

const SMALL_SLOT = 2 * TCP_SMALL_BUFFER;
const pool = new Uint8Array(16 * 2 * 4096);   // TCP_MAX_CONNECTIONS * SMALL_SLOT
const largeTaken = new Uint8Array(TCP_LARGE_SLOTS);
/** The large slots: largeSlots of 2 * largeBuffer bytes from largeArea (set by buffersInit). */
let largeArea: u32 = 0;
let largeBuffer = 0;
let largeSlots = 0;

/** Sizes the large slots from the memory above the image (after bootInit); none is taken. */
export function buffersInit(): void {
  const start = linkerAddress("imageEnd");
  const end = memoryEnd() - PAGE_SIZE;
  const room = end > start ? end - start : 0;
  let buffer = TCP_LARGE_BUFFER_MAX;
  while (buffer > TCP_LARGE_BUFFER_MIN && u32(2 * buffer * TCP_LARGE_SLOTS) > room) buffer = buffer / 2;
  const fit = room / u32(2 * buffer);
  largeSlots = fit < u32(TCP_LARGE_SLOTS) ? i32(fit) : TCP_LARGE_SLOTS;
  largeBuffer = buffer;
  largeArea = start;
  for (let i = 0; i < TCP_LARGE_SLOTS; i++) largeTaken[i] = 0;
}

/** Gives connection `index` its rings: a large slot when `large` and one is free, else its small slot. */
export function buffersAssign(tcb: Tcb, index: i32, large: bool): void {
  let slot = -1;
  if (large) {
    for (let i = 0; i < largeSlots && slot < 0; i++) if (largeTaken[i] === 0) slot = i;
  }
  tcb.largeSlot = slot;
  if (slot >= 0) {
    largeTaken[slot] = 1;
    tcb.rxBase = largeArea + u32(slot * 2 * largeBuffer);
    tcb.rxSize = largeBuffer;
  } else {
    tcb.rxBase = addressOf(pool) + u32(index * SMALL_SLOT);
    tcb.rxSize = TCP_SMALL_BUFFER;
  }
  tcb.txBase = tcb.rxBase + u32(tcb.rxSize);
  tcb.txSize = tcb.rxSize;
  tcb.rxStart = 0; tcb.rxCount = 0; tcb.txStart = 0; tcb.txCount = 0;
}

/** Returns a large slot to the pool (the connection is gone). */
export function buffersRelease(tcb: Tcb): void {
  if (tcb.largeSlot >= 0) largeTaken[tcb.largeSlot] = 0;
  tcb.largeSlot = -1;
}

/**
 * Copies `n` bytes out of a ring (`size` bytes at `base`, starting `at` and wrapping) into `to[offset..]`:
 * at most two copies.
 */
function ringRead(base: u32, size: i32, at: i32, to: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyWithAddress(to, offset, base + u32(at), first, true);
  copyWithAddress(to, offset + first, base, n - first, true);
}

/** Copies `n` bytes of `from[offset..]` into a ring at `at`, wrapping (as ringRead). */
function ringWrite(base: u32, size: i32, at: i32, from: Uint8Array, offset: i32, n: i32): void {
  const first = n < size - at ? n : size - at;
  copyWithAddress(from, offset, base + u32(at), first, false);
  copyWithAddress(from, offset + first, base, n - first, false);
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
