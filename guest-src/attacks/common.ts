// Shared by the hostile guests: each announces its attack (`attack NAME: WHAT`), does it, and if it
// is still running afterwards prints `attack NAME: NOT CONTAINED` and exits with status 3. The kernel
// is expected to end the VM first with `vm N ended: REASON at eip 0x...` (docs/virtual-architecture.md).
import { u8, u32, print, write, exit, overlay, addressOf } from "dsl";

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

// ---- raw machine code ---------------------------------------------------------------------------------
// The attacks below the compiler's reach (x87 state, CPU modes, descriptor tables) run machine code a
// guest writes into its own data: 32-bit paging has no NX bit, so a data page executes, and a struct
// laid over a word holding an address calls it (cdecl: the argument at [esp + 4], the result in eax,
// ebx esi edi ebp preserved). The bytes in the attacks were encoded with iced-x86; the listing is beside
// each array. (The one place in the project with instruction bytes by hand: guests that attack the kernel.)

type MachineCode = (argument: u32) => u32;
function noCode(argument: u32): u32 { return argument; }
class CodeSlot { target: MachineCode = noCode; }

const codeArea = new Uint8Array(1024);
const codeWord = new Uint32Array(1);
let codeUsed: u32 = 0;

/** Copies `bytes` into the guest's executable data area; returns their address (for callCode). */
export function placeCode(bytes: u8[]): u32 {
  const at = codeUsed;
  for (let i: u32 = 0; i < u32(bytes.length); i++) codeArea[at + i] = bytes[i];
  codeUsed = (at + u32(bytes.length) + 15) & ~15;
  return addressOf(codeArea) + at;
}

/** Calls the machine code at `address` with one argument; returns its eax. */
export function callCode(address: u32, argument: u32): u32 {
  codeWord[0] = address;
  return overlay(CodeSlot, addressOf(codeWord)).target(argument);
}
