// expect: 1606938044258990275541962092341162602522202993782792835301376
// expect: 61
// expect: 222232244629420445529739893461909967206666939096499764990979600
// expect: 63
// expect: 100000
// Big numbers as arrays of decimal digits (least significant first): 2^200 by repeated doubling,
// and Fibonacci(300) by repeated addition.
import { i32, print, write } from "dsl";

const DIGITS: i32 = 80;
const a = new Uint8Array(80);
const b = new Uint8Array(80);
const sum = new Uint8Array(80);

function setSmall(x: Uint8Array, value: i32): void {
  let v: i32 = value;
  for (let i = 0; i < x.length; i++) {
    x[i] = v % 10;
    v = (v / 10) | 0;
  }
}

function add(result: Uint8Array, x: Uint8Array, y: Uint8Array): i32 {
  let carry: i32 = 0;
  for (let i = 0; i < DIGITS; i++) {
    const d: i32 = x[i] + y[i] + carry;
    result[i] = d % 10;
    carry = d >= 10 ? 1 : 0;
  }
  return carry;
}

function copy(destination: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < source.length; i++) destination[i] = source[i];
}

function printNumber(x: Uint8Array): void {
  let top: i32 = DIGITS - 1;
  while (top > 0 && x[top] === 0) top--;
  for (let i = top; i >= 0; i--) write(x[i]);
  print("");
}

function digitCount(x: Uint8Array): i32 {
  let top: i32 = DIGITS - 1;
  while (top > 0 && x[top] === 0) top--;
  return top + 1;
}

export function main(): i32 {
  setSmall(a, 1);
  for (let i = 0; i < 200; i++) {
    add(sum, a, a);
    copy(a, sum);
  }
  printNumber(a);
  print(digitCount(a));
  setSmall(a, 0);
  setSmall(b, 1);
  for (let i = 0; i < 299; i++) {
    add(sum, a, b);
    copy(a, b);
    copy(b, sum);
  }
  printNumber(b);
  print(digitCount(b));
  setSmall(a, 99999);
  setSmall(b, 1);
  add(sum, a, b);
  printNumber(sum);
  return 0;
}
