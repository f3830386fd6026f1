// expect: 175049332
// TCP-checksum-like loops: the RFC 1071 Internet checksum (16-bit big-endian words, ones' complement
// sum, carries folded) of 40 packets of 1,460 payload bytes, each with a 12-byte pseudo-header
// (source, destination, protocol 6, length). C twin: inet-checksum.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const PACKET = 1460;
const packet = new Uint8Array(1460);
const pseudo = new Uint8Array(12);

function sum16(bytes: Uint8Array, length: i32, initial: u32): u32 {
  let sum: u32 = initial;
  let i: i32 = 0;
  while (i + 1 < length) {
    sum = (sum + ((bytes[i] << 8) | bytes[i + 1])) >>> 0;
    i += 2;
  }
  if (i < length) sum = (sum + (bytes[i] << 8)) >>> 0;
  return sum;
}

function fold(sum: u32): u32 {
  while ((sum >>> 16) !== 0) sum = ((sum & 0xffff) + (sum >>> 16)) >>> 0;
  return (~sum & 0xffff) >>> 0;
}

function bench(): u32 {
  let check: u32 = 0;
  for (let p = 0; p < 40; p++) {
    for (let i = 0; i < PACKET; i++) packet[i] = (i * 7 + p * 13) ^ (i >> 3);
    const source: u32 = 0xc6120001 + u32(p);
    const destination: u32 = 0xc6120100 + u32(p & 7);
    for (let k = 0; k < 4; k++) {
      pseudo[k] = source >>> (24 - k * 8);
      pseudo[k + 4] = destination >>> (24 - k * 8);
    }
    pseudo[8] = 0;
    pseudo[9] = 6;
    pseudo[10] = PACKET >> 8;
    pseudo[11] = PACKET & 0xff;
    const partial: u32 = sum16(pseudo, 12, 0);
    const sum: u32 = fold(sum16(packet, PACKET - p, partial));
    check = (Math.imul(check, 33) ^ sum) >>> 0;
  }
  return check;
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
