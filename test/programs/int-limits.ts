// expect: 2147483647
// expect: -2147483648
// expect: 4294967295
// expect: -2147483648
// expect: 2147483647
// expect: 0
// expect: 4294967295
// expect: -2147483648
// expect: 2147483647
// expect: -2147483648
// expect: -1
// expect: 2147483648
// expect: 1
// Integer limits and the portable wrapping idioms: `| 0` to i32, `>>> 0` to u32.
import { i32, u32, print } from "dsl";

const INT_MAX: i32 = 2147483647;
const INT_MIN: i32 = -2147483648;
const U32_MAX: u32 = 4294967295;

export function main(): i32 {
  print(INT_MAX);
  print(INT_MIN);
  print(U32_MAX);
  print((INT_MAX + 1) | 0);
  print((INT_MIN - 1) | 0);
  print((U32_MAX + 1) >>> 0);
  print((0 - 1) >>> 0);
  print(-INT_MIN | 0);
  print(0x7fffffff);
  print(0x80000000 | 0);
  print(U32_MAX | 0);
  print(INT_MIN >>> 0);
  print(i32(U32_MAX > INT_MAX));
  return 0;
}
