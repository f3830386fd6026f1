// httpd: an HTTP/1.1 web server VM (issue 5 item 5; RFC 9112 message syntax, RFC 9110 semantics),
// on the libos threads and sockets. Contract (tests, benchmarks and `make run` rely on it):
// - listens on TCP port 80 (or the manifest's argument's low 16 bits when they are not 0) and prints
//   `vm N httpd on port P` once it does;
// - GET (and HEAD) of `/` or `/index.html` answers 200 with a 2,048-byte HTML page naming the VM:
//   `<h1>Denali VM N</h1>`; GET of `/stats` answers 200 text/plain, one line of the TCP's figures:
//   `connections L most M rings R ringsMost P cookies S ok O bad B nomem N` (connections now and at most,
//   receive and send rings held now and at most, SYN cookies sent, accepted, refused, segments dropped for
//   want of a ring); any other path answers 404; other methods 405 (with Allow);
// - a request that is not HTTP/1.x syntax answers 400 and closes; a request head over 4,096 bytes
//   answers 431 and closes (bounded header sizes);
// - keep-alive: HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes unless
//   `Connection: keep-alive`; pipelined requests are answered in order; an idle connection is
//   closed after 10 s (or the argument's high 16 bits, in seconds, when not 0; at most 2,000). Requests with a body
//   (Content-Length > 0 or Transfer-Encoding) are answered and the connection closed (the body is not read).
// The listener defers accepts (sockets.ts socketDeferAccept): a client's handshake ACK does not wake the VM, its
// request does. Connections are as many as the VM's memory holds (libos tcp-table.ts: 300 and more in 1 MiB),
// served by up to WORKERS worker threads, two at the start and more as they are needed: one spare always waits in
// socketAccept (an accepted connection wakes one worker: libos threads.ts threadWakeOne), so a VM that serves one
// connection at a time touches one worker's stack and buffers: the pages swapping brings back with it (its working
// set). A worker holds a connection only while a whole request head is there to answer: it peeks at what
// arrived (socketPeek; the head stays in the TCP's receive ring until it is complete, so HEAD_LIMIT is that
// ring's size), answers every whole request, then parks the connection (sockets.ts socketPark: it comes
// back through socketAccept when more arrives) and takes the next; a worker about to wait closes the parked
// connections idle for 10 s, and waits no longer than the next one's 10 s (worker). Profiled (`-append
// profile`): serving a connection is the `app` category, each response one request.
// Memory: give the group `"memoryKiB": 1024`: the image, its WORKERS thread stacks of 16 KiB (touched pages
// only), then the TCP's connections and rings in the rest.
import { i32, u32, u8, bool, write, print } from "dsl";
import { formatString, formatDecimal } from "../../dsl/runtime/format.ts";
import { bootInit, argument, vmId } from "../runtime/boot.ts";
import { enableInterrupts } from "../runtime/events.ts";
import { profileEnter, profileLeave, profileRequest } from "../runtime/profile.ts";
import { PROFILE_GUEST_APP } from "../../abi/boot.ts";
import { stackInitFromBoot } from "../libos/stack.ts";
import { connectionsLive, connectionsMost } from "../libos/tcp-table.ts";
import { ringsInUse, ringsMost } from "../libos/tcp-buffers.ts";
import {
  netStats, STAT_TCP_COOKIE_SENT, STAT_TCP_COOKIE_OK, STAT_TCP_COOKIE_BAD, STAT_TCP_NO_MEMORY,
} from "../libos/netif.ts";
import { threadsInit, threadCreate, threadsRun } from "../libos/threads.ts";
import {
  socketListen, socketDeferAccept, socketAccept, socketPeek, socketPeerClosed, socketSkip, socketWrite, socketClose,
  socketPark, socketSweepIdle, SOCKET_TIMEOUT,
} from "../libos/sockets.ts";

const DEFAULT_PORT = 80;
const WORKERS = 8;
/** Connections half-open (SYN cookies past them); four times as many accepted but not yet taken by a worker. */
const BACKLOG = 256;

/** The most a request head (request line and header fields) may take. */
const HEAD_LIMIT = 4096;
const PAGE_BYTES = 2048;
const IDLE_TIMEOUT_US: u32 = 10000000;
/**
 * The longest idle timeout the argument may ask for, in seconds: a thread's deadline must be less than 2^31
 * microseconds ahead (2,147 s; libos threads.ts compares the clock's u32 microseconds as i32 differences).
 */
const IDLE_TIMEOUT_MAX_S: u32 = 2000;
/** The idle timeout in force: IDLE_TIMEOUT_US, or the argument's (guestMain). */
let idleTimeoutUs: u32 = IDLE_TIMEOUT_US;

// What every request touches lies together, for a VM's working set (the pages a swap-in brings back): the
// linker places data smallest first, so after the small data and the network's frames come the keep-alive
// answer, then worker 0's request buffer (the worker that serves one connection at a time), then what errors,
// the close answer and the other workers use. Each array's size puts it there (a working set of 8 pages).
/**
 * The answer to a GET of the page with keep-alive, whole (head and page, one socketWrite: the head does not go
 * in a segment of its own), built once; `replies` holds the one with `Connection: close`.
 */
const RESPONSE_BYTES = 2432;                  // HEAD_BYTES + PAGE_BYTES
const keepAliveResponse = new Uint8Array(2432);   // RESPONSE_BYTES
/** Request buffers, HEAD_LIMIT bytes each: worker 0's, and the others' (worker w's at (w - 1) * HEAD_LIMIT). */
const firstBuffer = new Uint8Array(4096);     // HEAD_LIMIT
const buffers = new Uint8Array(7 * 4096);     // (WORKERS - 1) * HEAD_LIMIT
/**
 * One reply buffer per worker (a head, or an error's head and body: HEAD_BYTES at worker * HEAD_BYTES), then
 * the whole answer with `Connection: close` at CLOSE_AT.
 */
const HEAD_BYTES = 384;
const CLOSE_AT = 3072;                        // WORKERS * HEAD_BYTES
const replies = new Uint8Array(3072 + 2432);  // CLOSE_AT + RESPONSE_BYTES
const responseLengths = new Int32Array(2);
let listener: i32 = 0;
let served: u32 = 0;

const CR = 13;
const LF = 10;
const SPACE = 32;
const COLON = 58;

// ---- the page ---------------------------------------------------------------------------------------------

// One writer for the answers and the heads: bytes go to one of the arrays below at outBase + outLength,
// up to outLimit (the shared formatter, dsl/runtime/format.ts, turns strings and numbers into bytes).
const TO_REPLIES = 0;
const TO_KEEP_ALIVE = 1;
const TO_STATS = 2;
/** The body of a `/stats` answer, formatted before its head (which gives its length). */
const STATS_BYTES = 224;
const statsBody = new Uint8Array(224);       // STATS_BYTES
let outTo = TO_REPLIES;
let outBase: i32 = 0;
let outLength: i32 = 0;
let outLimit: i32 = 0;
function startOutput(to: i32, base: i32, limit: i32): void {
  outTo = to; outBase = base; outLength = 0; outLimit = limit;
}
function putByte(byte: u8): void {
  if (outLength >= outLimit) return;
  if (outTo === TO_REPLIES) replies[outBase + outLength] = byte;
  else if (outTo === TO_KEEP_ALIVE) keepAliveResponse[outBase + outLength] = byte;
  else statsBody[outBase + outLength] = byte;
  outLength++;
}

/** Writes the 2,048-byte page: HTML naming the VM, padded with a comment to exactly PAGE_BYTES. */
function writePage(id: u32): void {
  const start = outLength;
  formatString(putByte, "<!DOCTYPE html>\n<html><head><title>Denali VM ");
  formatDecimal(putByte, id);
  formatString(putByte, "</title></head>\n<body><h1>Denali VM ");
  formatDecimal(putByte, id);
  formatString(putByte, "</h1>\n<p>Served by httpd in virtual machine ");
  formatDecimal(putByte, id);
  formatString(putByte, " of the Denali/TS isolation kernel.</p>\n<!--");
  const tail = "--></body></html>\n";
  while (outLength - start < PAGE_BYTES - tail.length) putByte(u8((outLength - start) % 64 === 63 ? LF : 46));
  formatString(putByte, tail);
}

// ---- parsing ----------------------------------------------------------------------------------------------

function lower(c: i32): i32 { return c >= 65 && c <= 90 ? c + 32 : c; }

/** buffer[at .. at + s.length) equals s, ASCII case-insensitively. */
function matchesAt(buffer: Uint8Array, at: i32, end: i32, s: string): bool {
  if (end - at < s.length) return false;
  for (let i = 0; i < s.length; i++) if (lower(buffer[at + i]) !== lower(s.charCodeAt(i))) return false;
  return true;
}

/** Where the head ends (the index after CRLF CRLF, or after LF LF), or -1 when it has not all arrived. */
function headEnd(buffer: Uint8Array, base: i32, length: i32): i32 {
  for (let i = 0; i + 1 < length; i++) {
    if (buffer[base + i] !== LF) continue;
    if (buffer[base + i + 1] === LF) return i + 2;
    if (i + 2 < length && buffer[base + i + 1] === CR && buffer[base + i + 2] === LF) return i + 3;
  }
  return -1;
}

function isTokenChar(c: i32): bool {
  // RFC 9110 §5.6.2 tchar: visible ASCII except delimiters
  if (c <= 32 || c >= 127) return false;
  return c !== 34 && c !== 40 && c !== 41 && c !== 44 && c !== 47 && c !== 58 && c !== 59 && c !== 60 && c !== 61 && c !== 62 && c !== 63 && c !== 64 && c !== 91 && c !== 92 && c !== 93 && c !== 123 && c !== 125;
}

// The parsed request (one worker parses at a time: threads switch only when they wait).
let methodGet = false;
let methodHead = false;
let pathIndex = false;
let pathStats = false;
let minorVersion: i32 = 0;
let connectionClose = false;
let connectionKeepAlive = false;
let hasBody = false;

const STATUS_OK = 200;
const STATUS_BAD_REQUEST = 400;

/** Parses the head at buffer[base .. base + end); 200 (well formed: see the flags) or 400. */
function parseHead(buffer: Uint8Array, base: i32, end: i32): i32 {
  methodGet = false; methodHead = false; pathIndex = false; connectionClose = false; connectionKeepAlive = false; hasBody = false;
  let at = base;
  const limit = base + end;
  // request-line = method SP request-target SP HTTP-version CRLF
  const methodStart = at;
  while (at < limit && isTokenChar(buffer[at])) at++;
  if (at === methodStart || at >= limit || buffer[at] !== SPACE) return STATUS_BAD_REQUEST;
  const methodLength = at - methodStart;
  methodGet = methodLength === 3 && buffer[methodStart] === 71 && buffer[methodStart + 1] === 69 && buffer[methodStart + 2] === 84;                 // GET
  methodHead = methodLength === 4 && buffer[methodStart] === 72 && buffer[methodStart + 1] === 69 && buffer[methodStart + 2] === 65 && buffer[methodStart + 3] === 68;   // HEAD
  at++;
  const targetStart = at;
  while (at < limit && buffer[at] > 32 && buffer[at] < 127) at++;
  if (at === targetStart || at >= limit || buffer[at] !== SPACE) return STATUS_BAD_REQUEST;
  let targetEnd = at;
  for (let i = targetStart; i < at; i++) if (buffer[i] === 63) { targetEnd = i; break; }   // the query is ignored
  const targetLength = targetEnd - targetStart;
  if (buffer[targetStart] !== 47 && !(targetLength === 1 && buffer[targetStart] === 42)) return STATUS_BAD_REQUEST;      // origin-form (or * for OPTIONS)
  pathIndex = targetLength === 1 || (targetLength === 11 && matchesAt(buffer, targetStart, targetEnd, "/index.html"));
  if (buffer[targetStart] !== 47) pathIndex = false;
  pathStats = targetLength === 6 && matchesAt(buffer, targetStart, targetEnd, "/stats");
  at++;
  if (!matchesAt(buffer, at, limit, "HTTP/1.")) return STATUS_BAD_REQUEST;
  at += 7;
  if (at >= limit || buffer[at] < 48 || buffer[at] > 57) return STATUS_BAD_REQUEST;
  minorVersion = buffer[at] - 48;
  at++;
  if (at < limit && buffer[at] === CR) at++;
  if (at >= limit || buffer[at] !== LF) return STATUS_BAD_REQUEST;
  at++;
  // field-line = field-name ":" OWS field-value OWS CRLF, until the empty line
  while (at < limit) {
    if (buffer[at] === LF) break;
    if (buffer[at] === CR && at + 1 < limit && buffer[at + 1] === LF) break;
    const nameStart = at;
    while (at < limit && isTokenChar(buffer[at])) at++;
    if (at === nameStart || at >= limit || buffer[at] !== COLON) return STATUS_BAD_REQUEST;   // no space before ':' (§5.1)
    const nameEnd = at;
    at++;
    while (at < limit && (buffer[at] === SPACE || buffer[at] === 9)) at++;
    const valueStart = at;
    while (at < limit && buffer[at] !== CR && buffer[at] !== LF) {
      if (buffer[at] < 32 && buffer[at] !== 9) return STATUS_BAD_REQUEST;
      at++;
    }
    let valueEnd = at;
    while (valueEnd > valueStart && (buffer[valueEnd - 1] === SPACE || buffer[valueEnd - 1] === 9)) valueEnd--;
    if (at < limit && buffer[at] === CR) at++;
    if (at >= limit || buffer[at] !== LF) return STATUS_BAD_REQUEST;
    at++;
    const nameLength = nameEnd - nameStart;
    if (nameLength === 10 && matchesAt(buffer, nameStart, nameEnd, "connection")) {
      for (let i = valueStart; i < valueEnd; i++) {
        if (matchesAt(buffer, i, valueEnd, "close")) connectionClose = true;
        if (matchesAt(buffer, i, valueEnd, "keep-alive")) connectionKeepAlive = true;
      }
    } else if (nameLength === 14 && matchesAt(buffer, nameStart, nameEnd, "content-length")) {
      for (let i = valueStart; i < valueEnd; i++) {
        if (buffer[i] < 48 || buffer[i] > 57) return STATUS_BAD_REQUEST;
        if (buffer[i] !== 48) hasBody = true;
      }
      if (valueStart === valueEnd) return STATUS_BAD_REQUEST;
    } else if (nameLength === 17 && matchesAt(buffer, nameStart, nameEnd, "transfer-encoding")) {
      hasBody = true;
    }
  }
  return STATUS_OK;
}

// ---- responses --------------------------------------------------------------------------------------------

const notFound = "<html><body><h1>404 Not Found</h1></body></html>\n";
const badRequest = "<html><body><h1>400 Bad Request</h1></body></html>\n";
const tooLarge = "<html><body><h1>431 Request Header Fields Too Large</h1></body></html>\n";
const notAllowed = "<html><body><h1>405 Method Not Allowed</h1></body></html>\n";

/** Formats the head of a response through putByte (after startOutput); returns an error's short body. */
function writeHead(status: i32, keepAlive: bool): string {
  let body = "";
  if (status === 200) formatString(putByte, "HTTP/1.1 200 OK\r\n");
  else if (status === 404) { formatString(putByte, "HTTP/1.1 404 Not Found\r\n"); body = notFound; }
  else if (status === 405) { formatString(putByte, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"); body = notAllowed; }
  else if (status === 431) { formatString(putByte, "HTTP/1.1 431 Request Header Fields Too Large\r\n"); body = tooLarge; }
  else { formatString(putByte, "HTTP/1.1 400 Bad Request\r\n"); body = badRequest; }
  formatString(putByte, "Server: denali-httpd\r\nContent-Type: text/html\r\nContent-Length: ");
  formatDecimal(putByte, status === 200 ? u32(PAGE_BYTES) : u32(body.length));
  formatString(putByte, keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  return body;
}

/** The whole answers to a GET of the page, head and page: keep-alive (responseLengths[0]) and close ([1]). */
function buildResponses(id: u32): void {
  startOutput(TO_KEEP_ALIVE, 0, RESPONSE_BYTES);
  writeHead(200, true);
  writePage(id);
  responseLengths[0] = outLength;
  startOutput(TO_REPLIES, CLOSE_AT, RESPONSE_BYTES);
  writeHead(200, false);
  writePage(id);
  responseLengths[1] = outLength;
}

/** Sends a response; false when the connection is gone. */
function respond(socket: i32, worker: i32, status: i32, keepAlive: bool, withBody: bool): bool {
  if (status === 200 && withBody) {
    if (keepAlive) return socketWrite(socket, keepAliveResponse, 0, responseLengths[0]) >= 0;
    return socketWrite(socket, replies, CLOSE_AT, responseLengths[1]) >= 0;
  }
  startOutput(TO_REPLIES, worker * HEAD_BYTES, HEAD_BYTES);
  const body = writeHead(status, keepAlive);
  if (withBody) formatString(putByte, body);          // an error's short body follows its head in one write
  return socketWrite(socket, replies, outBase, outLength) >= 0;
}

function statsField(name: string, value: u32): void {
  formatString(putByte, name);
  formatDecimal(putByte, value);
}

/** Answers GET /stats: the TCP's figures, one line of text/plain. */
function respondStats(socket: i32, worker: i32, keepAlive: bool): bool {
  startOutput(TO_STATS, 0, STATS_BYTES);
  statsField("connections ", u32(connectionsLive())); statsField(" most ", u32(connectionsMost()));
  statsField(" rings ", u32(ringsInUse())); statsField(" ringsMost ", u32(ringsMost()));
  statsField(" cookies ", netStats[STAT_TCP_COOKIE_SENT]); statsField(" ok ", netStats[STAT_TCP_COOKIE_OK]);
  statsField(" bad ", netStats[STAT_TCP_COOKIE_BAD]); statsField(" nomem ", netStats[STAT_TCP_NO_MEMORY]);
  putByte(u8(LF));
  const length = outLength;
  startOutput(TO_REPLIES, worker * HEAD_BYTES, HEAD_BYTES);
  formatString(putByte, "HTTP/1.1 200 OK\r\nServer: denali-httpd\r\nContent-Type: text/plain\r\nContent-Length: ");
  formatDecimal(putByte, u32(length));
  formatString(putByte, keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  for (let i = 0; i < length; i++) putByte(statsBody[i]);
  return socketWrite(socket, replies, outBase, outLength) >= 0;
}

/**
 * Answers every whole request that has arrived on a connection; true when it is to be parked (kept alive,
 * waiting for more), false when it is to be closed (asked to, an error, its peer closed, or gone).
 */
function serve(socket: i32, worker: i32): bool {
  const buffer = worker === 0 ? firstBuffer : buffers;
  const base = worker === 0 ? 0 : (worker - 1) * HEAD_LIMIT;
  while (true) {
    const length = socketPeek(socket, buffer, base, HEAD_LIMIT);
    if (length < 0) return false;                         // gone
    const end = headEnd(buffer, base, length);
    if (end < 0) {
      if (length === HEAD_LIMIT) { respond(socket, worker, 431, false, true); return false; }
      return !socketPeerClosed(socket);                  // wait for the rest, unless none will come
    }
    socketSkip(socket, end);                             // take the head (its peeked bytes are in the buffer)
    const status = parseHead(buffer, base, end);
    if (status !== STATUS_OK) { respond(socket, worker, STATUS_BAD_REQUEST, false, true); return false; }
    const keepAlive = !connectionClose && !hasBody && (minorVersion >= 1 || connectionKeepAlive);
    let code = 200;
    if (!methodGet && !methodHead) code = 405;
    else if (!pathIndex && !(pathStats && methodGet)) code = 404;
    const sent = pathStats && code === 200 ? respondStats(socket, worker, keepAlive)
      : respond(socket, worker, code, keepAlive, !methodHead);
    if (!sent) return false;
    served++;
    profileRequest();
    if (!keepAlive) return false;
    // pipelining: what follows this head is the next request
  }
}

/** Workers started (0..WORKERS; each has its index's buffers) and those waiting in socketAccept. */
let workers: u32 = 0;
let idleWorkers: u32 = 0;

function startWorker(): bool {
  if (threadCreate(worker, workers) < 0) return false;
  workers++;
  return true;
}

/**
 * A worker: serves the connections socketAccept gives it. Before each wait it closes the parked connections
 * idle for idleTimeoutUs once one may be (socketSweepIdle); worker 0, the one socketAccept wakes first, waits
 * no longer than until the next one may be (no timer while none is parked), the others without a timer: a
 * spare's stale deadline would wake an idle VM, or read it back from the swap disk, to find nothing to close.
 * The idle sweep needs no thread of its own, whose stack would be one page more in every residency's working
 * set (it ran at each park and unpark, twice a request). While worker 0 is busy (a long write), sweeps wait
 * for a worker to come back to socketAccept.
 */
function worker(index: u32): void {
  while (true) {
    idleWorkers++;
    const next = socketSweepIdle(idleTimeoutUs);
    const socket = socketAccept(listener, index === 0 ? next : 0);
    idleWorkers--;
    if (socket === SOCKET_TIMEOUT) continue;                   // a connection's idle time is up: sweep
    if (idleWorkers === 0 && workers < WORKERS) startWorker();   // a spare waits for the next connection
    const category = profileEnter(PROFILE_GUEST_APP);     // the profile's `app` (runtime/profile.ts)
    const keep = serve(socket, i32(index));
    profileLeave(category);
    if (keep) socketPark(socket); else socketClose(socket);
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  buildResponses(vmId());
  const asked = u32(argument() & 0xffff), idleSeconds = argument() >>> 16;
  const port = asked === 0 ? DEFAULT_PORT : i32(asked);
  const seconds = idleSeconds < IDLE_TIMEOUT_MAX_S ? idleSeconds : IDLE_TIMEOUT_MAX_S;
  if (seconds !== 0) idleTimeoutUs = seconds * 1000000;
  listener = socketListen(port, BACKLOG);
  if (listener < 0) { print("httpd: cannot listen"); return; }
  socketDeferAccept(listener);             // a client speaks first: wake for its request, not its handshake's ACK
  // The first worker and its spare start with the VM: a spare started at the first request would touch its stack
  // in that residency, one page more in the working set a VM written out after it comes back with.
  if (!startWorker() || !startWorker()) { print("httpd: cannot start its workers"); return; }
  write("vm "); write(vmId()); write(" httpd on port "); print(port);
  threadsRun();
}
