// expect: 0
// expect: 0
// targets: interp qemu
// The libos Internet checksum (guest-src/libos/bytes.ts checksumAdd: 32-bit loads, byte-swapped
// partial sums folded and swapped back) against RFC 1071's byte-pair sum, at every offset 0..7 and
// length 0..80, from a zero and from a running sum; then copyBytes and fillBytes (memoryCopy and
// memoryFill behind a range check) against byte loops. Prints the checksum mismatches, then the copy
// and fill ones.
import { i32, u32, print } from "dsl";
import { checksumAdd, checksumFinish, copyBytes, fillBytes } from "../../guest-src/libos/bytes.ts";

const data = new Uint8Array(96);
const copy = new Uint8Array(96);
const model = new Uint8Array(96);

/** RFC 1071 one byte pair at a time (an odd last byte padded with zero), folded and complemented. */
function reference(sum: u32, offset: i32, length: i32): i32 {
  let acc = sum;
  for (let i = 0; i + 1 < length; i += 2) acc += u32((data[offset + i] << 8) | data[offset + i + 1]);
  if ((length & 1) !== 0) acc += u32(data[offset + length - 1] << 8);
  while ((acc >>> 16) !== 0) acc = (acc & 0xffff) + (acc >>> 16);
  return i32(~acc & 0xffff);
}

export function main(): i32 {
  let x: u32 = 0x12345678;
  for (let i = 0; i < 96; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    data[i] = i < 48 ? x & 0xff : 0xff;           // the second half all ones: the carries fold
  }
  let checksums: u32 = 0, copies: u32 = 0;
  for (let offset = 0; offset < 8; offset++) {
    for (let length = 0; length <= 80; length++) {
      if (checksumFinish(checksumAdd(0, data, offset, length)) !== reference(0, offset, length)) checksums++;
      const running = checksumFinish(checksumAdd(0x1fffe, data, offset, length));
      if (running !== reference(0x1fffe, offset, length)) checksums++;
      for (let i = 0; i < 96; i++) { copy[i] = i; model[i] = i; }
      copyBytes(copy, 7 - offset, data, offset, length > 88 ? 88 : length);
      for (let i = 0; i < length && i < 88; i++) model[7 - offset + i] = data[offset + i];
      fillBytes(copy, 90 - (length % 8), 0x1a5, length % 8);
      for (let i = 0; i < length % 8; i++) model[90 - (length % 8) + i] = 0xa5;
      for (let i = 0; i < 96; i++) if (copy[i] !== model[i]) copies++;
    }
  }
  print(checksums);
  print(copies);
  return 0;
}
