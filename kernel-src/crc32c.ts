// CRC32C (Castagnoli; RFC 3720 appendix B.4, reflected polynomial 0x82f63b78): the checksum of every
// page swap.ts writes out. Slicing-by-8: eight tables of 256 entries, table k giving the CRC of a byte
// followed by k zero bytes, so eight bytes cost two loads and eight lookups instead of eight steps of
// the byte-wise loop (47,000 instructions per page before, about a sixth of that now: bench:swap).
// crc32cInit builds the tables and checks them against RFC 3720's known answers (B.4: 32 bytes of
// zeros, of ones, ascending, descending); a kernel whose tables are wrong must not trust its swap.
import { bool, u32, load32, addressOf } from "dsl";

const CRC32C_POLYNOMIAL: u32 = 0x82f63b78;
/** tables[k * 256 + b]: the CRC register after byte b and then k zero bytes (k = 0: the classic table). */
const tables = new Uint32Array(2048);
const vector = new Uint8Array(32);

/** Builds the tables; false when they fail RFC 3720's known answers. */
export function crc32cInit(): bool {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? u32((c >>> 1) ^ CRC32C_POLYNOMIAL) : c >>> 1;
    tables[b] = c;
  }
  for (let k: u32 = 1; k < 8; k++) {
    for (let b: u32 = 0; b < 256; b++) {
      const previous = tables[(k - 1) * 256 + b];
      tables[k * 256 + b] = (previous >>> 8) ^ tables[previous & 0xff];
    }
  }
  return known(0, 0, 0x8a9136aa) && known(0xff, 0, 0x62a8ab43) && known(0, 1, 0x46dd794e)
    && known(31, 0xffffffff, 0x113fdb5c);
}

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
    c = tables[1792 + (low & 0xff)] ^ tables[1536 + ((low >>> 8) & 0xff)] ^ tables[1280 + ((low >>> 16) & 0xff)]
      ^ tables[1024 + (low >>> 24)] ^ tables[768 + (high & 0xff)] ^ tables[512 + ((high >>> 8) & 0xff)]
      ^ tables[256 + ((high >>> 16) & 0xff)] ^ tables[high >>> 24];
  }
  return ~c;
}
