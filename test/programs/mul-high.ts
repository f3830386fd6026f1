// expect: 0
// expect: 0
// expect: 4294967294
// expect: 1
// expect: 1
// expect: 184609358
// expect: 232
// expect: 999847
// expect: 1
// expect: 1
// expect: 4294967294 1
// targets: interp qemu node
// mulHigh(a, b): the high 32 bits of the unsigned 64-bit product (the IR's mulhu, one x86 `mul`), on
// values from a table (not folded) and on constants (folded at build time), against Python's a*b >> 32.
import { i32, u32, print, write, mulHigh } from "dsl";

const left = new Uint32Array(10);
const right = new Uint32Array(10);

export function main(): i32 {
  const pairs: u32[] = [0, 0, 1, 1, 0xffffffff, 0xffffffff, 0xffffffff, 2, 0x80000000, 2, 0x12345678, 0x9abcdef0,
    1000000, 1000000, 999848, 0xffffffff, 65536, 65536, 3, 0x55555556];
  for (let i = 0; i < 10; i++) { left[i] = pairs[2 * i]; right[i] = pairs[2 * i + 1]; }
  for (let i = 0; i < 10; i++) print(mulHigh(left[i], right[i]));
  const folded: u32 = mulHigh(0xffffffff, 0xffffffff);
  write(folded); write(" "); print(mulHigh(0xffffffff, 2));
  return 0;
}
