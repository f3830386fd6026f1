// expect: 47201
// expect: 0000b861
// expect: 0
// expect: 21759
// expect: 65535
// expect: 0
// expect: 4660
// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
// big-endian words, as IPv4, ICMP, UDP and TCP use it. Checked on a real IPv4 header.
import { i32, u16, u32, print, writeHex } from "dsl";

const packet = new Uint8Array(64);

function onesComplementSum(data: Uint8Array, offset: i32, length: i32, initial: u32): u32 {
  let sum: u32 = initial;
  let i: i32 = offset;
  const end: i32 = offset + length;
  while (i + 1 < end) {
    sum = (sum + ((data[i] << 8) | data[i + 1])) >>> 0;
    i += 2;
  }
  if (i < end) sum = (sum + (data[i] << 8)) >>> 0;
  while ((sum >>> 16) !== 0) sum = ((sum & 0xffff) + (sum >>> 16)) >>> 0;
  return sum;
}

function checksum(data: Uint8Array, offset: i32, length: i32): u16 {
  return u16(~onesComplementSum(data, offset, length, 0));
}

const ipHeader: i32[] = [
  0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
];

export function main(): i32 {
  for (let i = 0; i < ipHeader.length; i++) packet[i] = ipHeader[i];
  const sum: u16 = checksum(packet, 0, 20);
  print(sum);
  writeHex(sum);
  print("");
  packet[10] = sum >> 8;
  packet[11] = sum & 0xff;
  print(checksum(packet, 0, 20));
  // odd length: the last byte is padded with zero
  packet[20] = 0xab;
  print(checksum(packet, 0, 21));
  // the sum of all-ones words folds the carries back in
  for (let i = 0; i < 64; i++) packet[i] = 0xff;
  print(onesComplementSum(packet, 0, 64, 0));
  print(checksum(packet, 0, 64));
  // a pseudo-header sum carried into the payload sum, as UDP does
  const pseudo: u32 = onesComplementSum(packet, 0, 12, 0x1234);
  print(pseudo);
  return 0;
}
