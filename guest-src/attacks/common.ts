// Shared by the hostile guests: each announces its attack (`attack NAME: WHAT`), does it, and if it
// is still running afterwards prints `attack NAME: NOT CONTAINED` and exits with status 3. The kernel
// is expected to end the VM first with `vm N ended: REASON at eip 0x...` (docs/virtual-architecture.md).
import { u32, print, write, exit } from "dsl";

export const STATUS_NOT_CONTAINED = 3;

export function announce(attack: string, what: string): void {
  write("attack "); write(attack); write(": "); print(what);
}

export function announceAddress(attack: string, what: string, address: u32): void {
  write("attack "); write(attack); write(": "); write(what); write(" 0x"); writeHex(address); print("");
}

export function notContained(attack: string): void {
  write("attack "); write(attack); print(": NOT CONTAINED");
  exit(STATUS_NOT_CONTAINED);
}

import { writeHex } from "dsl";
