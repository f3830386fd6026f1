// The control API's requests (guest-src/apps/control.ts; docs/control.md): an HTTP/1.1 request head
// (RFC 9112 §3, §5: request-line, field lines, CRLF) parsed into `request`, and its authentication.
// Fields the API reads: Content-Length (a body is read only with it: Transfer-Encoding is refused),
// Connection, X-Denali-Timestamp (a decimal u64: the client's clock in milliseconds) and
// X-Denali-Signature (64 hex digits): HMAC-SHA256 under the boot key over
//   METHOD "\n" TARGET "\n" TIMESTAMP "\n" BODY
// (TARGET as sent, query included; TIMESTAMP's digits as sent). A request is accepted only with a valid
// signature and a timestamp larger than every one accepted before (so a request replayed, or signed
// before a later one was accepted, is refused); the check happens before the request changes anything.
// Each worker thread has its own Request and MAC (they wait for the body in between); the last accepted
// timestamp is shared. Contract: parseHead never reads outside [base, base + end); a malformed head
// answers 400.
import { i32, u32, u8, bool, mulHigh } from "dsl";
import { HmacKey, Hmac, hmacKey, hmacStart, hmacAdd, hmacAddByte, hmacFinish, hmacEqual,
  HMAC_SHA256_BYTES } from "../../libos/hmac.ts";

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;
const COLON = 58;
const SLASH = 47;

const METHOD_OTHER = 0;
export const METHOD_GET = 1;
export const METHOD_POST = 2;
export const METHOD_DELETE = 3;

/** The parsed head (one worker parses at a time: threads switch only when they wait). */
export class Request {
  method: i32 = 0;
  methodStart: i32 = 0;        // offsets in the worker's buffer
  methodEnd: i32 = 0;
  targetStart: i32 = 0;
  targetEnd: i32 = 0;
  minorVersion: i32 = 0;
  connectionClose: bool = false;
  connectionKeepAlive: bool = false;
  contentLength: i32 = -1;     // -1: none
  transferEncoding: bool = false;
  timestampStart: i32 = 0;     // 0 when absent (an offset is never 0: the request line comes first)
  timestampEnd: i32 = 0;
  timestampHigh: u32 = 0;
  timestampLow: u32 = 0;
  signatureSeen: bool = false;
  signature = new Uint8Array(32);   // HMAC_SHA256_BYTES
  mac = new Hmac();                 // the MAC being computed over this request
}

export const STATUS_OK = 200;
const STATUS_BAD_REQUEST = 400;
/** Content-Length beyond this many decimal digits is refused (the API's bodies fit in an i32 anyway). */
const CONTENT_LENGTH_DIGITS = 9;
const TIMESTAMP_DIGITS = 19;

function lower(c: i32): i32 { return c >= 65 && c <= 90 ? c + 32 : c; }

/** buffer[at .. at + s.length) equals s, ASCII case-insensitively. */
export function matchesAt(buffer: Uint8Array, at: i32, end: i32, s: string): bool {
  if (end - at < s.length) return false;
  for (let i = 0; i < s.length; i++) if (lower(buffer[at + i]) !== lower(s.charCodeAt(i))) return false;
  return true;
}

/** Where the head ends (the index after CRLF CRLF, or after LF LF), or -1 when it has not all arrived. */
export function headEnd(buffer: Uint8Array, base: i32, length: i32): i32 {
  for (let i = 0; i + 1 < length; i++) {
    if (buffer[base + i] !== LF) continue;
    if (buffer[base + i + 1] === LF) return i + 2;
    if (i + 2 < length && buffer[base + i + 1] === CR && buffer[base + i + 2] === LF) return i + 3;
  }
  return -1;
}

/** RFC 9110 §5.6.2 tchar: visible ASCII but the delimiters. */
function isTokenChar(c: i32): bool {
  if (c <= 32 || c >= 127) return false;
  const delimiters = "\"(),/:;<=>?@[\\]{}";
  for (let i = 0; i < delimiters.length; i++) if (c === delimiters.charCodeAt(i)) return false;
  return true;
}

function hexValue(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  const l = lower(c);
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** X-Denali-Signature's value: exactly 64 hex digits; false otherwise. */
function parseSignature(request: Request, buffer: Uint8Array, start: i32, end: i32): bool {
  if (end - start !== HMAC_SHA256_BYTES * 2) return false;
  for (let i = 0; i < HMAC_SHA256_BYTES; i++) {
    const high = hexValue(buffer[start + 2 * i]), low = hexValue(buffer[start + 2 * i + 1]);
    if (high < 0 || low < 0) return false;
    request.signature[i] = (high << 4) | low;
  }
  return true;
}

/** X-Denali-Timestamp's value: 1..19 decimal digits, a u64 into timestampHigh:timestampLow; false otherwise. */
function parseTimestamp(request: Request, buffer: Uint8Array, start: i32, end: i32): bool {
  if (end === start || end - start > TIMESTAMP_DIGITS) return false;
  let high: u32 = 0, low: u32 = 0;
  for (let i = start; i < end; i++) {
    const digit = buffer[i] - 48;
    if (digit < 0 || digit > 9) return false;
    // (high, low) * 10 + digit: 19 digits stay below 2^64.
    const product = u32(Math.imul(low, 10));
    high = u32(Math.imul(high, 10)) + mulHigh(low, 10);
    low = product + u32(digit);
    if (low < product) high++;
  }
  request.timestampStart = start;
  request.timestampEnd = end;
  request.timestampHigh = high;
  request.timestampLow = low;
  return true;
}

/** buffer[start .. end) is exactly `s` (methods are case-sensitive: RFC 9110 §9.1). */
function exactly(buffer: Uint8Array, start: i32, end: i32, s: string): bool {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (buffer[start + i] !== s.charCodeAt(i)) return false;
  return true;
}

function methodOf(buffer: Uint8Array, start: i32, end: i32): i32 {
  if (exactly(buffer, start, end, "GET")) return METHOD_GET;
  if (exactly(buffer, start, end, "POST")) return METHOD_POST;
  if (exactly(buffer, start, end, "DELETE")) return METHOD_DELETE;
  return METHOD_OTHER;
}

/** One field line's name and value: what the API reads of it. False: malformed. */
function headerField(r: Request, buffer: Uint8Array, nameStart: i32, nameEnd: i32, valueStart: i32,
  valueEnd: i32): bool {
  const length = nameEnd - nameStart;
  if (length === 10 && matchesAt(buffer, nameStart, nameEnd, "connection")) {
    for (let i = valueStart; i < valueEnd; i++) {
      if (matchesAt(buffer, i, valueEnd, "close")) r.connectionClose = true;
      if (matchesAt(buffer, i, valueEnd, "keep-alive")) r.connectionKeepAlive = true;
    }
  } else if (length === 14 && matchesAt(buffer, nameStart, nameEnd, "content-length")) {
    if (r.contentLength >= 0 || valueStart === valueEnd || valueEnd - valueStart > CONTENT_LENGTH_DIGITS) return false;
    let value = 0;
    for (let i = valueStart; i < valueEnd; i++) {
      if (buffer[i] < 48 || buffer[i] > 57) return false;
      value = value * 10 + buffer[i] - 48;
    }
    r.contentLength = value;
  } else if (length === 17 && matchesAt(buffer, nameStart, nameEnd, "transfer-encoding")) {
    r.transferEncoding = true;
  } else if (length === 18 && matchesAt(buffer, nameStart, nameEnd, "x-denali-timestamp")) {
    if (r.timestampStart !== 0 || !parseTimestamp(r, buffer, valueStart, valueEnd)) return false;
  } else if (length === 18 && matchesAt(buffer, nameStart, nameEnd, "x-denali-signature")) {
    if (r.signatureSeen || !parseSignature(r, buffer, valueStart, valueEnd)) return false;
    r.signatureSeen = true;
  }
  return true;
}

/** Parses the head at buffer[base .. base + end) into `r`: STATUS_OK, or STATUS_BAD_REQUEST. */
export function parseHead(r: Request, buffer: Uint8Array, base: i32, end: i32): i32 {
  r.connectionClose = false; r.connectionKeepAlive = false; r.contentLength = -1; r.transferEncoding = false;
  r.timestampStart = 0; r.signatureSeen = false;
  let at = base;
  const limit = base + end;
  // request-line = method SP request-target SP HTTP-version CRLF
  r.methodStart = at;
  while (at < limit && isTokenChar(buffer[at])) at++;
  if (at === r.methodStart || at >= limit || buffer[at] !== SPACE) return STATUS_BAD_REQUEST;
  r.methodEnd = at;
  r.method = methodOf(buffer, r.methodStart, at);
  at++;
  r.targetStart = at;
  while (at < limit && buffer[at] > 32 && buffer[at] < 127) at++;
  if (at === r.targetStart || at >= limit || buffer[at] !== SPACE) return STATUS_BAD_REQUEST;
  if (buffer[r.targetStart] !== SLASH) return STATUS_BAD_REQUEST;             // origin-form only
  r.targetEnd = at;
  at++;
  if (!matchesAt(buffer, at, limit, "HTTP/1.")) return STATUS_BAD_REQUEST;
  at += 7;
  if (at >= limit || buffer[at] < 48 || buffer[at] > 57) return STATUS_BAD_REQUEST;
  r.minorVersion = buffer[at] - 48;
  at++;
  if (at < limit && buffer[at] === CR) at++;
  if (at >= limit || buffer[at] !== LF) return STATUS_BAD_REQUEST;
  at++;
  // field-line = field-name ":" OWS field-value OWS CRLF, until the empty line
  while (at < limit) {
    if (buffer[at] === LF || (buffer[at] === CR && at + 1 < limit && buffer[at + 1] === LF)) break;
    const nameStart = at;
    while (at < limit && isTokenChar(buffer[at])) at++;
    if (at === nameStart || at >= limit || buffer[at] !== COLON) return STATUS_BAD_REQUEST;
    const nameEnd = at;
    at++;
    while (at < limit && (buffer[at] === SPACE || buffer[at] === TAB)) at++;
    const valueStart = at;
    while (at < limit && buffer[at] !== CR && buffer[at] !== LF) {
      if (buffer[at] < 32 && buffer[at] !== TAB) return STATUS_BAD_REQUEST;
      at++;
    }
    let valueEnd = at;
    while (valueEnd > valueStart && (buffer[valueEnd - 1] === SPACE || buffer[valueEnd - 1] === TAB)) valueEnd--;
    if (at < limit && buffer[at] === CR) at++;
    if (at >= limit || buffer[at] !== LF) return STATUS_BAD_REQUEST;
    at++;
    if (!headerField(r, buffer, nameStart, nameEnd, valueStart, valueEnd)) return STATUS_BAD_REQUEST;
  }
  return STATUS_OK;
}

// ---- authentication -----------------------------------------------------------------------------------------

const key = new HmacKey();
const computed = new Uint8Array(32);   // HMAC_SHA256_BYTES
const received = new Uint8Array(32);
let keyed = false;
let lastHigh: u32 = 0;
let lastLow: u32 = 0;

/** The boot key: `length` bytes at key[offset] (none: every request is refused). */
export function authKey(bytes: Uint8Array, offset: i32, length: i32): void {
  keyed = length > 0;
  hmacKey(key, bytes, offset, length);
}

/** Starts the MAC of the parsed request: method, target and timestamp, each followed by "\n". */
export function authStart(r: Request, buffer: Uint8Array): void {
  const m = r.mac;
  hmacStart(m, key);
  hmacAdd(m, buffer, r.methodStart, r.methodEnd - r.methodStart);
  hmacAddByte(m, u8(LF));
  hmacAdd(m, buffer, r.targetStart, r.targetEnd - r.targetStart);
  hmacAddByte(m, u8(LF));
  hmacAdd(m, buffer, r.timestampStart, r.timestampEnd - r.timestampStart);
  hmacAddByte(m, u8(LF));
}

/** Adds body bytes to the request's MAC (in the order they arrive). */
export function authBody(r: Request, bytes: Uint8Array, offset: i32, length: i32): void { hmacAdd(r.mac, bytes,
  offset, length); }

/** Why a request is refused (AUTH_OK: it is not). */
export const AUTH_OK = 0;
export const AUTH_BAD_SIGNATURE = 2;
const AUTH_REPLAYED = 3;

/** True when the parsed request carries both fields and the VM has a key (else 401 before its body is read). */
export function authPresent(r: Request): bool { return keyed && r.timestampStart !== 0 && r.signatureSeen; }

/**
 * Ends the MAC and checks it and the timestamp; AUTH_OK accepts the request (its timestamp is the
 * latest accepted from now on), anything else refuses it and changes nothing.
 */
export function authFinish(r: Request): i32 {
  hmacFinish(r.mac, computed, 0);
  for (let i = 0; i < HMAC_SHA256_BYTES; i++) received[i] = r.signature[i];
  if (!hmacEqual(computed, 0, received, 0, HMAC_SHA256_BYTES)) return AUTH_BAD_SIGNATURE;
  if (r.timestampHigh < lastHigh || (r.timestampHigh === lastHigh && r.timestampLow <= lastLow)) return AUTH_REPLAYED;
  lastHigh = r.timestampHigh;
  lastLow = r.timestampLow;
  return AUTH_OK;
}
