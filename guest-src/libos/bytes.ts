// Network byte order (big-endian, RFC 1700 "Data Notations"; RFC 791 Appendix B) accessors over a
// frame held in a Uint8Array, and the Internet checksum (RFC 1071). Every access is bounds-checked
// by the DSL's typed arrays: a parser bug traps instead of reading another packet's bytes; the bulk
// operations (copyBytes, fillBytes, checksumAdd) check their whole range first and then work a word at
// a time (memoryCopy, memoryFill, load32), panicking on a range outside the array as an index would trap.
import { i32, u32, bool, panic, addressOf, load32, memoryCopy, memoryFill } from "dsl";

/** The 16-bit big-endian field at `offset`. */
export function get16(frame: Uint8Array, offset: i32): i32 {
  return (frame[offset] << 8) | frame[offset + 1];
}

/** The 32-bit big-endian field at `offset`. */
export function get32(frame: Uint8Array, offset: i32): u32 {
  return u32((frame[offset] << 24) | (frame[offset + 1] << 16) | (frame[offset + 2] << 8) | frame[offset + 3]);
}

export function put16(frame: Uint8Array, offset: i32, value: i32): void {
  frame[offset] = value >>> 8;
  frame[offset + 1] = value;
}

export function put32(frame: Uint8Array, offset: i32, value: u32): void {
  frame[offset] = value >>> 24;
  frame[offset + 1] = value >>> 16;
  frame[offset + 2] = value >>> 8;
  frame[offset + 3] = value;
}

/** True when `[offset, offset + length)` lies inside `array` (length > 0). */
function inside(array: Uint8Array, offset: i32, length: i32): bool {
  return offset >= 0 && offset <= i32(array.length) - length;
}

/** Copies `length` bytes (memmove: the ranges may overlap); nothing when length <= 0. */
export function copyBytes(to: Uint8Array, toOffset: i32, from: Uint8Array, fromOffset: i32, length: i32): void {
  if (length <= 0) return;
  if (!inside(to, toOffset, length) || !inside(from, fromOffset, length)) panic("copyBytes: range out of bounds");
  memoryCopy(addressOf(to) + u32(toOffset), addressOf(from) + u32(fromOffset), u32(length));
}

/**
 * Copies `length` bytes between `array[offset..]` and the memory at `address` (`toArray`: into the array), the
 * array's range checked (the address is the caller's: memory it owns outside any array, tcp-buffers.ts's rings).
 */
export function copyWithAddress(array: Uint8Array, offset: i32, address: u32, length: i32, toArray: bool): void {
  if (length <= 0) return;
  if (!inside(array, offset, length)) panic("copyWithAddress: range out of bounds");
  const at = addressOf(array) + u32(offset);
  if (toArray) memoryCopy(at, address, u32(length)); else memoryCopy(address, at, u32(length));
}

/** True when the 6 bytes at `a[ao]` and `b[bo]` are equal (MAC addresses). */
export function equal6(a: Uint8Array, ao: i32, b: Uint8Array, bo: i32): bool {
  for (let i = 0; i < 6; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** Fills `length` bytes with `value` (its low byte); nothing when length <= 0. */
export function fillBytes(to: Uint8Array, offset: i32, value: i32, length: i32): void {
  if (length <= 0) return;
  if (!inside(to, offset, length)) panic("fillBytes: range out of bounds");
  memoryFill(addressOf(to) + u32(offset), u32(value & 0xff), u32(length));
}

// ---- the Internet checksum (RFC 1071) ------------------------------------------------------------------
// RFC 1071 §1: the 16-bit ones' complement of the ones' complement sum of the 16-bit words; an odd
// byte at the end is padded with a zero byte (§4.1). We add 16-bit words into a 32-bit accumulator
// (§2 (B) "deferred carries": at most 65536 words before it could overflow, far more than a frame)
// and fold the carries at the end (§4.1 "Fold 32-bit sum to 16 bits"). checksumAdd reads 32 bits at a
// time: a little-endian load holds two 16-bit words byte-swapped, and the sum of byte-swapped words is
// the byte-swapped sum once folded (§2 (B) "Byte Order Independence"), so the words' halves are summed,
// folded, swapped back and added; the last 0..3 bytes go as above.

/** Words of 4 bytes summed before a fold: each adds at most 2 * 0xffff, 16,384 of them fit in 32 bits. */
const CHECKSUM_CHUNK_WORDS: u32 = 16384;

/** Adds the bytes `[offset, offset + length)` to the running sum `sum` (not yet folded). */
export function checksumAdd(sum: u32, frame: Uint8Array, offset: i32, length: i32): u32 {
  if (length <= 0) return sum;
  if (!inside(frame, offset, length)) panic("checksumAdd: range out of bounds");
  const base = addressOf(frame) + u32(offset);
  const words = u32(length) >>> 2;
  let acc = sum;
  let k: u32 = 0;
  while (k < words) {
    const chunkEnd = words - k > CHECKSUM_CHUNK_WORDS ? k + CHECKSUM_CHUNK_WORDS : words;
    let swapped: u32 = 0;
    for (; k < chunkEnd; k++) {
      const w = load32(base + k * 4);
      swapped += (w & 0xffff) + (w >>> 16);
    }
    swapped = (swapped & 0xffff) + (swapped >>> 16);
    swapped = (swapped & 0xffff) + (swapped >>> 16);
    acc += u32(((swapped & 0xff) << 8) | (swapped >>> 8));
  }
  let i = offset + i32(words * 4);
  const end = offset + length;
  if (end - i >= 2) { acc += u32((frame[i] << 8) | frame[i + 1]); i += 2; }
  if (i < end) acc += u32(frame[i] << 8);
  return acc;
}

/** Adds a 32-bit value (an IPv4 address) as two 16-bit words. */
function checksumAdd32(sum: u32, value: u32): u32 {
  return sum + (value >>> 16) + (value & 0xffff);
}

/** Folds the carries and complements: the value to store in a checksum field. */
export function checksumFinish(sum: u32): i32 {
  let acc = sum;
  while ((acc >>> 16) !== 0) acc = (acc & 0xffff) + (acc >>> 16);
  return i32(~acc & 0xffff);
}

/** RFC 1071 checksum of one range; verifying a range that holds its own checksum gives 0. */
export function internetChecksum(frame: Uint8Array, offset: i32, length: i32): i32 {
  return checksumFinish(checksumAdd(0, frame, offset, length));
}

/**
 * The pseudo-header's part of the TCP and UDP checksums (RFC 768 "Fields"; RFC 9293 §3.1
 * "Checksum"): source address, destination address, zero, protocol, and the upper-layer length.
 */
export function pseudoHeaderSum(source: u32, destination: u32, protocol: i32, length: i32): u32 {
  return checksumAdd32(checksumAdd32(0, source), destination) + u32(protocol) + u32(length);
}
