// HalfSipHash-2-4 with a 32-bit output (Aumasson and Bernstein's SipHash family; Linux's hsiphash), shared by
// the kernel and the guests: the kernel derives each VM's secret with it (kernel-src/entropy.ts), the libos
// keys its SYN cookies with it (guest-src/libos/tcp-cookies.ts). Checked against the reference implementation's
// vectors by test/programs/halfsiphash-vectors.ts. A keyed hash (a PRF for short inputs), not a general hash.
import { i32, u32 } from "dsl";

let v0: u32 = 0;
let v1: u32 = 0;
let v2: u32 = 0;
let v3: u32 = 0;

function rotl(x: u32, b: i32): u32 { return u32((x << b) | (x >>> (32 - b))); }

function sipRound(): void {
  v0 = u32(v0 + v1); v1 = rotl(v1, 5); v1 = u32(v1 ^ v0); v0 = rotl(v0, 16);
  v2 = u32(v2 + v3); v3 = rotl(v3, 8); v3 = u32(v3 ^ v2);
  v0 = u32(v0 + v3); v3 = rotl(v3, 7); v3 = u32(v3 ^ v0);
  v2 = u32(v2 + v1); v1 = rotl(v1, 13); v1 = u32(v1 ^ v2); v2 = rotl(v2, 16);
}

function compress(m: u32): void {
  v3 = u32(v3 ^ m);
  sipRound(); sipRound();
  v0 = u32(v0 ^ m);
}

/** HalfSipHash-2-4 with 32-bit output of the 12 bytes a, b, c (little-endian words) under the key (k0, k1). */
export function halfSipHash3(k0: u32, k1: u32, a: u32, b: u32, c: u32): u32 {
  v0 = k0; v1 = k1; v2 = u32(0x6c796765 ^ k0); v3 = u32(0x74656462 ^ k1);
  compress(a); compress(b); compress(c);
  compress(u32(12 << 24));   // the last block: the length in its top byte, no bytes left over
  v2 = u32(v2 ^ 0xff);
  sipRound(); sipRound(); sipRound(); sipRound();
  return u32(v1 ^ v3);
}
