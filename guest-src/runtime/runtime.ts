// The guest runtime: the compiler lowers print/write/writeHex/panic/exit and its checks (division by
// zero, bounds, unreachable) in guest code to calls of these exports, by name (tools/build.ts links
// this file into every guest image). Output goes through the consoleWrite hypercall, one line at a
// time: a line is buffered until its newline (or until the buffer fills), so that lines of thousands
// of VMs sharing the console never interleave. A panic or a trap prints `panic: MESSAGE (in FUNC)` or
// `trap: KIND` and ends the VM with status 101; exit(status) flushes and ends it with status.
import { i32, u32, u8, addressOf } from "dsl";
import { consoleWrite, exitVm, yieldCpu } from "./hypercalls.ts";
import { EAGAIN } from "../../abi/hypercalls.ts";
import { formatDecimal, formatSignedDecimal, formatHex, formatString } from "../../dsl/runtime/format.ts";

/** Exit status of a VM ended by a panic or a trap (the same as a standalone program's). */
export const STATUS_FATAL = 101;

const LINE_CAPACITY = 240;
const line = new Uint8Array(LINE_CAPACITY);
let lineLength: i32 = 0;

/**
 * Writes out what is buffered (print does it at each newline; exit before it ends the VM). The kernel
 * takes what the VM's console budget allows (a short count, EAGAIN when nothing fits): the rest is
 * written again after a yield, so output is slowed down, never lost.
 */
export function flush(): void {
  let done: u32 = 0;
  while (done < u32(lineLength)) {
    const result = consoleWrite(addressOf(line) + done, u32(lineLength) - done);
    if (result > 0) done += u32(result);
    else if (result === EAGAIN) yieldCpu();
    else break;
  }
  lineLength = 0;
}

function putByte(byte: u8): void {
  if (lineLength === LINE_CAPACITY) flush();
  line[lineLength] = byte;
  lineLength++;
  if (byte === 10) flush();
}

export function writeString(s: string): void { formatString(putByte, s); }
export function writeU32(x: u32): void { formatDecimal(putByte, x); }
export function writeI32(x: i32): void { formatSignedDecimal(putByte, x); }
export function writeHex(x: u32): void { formatHex(putByte, x); }

export function printI32(x: i32): void { writeI32(x); putByte(10); }
export function printU32(x: u32): void { writeU32(x); putByte(10); }
export function printString(s: string): void { writeString(s); putByte(10); }

/** exit(status): flushes the line buffer and ends the VM (the exit hypercall). */
export function exit(status: i32): void {
  flush();
  exitVm(status);
}

/** panic(message) in function F compiles to panicAt(message, "F"). */
export function panicAt(message: string, func: string): void {
  flush();
  writeString("panic: ");
  writeString(message);
  writeString(" (in ");
  writeString(func);
  writeString(")\n");
  exitVm(STATUS_FATAL);
}

/** kind: 0 unreachable, 1 integer division by zero, 2 index out of bounds. */
export function trap(kind: i32): void {
  flush();
  writeString("trap: ");
  if (kind === 1) writeString("integer division by zero");
  else if (kind === 2) writeString("index out of bounds");
  else writeString("unreachable code reached");
  putByte(10);
  exitVm(STATUS_FATAL);
}
