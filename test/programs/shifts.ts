// expect: -2147483648
// expect: 1
// expect: 2
// expect: -2147483648
// expect: 1
// expect: 768
// expect: -2147483648
// expect: -4
// expect: -1
// expect: -16
// expect: 15
// expect: 4294967295
// expect: 4294967295
// expect: 1
// expect: 251658240
// expect: -16777216
// expect: 0
// expect: 2147483648
// expect: 1193046
// expect: -128
// expect: -134217728
// expect: 3
// expect: 0
// Shifts follow JavaScript: << >> give i32, >>> gives u32, the count is taken modulo 32.
import { i32, u32, print } from "dsl";

function shiftLeft(x: i32, count: i32): i32 { return x << count; }
function shiftRightArithmetic(x: i32, count: i32): i32 { return x >> count; }
function shiftRightLogical(x: i32, count: i32): u32 { return x >>> count; }

export function main(): i32 {
  print(1 << 31);
  print(1 << 32);
  print(1 << 33);
  print(shiftLeft(1, 31));
  print(shiftLeft(1, 32));
  print(shiftLeft(3, 40));
  print(shiftLeft(5, -1));
  print(shiftRightArithmetic(-16, 2));
  print(shiftRightArithmetic(-1, 31));
  print(shiftRightArithmetic(-256, 36));
  print(shiftRightLogical(-16, 28));
  print(shiftRightLogical(-1, 0));
  print(shiftRightLogical(-1, 32));
  print(shiftRightLogical(-1, 63));
  const mask: u32 = 0xf0000000;
  print(mask >>> 4);
  print(mask >> 4);
  print(mask << 4);
  print((mask << 3) >>> 0);
  let bits: u32 = 0x12345678;
  bits >>>= 8;
  print(bits);
  let value: i32 = -1024;
  value >>= 3;
  print(value);
  value <<= 20;
  print(value);
  // a 64-bit shift built from two 32-bit halves
  const high: u32 = 0x00000001;
  const low: u32 = 0x80000000;
  const newHigh: u32 = ((high << 1) | (low >>> 31)) >>> 0;
  const newLow: u32 = (low << 1) >>> 0;
  print(newHigh);
  print(newLow);
  return 0;
}
