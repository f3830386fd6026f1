// HMAC-SHA256 (RFC 2104 §2; FIPS 198-1), streaming over sha256.ts: hmacKey prepares a key once (the
// inner and outer hashes after their padded key block), hmacStart begins a message with it, hmacAdd*
// add the message in any pieces, hmacFinish writes the 32-byte MAC. A key longer than the 64-byte block
// is hashed first (RFC 2104 §2: K = H(K)); a shorter one is padded with zeros. hmacEqual compares two
// MACs in time that does not depend on where they differ (a forged request learns nothing from timing).
// Contract: the same MACs as any other HMAC-SHA256 (test/libos/sha256.test.ts: RFC 4231's vectors and
// hundreds of random keys and messages, keys longer than the block among them, against Node's crypto).
import { i32, u8, u32, bool } from "dsl";
import {
  Sha256, sha256Start, sha256Add, sha256AddByte, sha256AddString, sha256Finish, sha256Copy, SHA256_BLOCK_BYTES,
  SHA256_DIGEST_BYTES,
} from "./sha256.ts";

/** Bytes of a MAC. */
export const HMAC_SHA256_BYTES = 32;
/** RFC 2104 §2: ipad and opad, the byte repeated over the key block. */
const INNER_PAD = 0x36;
const OUTER_PAD = 0x5c;

/** A prepared key: the hash states after (K xor ipad) and after (K xor opad). */
export class HmacKey {
  inner = new Sha256();
  outer = new Sha256();
}

/** One MAC computation under a key. */
export class Hmac {
  inner = new Sha256();
  outer = new Sha256();
}

const keyBlock = new Uint8Array(64);       // SHA256_BLOCK_BYTES
const innerDigest = new Uint8Array(32);    // SHA256_DIGEST_BYTES
const keyHash = new Sha256();

/** Prepares `length` bytes of `key` from `offset` (any length, 0 included). */
export function hmacKey(k: HmacKey, key: Uint8Array, offset: i32, length: i32): void {
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) keyBlock[i] = 0;
  if (length > SHA256_BLOCK_BYTES) {
    sha256Start(keyHash);
    sha256Add(keyHash, key, offset, length);
    sha256Finish(keyHash, keyBlock, 0);
  } else {
    for (let i = 0; i < length; i++) keyBlock[i] = key[offset + i];
  }
  sha256Start(k.inner);
  sha256Start(k.outer);
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
    sha256AddByte(k.inner, u8(keyBlock[i] ^ INNER_PAD));
    sha256AddByte(k.outer, u8(keyBlock[i] ^ OUTER_PAD));
  }
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) keyBlock[i] = 0;     // no copy of the key left behind
}

/** Begins a MAC of a new message under the prepared key `k`. */
export function hmacStart(m: Hmac, k: HmacKey): void {
  sha256Copy(m.inner, k.inner);
  sha256Copy(m.outer, k.outer);
}

export function hmacAdd(m: Hmac, bytes: Uint8Array, offset: i32, length: i32): void {
  sha256Add(m.inner, bytes, offset, length);
}

export function hmacAddByte(m: Hmac, byte: u8): void { sha256AddByte(m.inner, byte); }

export function hmacAddString(m: Hmac, s: string): void { sha256AddString(m.inner, s); }

/** Writes the MAC (HMAC_SHA256_BYTES) at `mac[offset]`: H((K xor opad) || H((K xor ipad) || text)). */
export function hmacFinish(m: Hmac, mac: Uint8Array, offset: i32): void {
  sha256Finish(m.inner, innerDigest, 0);
  sha256Add(m.outer, innerDigest, 0, SHA256_DIGEST_BYTES);
  sha256Finish(m.outer, mac, offset);
}

/** True when the `length` bytes at a[ao] and b[bo] are equal; the time taken depends on `length` only. */
export function hmacEqual(a: Uint8Array, ao: i32, b: Uint8Array, bo: i32, length: i32): bool {
  let difference: u32 = 0;
  for (let i = 0; i < length; i++) difference = u32(difference | (a[ao + i] ^ b[bo + i]));
  return difference === 0;
}
