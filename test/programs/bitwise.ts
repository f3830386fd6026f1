// expect: 15
// expect: 4095
// expect: 4080
// expect: -3856
// expect: -1
// expect: 0
// expect: 4294967295
// expect: 3735928559
// expect: 239
// expect: 190
// expect: 13
// expect: 48879
// expect: 1
// expect: f00000af
// expect: 4026532015
// expect: 268435280
// & | ^ ~ on i32 and u32, masks and field extraction as in device registers.
import { i32, u32, print, writeHex } from "dsl";

function field(word: u32, shift: i32, width: i32): u32 {
  return (word >>> shift) & ((1 << width) - 1);
}

function setField(word: u32, shift: i32, width: i32, value: u32): u32 {
  const mask: u32 = (((1 << width) - 1) << shift) >>> 0;
  return ((word & ~mask) | ((value << shift) & mask)) >>> 0;
}

export function main(): i32 {
  const a: i32 = 0x0f0f;
  const b: i32 = 0x00ff;
  print(a & b);
  print(a | b);
  print(a ^ b);
  print(~a);
  print(~0);
  print(~-1);
  print(~0 >>> 0);
  const status: u32 = 0xdeadbeef;
  print(status);
  print(field(status, 0, 8));
  print(field(status, 8, 8));
  print(field(status, 28, 4));
  print(status & 0xffff);
  print((status | 0) < 0 ? 1 : 0);
  let reg: u32 = 0;
  reg = setField(reg, 4, 4, 0xa);
  reg = setField(reg, 28, 4, 0xf);
  reg = setField(reg, 0, 4, 0x1f);
  writeHex(reg);
  print("");
  print(reg);
  print((reg ^ 0xffffffff) >>> 0);
  return 0;
}
