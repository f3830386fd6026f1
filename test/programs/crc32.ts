// expect: 1996959894
// expect: 755167117
// expect: 3421780262
// expect: cbf43926
// expect: 1095738169
// expect: 0
// expect: 420107693
// expect: 29058c73
// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven, with `>>> 0` keeping
// every intermediate unsigned.
import { i32, u32, print, writeHex } from "dsl";

const table = new Uint32Array(256);

function makeTable(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c: u32 = n;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
    table[n] = c;
  }
}

function crc32Update(crc: u32, byte: i32): u32 {
  return (table[(crc ^ byte) & 0xff] ^ (crc >>> 8)) >>> 0;
}

function crc32OfString(text: string): u32 {
  let crc: u32 = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = crc32Update(crc, text.charCodeAt(i));
  return (crc ^ 0xffffffff) >>> 0;
}

function crc32OfBytes(data: Uint8Array): u32 {
  let crc: u32 = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crc32Update(crc, data[i]);
  return (crc ^ 0xffffffff) >>> 0;
}

export function main(): i32 {
  makeTable();
  print(table[1]);
  print(table[255]);
  const check: u32 = crc32OfString("123456789");
  print(check);
  writeHex(check);
  print("");
  print(crc32OfString("The quick brown fox jumps over the lazy dog"));
  print(crc32OfString(""));
  const zeros = new Uint8Array(32);
  print(crc32OfBytes(zeros));
  const ramp = new Uint8Array(256);
  for (let i = 0; i < ramp.length; i++) ramp[i] = i;
  writeHex(crc32OfBytes(ramp));
  print("");
  return 0;
}
