// Contract: the guard page under a standalone program's stack (`denali run --target qemu`), x86 side.
//
// A program owns the machine, so its _start turns paging on itself (lowerGuardSetup): every address is
// identity-mapped with 4 MiB pages except the 4 MiB around the guard, mapped by one page table whose
// entry for the guard page is absent. An overflow then faults on the guard instead of writing over
// .bss. The fault cannot be delivered on the overflowed stack, and the program's IDT holds only vector
// 8, so every exception ends as a double fault, taken through a task gate onto a small stack of its
// own: `__stack_fault` (lowerStackFault) reads CR2 and calls the runtime's trap handler with
// TRAP_STACK_OVERFLOW when the fault was on the guard, TRAP_MACHINE_FAULT otherwise. The tables
// themselves (GDT with two TSSs, IDT, page directory and table) are data the linker lays out and fills
// (compiler/link/guard.ts). SDM Vol. 3A §4.3 (32-bit paging, 4 MiB pages with CR4.PSE), §6.12.2
// (interrupt tasks), §6.15 "Interrupt 8—Double Fault Exception", §7.2.1 (the TSS).
import { Instruction, Code, Register, MemoryOperand } from "iced-x86";
import { TRAP_MACHINE_FAULT, TRAP_STACK_OVERFLOW } from "../ir.ts";
import type { Emitter, Label } from "./emitter.ts";

export const GUARD_PAGE_DIRECTORY = "__guard_page_directory";
export const GUARD_PAGE_TABLE = "__guard_page_table";
export const GUARD_GDT = "__guard_gdt";
export const GUARD_IDT = "__guard_idt";
/** The 6-byte lgdt/lidt operands: limit, then base. */
export const GUARD_GDTR = "__guard_gdtr";
export const GUARD_IDTR = "__guard_idtr";
/** The program's task state (the CPU saves it on the switch) and the fault task's. */
export const GUARD_MAIN_TSS = "__guard_main_tss";
export const GUARD_FAULT_TSS = "__guard_fault_tss";
export const GUARD_FAULT_STACK = "__guard_fault_stack";
export const GUARD_FAULT_STACK_BYTES = 4096;
export const STACK_FAULT_SYMBOL = "__stack_fault";

/** GDT selectors: null, flat code, flat data, the program's TSS, the fault task's TSS. */
export const GUARD_CODE_SELECTOR = 0x08;
export const GUARD_DATA_SELECTOR = 0x10;
export const GUARD_MAIN_TSS_SELECTOR = 0x18;
export const GUARD_FAULT_TSS_SELECTOR = 0x20;

const CR4_PSE = 1 << 4;
const CR0_PG = 0x80000000;
const PAGE_SIZE = 4096;

/** Where the guard page is and where the tables are (final addresses in the linker's second pass). */
export interface GuardAddresses { guard: number; data(symbol: string): number }

const absolute = (address: number): MemoryOperand => MemoryOperand.createBaseDispl(Register.None, BigInt(address >>> 0));

/** _start's first instructions: load the GDT, TR and IDT, then paging on. Keeps eax and ebx (multiboot). */
export function lowerGuardSetup(e: Emitter, at: GuardAddresses): void {
  e.emit(Instruction.createMem(Code.Lgdt_m1632, absolute(at.data(GUARD_GDTR))));
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, GUARD_MAIN_TSS_SELECTOR));
  e.emit(Instruction.createReg(Code.Ltr_r32m16, Register.ECX));
  e.emit(Instruction.createMem(Code.Lidt_m1632, absolute(at.data(GUARD_IDTR))));
  e.emit(Instruction.createRegReg(Code.Mov_r32_cr, Register.ECX, Register.CR4));
  e.emit(Instruction.createRegU32(Code.Or_rm32_imm32, Register.ECX, CR4_PSE));
  e.emit(Instruction.createRegReg(Code.Mov_cr_r32, Register.CR4, Register.ECX));
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, at.data(GUARD_PAGE_DIRECTORY) >>> 0));
  e.emit(Instruction.createRegReg(Code.Mov_cr_r32, Register.CR3, Register.ECX));
  e.emit(Instruction.createRegReg(Code.Mov_r32_cr, Register.ECX, Register.CR0));
  e.emit(Instruction.createRegU32(Code.Or_rm32_imm32, Register.ECX, CR0_PG));
  e.emit(Instruction.createRegReg(Code.Mov_cr_r32, Register.CR0, Register.ECX));
}

/**
 * The fault task's code: a fresh 16-aligned stack, then trapHandler(TRAP_STACK_OVERFLOW) when CR2 is in
 * the guard page, else trapHandler(TRAP_MACHINE_FAULT). The handler ends the program; hlt if it returns.
 */
export function lowerStackFault(e: Emitter, start: Label, trapHandler: Label, at: GuardAddresses): void {
  e.bind(start);
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ESP, (at.data(GUARD_FAULT_STACK) + GUARD_FAULT_STACK_BYTES) >>> 0));
  e.emit(Instruction.createRegReg(Code.Mov_r32_cr, Register.EAX, Register.CR2));
  e.emit(Instruction.createRegU32(Code.Sub_rm32_imm32, Register.EAX, at.guard >>> 0));
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, TRAP_MACHINE_FAULT));
  e.emit(Instruction.createRegU32(Code.Cmp_rm32_imm32, Register.EAX, PAGE_SIZE));
  const report = e.fresh();
  e.branch(Code.Jae_rel32_32, report);
  e.emit(Instruction.createRegU32(Code.Mov_r32_imm32, Register.ECX, TRAP_STACK_OVERFLOW));
  e.bind(report);
  e.emit(Instruction.createRegI32(Code.Sub_rm32_imm8, Register.ESP, 12));
  e.emit(Instruction.createReg(Code.Push_r32, Register.ECX));
  e.branch(Code.Call_rel32_32, trapHandler);
  const halt = e.fresh();
  e.bind(halt);
  e.emit(Instruction.create(Code.Hlt));
  e.branch(Code.Jmp_rel32_32, halt);
}
