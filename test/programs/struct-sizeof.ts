// expect: 2
// expect: 12
// expect: 8
// expect: 16
// expect: 4
// expect: 10
// expect: 16
// expect: 8
// expect: 20
// expect: 1
// expect: 12
// targets: interp qemu
// Not portable to Node: sizeOf and addressOf exist only in compiled code.
// Layout follows C rules: each field at its natural alignment, the size rounded up to the
// struct's alignment; nested structs and typed arrays are inline (a typed array aligns as its element).
import { i32, u8, i16, u16, u32, print, sizeOf, structArray, addressOf } from "dsl";

class TwoBytes { a: u8 = 0; b: u8 = 0; }
class Padded { a: u8 = 0; b: u32 = 0; c: u16 = 0; }          // 0, 4, 8 -> 10 -> 12
class Reordered { b: u32 = 0; c: u16 = 0; a: u8 = 0; }       // 0, 4, 6 -> 7 -> 8
class Header { length: u16 = 0; flags: u8 = 0; mac = new Uint8Array(6); next: i32 = 0; } // 0, 2, 3, 12 -> 16
class Point { x: i16 = 0; y: i16 = 0; }                      // 4, alignment 2
class Segment { tag: u8 = 0; from = new Point(); to = new Point(); } // 0, 2, 6 -> 10
class Words { tag: u8 = 0; words = new Uint32Array(3); }      // 0, 4 -> 16
class Halves { tag: u8 = 0; values = new Int16Array(3); }     // 0, 2 -> 8
class Outer { first: u8 = 0; inner = new Padded(); last: u8 = 0; } // 0, 4, 16 -> 17 -> 20

const segments = structArray(Padded, 4);

export function main(): i32 {
  print(sizeOf(TwoBytes));
  print(sizeOf(Padded));
  print(sizeOf(Reordered));
  print(sizeOf(Header));
  print(sizeOf(Point));
  print(sizeOf(Segment));
  print(sizeOf(Words));
  print(sizeOf(Halves));
  print(sizeOf(Outer));
  const stride: u32 = addressOf(segments[1]) - addressOf(segments[0]);
  print(i32(stride === sizeOf(Padded)));
  print(addressOf(segments[3]) - addressOf(segments[2]));
  return 0;
}
