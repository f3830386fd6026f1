// SHA-256 (FIPS 180-4 §6.2), streaming: sha256Start, then sha256Add* any number of times over any
// split of the message, then sha256Finish writes the 32-byte digest. A Sha256 holds everything (the
// hash value H, the partial block, the length): no heap, any number of them at once; the message
// schedule W is a static scratch array (the DSL has no preemption inside a function call, and the libos's
// threads switch only where a thread waits). Words are big-endian in the message and the digest
// (FIPS 180-4 §3.1 item 3). The message length is counted in bytes as a 64-bit value (low, high) and
// appended in bits at the end (§5.1.1: a 1 bit, zeros to 448 mod 512, then the 64-bit length).
// Contract: any byte ranges inside their arrays (a range outside traps, as an index would); the same
// digests as any other SHA-256 (test/libos/sha256.test.ts checks against Node's crypto on the FIPS and
// RFC vectors and hundreds of random lengths, on the bytecode interpreter and natively in QEMU).
import { i32, u8, u32 } from "dsl";

/** Bytes of a digest (FIPS 180-4 §1: 256 bits). */
export const SHA256_DIGEST_BYTES = 32;
/** Bytes of a message block (512 bits). */
export const SHA256_BLOCK_BYTES = 64;

/** The state of one hash computation. */
export class Sha256 {
  hash = new Uint32Array(8);        // H0..H7 (§6.2.2)
  block = new Uint8Array(64);       // the partial block: `buffered` bytes of it
  buffered: u32 = 0;
  lengthLow: u32 = 0;               // message bytes so far (64-bit)
  lengthHigh: u32 = 0;
}

/** K0..K63 (§4.2.2): the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const ROUND_CONSTANTS: u32[] = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** H(0) (§5.3.3): the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
const INITIAL_HASH: u32[] = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** The message schedule W0..W63 of the block being compressed (§6.2.2 step 1). */
const schedule = new Uint32Array(64);

function rotateRight(x: u32, n: u32): u32 { return u32((x >>> n) | (x << (32 - n))); }

/** Starts (or restarts) a computation. */
export function sha256Start(h: Sha256): void {
  for (let i = 0; i < 8; i++) h.hash[i] = INITIAL_HASH[i];
  h.buffered = 0;
  h.lengthLow = 0;
  h.lengthHigh = 0;
}

/** Copies the whole state of `from` into `to` (a keyed HMAC state reused for many messages: hmac.ts). */
export function sha256Copy(to: Sha256, from: Sha256): void {
  for (let i = 0; i < 8; i++) to.hash[i] = from.hash[i];
  for (let i = 0; i < 64; i++) to.block[i] = from.block[i];
  to.buffered = from.buffered;
  to.lengthLow = from.lengthLow;
  to.lengthHigh = from.lengthHigh;
}

/** W0..W15 from the 64 bytes at `bytes[offset]` (big-endian words). */
function loadBlock(bytes: Uint8Array, offset: i32): void {
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const at = offset + t * 4;
    w[t] = u32((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
  }
}

/** W0..W15 from the state's own partial block, which is full (a struct's array is not passed as a value). */
function loadOwnBlock(h: Sha256): void {
  const w = schedule, block = h.block;
  for (let t = 0; t < 16; t++) {
    const at = t * 4;
    w[t] = u32((block[at] << 24) | (block[at + 1] << 16) | (block[at + 2] << 8) | block[at + 3]);
  }
}

/** Compresses the block whose W0..W15 are loaded into h.hash (§6.2.2 steps 1-4). */
function compress(h: Sha256): void {
  const w = schedule;
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15], y = w[t - 2];
    const sigma0 = rotateRight(x, 7) ^ rotateRight(x, 18) ^ (x >>> 3);          // σ0 (4.6)
    const sigma1 = rotateRight(y, 17) ^ rotateRight(y, 19) ^ (y >>> 10);        // σ1 (4.7)
    w[t] = u32(sigma1 + w[t - 7] + sigma0 + w[t - 16]);
  }
  const hash = h.hash;
  let a = hash[0], b = hash[1], c = hash[2], d = hash[3], e = hash[4], f = hash[5], g = hash[6], k = hash[7];
  for (let t = 0; t < 64; t++) {
    const bigSigma1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25);   // Σ1 (4.5)
    const choose = (e & f) ^ (~e & g);                                             // Ch (4.2)
    const t1 = u32(k + bigSigma1 + choose + ROUND_CONSTANTS[t] + w[t]);
    const bigSigma0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22);   // Σ0 (4.4)
    const majority = (a & b) ^ (a & c) ^ (b & c);                                  // Maj (4.3)
    const t2 = u32(bigSigma0 + majority);
    k = g;
    g = f;
    f = e;
    e = u32(d + t1);
    d = c;
    c = b;
    b = a;
    a = u32(t1 + t2);
  }
  hash[0] = hash[0] + a;
  hash[1] = hash[1] + b;
  hash[2] = hash[2] + c;
  hash[3] = hash[3] + d;
  hash[4] = hash[4] + e;
  hash[5] = hash[5] + f;
  hash[6] = hash[6] + g;
  hash[7] = hash[7] + k;
}

function countBytes(h: Sha256, length: u32): void {
  const low = h.lengthLow + length;
  if (low < h.lengthLow) h.lengthHigh++;
  h.lengthLow = low;
}

/** Adds `length` bytes of `bytes` from `offset` to the message (nothing when length <= 0). */
export function sha256Add(h: Sha256, bytes: Uint8Array, offset: i32, length: i32): void {
  if (length <= 0) return;
  countBytes(h, u32(length));
  let at = offset;
  const end = offset + length;
  // Fill a partial block first; then whole blocks straight from `bytes`; then keep the rest.
  if (h.buffered !== 0) {
    while (at < end && h.buffered < 64) { h.block[h.buffered] = bytes[at]; h.buffered++; at++; }
    if (h.buffered < 64) return;
    loadOwnBlock(h);
    compress(h);
    h.buffered = 0;
  }
  for (; end - at >= 64; at += 64) { loadBlock(bytes, at); compress(h); }
  while (at < end) { h.block[h.buffered] = bytes[at]; h.buffered++; at++; }
}

/** Adds one byte to the message. */
export function sha256AddByte(h: Sha256, byte: u8): void {
  countBytes(h, 1);
  h.block[h.buffered] = byte;
  h.buffered++;
  if (h.buffered === 64) { loadOwnBlock(h); compress(h); h.buffered = 0; }
}

/** Adds the bytes of a string literal (its character codes, each below 256) to the message. */
export function sha256AddString(h: Sha256, s: string): void {
  for (let i = 0; i < s.length; i++) sha256AddByte(h, u8(s.charCodeAt(i)));
}

/** Pads the message (§5.1.1), compresses the last block(s) and writes the digest at `digest[offset]`. */
export function sha256Finish(h: Sha256, digest: Uint8Array, offset: i32): void {
  const bitsHigh = u32((h.lengthHigh << 3) | (h.lengthLow >>> 29)), bitsLow = u32(h.lengthLow << 3);
  const block = h.block;
  block[h.buffered] = 0x80;
  h.buffered++;
  if (h.buffered > 56) {
    while (h.buffered < 64) { block[h.buffered] = 0; h.buffered++; }
    loadOwnBlock(h);
    compress(h);
    h.buffered = 0;
  }
  while (h.buffered < 56) { block[h.buffered] = 0; h.buffered++; }
  loadOwnBlock(h);
  schedule[14] = bitsHigh;                 // the length, the last two words of the block
  schedule[15] = bitsLow;
  compress(h);
  h.buffered = 0;
  for (let i = 0; i < 8; i++) {
    const value = h.hash[i], at = offset + i * 4;
    digest[at] = value >>> 24;
    digest[at + 1] = value >>> 16;
    digest[at + 2] = value >>> 8;
    digest[at + 3] = value;
  }
}
