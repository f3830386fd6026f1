// Reporting for the kernel's self-tests (booted with `test=selftest`): each test prints one line,
// `selftest NAME ok`, or `selftest NAME FAILED: why` for each failed check. Shared by every self-test file.
import { bool, u32 } from "dsl";
import { consoleWriteString, consoleNewLine } from "./console.ts";

let failures: u32 = 0;

/** Failed checks so far (a test remembers the count at its start and compares at its end). */
export function failureCount(): u32 { return failures; }

export function check(name: string, condition: bool, message: string): bool {
  if (condition) return true;
  consoleWriteString("selftest ");
  consoleWriteString(name);
  consoleWriteString(" FAILED: ");
  consoleWriteString(message);
  consoleNewLine();
  failures++;
  return false;
}

/** Prints `selftest NAME ok` when no check failed since `failuresBefore`. */
export function finish(name: string, failuresBefore: u32): void {
  if (failures !== failuresBefore) return;
  consoleWriteString("selftest ");
  consoleWriteString(name);
  consoleWriteString(" ok");
  consoleNewLine();
}
