// The control API's responses (guest-src/apps/control.ts): each worker builds its response's body in
// an area of its own (replyStart, then put*), then replySend writes the head (status line, Content-Type,
// Content-Length, Connection; RFC 9112 §4, §6) in front of it and sends both in one socketWrite. The
// body is JSON (put* write its pieces: numbers, addresses, and strings the API wrote itself, never a
// client's bytes) or, for a console, the bytes as they are (application/octet-stream). A body larger
// than the area is cut and answered 500 (every body the API makes is bounded below it: a page of VMs,
// a console's kept bytes).
import { i32, u32, u8, bool } from "dsl";
import { formatString, formatDecimal } from "../../../dsl/runtime/format.ts";
import { socketWrite } from "../../libos/sockets.ts";

/** Bytes of each worker's area: room for the head, then the body. */
const AREA_BYTES = 65536;
const HEAD_ROOM = 320;
const areas = new Uint8Array(2 * 65536);    // WORKERS (control.ts) areas
const head = new Uint8Array(320);           // HEAD_ROOM: a head is formatted here, then moved before the body

let bodyBase: i32 = 0;          // where the current body starts in `areas`
let bodyLength: i32 = 0;
let overflow = false;
let headLength: i32 = 0;
let toHead = false;

/** Starts the body of worker `worker`'s response (its area). */
export function replyStart(worker: i32): void {
  bodyBase = worker * AREA_BYTES + HEAD_ROOM;
  bodyLength = 0;
  overflow = false;
}

export function put(byte: u8): void {
  if (toHead) {
    if (headLength < HEAD_ROOM) { head[headLength] = byte; headLength++; }
    return;
  }
  if (bodyLength >= AREA_BYTES - HEAD_ROOM) { overflow = true; return; }
  areas[bodyBase + bodyLength] = byte;
  bodyLength++;
}

export function putString(s: string): void { formatString(put, s); }
export function putDecimal(x: u32): void { formatDecimal(put, x); }

/** An IPv4 address in network byte order (its bytes in memory a.b.c.d) as "a.b.c.d" (with the quotes). */
export function putIp(ip: u32): void {
  put(34);
  putDecimal(ip & 0xff); put(46); putDecimal((ip >>> 8) & 0xff); put(46);
  putDecimal((ip >>> 16) & 0xff); put(46); putDecimal(ip >>> 24);
  put(34);
}

/** The body's first byte's address, and the room left, for a body copied in whole (a console). */
export function replyBodyOffset(): i32 { return bodyBase; }
export function replyBodyRoom(): i32 { return AREA_BYTES - HEAD_ROOM; }
/** The body now holds `length` bytes put there directly (replyBodyOffset). */
export function replySetBodyLength(length: i32): void { bodyLength = length; }
export function replyArea(): Uint8Array { return areas; }

function reasonPhrase(status: i32): string {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 507: return "Insufficient Storage";
  }
  return "Internal Server Error";
}

/**
 * Sends the response whose body was built: `status` (500 instead when the body overflowed its area),
 * JSON or plain text, keep-alive or close. False when the connection is gone.
 */
export function replySend(socket: i32, status: i32, json: bool, keepAlive: bool): bool {
  let code = status;
  if (overflow) { code = 500; bodyLength = 0; }
  const base = bodyBase, length = bodyLength;
  toHead = true;
  headLength = 0;
  putString("HTTP/1.1 "); putDecimal(u32(code)); put(32); putString(reasonPhrase(code));
  putString("\r\nServer: denali-control\r\nContent-Type: ");
  putString(json ? "application/json" : "application/octet-stream");
  if (code === 401) putString("\r\nWWW-Authenticate: Denali-HMAC-SHA256");
  putString("\r\nContent-Length: "); putDecimal(u32(length));
  putString(keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  toHead = false;
  const start = base - headLength;
  for (let i = 0; i < headLength; i++) areas[start + i] = head[i];
  return socketWrite(socket, areas, start, headLength + length) >= 0;
}

/** An error: `{"error":"CODE","reason":"WHY"}` with `status`. */
export function replyError(socket: i32, worker: i32, status: i32, code: string, reason: string, keepAlive: bool): bool {
  replyStart(worker);
  putString("{\"error\":\""); putString(code); putString("\",\"reason\":\""); putString(reason); putString("\"}\n");
  return replySend(socket, status, true, keepAlive);
}
