// The kernel's runtime: the compiler lowers the DSL built-ins print/write/writeHex/panic/exit and
// its checks (division by zero, bounds, unreachable) to calls of these exports, by name.
// Everything goes to the kernel console; fatal paths go through panic.ts.
import { i32, u8, u32 } from "dsl";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteSignedDecimal, consoleWriteHex, consoleNewLine,
} from "./console.ts";
import { kernelPanic, kernelTrap } from "./panic.ts";
import { exitMachine } from "./machine.ts";

export function writeI32(x: i32): void { consoleWriteSignedDecimal(x); }
export function writeU32(x: u32): void { consoleWriteDecimal(x); }
export function writeString(s: string): void { consoleWriteString(s); }
export function writeHex(x: u32): void { consoleWriteHex(x); }

export function printI32(x: i32): void { consoleWriteSignedDecimal(x); consoleNewLine(); }
export function printU32(x: u32): void { consoleWriteDecimal(x); consoleNewLine(); }
export function printString(s: string): void { consoleWriteString(s); consoleNewLine(); }

/** panic(message) in function F compiles to panicAt(message, "F"). */
export function panicAt(message: string, func: string): void { kernelPanic(message, func); }

/** kind: 0 unreachable, 1 integer division by zero, 2 index out of bounds. */
export function trap(kind: i32): void { kernelTrap(kind); }

/** exit(status): QEMU exits with (status << 1) | 1; real hardware halts. */
export function exit(status: i32): void { exitMachine(u8(status)); }
