// expect: 3
// expect: -3
// expect: -3
// expect: 3
// expect: 1
// expect: -1
// expect: 1
// expect: -1
// expect: -2147483648
// expect: 0
// expect: 1431655765
// expect: 5
// expect: 1073741824
// expect: -1073741824
// expect: 142
// expect: 2
// expect: 1333333333
// expect: -14
// targets: interp qemu node
// Not for node --plain: `/` without `| 0` truncates only in compiled code (Node gives 3.5).
import { i32, u32, print } from "dsl";

function average(values: Int32Array): i32 {
  let sum: i32 = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

export function main(): i32 {
  const seven: i32 = 7;
  const two: i32 = 2;
  print(seven / two);
  print(-seven / two);
  print(seven / -two);
  print(-seven / -two);
  print(seven % two);
  print(-seven % two);
  print(seven % -two);
  print(-seven % -two);
  const min: i32 = -2147483648;
  const minusOne: i32 = -1;
  print(min / minusOne);
  print(min % minusOne);
  const u: u32 = 4294967295;
  const three: u32 = 3;
  print(u / three);
  print(u % 10);
  const high: u32 = 0x80000000;
  print(high / 2);
  const highSigned: i32 = 0x80000000 | 0;
  print(highSigned / 2);
  let acc: i32 = 1000;
  acc /= 7;
  print(acc);
  acc %= 10;
  print(acc);
  let ua: u32 = 4000000000;
  ua /= 3;
  print(ua);
  const samples = new Int32Array(4);
  samples[0] = -10;
  samples[1] = -20;
  samples[2] = -5;
  samples[3] = -23;
  print(average(samples));
  return 0;
}
