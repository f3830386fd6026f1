// expect: 2158439668
// String-free parsing: a 24 KiB buffer of ASCII records "-123,0x1f,4567\n" (decimal, hex with a 0x
// prefix, optional minus sign) built from an LCG, parsed by a byte-at-a-time state machine into a
// wrapping sum, a count and a field-position hash. C twin: parse-numbers.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const SIZE = 24576;
const text = new Uint8Array(24576);
let textLength: i32 = 0;

function put(byte: i32): void { text[textLength++] = byte; }

function fill(): void {
  let state: u32 = 777;
  let field: i32 = 0;
  while (textLength < SIZE - 24) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    let value: u32 = (state >>> 4) & 0xfffff;
    const kind: u32 = (state >>> 28) & 3;
    if (kind === 0) put(45);
    if (kind === 1) {
      put(48); put(120);
      let shift = 20;
      while (shift > 0 && ((value >>> (shift - 4)) & 15) === 0) shift -= 4;
      if (shift === 0) put(48);
      while (shift > 0) {
        shift -= 4;
        const d: u32 = (value >>> shift) & 15;
        put(d < 10 ? 48 + d : 87 + d);
      }
    } else {
      let div: u32 = 1000000;
      while (div > 1 && value < div) div = div / 10;
      while (div > 0) { put(48 + (value / div) % 10); div = div / 10; }
    }
    field++;
    put(field % 4 === 0 ? 10 : 44);
  }
}

function parse(length: i32): u32 {
  let sum: u32 = 0;
  let count: u32 = 0;
  let hash: u32 = 0;
  let column: i32 = 0;
  let i: i32 = 0;
  while (i < length) {
    let negative = false;
    if (text[i] === 45) { negative = true; i++; }
    let value: u32 = 0;
    if (text[i] === 48 && i + 1 < length && text[i + 1] === 120) {
      i += 2;
      while (i < length) {
        const c: i32 = text[i];
        if (c >= 48 && c <= 57) value = ((value << 4) | (c - 48)) >>> 0;
        else if (c >= 97 && c <= 102) value = ((value << 4) | (c - 87)) >>> 0;
        else break;
        i++;
      }
    } else {
      while (i < length) {
        const c: i32 = text[i];
        if (c < 48 || c > 57) break;
        value = (Math.imul(value, 10) + (c - 48)) >>> 0;
        i++;
      }
    }
    if (negative) value = (0 - value) >>> 0;
    sum = (sum + value) >>> 0;
    count++;
    hash = (Math.imul(hash ^ value, 16777619) + column) >>> 0;
    if (i < length && text[i] === 10) column = 0;
    else column++;
    i++;
  }
  return (sum ^ (count << 24) ^ hash) >>> 0;
}

function bench(): u32 {
  return parse(textLength);
}

export function main(): i32 {
  fill();
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
