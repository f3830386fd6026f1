// expect: 260 4
// expect: 5 5
// expect: 5 4
// expect: 127 -128
// expect: -384 -128
// expect: 65537 1
// expect: -32769 32767
// expect: -2147483648 -2147483648
// expect: 0 0
// expect: -1
// expect: 4294967295
// expect: 2147483647
// expect: 1
// expect: 255 0
// expect: 300 44
// expect: -129 127
// expect: -1 65535
// expect: 40000 -25536
// expect: 2147483647 -2147483648
// expect: 4294967295
// expect: 4294967295
// expect: 2147483647 -2147483648
// expect: 0 0
// expect: 4294967295
// expect: 4294967293
// expect: 613566756
// expect: -2147483648 2147483647
// expect: 647 647
// expect: 10
// expect: -6
// targets: interp qemu node
// Compound assignments and ++/-- on every kind of place (issue 14): a typed-array element or struct
// field wraps what it stores and the value is the operation's result, as in JavaScript (a Uint32Array
// element `+= -1` is -1, `++` on a u8 element holding 255 is 256); a T[] element or variable holds the
// result converted to its type. The array and index of a place are evaluated once (calls counts them).
// A case label is wrapped to the switch's type (-6 on a u8 is 250). Not for node --plain: it relies on
// + - * wrapping and on struct fields wrapping on store.
import { i8, i16, i32, u8, u16, u32, print, write, structArray } from "dsl";

class Cell { b: u8 = 0; s: i8 = 0; h: u16 = 0; k: i16 = 0; w: i32 = 0; u: u32 = 0; }

const cells = structArray(Cell, 2);
const bytes = new Uint8Array(4);
const signed8 = new Int8Array(2);
const halves = new Uint16Array(2);
const shorts = new Int16Array(2);
const words = new Uint32Array(2);
const ints = new Int32Array(2);
const list: i32[] = [2147483647, -2147483648];
let calls: i32 = 0;
let total: u32 = 0;

function pick(i: i32): i32 { calls++; return i; }

function line(a: i32, b: i32): void { write(a); write(" "); print(b); }

export function main(): i32 {
  // typed-array elements: compound and steps wrap in the store; the value is the operation's result
  bytes[0] = 250;
  line(bytes[pick(0)] += 10, bytes[0]);
  line(++bytes[pick(0)], bytes[0]);
  line(bytes[pick(0)]--, bytes[0]);
  signed8[1] = 127;
  line(signed8[pick(1)]++, signed8[1]);
  line(signed8[1] *= 3, signed8[1]);
  halves[0] = 65535;
  line(halves[0] += 2, halves[0]);
  shorts[1] = -32768;
  line(--shorts[pick(1)], shorts[1]);
  ints[0] = 2147483647;
  line(ints[pick(0)] += 1, ints[0]);
  line(ints[0] -= -2147483647 - 1, ints[0]);
  print(words[pick(1)] += -1);
  print(words[1]);
  print(words[1] >>>= 1);
  print(++words[0]);
  // struct fields: the same rule
  const c = cells[pick(1)];
  c.b = 255;
  line(c.b++, c.b);
  line(cells[pick(1)].b += 300, c.b);
  c.s = -128;
  line(--c.s, c.s);
  line(c.h -= 1, c.h);
  line(c.k += 40000, c.k);
  c.w = 2147483647;
  line(c.w++, c.w);
  print(c.u -= 1);
  print(c.u);
  // a T[] element and variables hold the converted result
  line(list[pick(0)]++, list[0]);
  line(list[1] += list[1], list[1]);
  print(total += 4294967295);
  print(total *= 3);
  print(total /= 7);
  let v: i32 = -2147483648;
  line(v--, v);
  line(v %= 1000, v);
  // the array and index of a place are evaluated once
  print(calls);
  switch (u8(bytes[0] + 246)) {
    case -6: print(-6); break;
    default: print(0);
  }
  return 0;
}
