// The runtime of a standalone program (test/programs/, `export function main(): i32`) built as a guest:
// what dsl/runtime/program.ts provides over COM1 and port 0xf4, provided over hypercalls by the guest
// runtime (runtime.ts) instead, so that such a module uses no kernel-only intrinsic and passes the
// kernel's bytecode verifier (kernel-src/bytecode-verify.ts; its tests compile the whole corpus with
// this runtime). main's status, masked to 8 bits as a program's exit status is, ends the VM.
import { i32, u32 } from "dsl";
import {
  exit as guestExit, writeString as guestWriteString, writeU32 as guestWriteU32, writeI32 as guestWriteI32,
  writeHex as guestWriteHex, printI32 as guestPrintI32, printU32 as guestPrintU32,
  printString as guestPrintString, panicAt as guestPanicAt, trap as guestTrap,
} from "./runtime.ts";

/** Nothing to set up: the kernel's console needs no initialization. */
export function programStart(): void {}
export function programExit(status: i32): void { guestExit(status & 255); }
export function exit(status: i32): void { guestExit(status & 255); }

export function writeString(s: string): void { guestWriteString(s); }
export function writeU32(x: u32): void { guestWriteU32(x); }
export function writeI32(x: i32): void { guestWriteI32(x); }
export function writeHex(x: u32): void { guestWriteHex(x); }
export function printI32(x: i32): void { guestPrintI32(x); }
export function printU32(x: u32): void { guestPrintU32(x); }
export function printString(s: string): void { guestPrintString(s); }

export function panicAt(message: string, func: string): void { guestPanicAt(message, func); }
export function trap(kind: i32): void { guestTrap(kind); }
