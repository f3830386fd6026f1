// expect: -2147483648
// expect: 0
// expect: 1410065408
// expect: -2147483648
// expect: 2147483647
// expect: -2147483648
// expect: -1
// expect: -3
// expect: 689956897
// expect: 1820529360
// expect: 1
// targets: interp qemu node
// Not for node --plain: relies on + - * and ++ += *= wrapping in 32 bits without `| 0`.
import { i32, print } from "dsl";

export function main(): i32 {
  const big: i32 = 2147483647;
  print(big + 1);
  const m: i32 = 65536;
  print(m * m);
  const a: i32 = 100000;
  print(a * a);
  const low: i32 = -2147483648;
  print(-low);
  print(low - 1);
  let c: i32 = 2147483647;
  c++;
  print(c);
  c += 2147483647;
  print(c);
  c *= 3;
  print(c);
  let p: i32 = 1;
  for (let i = 0; i < 40; i++) p = p * 3;
  print(p);
  let x: i32 = 0;
  let y: i32 = 1;
  for (let i = 0; i < 60; i++) {
    const t: i32 = x + y;
    x = y;
    y = t;
  }
  print(x);
  let q: i32 = -2147483648;
  q--;
  print(i32(q === 2147483647));
  return 0;
}
