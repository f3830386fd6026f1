// expect: 123
// expect: -45
// expect: 6
// expect: 7890
// expect: 0
// expect: 2147483647
// expect: -2147483648
// expect: 0
// expect: 42
// expect: 0
// expect: 10
// expect: 8015
// expect: -2147483648
// expect: 1
// String-free parsing: signed decimal integers separated by commas and spaces, read from a
// Uint8Array of ASCII bytes (as a driver would receive them), including INT_MIN and INT_MAX.
import { bool, i32, print } from "dsl";

const input = new Uint8Array(128);
let inputLength: i32 = 0;
let cursor: i32 = 0;
let errors: i32 = 0;

function receive(text: string): void {
  for (let i = 0; i < text.length; i++) input[inputLength++] = text.charCodeAt(i);
}

function isDigit(c: i32): bool { return c >= 48 && c <= 57; }

function skipSeparators(): void {
  while (cursor < inputLength && (input[cursor] === 32 || input[cursor] === 44 || input[cursor] === 10)) cursor++;
}

// Accumulates negatively so that -2147483648 parses without overflow, like a careful atoi.
function parseNumber(): i32 {
  let negative: bool = false;
  if (input[cursor] === 45 || input[cursor] === 43) {
    negative = input[cursor] === 45;
    cursor++;
  }
  if (cursor >= inputLength || !isDigit(input[cursor])) {
    errors++;
    while (cursor < inputLength && input[cursor] !== 44) cursor++;
    return 0;
  }
  let value: i32 = 0;
  while (cursor < inputLength && isDigit(input[cursor])) {
    value = (Math.imul(value, 10) - (input[cursor] - 48)) | 0;
    cursor++;
  }
  return negative ? value : -value | 0;
}

export function main(): i32 {
  receive("  123,-45,+6,7890\n0, 2147483647,-2147483648,x1, 00042,-0");
  let count: i32 = 0;
  let sum: i32 = 0;
  let smallest: i32 = 2147483647;
  skipSeparators();
  while (cursor < inputLength) {
    const value: i32 = parseNumber();
    print(value);
    count++;
    sum = (sum + value) | 0;
    if (value < smallest) smallest = value;
    skipSeparators();
  }
  print(count);
  print(sum);
  print(smallest);
  print(errors);
  return 0;
}
