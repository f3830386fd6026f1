// A program (not a guest: `main`, run by test/libos/sha256.test.ts on the bytecode interpreter and
// natively in QEMU) that prints SHA-256 digests and HMAC-SHA256 MACs of guest-src/libos's sha256.ts
// and hmac.ts for the test to compare with Node's crypto. One line per vector:
//   `sha N HEX` (N the vector, HEX the 32-byte digest), `hmac N HEX` (the MAC).
// The vectors: FIPS 180-4's examples (and 100,000 'a': the million of its example costs the interpreter
// too much), RFC 4231's seven HMAC cases, then random
// ones from xorshift32 (the test draws the same bytes): every message length 0..RANDOM_ALL_LENGTHS, then
// RANDOM_MORE lengths up to 319, keys of 0..199 bytes (longer than the 64-byte block among them). Each
// random message is added in pieces split at a drawn point (streaming), or byte by byte (every 7th).
// Last, `equal ok`: hmacEqual tells a MAC from every one-bit change of it.
import { i32, u8, u32, print, write, writeHex } from "dsl";
import {
  Sha256, sha256Start, sha256Add, sha256AddByte, sha256AddString, sha256Finish,
} from "../../../guest-src/libos/sha256.ts";
import {
  HmacKey, Hmac, hmacKey, hmacStart, hmacAdd, hmacAddByte, hmacAddString, hmacFinish, hmacEqual, HMAC_SHA256_BYTES,
} from "../../../guest-src/libos/hmac.ts";

const RANDOM_ALL_LENGTHS = 130;
const RANDOM_MORE = 250;
const SEED: u32 = 0x2545f491;

const message = new Uint8Array(1024);
const key = new Uint8Array(256);
const digest = new Uint8Array(HMAC_SHA256_BYTES);
const other = new Uint8Array(HMAC_SHA256_BYTES);
const hash = new Sha256();
const prepared = new HmacKey();
const mac = new Hmac();
let state: u32 = SEED;

function next(): u32 {
  let x = state;
  x = u32(x ^ (x << 13));
  x = u32(x ^ (x >>> 17));
  x = u32(x ^ (x << 5));
  state = x;
  return x;
}

function writeDigest(kind: string, n: i32): void {
  write(kind);
  write(" ");
  write(n);
  write(" ");
  for (let i = 0; i < 32; i += 4) {
    writeHex(u32((digest[i] << 24) | (digest[i + 1] << 16) | (digest[i + 2] << 8) | digest[i + 3]));
  }
  print("");
}

function shaOfString(n: i32, s: string): void {
  sha256Start(hash);
  sha256AddString(hash, s);
  sha256Finish(hash, digest, 0);
  writeDigest("sha", n);
}

/** The digest of two strings one after the other (a message longer than a line). */
function shaOfStrings(n: i32, first: string, second: string): void {
  sha256Start(hash);
  sha256AddString(hash, first);
  sha256AddString(hash, second);
  sha256Finish(hash, digest, 0);
  writeDigest("sha", n);
}

/** HMAC of the `keyLength` bytes of `key` over `length` bytes of `message`. */
function hmacOf(n: i32, keyLength: i32, length: i32): void {
  hmacKey(prepared, key, 0, keyLength);
  hmacStart(mac, prepared);
  hmacAdd(mac, message, 0, length);
  hmacFinish(mac, digest, 0);
  writeDigest("hmac", n);
}

function fill(array: Uint8Array, byte: i32, length: i32): void { for (let i = 0; i < length; i++) array[i] = byte; }

function copyString(array: Uint8Array, s: string): i32 {
  for (let i = 0; i < s.length; i++) array[i] = s.charCodeAt(i);
  return s.length;
}

/** FIPS 180-4 (the NIST examples) and 100,000 'a' in 1,000-byte pieces. Vectors 0..4. */
function fipsVectors(): void {
  shaOfString(0, "abc");
  shaOfString(1, "");
  shaOfString(2, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  shaOfStrings(3, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno",
    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu");
  fill(message, 0x61, 1000);
  sha256Start(hash);
  for (let i = 0; i < 100; i++) sha256Add(hash, message, 0, 1000);
  sha256Finish(hash, digest, 0);
  writeDigest("sha", 4);
}

/** RFC 4231 §4.2..§4.8, test cases 1..7 (case 5's truncation is the test's business). Vectors 1..7. */
function rfc4231Vectors(): void {
  fill(key, 0x0b, 20);
  hmacOf(1, 20, copyString(message, "Hi There"));
  hmacOf(2, copyString(key, "Jefe"), copyString(message, "what do ya want for nothing?"));
  fill(key, 0xaa, 20);
  fill(message, 0xdd, 50);
  hmacOf(3, 20, 50);
  for (let i = 0; i < 25; i++) key[i] = i + 1;
  fill(message, 0xcd, 50);
  hmacOf(4, 25, 50);
  fill(key, 0x0c, 20);
  hmacOf(5, 20, copyString(message, "Test With Truncation"));
  fill(key, 0xaa, 131);
  hmacOf(6, 131, copyString(message, "Test Using Larger Than Block-Size Key - Hash Key First"));
  // Case 7 through hmacAddString, in three pieces.
  hmacKey(prepared, key, 0, 131);
  hmacStart(mac, prepared);
  hmacAddString(mac, "This is a test using a larger than block-size key and a larger than block-size data. ");
  hmacAddString(mac, "The key needs to be hashed before being used by the HMAC algorithm.");
  hmacAdd(mac, message, 0, 0);
  hmacFinish(mac, digest, 0);
  writeDigest("hmac", 7);
}

/** Random vector n (from 100): its length, message and key from the generator, in the test's order. */
function randomVector(n: i32, length: i32): void {
  const keyLength = i32(next() % 200);
  for (let i = 0; i < keyLength; i++) key[i] = next();
  for (let i = 0; i < length; i++) message[i] = next();
  const split = length === 0 ? 0 : i32(next() % u32(length + 1));
  sha256Start(hash);
  if (n % 7 === 0) {
    for (let i = 0; i < length; i++) sha256AddByte(hash, u8(message[i]));
  } else {
    sha256Add(hash, message, 0, split);
    sha256Add(hash, message, split, length - split);
  }
  sha256Finish(hash, digest, 0);
  writeDigest("sha", n);
  hmacKey(prepared, key, 0, keyLength);
  hmacStart(mac, prepared);
  if (n % 7 === 0) {
    for (let i = 0; i < length; i++) hmacAddByte(mac, u8(message[i]));
  } else {
    hmacAdd(mac, message, 0, split);
    hmacAdd(mac, message, split, length - split);
  }
  hmacFinish(mac, digest, 0);
  writeDigest("hmac", n);
}

/** hmacEqual: a MAC equals its copy, and differs from it with any one bit changed: `equal ok`. */
function equalCheck(): void {
  for (let i = 0; i < HMAC_SHA256_BYTES; i++) other[i] = digest[i];
  let ok = hmacEqual(digest, 0, other, 0, HMAC_SHA256_BYTES);
  for (let bit = 0; bit < HMAC_SHA256_BYTES * 8; bit++) {
    other[bit >> 3] = other[bit >> 3] ^ (1 << (bit & 7));
    if (hmacEqual(digest, 0, other, 0, HMAC_SHA256_BYTES)) ok = false;
    other[bit >> 3] = other[bit >> 3] ^ (1 << (bit & 7));
  }
  print(ok ? "equal ok" : "equal WRONG");
}

export function main(): i32 {
  fipsVectors();
  rfc4231Vectors();
  for (let length = 0; length <= RANDOM_ALL_LENGTHS; length++) randomVector(100 + length, length);
  for (let k = 0; k < RANDOM_MORE; k++) randomVector(101 + RANDOM_ALL_LENGTHS + k, i32(next() % 320));
  equalCheck();
  return 0;
}
