// expect: 204
// expect: -36
// expect: 60953
// expect: 33149
// expect: 70
// expect: 48
// expect: 65
// Functions with the maximum of 8 parameters, of mixed widths, in every argument position.
import { bool, i8, u8, i16, u16, i32, u32, print } from "dsl";

function weighted(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32): i32 {
  return a * 1 + b * 2 + c * 3 + d * 4 + e * 5 + f * 6 + g * 7 + h * 8;
}

function mixed(a: i8, b: u8, c: i16, d: u16, e: i32, f: u32, g: bool, h: i32): i32 {
  return (a + b + c + d + e + (f & 0xff) + (g ? 1000 : 0) + h) | 0;
}

function eighth(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32): i32 {
  return h - a + (b - b) + (c - c) + (d - d) + (e - e) + (f - f) + (g - g);
}

function recurse8(depth: i32, a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32): i32 {
  if (depth === 0) return a + b + c + d + e + f + g;
  return recurse8(depth - 1, b, c, d, e, f, g, a + 1);
}

export function main(): i32 {
  print(weighted(1, 2, 3, 4, 5, 6, 7, 8));
  print(weighted(-1, -1, -1, -1, -1, -1, -1, -1));
  print(mixed(-5, 200, -300, 60000, 7, 0x1234, true, -1));
  print(mixed(i8(-128), u8(255), i16(-32768), u16(65535), 0, 0xffffffff, false, 0));
  print(eighth(10, 20, 30, 40, 50, 60, 70, 80));
  print(recurse8(20, 1, 2, 3, 4, 5, 6, 7));
  print(weighted(weighted(1, 0, 0, 0, 0, 0, 0, 0), 0, 0, 0, 0, 0, 0, weighted(0, 0, 0, 0, 0, 0, 0, 1)));
  return 0;
}
