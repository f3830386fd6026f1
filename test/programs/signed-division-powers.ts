// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 0
// expect: 1
// expect: 0
// expect: 1
// expect: 0
// expect: 1
// expect: 0
// expect: -1
// expect: 0
// expect: -1
// expect: 0
// expect: -1
// expect: 0
// expect: 7
// expect: 3
// expect: 1
// expect: 0
// expect: 7
// expect: 0
// expect: -7
// expect: -3
// expect: -1
// expect: 0
// expect: -7
// expect: 1
// expect: 0
// expect: 4
// expect: 0
// expect: 0
// expect: 8
// expect: -1
// expect: 0
// expect: -4
// expect: 0
// expect: 0
// expect: -8
// expect: 1
// expect: 1
// expect: 4
// expect: 1
// expect: 0
// expect: 9
// expect: -1
// expect: -1
// expect: -4
// expect: -1
// expect: 0
// expect: -9
// expect: 268435455
// expect: 7
// expect: 1073741823
// expect: 1
// expect: 2097151
// expect: 1023
// expect: -268435456
// expect: 0
// expect: -1073741824
// expect: 0
// expect: -2097152
// expect: 0
// expect: 12
// expect: 4
// expect: 50
// expect: 0
// expect: 0
// expect: 100
// expect: -12
// expect: -4
// expect: -50
// expect: 0
// expect: 0
// expect: -100
// expect: 127
// expect: 7
// expect: 511
// expect: 1
// expect: 0
// expect: 1023
// expect: -127
// expect: -7
// expect: -511
// expect: -1
// expect: 0
// expect: -1023
// Signed division and remainder by powers of two (strength reduction: a biased arithmetic shift) on
// negative, positive and extreme dividends; the same as JavaScript's truncating (x / d) | 0 and %.
import { i32, print } from "dsl";
const xs: i32[] = [0, 1, -1, 7, -7, 8, -8, 9, -9, 2147483647, -2147483648, 100, -100, 1023, -1023];
export function main(): i32 {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    print((x / 8) | 0); print(x % 8); print((x / 2) | 0); print(x % 2); print((x / 1024) | 0); print(x % 1024);
  }
  return 0;
}
