// expect: 1234
// expect: -66
// expect: 198
// expect: 33
// expect: 5
// expect: 80
// expect: 20
// expect: 276
// expect: 272
// expect: 495
// expect: 4080
// expect: 8160
// expect: 246
// expect: 88
// expect: 1
// expect: 1
// expect: 40
// Every compound assignment operator, on locals, globals, typed-array elements and struct fields.
import { i32, u32, print } from "dsl";

class Counter { value: i32 = 0; bits: u32 = 0; }

let globalTotal: i32 = 100;
const cells = new Int32Array(4);

export function main(): i32 {
  let x: i32 = 1000;
  x += 234; print(x);
  x -= 1300; print(x);
  x *= -3; print(x);
  x /= 6; print(x);
  x %= 7; print(x);
  x <<= 4; print(x);
  x >>= 2; print(x);
  x |= 0x100; print(x);
  x &= 0x1f0; print(x);
  x ^= 0xff; print(x);
  let u: u32 = 0xff000000;
  u >>>= 20; print(u);
  u <<= 1; print(u);
  globalTotal += 23;
  globalTotal *= 2;
  print(globalTotal);
  cells[1] += 5;
  cells[1] *= 9;
  cells[1] -= 1;
  cells[1] <<= 1;
  print(cells[1]);
  const counter = new Counter();
  counter.value += 40;
  counter.value %= 13;
  counter.bits |= 0x80;
  counter.bits ^= 0x81;
  counter.bits >>>= 0;
  print(counter.value);
  print(counter.bits);
  let i: i32 = 0;
  const a = new Int32Array(5);
  for (let k = 0; k < 5; k++) {
    a[i] += k * 10;
    i += 1;
  }
  print(a[4]);
  return 0;
}
