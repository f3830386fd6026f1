// CRC32C (Castagnoli; RFC 3720 appendix B.4, reflected polynomial 0x82f63b78): the checksum of every
// page swap.ts writes out. Slicing-by-8: eight tables of 256 entries, table k giving the CRC of a byte
// followed by k zero bytes, so eight bytes cost two loads and eight lookups instead of eight steps of
// the byte-wise loop (47,000 instructions per page before, about a sixth of that now: bench:swap).
// crc32cInit builds the tables and checks them against RFC 3720's known answers (B.4: 32 bytes of
// zeros, of ones, ascending, descending); a kernel whose tables are wrong must not trust its swap.
import { bool, u32, load32, addressOf } from "dsl";

const CRC32C_POLYNOMIAL: u32 = 0x82f63b78;
// t<k>[b]: the CRC register after byte b and then k zero bytes (t0: the classic table). Eight arrays of
// 256, not one of 2,048: an index `x & 0xff` is then provably in range and the compiler drops its check.
const t0 = new Uint32Array(256);
const t1 = new Uint32Array(256);
const t2 = new Uint32Array(256);
const t3 = new Uint32Array(256);
const t4 = new Uint32Array(256);
const t5 = new Uint32Array(256);
const t6 = new Uint32Array(256);
const t7 = new Uint32Array(256);
const vector = new Uint8Array(32);

/** Builds the tables; false when they fail RFC 3720's known answers. */
export function crc32cInit(): bool {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? u32((c >>> 1) ^ CRC32C_POLYNOMIAL) : c >>> 1;
    t0[b] = c;
  }
  for (let b: u32 = 0; b < 256; b++) {
    t1[b] = next(t0[b]);
    t2[b] = next(t1[b]);
    t3[b] = next(t2[b]);
    t4[b] = next(t3[b]);
    t5[b] = next(t4[b]);
    t6[b] = next(t5[b]);
    t7[b] = next(t6[b]);
  }
  return known(0, 0, 0x8a9136aa) && known(0xff, 0, 0x62a8ab43) && known(0, 1, 0x46dd794e)
    && known(31, 0xffffffff, 0x113fdb5c);
}

/** The register `c` after one more zero byte. */
function next(c: u32): u32 { return (c >>> 8) ^ t0[c & 0xff]; }

/** RFC 3720 B.4: 32 bytes, byte i = first + step * i (mod 256), have CRC32C `expected`. */
function known(first: u32, step: u32, expected: u32): bool {
  for (let i: u32 = 0; i < 32; i++) vector[i] = u32(first + step * i) & 0xff;
  return crc32c(addressOf(vector), 32) === expected;
}

/** CRC32C of the `length` bytes at `address` (`length` a multiple of 8, as a page is). */
export function crc32c(address: u32, length: u32): u32 {
  let c: u32 = 0xffffffff;
  for (let i: u32 = 0; i < length; i += 8) {
    const low = load32(address + i) ^ c;
    const high = load32(address + i + 4);
    c = t7[low & 0xff] ^ t6[(low >>> 8) & 0xff] ^ t5[(low >>> 16) & 0xff] ^ t4[low >>> 24]
      ^ t3[high & 0xff] ^ t2[(high >>> 8) & 0xff] ^ t1[(high >>> 16) & 0xff] ^ t0[high >>> 24];
  }
  return ~c;
}
