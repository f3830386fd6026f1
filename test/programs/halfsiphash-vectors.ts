// expect: 2f87f057
// expect: 0 0
// targets: interp qemu node
// Not for node --plain: the hash's u32 arithmetic wraps without `| 0`.
// The hash of the SYN cookies and of the kernel's per-VM secrets (dsl/runtime/halfsiphash.ts halfSipHash3:
// HalfSipHash-2-4, 32-bit output, over three little-endian words) against the reference implementation's
// vector (Aumasson and Bernstein's vectors_hsip32, also in Linux's lib/siphash test and Boost.Hash2's): key
// bytes 00..07 and the 12-byte message 00..0b give 0x2f87f057. Then the avalanche of 160 single-bit flips (64
// of the key, 96 of the message): how many leave the hash unchanged (0), and how many keep more than 24 of its
// 32 bits (0: a good mix changes about half).
import { i32, u32, print, writeHex, write } from "dsl";
import { halfSipHash3 } from "../../dsl/runtime/halfsiphash.ts";

const K0: u32 = 0x03020100;
const K1: u32 = 0x07060504;
const M0: u32 = 0x03020100;
const M1: u32 = 0x07060504;
const M2: u32 = 0x0b0a0908;

function popcount(x: u32): i32 {
  let n = 0;
  let v = x;
  while (v !== 0) { v = u32(v & (v - 1)); n++; }
  return n;
}

export function main(): i32 {
  const base = halfSipHash3(K0, K1, M0, M1, M2);
  writeHex(base);
  print("");
  let same = 0;
  let weak = 0;
  for (let bit = 0; bit < 160; bit++) {
    const mask = u32(1 << (bit & 31));
    const word = bit >>> 5;
    const h = halfSipHash3(word === 0 ? u32(K0 ^ mask) : K0, word === 1 ? u32(K1 ^ mask) : K1,
      word === 2 ? u32(M0 ^ mask) : M0, word === 3 ? u32(M1 ^ mask) : M1, word === 4 ? u32(M2 ^ mask) : M2);
    if (h === base) same++;
    if (32 - popcount(u32(h ^ base)) > 24) weak++;
  }
  write(same); write(" "); print(weak);
  return 0;
}
