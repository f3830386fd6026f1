// Contract: the TCP's memory: the connection table's pages and the send and receive rings, all in the VM's
// memory above the image (linkerAddress("imageEnd") up to the boot page, the VM's last page), so a VM's
// connections are limited by its memory, not by a constant. That region is cut into pages of PAGE_SIZE
// (4 KiB), taken from the bottom up and given back to a free list:
// - the connection table (tcp-table.ts) takes a page for every TCBS_PER_PAGE connections it carves (and one
//   for each directory of them), never given back (its TCBs are reused), and only while RING_RESERVE pages
//   would be left for rings: a connection costs its TCB (sizeOf(Tcb)) and nothing else while idle;
// - a small ring (TCP_SMALL_BUFFER = a page, the window of a request/response service) is taken when a
//   connection first holds data one way (a segment's text arrives, the application writes) and given back
//   once that direction is empty again (everything read; everything acknowledged), so an idle connection
//   holds no ring. A receive ring starts as a chunk of RX_CHUNK bytes when the first text fits in one: a
//   request waiting for a server thread takes a 256-byte chunk, not a page; more text moves it into a page
//   (grown: its bytes copied, the chunk given back). The window we advertise is TCP_SMALL_BUFFER all the
//   same (Tcb.rxCap is the ring's true size). A chunk page holds CHUNKS_PER_PAGE - 1 chunks after its header
//   (its free chunks and how many are taken); the pages with a free chunk are listed, and a page whose
//   chunks are all free again goes back to the pages: a burst of requests does not keep its pages as chunks;
// - the receive side (chunk pages, receive rings) leaves SEND_RESERVE pages to the send rings, so a reply can
//   always be queued once an earlier one is acknowledged (its page back), however many requests wait: text
//   that finds no page is dropped, and sent again by its peer. (Receive chunks once took every page a burst
//   of 1,000 requests left, for good: no reply could be queued, and the VM answered nothing more.)
// A listener or an active open that asks for large buffers gets one of the large slots while one is free
// (else small rings): the first such request carves, from the top of the region, up to TCP_LARGE_SLOTS
// slots, each way the largest power of two from TCP_LARGE_BUFFER_MIN to TCP_LARGE_BUFFER_MAX that lets them
// all fit in the room left but TABLE_RESERVE (fewer slots of the minimum when even that does not; none
// without room for one). The echo app gets 4 x 64 KiB each way in 1 MiB, 4 x 256 KiB from 3 MiB: windows
// past 64 KiB need RFC 7323's scaling (tcp-extensions.ts). A large slot stays with its connection until
// it is gone. When no ring can be had a segment's text is dropped (the peer sends it again:
// tcp-reassembly.ts) and a write waits (tcpWriteSpace is 0, the application hears WRITABLE once a ring is
// freed: ringsFreed).
// A ring's start goes back to 0 whenever it is empty (and, for the receive ring, no out-of-order data
// is held), so a connection touches only the pages its largest burst needs: pages never touched cost a
// VM nothing. Reads and writes go through bytes.ts copyWithAddress (the application's array
// bounds-checked, a word at a time).
//
// Owns Tcb.rxBase/rxSize/rxCap/txBase/txSize/largeSlot/rxStart/txStart; rxCount and txCount shrink here (taken,
// acknowledged) and grow in tcp.ts and tcp-reassembly.ts.
import { i32, u32, bool, linkerAddress, load32, store32, memoryFill, memoryCopy } from "dsl";
import { copyWithAddress } from "./bytes.ts";
import { memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { Tcb } from "./tcp-tcb.ts";

/** Receive (and send) buffer of a small ring, one page: the most we advertise as RCV.WND. */
const TCP_SMALL_BUFFER = 4096;
/** The bounds of a large slot's buffer each way (powers of two). */
const TCP_LARGE_BUFFER_MIN = 32768;
const TCP_LARGE_BUFFER_MAX = 262144;
const TCP_LARGE_SLOTS = 4;
/** A receive ring's first size: a chunk of a page. */
const RX_CHUNK = 256;
const CHUNKS_PER_PAGE = 16;
/** Pages the table leaves for rings: it never takes the last of the memory (nor the send rings' reserve). */
const RING_RESERVE = 8;
/** Pages the receive side leaves for the send rings. */
const SEND_RESERVE = 4;
/** A chunk page's header (its first chunk): next and previous page with a free chunk, free chunks, taken. */
const CHUNK_PAGE_NEXT: u32 = 0;
const CHUNK_PAGE_PREVIOUS: u32 = 4;
const CHUNK_PAGE_FREE: u32 = 8;
const CHUNK_PAGE_TAKEN: u32 = 12;
/** Room the large slots leave to the table and the small rings (a few dozen connections). */
const TABLE_RESERVE: u32 = 32768;

const largeTaken = new Uint8Array(TCP_LARGE_SLOTS);
/** The pages: from the image's end, carved up to pagesTop (at most pagesLimit), the freed ones listed. */
let pagesTop: u32 = 0;
let pagesLimit: u32 = 0;
/** Freed pages, a list through their first word (0 ends it), and how many. */
let freePages: u32 = 0;
let freeCount = 0;
/** Chunk pages with a free chunk, a list through their headers (0 ends it); a free chunk's first word links it. */
let chunkPages: u32 = 0;
/** Rings held now, and at most so far; pages the table holds (tcpMemory's figures). */
let ringsHeld = 0;
let ringsPeak = 0;
let tablePages = 0;
/** A ring was freed since ringsFreed() was last asked, and someone found none (tcp.ts tells the writers). */
let ringFreed = false;
let ringWanted = false;
/** The large slots: largeSlots of 2 * largeBuffer bytes from largeArea (carved by the first request). */
let largeArea: u32 = 0;
let largeBuffer = 0;
let largeSlots = 0;
let largeCarved = false;

/** Takes the memory above the image (after bootInit): no page carved, no large slots. */
export function buffersInit(): void {
  const start = linkerAddress("imageEnd");
  const end = memoryEnd() - PAGE_SIZE;
  pagesTop = start;
  pagesLimit = end > start ? end : start;
  freePages = 0; freeCount = 0; chunkPages = 0;
  ringsHeld = 0; ringsPeak = 0; tablePages = 0;
  ringFreed = false; ringWanted = false;
  largeArea = 0; largeBuffer = 0; largeSlots = 0; largeCarved = false;
  for (let i = 0; i < TCP_LARGE_SLOTS; i++) largeTaken[i] = 0;
}

/** Pages that could be taken now. */
function pagesLeft(): u32 { return u32(freeCount) + (pagesLimit - pagesTop) / PAGE_SIZE; }

/** A page's address, or 0 when none is left. */
function pageTake(): u32 {
  let page = freePages;
  if (page !== 0) { freePages = load32(page); freeCount--; return page; }
  if (pagesLimit - pagesTop < PAGE_SIZE) return 0;
  page = pagesTop;
  pagesTop += PAGE_SIZE;
  return page;
}

/** A zeroed page for the connection table (tcp-table.ts), while RING_RESERVE pages stay for rings; else 0. */
export function tablePage(): u32 {
  if (pagesLeft() <= u32(RING_RESERVE)) return 0;
  tablePages++;
  const page = pageTake();
  memoryFill(page, 0, PAGE_SIZE);   // a ring's page before: no stale socket flags in a new TCB
  return page;
}

/** Carves the large slots from the top of the room left (once: the first listener or open that asks). */
function carveLarge(): void {
  largeCarved = true;
  const room = pagesLimit - pagesTop > TABLE_RESERVE ? pagesLimit - pagesTop - TABLE_RESERVE : 0;
  let buffer = TCP_LARGE_BUFFER_MAX;
  while (buffer > TCP_LARGE_BUFFER_MIN && u32(2 * buffer * TCP_LARGE_SLOTS) > room) buffer = buffer / 2;
  const fit = room / u32(2 * buffer);
  largeSlots = fit < u32(TCP_LARGE_SLOTS) ? i32(fit) : TCP_LARGE_SLOTS;
  largeBuffer = buffer;
  pagesLimit -= u32(largeSlots * 2 * buffer);
  largeArea = pagesLimit;
}

/** A page for the receive side (a chunk page or a receive ring) while SEND_RESERVE pages stay; else 0. */
function receivePageTake(): u32 {
  return pagesLeft() > u32(SEND_RESERVE) ? pageTake() : 0;
}

function pageGive(page: u32): void {
  store32(page, freePages);
  freePages = page;
  freeCount++;
  if (ringWanted) ringFreed = true;
}

function ringCounted(): void {
  ringsHeld++;
  if (ringsHeld > ringsPeak) ringsPeak = ringsHeld;
}

/** A send ring's address, or 0 when no page is left (the writer waits for ringsFreed). */
function sendRingTake(): u32 {
  const ring = pageTake();
  if (ring === 0) { ringWanted = true; return 0; }
  ringCounted();
  return ring;
}

/** A receive ring's address (a page), or 0. */
function receiveRingTake(): u32 {
  const ring = receivePageTake();
  if (ring !== 0) ringCounted();
  return ring;
}

function ringGive(ring: u32): void {
  ringsHeld--;
  pageGive(ring);
}

function chunkPageLink(page: u32): void {
  store32(page + CHUNK_PAGE_NEXT, chunkPages);
  store32(page + CHUNK_PAGE_PREVIOUS, 0);
  if (chunkPages !== 0) store32(chunkPages + CHUNK_PAGE_PREVIOUS, page);
  chunkPages = page;
}

function chunkPageUnlink(page: u32): void {
  const next = load32(page + CHUNK_PAGE_NEXT);
  const previous = load32(page + CHUNK_PAGE_PREVIOUS);
  if (previous !== 0) store32(previous + CHUNK_PAGE_NEXT, next); else chunkPages = next;
  if (next !== 0) store32(next + CHUNK_PAGE_PREVIOUS, previous);
}

/** A receive chunk's address (from a listed chunk page, else a new one cut into chunks), or 0. */
function chunkTake(): u32 {
  let page = chunkPages;
  if (page === 0) {
    page = receivePageTake();
    if (page === 0) return 0;
    let free: u32 = 0;
    for (let i = CHUNKS_PER_PAGE - 1; i >= 1; i--) {
      const chunk = page + u32(i * RX_CHUNK);
      store32(chunk, free);
      free = chunk;
    }
    store32(page + CHUNK_PAGE_FREE, free);
    store32(page + CHUNK_PAGE_TAKEN, 0);
    chunkPageLink(page);
  }
  const chunk = load32(page + CHUNK_PAGE_FREE);
  store32(page + CHUNK_PAGE_FREE, load32(chunk));
  store32(page + CHUNK_PAGE_TAKEN, load32(page + CHUNK_PAGE_TAKEN) + 1);
  if (load32(page + CHUNK_PAGE_FREE) === 0) chunkPageUnlink(page);    // full
  ringCounted();
  return chunk;
}

/** Gives a chunk back to its page; a page with no chunk taken goes back to the pages. */
function chunkGive(chunk: u32): void {
  ringsHeld--;
  const page = chunk & ~u32(PAGE_SIZE - 1);
  const taken = load32(page + CHUNK_PAGE_TAKEN) - 1;
  const free = load32(page + CHUNK_PAGE_FREE);
  if (taken === 0) {
    if (free !== 0) chunkPageUnlink(page);
    pageGive(page);
    return;
  }
  if (free === 0) chunkPageLink(page);                                 // was full
  store32(chunk, free);
  store32(page + CHUNK_PAGE_FREE, chunk);
  store32(page + CHUNK_PAGE_TAKEN, taken);
}

/** Gives back a connection's receive ring: a chunk, or a page (a large slot's stays). */
function receiveRingGive(tcb: Tcb): void {
  if (tcb.rxCap === RX_CHUNK) chunkGive(tcb.rxBase); else ringGive(tcb.rxBase);
  tcb.rxBase = 0;
  tcb.rxCap = 0;
}

/** True (once) when a ring came free after one was wanted: tcp.ts then tells the connections waiting to write. */
export function ringsFreed(): bool {
  if (!ringFreed) return false;
  ringFreed = false;
  ringWanted = false;
  return true;
}

/** Small rings held now, at most so far, and the connection table's bytes (the stack's memory report). */
export function ringsInUse(): i32 { return ringsHeld; }
export function ringsMost(): i32 { return ringsPeak; }
export function tableBytes(): u32 { return u32(tablePages) * PAGE_SIZE; }

/**
 * A new connection's buffers: one of the large slots when `large` and one is free (its rings for its whole
 * life), else small rings of TCP_SMALL_BUFFER, none held until data needs one.
 */
export function buffersAssign(tcb: Tcb, large: bool): void {
  let slot = -1;
  if (large) {
    if (!largeCarved) carveLarge();
    for (let i = 0; i < largeSlots && slot < 0; i++) if (largeTaken[i] === 0) slot = i;
  }
  tcb.largeSlot = slot;
  if (slot >= 0) {
    largeTaken[slot] = 1;
    tcb.rxBase = largeArea + u32(slot * 2 * largeBuffer);
    tcb.rxSize = largeBuffer;
    tcb.rxCap = largeBuffer;
    tcb.txBase = tcb.rxBase + u32(largeBuffer);
  } else {
    tcb.rxBase = 0;
    tcb.rxSize = TCP_SMALL_BUFFER;
    tcb.rxCap = 0;
    tcb.txBase = 0;
  }
  tcb.txSize = tcb.rxSize;
  tcb.rxStart = 0; tcb.rxCount = 0; tcb.txStart = 0; tcb.txCount = 0;
}

/** Gives back what the connection holds: its large slot, or its small rings (the connection is gone). */
export function buffersRelease(tcb: Tcb): void {
  if (tcb.largeSlot >= 0) largeTaken[tcb.largeSlot] = 0;
  else {
    if (tcb.rxBase !== 0) receiveRingGive(tcb);
    if (tcb.txBase !== 0) ringGive(tcb.txBase);
  }
  tcb.largeSlot = -1;
  tcb.rxBase = 0;
  tcb.txBase = 0;
}

/**
 * The receive ring holds `need` bytes from its start (in-order data, and what lies ahead of it): taken now
 * (a chunk when `need` fits in one, else a page) or grown from a chunk into a page if need be; false when no
 * ring can be had.
 */
export function receiveRingReady(tcb: Tcb, need: i32): bool {
  if (tcb.rxBase !== 0 && need <= tcb.rxCap) return true;
  if (tcb.rxBase === 0) {
    tcb.rxBase = need <= RX_CHUNK ? chunkTake() : receiveRingTake();
    tcb.rxCap = tcb.rxBase === 0 ? 0 : need <= RX_CHUNK ? RX_CHUNK : TCP_SMALL_BUFFER;
    tcb.rxStart = 0;
    return tcb.rxBase !== 0;
  }
  if (tcb.rxCap !== RX_CHUNK) return false;            // a page or a large slot: the window bounds it
  const page = receiveRingTake();
  if (page === 0) return false;
  // The chunk's bytes in order from rxStart (in-order and held data keep their distance from it).
  const first = RX_CHUNK - tcb.rxStart;
  memoryCopy(page, tcb.rxBase + u32(tcb.rxStart), u32(first));
  memoryCopy(page + u32(first), tcb.rxBase, u32(tcb.rxStart));
  chunkGive(tcb.rxBase);
  tcb.rxBase = page;
  tcb.rxCap = TCP_SMALL_BUFFER;
  tcb.rxStart = 0;
  return true;
}

/** The send ring is there or could be taken: how much the application may write now. */
export function sendRoom(tcb: Tcb): i32 {
  if (tcb.txBase === 0 && pagesLeft() === 0) {
    ringWanted = true;
    return 0;
  }
  return tcb.txSize - tcb.txCount;
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

/**
 * Stores `n` received bytes `ahead` bytes past the in-order data (0: in order; more: out of order), into the
 * receive ring receiveRingReady made sure of.
 */
export function receiveStore(tcb: Tcb, ahead: i32, from: Uint8Array, offset: i32, n: i32): void {
  ringWrite(tcb.rxBase, tcb.rxCap, (tcb.rxStart + tcb.rxCount + ahead) % tcb.rxCap, from, offset, n);
}

/** Gives the receive ring back when it holds nothing (a small one: nothing in order, nothing held out of order). */
function receiveRingRelease(tcb: Tcb): void {
  if (tcb.largeSlot >= 0 || tcb.rxBase === 0 || tcb.rxCount !== 0 || tcb.oooCount !== 0) return;
  receiveRingGive(tcb);
  tcb.rxStart = 0;
}

/** Copies `n` (at most rxCount) in-order bytes, `skip` bytes in, for the application without taking them. */
export function receivePeek(tcb: Tcb, skip: i32, to: Uint8Array, offset: i32, n: i32): void {
  if (n <= 0) return;
  ringRead(tcb.rxBase, tcb.rxCap, (tcb.rxStart + skip) % tcb.rxCap, to, offset, n);
}

/** Takes `n` (at most rxCount) in-order bytes off the front for the application (receivePeek copies them). */
export function receiveTake(tcb: Tcb, n: i32): void {
  if (n <= 0) return;
  tcb.rxStart = (tcb.rxStart + n) % tcb.rxCap;
  tcb.rxCount -= n;
  if (tcb.rxCount === 0 && tcb.oooCount === 0) tcb.rxStart = 0;
  receiveRingRelease(tcb);
}

/** Queues `n` bytes to send after those queued (txCount is the caller's); false when no send ring can be had. */
export function sendQueue(tcb: Tcb, from: Uint8Array, offset: i32, n: i32): bool {
  if (tcb.txBase === 0) tcb.txBase = sendRingTake();
  if (tcb.txBase === 0) return false;
  if (tcb.txCount === 0) tcb.txStart = 0;
  ringWrite(tcb.txBase, tcb.txSize, (tcb.txStart + tcb.txCount) % tcb.txSize, from, offset, n);
  return true;
}

/** Copies `n` queued bytes starting `skip` bytes after SND.UNA into `to[offset..]` (a segment's data). */
export function sendPeek(tcb: Tcb, skip: i32, to: Uint8Array, offset: i32, n: i32): void {
  if (n <= 0) return;
  ringRead(tcb.txBase, tcb.txSize, (tcb.txStart + skip) % tcb.txSize, to, offset, n);
}

/** Drops `n` acknowledged bytes from the front of the send ring; an emptied small ring goes back. */
export function sendAcknowledged(tcb: Tcb, n: i32): void {
  if (n <= 0) return;
  tcb.txStart = (tcb.txStart + n) % tcb.txSize;
  tcb.txCount -= n;
  if (tcb.txCount !== 0) return;
  tcb.txStart = 0;
  if (tcb.largeSlot < 0 && tcb.txBase !== 0) { ringGive(tcb.txBase); tcb.txBase = 0; }
}
