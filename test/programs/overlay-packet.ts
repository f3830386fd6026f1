// expect: 4660
// expect: 1
// expect: 3
// expect: 4
// expect: 1
// expect: 0
// expect: 2
// expect: 17
// expect: 65535
// expect: 1024
// targets: interp qemu
// Not portable to Node: overlay and addressOf exist only in compiled code. A struct laid over the
// bytes of a Uint8Array reads and writes them in place, little-endian (x86 byte order).
import { i32, u8, u16, u32, print, overlay, addressOf } from "dsl";

class Header {
  length: u16 = 0;    // offset 0
  flags: u8 = 0;      // offset 2
  kind: u8 = 0;       // offset 3
  sequence: u32 = 0;  // offset 4
  window: u16 = 0;    // offset 8
  padding: u16 = 0;   // offset 10
}

const packet = new Uint8Array(32);

export function main(): i32 {
  packet[0] = 0x34;
  packet[1] = 0x12;
  packet[2] = 1;
  packet[3] = 3;
  const header = overlay(Header, addressOf(packet));
  print(header.length);
  print(header.flags);
  print(header.kind);
  header.sequence = 0x01020304;
  print(packet[4]);
  print(packet[7]);
  header.window = 0x0200;
  print(packet[8]);
  print(packet[9]);
  // a second header further into the buffer
  const inner = overlay(Header, addressOf(packet) + 12);
  inner.kind = 17;
  print(packet[15]);
  inner.length = 0xffff;
  print(packet[12] | (packet[13] << 8));
  packet[20] = 0x00;
  packet[21] = 0x04;
  print(inner.window);
  return 0;
}
