// The bytecode verifier's string table (docs/bytecode.md "Section 1"): every name in a DNBC image is an
// index into it. Read once per image into fixed tables (where each string lies, its length and hash);
// each string must be valid UTF-8 (as the host decoder's TextDecoder demands) and stored once, so that
// two names are the same exactly when their indices are, and every later lookup is an index, not a
// byte comparison. The tables also record what each string names: a function (its index) or a data
// symbol, filled by the sections that define them.
// Bounds: at most STRING_LIMIT strings of at most STRING_BYTES_LIMIT bytes each; the duplicate search
// is a heapsort of the indices by (length, hash, bytes) that stops at the first equal pair: O(n log n)
// comparisons, each of at most STRING_BYTES_LIMIT bytes and in practice one (the hashes differ), whatever
// the strings are. Memory: the tables below, 15 bytes a string.
import { bool, i32, u32 } from "dsl";
import {
  ERROR_DUPLICATE_STRING, ERROR_STRING_INDEX, ERROR_STRING_LENGTH, ERROR_STRING_LIMIT, ERROR_TRUNCATED, ERROR_UTF8,
  fail, here, imageByte, readCount, readUnsigned, skipBytes, verifying, windowLeft,
} from "./bytecode-reader.ts";

/** Strings an image may hold (httpd, the largest guest, has 316). */
export const STRING_LIMIT = 4096;
/** Bytes of one string (names and source paths; the longest of the corpus has 67). */
export const STRING_BYTES_LIMIT = 1024;

const stringStart = new Uint32Array(STRING_LIMIT);   // offset of the bytes in the image
const stringLength = new Uint16Array(STRING_LIMIT);
const stringHash = new Uint32Array(STRING_LIMIT);    // FNV-1a of the bytes
const order = new Uint16Array(STRING_LIMIT);         // string indices, sorted to find duplicates
const stringFunction = new Uint16Array(STRING_LIMIT); // 1 + index of the function of this name, or 0
const stringData = new Uint8Array(STRING_LIMIT);      // 1 when a data symbol has this name
let stringTotal: u32 = 0;

const FNV_OFFSET_BASIS: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

/** Reads section 1 (the window): count, then each string; refuses bad UTF-8 and duplicates. */
export function readStringTable(): void {
  stringTotal = 0;
  const countAt = here();
  const count = readCount();
  if (count > STRING_LIMIT) fail(ERROR_STRING_LIMIT, countAt);
  for (let i: u32 = 0; i < count && verifying(); i++) {
    const lengthAt = here();
    const length = readUnsigned();
    if (!verifying()) return;
    if (length > STRING_BYTES_LIMIT) { fail(ERROR_STRING_LENGTH, lengthAt); return; }
    if (length > windowLeft()) { fail(ERROR_TRUNCATED, here()); return; }
    const start = here();
    if (!validUtf8(start, length)) { fail(ERROR_UTF8, lengthAt); return; }
    stringStart[i] = start;
    stringLength[i] = length;
    stringHash[i] = hashBytes(start, length);
    stringFunction[i] = 0;
    stringData[i] = 0;
    order[i] = i;
    skipBytes(length);
    stringTotal = i + 1;
  }
  if (verifying()) refuseDuplicates();
}

/** A `str` field: an index below the string count. */
export function readString(): u32 {
  const at = here();
  const index = readUnsigned();
  if (verifying() && index >= stringTotal) {
    fail(ERROR_STRING_INDEX, at);
    return 0;
  }
  return index;
}

/** 1 + the index of the function named by string s, or 0. */
export function functionNamed(s: u32): u32 { return stringFunction[s]; }
export function nameFunction(s: u32, index: u32): void { stringFunction[s] = index + 1; }
export function dataNamed(s: u32): bool { return stringData[s] !== 0; }
export function nameData(s: u32): void { stringData[s] = 1; }

/** True when string s has exactly the bytes of `text` (an ASCII literal). */
export function stringIs(s: u32, text: string): bool {
  const length = u32(text.length);
  if (stringLength[s] !== length) return false;
  const start = stringStart[s];
  for (let k: u32 = 0; k < length; k++) if (imageByte(start + k) !== text.charCodeAt(k)) return false;
  return true;
}

/**
 * Well-formed UTF-8 (Unicode 15, table 3-7; what TextDecoder's fatal mode accepts): no overlong forms,
 * no surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF), no stray continuation bytes.
 */
function validUtf8(start: u32, length: u32): bool {
  let i: u32 = 0;
  while (i < length) {
    const lead = imageByte(start + i);
    if (lead < 0x80) {
      i++;
      continue;
    }
    let follow: u32 = 0, low: u32 = 0x80, high: u32 = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) follow = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      follow = 2;
      if (lead === 0xe0) low = 0xa0;          // E0 80..9F would be overlong
      else if (lead === 0xed) high = 0x9f;    // ED A0..BF would be a surrogate
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      follow = 3;
      if (lead === 0xf0) low = 0x90;          // F0 80..8F would be overlong
      else if (lead === 0xf4) high = 0x8f;    // F4 90.. would be above U+10FFFF
    } else return false;
    if (follow > length - i - 1) return false;
    for (let k: u32 = 1; k <= follow; k++) {
      const byte = imageByte(start + i + k);
      if (byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return false;
    }
    i += follow + 1;
  }
  return true;
}

function hashBytes(start: u32, length: u32): u32 {
  let hash = FNV_OFFSET_BASIS;
  for (let k: u32 = 0; k < length; k++) hash = u32(Math.imul(i32(hash ^ imageByte(start + k)), i32(FNV_PRIME)));
  return hash;
}

/** Orders strings by length, hash, then bytes: 0 when a and b have the same bytes. */
function compareStrings(a: u32, b: u32): i32 {
  const lengthA: u32 = stringLength[a], lengthB: u32 = stringLength[b];
  if (lengthA !== lengthB) return lengthA < lengthB ? -1 : 1;
  if (stringHash[a] !== stringHash[b]) return stringHash[a] < stringHash[b] ? -1 : 1;
  const startA = stringStart[a], startB = stringStart[b];
  for (let k: u32 = 0; k < lengthA; k++) {
    const x = imageByte(startA + k), y = imageByte(startB + k);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The later of two strings found equal by the sort, or STRING_LIMIT: the sort stops at the first. */
let duplicate: u32 = STRING_LIMIT;

/** The sort's order: by content, equal contents by index. Notes equal contents (a duplicate) on the way. */
function before(a: u32, b: u32): bool {
  const sign = compareStrings(a, b);
  if (sign === 0 && a !== b) duplicate = a > b ? a : b;
  return sign < 0 || (sign === 0 && a < b);
}

function siftDown(root: u32, count: u32): void {
  let parent = root;
  while (duplicate === STRING_LIMIT) {
    let child = 2 * parent + 1;
    if (child >= count) return;
    if (child + 1 < count && before(order[child], order[child + 1])) child++;
    if (!before(order[parent], order[child])) return;
    const swap = order[parent];
    order[parent] = order[child];
    order[child] = swap;
    parent = child;
  }
}

/**
 * Heapsorts the indices; two strings of the same bytes meet in a comparison of the sort or, at the
 * latest, side by side after it. Fails at the later of the first such pair: a string an earlier one
 * repeats. (Stopping at the first equal pair keeps a table of one repeated 1 KiB string from costing
 * a full comparison at every step of the sort.)
 */
function refuseDuplicates(): void {
  const count = stringTotal;
  duplicate = STRING_LIMIT;
  for (let start: i32 = i32(count / 2) - 1; start >= 0 && duplicate === STRING_LIMIT; start--) {
    siftDown(u32(start), count);
  }
  for (let end: i32 = i32(count) - 1; end > 0 && duplicate === STRING_LIMIT; end--) {
    const swap = order[0];
    order[0] = order[end];
    order[end] = swap;
    siftDown(0, u32(end));
  }
  for (let k: u32 = 1; k < count && duplicate === STRING_LIMIT; k++) {
    if (compareStrings(order[k - 1], order[k]) === 0) duplicate = order[k];
  }
  if (duplicate !== STRING_LIMIT) fail(ERROR_DUPLICATE_STRING, stringStart[duplicate]);
}
