// The kernel's stacks and their guard pages. Three stacks: the boot stack (the linker's, kmain and the
// idle loop run on it), the trap stack (TSS.esp0: every trap from a VM lands on it; scheduler.ts), and
// the double-fault task's own stack (gdt.ts). The lowest whole page of each is unmapped once paging is
// on (stacksGuard): an overflow faults on the guard instead of writing over the data below it. The
// fault cannot be handled on the overflowed stack, so it becomes a double fault, delivered through its
// task gate onto the double-fault stack; both reports (exceptions.ts) name the stack whose guard was hit.
// Invariants: guards are set once, before any VM runs; nothing else lies in a guard page (each stack
// array is at least a page larger than the stack it gives, and owns every byte of that page).
import { i32, u32, addressOf, linkerAddress } from "dsl";
import { PAGE_SIZE, PAGE_OFFSET_MASK } from "./frames.ts";
import { pagingUnmapKernelPage } from "./paging.ts";

const STACK_BOOT = 0;
const STACK_TRAP = 1;
const STACK_DOUBLE_FAULT = 2;
const STACK_COUNT = 3;
const STACK_ALIGN_MASK: u32 = 0xfffffff0;

/** The stack every trap from ring 3 uses: 32 KiB above its guard page (and the page's slack). */
const trapStack = new Uint32Array(10240);         // 40 KiB
/** The double-fault task's stack: small, used once, never by anything else. */
const doubleFaultStack = new Uint32Array(3072);   // 12 KiB
const guardPages = new Uint32Array(3);            // 0: not guarded yet

export function trapStackTop(): u32 { return (addressOf(trapStack) + trapStack.length * 4) & STACK_ALIGN_MASK; }
export function doubleFaultStackTop(): u32 {
  return (addressOf(doubleFaultStack) + doubleFaultStack.length * 4) & STACK_ALIGN_MASK;
}

/** The first whole page at or above `bottom`: the guard. */
function firstWholePage(bottom: u32): u32 { return (bottom + PAGE_OFFSET_MASK) & ~PAGE_OFFSET_MASK; }

/** Unmaps the guard page of each stack. Paging must be on; runs once, at boot. */
export function stacksGuard(): void {
  guardPages[STACK_BOOT] = firstWholePage(linkerAddress("stackBottom"));
  guardPages[STACK_TRAP] = firstWholePage(addressOf(trapStack));
  guardPages[STACK_DOUBLE_FAULT] = firstWholePage(addressOf(doubleFaultStack));
  for (let i = 0; i < STACK_COUNT; i++) pagingUnmapKernelPage(guardPages[i]);
}

/** The stack whose guard page holds `address`, or -1. */
export function stackOfGuard(address: u32): i32 {
  for (let i = 0; i < STACK_COUNT; i++) {
    if (guardPages[i] !== 0 && address - guardPages[i] < PAGE_SIZE) return i;
  }
  return -1;
}

export function stackName(stack: i32): string {
  switch (stack) {
    case STACK_BOOT: return "boot stack";
    case STACK_TRAP: return "trap stack";
  }
  return "double-fault stack";
}
