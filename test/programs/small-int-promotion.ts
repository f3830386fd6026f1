// expect: 260
// expect: 4
// expect: 260
// expect: -129
// expect: 127
// expect: 128
// expect: -128
// expect: -131071
// expect: 1
// expect: 60000
// expect: -5536
// expect: 52
// expect: 2166
// Operands of i8 u8 i16 u16 are promoted to i32 before arithmetic; the result is i32 and can leave
// the small type's range until it is converted back explicitly.
import { i8, u8, i16, u16, i32, print } from "dsl";

function addBytes(a: u8, b: u8): i32 { return a + b; }
function lowByte(x: i32): u8 { return u8(x); }
function toSigned16(x: i32): i16 { return i16(x); }

export function main(): i32 {
  const a: u8 = 250;
  const b: u8 = 10;
  print(a + b);
  print(u8(a + b));
  print(addBytes(a, b));
  const c: i8 = -128;
  print(c - 1);
  print(i8(c - 1));
  print(-c);
  print(i8(-c));
  const d: u16 = 65535;
  print(d * d | 0);
  print(u16(d + 2));
  const e: i16 = 30000;
  print(e + e);
  print(toSigned16(e + e));
  print(lowByte(0x1234));
  let total: i32 = 0;
  for (let i = 0; i < 20; i++) {
    const byte: u8 = lowByte(i * 37);
    total = total + byte;
  }
  print(total);
  return 0;
}
