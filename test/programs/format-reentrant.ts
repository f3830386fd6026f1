// expect: 92 167 4294967295
// expect: [7] [12345]
// targets: interp qemu node
// The shared decimal formatter (dsl/runtime/format.ts) is reentrant: a sink that formats numbers itself
// while it takes the digits of another (as the kernel console does when it drains its ring in the middle
// of a write and prefixes a guest line with `[vm N] `) leaves the outer number's digits intact.
// Not for node --plain: the runtime formatter divides as the DSL does (integer division), Node would not.
import { i32, u8, u32, print, write } from "dsl";
import { formatDecimal } from "../../dsl/runtime/format.ts";

const outer = new Uint8Array(64);
const inner = new Uint8Array(64);
let outerLength = 0;
let innerLength = 0;
let nested: u32 = 7;

function toInner(byte: u8): void { inner[innerLength] = byte; innerLength++; }

/** Takes a digit of the outer number, and first formats another number (the "drain"). */
function toOuter(byte: u8): void {
  if (nested !== 0) {
    inner[innerLength] = 91; innerLength++;                  // '['
    formatDecimal(toInner, nested);
    inner[innerLength] = 93; innerLength++;                  // ']'
    inner[innerLength] = 32; innerLength++;
    nested = nested === 7 ? 12345 : 0;
  }
  outer[outerLength] = byte;
  outerLength++;
}

/** Prints the bytes as one line, each a character code (write takes numbers and strings only). */
function printBytes(bytes: Uint8Array, length: u32): void {
  for (let i: u32 = 0; i < length; i++) {
    if (bytes[i] === 32) write(" ");
    else if (bytes[i] === 91) write("[");
    else if (bytes[i] === 93) write("]");
    else write(bytes[i] - 48);
  }
  print("");
}

export function main(): i32 {
  formatDecimal(toOuter, 92);
  outer[outerLength] = 32; outerLength++;
  formatDecimal(toOuter, 167);
  outer[outerLength] = 32; outerLength++;
  formatDecimal(toOuter, 4294967295);
  printBytes(outer, u32(outerLength));
  printBytes(inner, u32(innerLength - 1));
  return 0;
}
