// Deliberate CPU exceptions for the fault tests (test/kernel/faults.test.ts), one per command-line
// word; each ends in the exception report of exceptions.ts and its exit status, never returns here:
//   test=divide-error          #DE: an unchecked division by a zero the compiler cannot see
//   test=invalid-opcode        #UD: ud2
//   test=general-protection    #GP(0x08): ltr with a code-segment selector (SDM Vol. 2B, LTR)
//   test=page-fault            #PF: a write through a null pointer (paging.ts leaves page 0 unmapped)
//   test=double-fault          #DF: a runaway recursion on a stack with an unmapped guard page below
//                              it; the #PF cannot push its frame, which makes a double fault
//                              (SDM Vol. 3A Table 6-5), delivered through the #DF task gate
//   test=boot-stack-overflow   #DF: the same recursion on the kernel's own boot stack, which runs into
//                              its guard page (stacks.ts): the report names the boot stack
import {
  u32, divideUnchecked, invalidOpcode, ltr, store32, interruptEntry, functionAddress, overlay, memoryCopy,
} from "dsl";
import { MultibootInfo, commandLineHasWord } from "./multiboot.ts";
import { consoleWriteString, consoleWriteHex, consoleNewLine } from "./console.ts";
import { KERNEL_CODE_SELECTOR } from "./gdt.ts";
import { setInterruptGate } from "./idt.ts";
import { TrapFrame } from "./trapframe.ts";
import { VECTOR_INVALID_OPCODE } from "./exceptions.ts";
import { PAGE_SIZE, FRAME_NONE, allocFrame } from "./frames.ts";
import { MAP_WRITABLE, PAGING_OK, currentAddressSpace, mapRange } from "./paging.ts";

/** A static zero: its value is unknown to the compiler (module-level `let` is storage). */
let zero: u32 = 0;
/** The null pointer's field the page-fault test writes: CR2 must read back this address. */
const NULL_FIELD_ADDRESS: u32 = 0x0000001c;

/** The guarded stack of the double-fault test: the guard page, then GUARDED_STACK_PAGES mapped. */
const GUARDED_STACK_GUARD: u32 = 0x7f000000;
const GUARDED_STACK_PAGES: u32 = 4;
const GUARDED_STACK_TOP: u32 = GUARDED_STACK_GUARD + PAGE_SIZE * (GUARDED_STACK_PAGES + 1);
/** Stub frame words gs..eflags (trapframe.ts): what a ring-0 iret resumes. */
const RING0_FRAME_BYTES = 68;

export function runRequestedFault(info: MultibootInfo): void {
  if (commandLineHasWord(info, "test=divide-error")) deliberateDivideError(zero);
  if (commandLineHasWord(info, "test=invalid-opcode")) deliberateInvalidOpcode();
  if (commandLineHasWord(info, "test=general-protection")) deliberateGeneralProtection();
  if (commandLineHasWord(info, "test=page-fault")) deliberatePageFault();
  if (commandLineHasWord(info, "test=double-fault")) deliberateDoubleFault();
  if (commandLineHasWord(info, "test=boot-stack-overflow")) { announce("boot-stack-overflow"); overflowStack(0); }
}

function announce(name: string): void {
  consoleWriteString("fault test: ");
  consoleWriteString(name);
  consoleNewLine();
}

function deliberateDivideError(divisor: u32): void {
  announce("divide-error");
  const quotient = divideUnchecked(1000, divisor);
  consoleWriteString("quotient 0x");
  consoleWriteHex(quotient);
  consoleNewLine();
}

function deliberateInvalidOpcode(): void {
  announce("invalid-opcode");
  invalidOpcode();
}

function deliberateGeneralProtection(): void {
  announce("general-protection");
  ltr(KERNEL_CODE_SELECTOR);
}

function deliberatePageFault(): void {
  announce("page-fault");
  store32(NULL_FIELD_ADDRESS, 0x2badd00d);
}

/** Recurses until the stack runs into its guard page. */
function overflowStack(depth: u32): u32 {
  return overflowStack(depth + 1) + 1;
}

/**
 * #UD handler used once, to move onto the guarded stack: it copies the interrupted frame to the top of
 * that stack with eip = overflowStack and ebp = 0, and returns it for the stub to resume. Below the
 * frame's end lies a zero where overflowStack expects its return address (ending backtraces), with esp
 * then 12 mod 16 as after a call (docs/calling-convention.md).
 */
function enterGuardedStack(frameAddress: u32): u32 {
  const resumed = GUARDED_STACK_TOP - 16 - RING0_FRAME_BYTES - 8;
  memoryCopy(resumed, frameAddress, RING0_FRAME_BYTES);
  store32(resumed + RING0_FRAME_BYTES, 0);
  const frame = overlay(TrapFrame, resumed);
  frame.eip = functionAddress(overflowStack);
  frame.ebp = 0;
  return resumed;
}

function deliberateDoubleFault(): void {
  announce("double-fault");
  const space = currentAddressSpace();
  for (let page: u32 = 1; page <= GUARDED_STACK_PAGES; page++) {
    const frame = allocFrame();
    if (frame === FRAME_NONE || mapRange(space, GUARDED_STACK_GUARD + page * PAGE_SIZE, frame, PAGE_SIZE, MAP_WRITABLE) !== PAGING_OK) {
      consoleWriteString("double-fault: cannot map the guarded stack");
      consoleNewLine();
      return;
    }
  }
  setInterruptGate(VECTOR_INVALID_OPCODE, interruptEntry(enterGuardedStack, VECTOR_INVALID_OPCODE), false);
  invalidOpcode();
}
