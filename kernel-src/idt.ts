// The interrupt descriptor table: 256 gates. Every vector gets an interrupt gate to its compiler-
// generated entry stub (interruptEntryTable; the stubs call trap.ts), except #DF (vector 8), a task
// gate to the double-fault TSS (gdt.ts), so that a double fault runs on its own stack.
// Reference: Intel SDM Vol. 3A §6.10 "Interrupt Descriptor Table", §6.11 "IDT Descriptors" (Figure
// 6-2: task, interrupt and trap gates), §6.12.2 "Interrupt Tasks".
import { bool, u16, u32, addressOf, lidt, load32 } from "dsl";
import { KERNEL_CODE_SELECTOR, DOUBLE_FAULT_TSS_SELECTOR } from "./gdt.ts";

const VECTOR_COUNT = 256;
const VECTOR_DOUBLE_FAULT = 8;
const GATE_BYTES = 8;

// Gate type byte (Figure 6-2): P (bit 7), DPL (bits 5-6), type (bits 0-4).
const GATE_PRESENT = 0x80;
const GATE_DPL_USER = 0x60;                     // reachable by `int n` from ring 3
const GATE_INTERRUPT_32 = 0x0e;                 // clears IF on entry
const GATE_TASK = 0x05;

const idt = new Uint32Array(VECTOR_COUNT * 2);
const idtPseudoDescriptor = new Uint16Array(3);  // limit, base 15..0, base 31..16

/** An interrupt gate to `entry` in the kernel code segment; `userCallable` sets DPL 3. */
export function setInterruptGate(vector: u32, entry: u32, userCallable: bool): void {
  const access = GATE_PRESENT | GATE_INTERRUPT_32 | (userCallable ? GATE_DPL_USER : 0);
  idt[2 * vector] = (entry & 0xffff) | (KERNEL_CODE_SELECTOR << 16);
  idt[2 * vector + 1] = (entry & 0xffff0000) | (access << 8);
}

/** A task gate: delivering `vector` switches to the task whose TSS `tssSelector` names. */
function setTaskGate(vector: u32, tssSelector: u32): void {
  idt[2 * vector] = tssSelector << 16;
  idt[2 * vector + 1] = (GATE_PRESENT | GATE_TASK) << 8;
}

/** `stubs`: the address of 256 entry-stub addresses (interruptEntryTable). */
export function idtInit(stubs: u32): void {
  for (let vector: u32 = 0; vector < VECTOR_COUNT; vector++) setInterruptGate(vector, load32(stubs + 4 * vector), false);
  setTaskGate(VECTOR_DOUBLE_FAULT, DOUBLE_FAULT_TSS_SELECTOR);
  idtPseudoDescriptor[0] = u16(VECTOR_COUNT * GATE_BYTES - 1);
  idtPseudoDescriptor[1] = u16(addressOf(idt) & 0xffff);
  idtPseudoDescriptor[2] = u16(addressOf(idt) >>> 16);
  lidt(addressOf(idtPseudoDescriptor));
}
