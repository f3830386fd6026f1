// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 127
// expect: 127
// expect: 127
// expect: 127
// expect: -128
// expect: 128
// expect: 128
// expect: 128
// expect: -1
// expect: 255
// expect: 255
// expect: 255
// expect: 0
// expect: 0
// expect: 256
// expect: 256
// expect: -1
// expect: 255
// expect: -1
// expect: 65535
// expect: -128
// expect: 128
// expect: -128
// expect: 65408
// expect: 127
// expect: 127
// expect: -129
// expect: 65407
// expect: -1
// expect: 255
// expect: 32767
// expect: 32767
// expect: 0
// expect: 0
// expect: -32768
// expect: 32768
// expect: -1
// expect: 255
// expect: -1
// expect: 65535
// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: -1
// expect: 255
// expect: 32767
// expect: 32767
// expect: -1
// expect: 4294967294
// expect: 4294967295
// expect: 156
// expect: -56
// Explicit conversions wrap to the target width like a C cast.
import { i8, u8, i16, u16, i32, u32, print } from "dsl";

const values: i32[] = [0, 127, 128, 255, 256, -1, -128, -129, 32767, 32768, 65535, 65536, -32769];

export function main(): i32 {
  for (let k = 0; k < values.length; k++) {
    const v: i32 = values[k];
    print(i8(v));
    print(u8(v));
    print(i16(v));
    print(u16(v));
  }
  print(i32(4294967295));
  print(u32(-2));
  print(u32(i8(-1)));
  print(u8(i8(-100)));
  print(i8(u8(200)));
  return 0;
}
