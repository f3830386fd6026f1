// A minimal guest runtime for the kernel's VM tests (until guest-src/runtime/ exists): the exports the
// compiler lowers print/write/writeHex/panic/exit/traps to, each in terms of hypercalls
// (docs/virtual-architecture.md). Output is buffered per line and written with one consoleWrite, so
// lines of different VMs never interleave; over the VM's console budget (a short count or EAGAIN) the
// rest is written again after a yield, so nothing is lost.
import { i32, u32, hypercall, addressOf, load8, memoryCopy } from "dsl";
import { HYPERCALL_EXIT, HYPERCALL_CONSOLE_WRITE, HYPERCALL_YIELD, EAGAIN } from "../../../abi/hypercalls.ts";

const lineBuffer = new Uint8Array(256);
let lineLength: u32 = 0;

export function flush(): void {
  while (lineLength !== 0) {
    const taken = hypercall(HYPERCALL_CONSOLE_WRITE, addressOf(lineBuffer), lineLength, 0, 0);
    if (taken <= 0) {
      if (taken !== EAGAIN) break;                   // over budget: try again; anything else: give up
      hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
      continue;
    }
    lineLength -= u32(taken);
    memoryCopy(addressOf(lineBuffer), addressOf(lineBuffer) + u32(taken), lineLength);
  }
  lineLength = 0;
}

const EXIT_PANIC = 101;

export function consoleWriteBytes(address: u32, length: u32): void {
  for (let i: u32 = 0; i < length; i++) {
    const byte = load8(address + i);
    lineBuffer[lineLength] = byte;
    lineLength++;
    if (byte === 10 || lineLength === u32(lineBuffer.length)) flush();
  }
}

function newLine(): void {
  const b = new Uint8Array(1);
  b[0] = 10;
  consoleWriteBytes(addressOf(b), 1);
}

export function writeU32(x: u32): void {
  const digits = new Uint8Array(12);
  let at: u32 = 12;
  let rest = x;
  do { at--; digits[at] = 48 + rest % 10; rest = rest / 10; } while (rest !== 0);
  consoleWriteBytes(addressOf(digits) + at, 12 - at);
}

export function writeI32(x: i32): void {
  if (x < 0) {
    const minus = new Uint8Array(1);
    minus[0] = 45;
    consoleWriteBytes(addressOf(minus), 1);
    writeU32(u32(0 - x));
  } else {
    writeU32(u32(x));
  }
}

export function writeString(s: string): void { consoleWriteBytes(addressOf(s), u32(s.length)); }

export function writeHex(x: u32): void {
  const digits = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    const nibble = (x >>> (28 - 4 * i)) & 15;
    digits[i] = nibble < 10 ? 48 + nibble : 87 + nibble;
  }
  consoleWriteBytes(addressOf(digits), 8);
}

export function printI32(x: i32): void { writeI32(x); newLine(); }
export function printU32(x: u32): void { writeU32(x); newLine(); }
export function printString(s: string): void { writeString(s); newLine(); }

export function exit(status: i32): void {
  flush();
  while (true) hypercall(HYPERCALL_EXIT, u32(status), 0, 0, 0);
}

export function panicAt(message: string, func: string): void {
  writeString("panic: ");
  writeString(message);
  writeString(" (in ");
  writeString(func);
  printString(")");
  exit(EXIT_PANIC);
}

/** kind: 0 unreachable, 1 integer division by zero, 2 index out of bounds. */
export function trap(kind: i32): void {
  writeString("trap ");
  printI32(kind);
  exit(EXIT_PANIC);
}
