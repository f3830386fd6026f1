// expect: 2217057035
// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven, over a 32 KiB buffer of
// xorshift32 bytes. C twin: crc32.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const table = new Uint32Array(256);
const data = new Uint8Array(32768);

function makeTable(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c: u32 = n;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
    table[n] = c;
  }
}

function fill(): void {
  let x: u32 = 2463534242;
  for (let i = 0; i < data.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    data[i] = x & 0xff;
  }
}

function crc32(length: i32): u32 {
  let crc: u32 = 0xffffffff;
  for (let i = 0; i < length; i++) crc = (table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)) >>> 0;
  return (crc ^ 0xffffffff) >>> 0;
}

function bench(): u32 {
  return crc32(data.length);
}

export function main(): i32 {
  makeTable();
  fill();
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
