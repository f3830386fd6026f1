// Fatal errors: panic (a kernel invariant broke) and traps (a checked operation failed).
// Both print one line on the console and leave the machine: QEMU exits through isa-debug-exit with
// a status the tests recognise; elsewhere the CPU halts (machine.ts). Neither returns.
import { i32 } from "dsl";
import { consoleWriteString, consoleNewLine } from "./console.ts";
import { exitMachine, EXIT_PANIC, EXIT_TRAP } from "./machine.ts";

// Trap kinds passed by compiled code to the runtime's trap(kind) (dsl/README.md, compiler/ir.ts).
const TRAP_UNREACHABLE = 0;
const TRAP_DIVISION_BY_ZERO = 1;
const TRAP_INDEX_OUT_OF_BOUNDS = 2;

/** Prints "panic: MESSAGE (in FUNCTION)" and stops. */
export function kernelPanic(message: string, functionName: string): void {
  consoleWriteString("panic: ");
  consoleWriteString(message);
  consoleWriteString(" (in ");
  consoleWriteString(functionName);
  consoleWriteString(")");
  consoleNewLine();
  exitMachine(EXIT_PANIC);
}

function trapName(kind: i32): string {
  switch (kind) {
    case TRAP_UNREACHABLE: return "unreachable code reached";
    case TRAP_DIVISION_BY_ZERO: return "integer division by zero";
    case TRAP_INDEX_OUT_OF_BOUNDS: return "index out of bounds";
  }
  return "unknown trap";
}

/** Prints "trap: NAME" and stops. */
export function kernelTrap(kind: i32): void {
  consoleWriteString("trap: ");
  consoleWriteString(trapName(kind));
  consoleNewLine();
  exitMachine(EXIT_TRAP);
}
