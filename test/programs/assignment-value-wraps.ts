// expect: 300
// expect: 44
// expect: 4294967295
// expect: -1
// expect: 260 4 4
// expect: -129 127
// expect: 2147483648
// expect: 2147483648
// expect: -1
// The value of an assignment to a place that wraps (a typed-array element) is the right side's value,
// unwrapped, as in JavaScript; the element holds it wrapped (issue 12). A conditional whose arms differ
// in signedness gets one arm converted here, so it prints what Node prints.
import { i32, u32, print, write } from "dsl";

const bytes = new Uint8Array(4);
const small = new Int8Array(2);

export function main(): i32 {
  print((bytes[0] = 300));
  print(bytes[0]);
  const big: u32 = 0xffffffff;
  print((small[1] = big));
  print(small[1]);
  const chained = (bytes[1] = bytes[2] = 260);
  write(chained); write(" "); write(bytes[1]); write(" "); print(bytes[2]);
  let k: i32 = -129;
  write((small[0] = k)); write(" "); print(small[0]);
  const a: i32 = -1;
  const b: u32 = 0x80000000;
  print(a < 0 ? b : u32(a));
  print(a > 0 ? u32(a) : b);
  print(a < 0 ? a : i32(b));
  return 0;
}
