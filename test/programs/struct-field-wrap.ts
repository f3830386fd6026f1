// expect: 44
// expect: -56
// expect: -25536
// expect: 65535
// expect: 4294967295
// expect: 0
// expect: 9
// expect: 127
// expect: -128
// expect: 300
// targets: interp qemu node
// Not for node --plain: a store into a struct field wraps to the field's width in compiled code,
// while under Node a field is a plain JavaScript property that keeps any number.
import { i8, u8, i16, u16, i32, u32, print } from "dsl";

class Registers {
  byte: u8 = 0;
  signedByte: i8 = 0;
  half: i16 = 0;
  unsignedHalf: u16 = 0;
  word: u32 = 0;
}

const registers = new Registers();

function storeAll(r: Registers, value: i32): void {
  r.byte = value;
  r.signedByte = value;
  r.half = value;
  r.unsignedHalf = value;
  r.word = value;
}

export function main(): i32 {
  storeAll(registers, 300);
  print(registers.byte);
  storeAll(registers, 200);
  print(registers.signedByte);
  storeAll(registers, 40000);
  print(registers.half);
  storeAll(registers, -1);
  print(registers.unsignedHalf);
  print(registers.word);
  registers.byte = 255;
  registers.byte++;
  print(registers.byte);
  registers.byte += 265;
  print(registers.byte);
  registers.signedByte = 126;
  registers.signedByte++;
  print(registers.signedByte);
  registers.signedByte++;
  print(registers.signedByte);
  const local = new Registers();
  local.half = 300;
  print(local.half);
  return 0;
}
