// expect: 3 2 -3 2 5 2 -5 2 17 0 -17 0 2 3
// expect: -3 -2 3 -2 -5 -2 5 -2 -17 0 17 0 -2 -3
// expect: 20 0 -20 0 33 1 -33 1 100 0 -100 0 14 2
// expect: -20 0 20 0 -33 -1 33 -1 -100 0 100 0 -14 -2
// expect: 0 0 0 0 0 0 0 0 0 0 0 0 0 0
// expect: 429496729 2 -429496729 2 715827882 1 -715827882 1 2147483647 0 -2147483647 0 306783378 1
// expect: -429496729 -3 429496729 -3 -715827882 -2 715827882 -2 -2147483648 0 -2147483648 0 -306783378 -2
// expect: -2147483648
// expect: 0
// expect: -4
// expect: 1
// Signed division truncates toward zero and % takes the sign of the dividend; written with `| 0`
// so that Node gives the same answers. INT_MIN / -1 wraps to INT_MIN, INT_MIN % -1 is 0.
import { i32, print, write } from "dsl";

const dividends: i32[] = [17, -17, 100, -100, 0, 2147483647, -2147483648];
const divisors: i32[] = [5, -5, 3, -3, 1, -1, 7];

export function main(): i32 {
  for (let i = 0; i < dividends.length; i++) {
    for (let j = 0; j < divisors.length; j++) {
      const a: i32 = dividends[i];
      const b: i32 = divisors[j];
      write((a / b) | 0);
      write(" ");
      write(a % b | 0);
      if (j + 1 < divisors.length) write(" ");
    }
    print("");
  }
  const min: i32 = -2147483648;
  const minusOne: i32 = -1;
  print((min / minusOne) | 0);
  print((min % minusOne) | 0);
  // floor division and a non-negative modulo built from the truncating ones
  const a: i32 = -7;
  const b: i32 = 2;
  const truncated: i32 = (a / b) | 0;
  const floored: i32 = (a % b !== 0 && (a < 0) !== (b < 0)) ? truncated - 1 : truncated;
  print(floored);
  print(((a % b) + b) % b);
  return 0;
}
