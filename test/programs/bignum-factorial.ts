// expect: 2432902008176640000
// expect: 15511210043330985984000000
// expect: 30414093201713378043612608166064768844377641568960512000000000000
// expect: 17
// expect: 216
// 50! with multi-limb multiplication: limbs of base 10000 in a Uint32Array, printed with
// zero-padded limbs.
import { i32, u32, print, write } from "dsl";

const BASE: i32 = 10000;
const limbs = new Uint32Array(40);
let used: i32 = 1;

function multiplySmall(factor: i32): void {
  let carry: i32 = 0;
  for (let i = 0; i < used; i++) {
    const product: i32 = limbs[i] * factor + carry;
    limbs[i] = product % BASE;
    carry = (product / BASE) | 0;
  }
  while (carry > 0) {
    limbs[used++] = carry % BASE;
    carry = (carry / BASE) | 0;
  }
}

function printPadded(limb: u32): void {
  if (limb < 1000) write(0);
  if (limb < 100) write(0);
  if (limb < 10) write(0);
  write(limb);
}

export function main(): i32 {
  limbs[0] = 1;
  for (let n = 2; n <= 50; n++) {
    multiplySmall(n);
    if (n === 20 || n === 25) {
      write(limbs[used - 1]);
      for (let i = used - 2; i >= 0; i--) printPadded(limbs[i]);
      print("");
    }
  }
  write(limbs[used - 1]);
  for (let i = used - 2; i >= 0; i--) printPadded(limbs[i]);
  print("");
  print(used);
  let digitSum: i32 = 0;
  for (let i = 0; i < used; i++) {
    let v: i32 = limbs[i];
    while (v > 0) {
      digitSum += v % 10;
      v = (v / 10) | 0;
    }
  }
  print(digitSum);
  return 0;
}
