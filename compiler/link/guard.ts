// Contract: the data of a standalone program's stack guard (compiler/x86/guard.ts has the code and the
// design): a GDT with flat code and data and two TSSs, an IDT whose only gate (vector 8) is a task gate
// to the fault task, the page directory and the one page table that leave the guard page unmapped, and
// the fault task's stack. guardSymbols() adds them before layout; fillGuard() writes their bytes once
// every address is known. Byte layouts: SDM Vol. 3A §3.4.5 (segment descriptors), §4.3 (Figures 4-4,
// 4-5: PDE of a 4 MiB page, PDE and PTE of 4 KiB pages), §6.11 (Figure 6-2: task gate), §7.2.1-7.2.2
// (Figure 7-2: 32-bit TSS; Figure 7-3: TSS descriptor).
import type { DataSymbol } from "../ir.ts";
import {
  GUARD_PAGE_DIRECTORY, GUARD_PAGE_TABLE, GUARD_GDT, GUARD_IDT, GUARD_GDTR, GUARD_IDTR, GUARD_MAIN_TSS, GUARD_FAULT_TSS,
  GUARD_FAULT_STACK, GUARD_FAULT_STACK_BYTES, GUARD_CODE_SELECTOR, GUARD_DATA_SELECTOR, GUARD_MAIN_TSS_SELECTOR,
  GUARD_FAULT_TSS_SELECTOR,
} from "../x86/guard.ts";
import { PAGE_SIZE } from "./elf.ts";

const TSS_BYTES = 104;
const GDT_ENTRIES = 5;
const IDT_ENTRIES = 9;                 // vectors 0..8: only the double fault's is present
const DOUBLE_FAULT_VECTOR = 8;
const PDE_PRESENT = 0x01, PDE_WRITABLE = 0x02, PDE_LARGE = 0x80;
const LARGE_PAGE = 1 << 22;

const symbol = (name: string, section: DataSymbol["section"], size: number, align: number): DataSymbol =>
  ({ name, section, size, align, bytes: section === "bss" ? undefined : new Uint8Array(size), relocations: [] });

/** The guard's data symbols, their bytes still zero (fillGuard writes them). */
export function guardSymbols(): DataSymbol[] {
  return [
    symbol(GUARD_PAGE_DIRECTORY, "data", PAGE_SIZE, PAGE_SIZE),
    symbol(GUARD_PAGE_TABLE, "data", PAGE_SIZE, PAGE_SIZE),
    symbol(GUARD_GDT, "data", 8 * GDT_ENTRIES, 8),
    symbol(GUARD_IDT, "rodata", 8 * IDT_ENTRIES, 8),
    symbol(GUARD_GDTR, "rodata", 6, 4),
    symbol(GUARD_IDTR, "rodata", 6, 4),
    symbol(GUARD_MAIN_TSS, "data", TSS_BYTES, 4),
    symbol(GUARD_FAULT_TSS, "data", TSS_BYTES, 4),
    symbol(GUARD_FAULT_STACK, "bss", GUARD_FAULT_STACK_BYTES, 16),
  ];
}

/** A flat 4 GiB segment descriptor (G, D/B set) with the given access byte. */
function flatSegment(view: DataView, at: number, access: number): void {
  view.setUint32(at, 0x0000ffff, true);
  view.setUint32(at + 4, 0x00cf0000 | (access << 8), true);
}

/** An available 32-bit TSS descriptor (type 9, present, DPL 0), byte granular. */
function tssDescriptor(view: DataView, at: number, base: number): void {
  view.setUint16(at, TSS_BYTES - 1, true);
  view.setUint16(at + 2, base & 0xffff, true);
  view.setUint8(at + 4, (base >>> 16) & 0xff);
  view.setUint8(at + 5, 0x89);
  view.setUint8(at + 6, 0x00);
  view.setUint8(at + 7, base >>> 24);
}

/** Writes every guard table: `data(name)` is a data symbol's final address, `faultEntry` __stack_fault's. */
export function fillGuard(symbols: DataSymbol[], guard: number, data: (name: string) => number, faultEntry: number): void {
  const bytes = (name: string): DataView => {
    const s = symbols.find(x => x.name === name)!;
    return new DataView(s.bytes!.buffer, s.bytes!.byteOffset, s.bytes!.byteLength);
  };
  const tableAddress = data(GUARD_PAGE_TABLE), guardRegion = guard & ~(LARGE_PAGE - 1);
  const directory = bytes(GUARD_PAGE_DIRECTORY);
  for (let i = 0; i < 1024; i++) {
    const large = (i * LARGE_PAGE) >>> 0;
    directory.setUint32(4 * i, large === guardRegion ? tableAddress | PDE_PRESENT | PDE_WRITABLE
      : (large | PDE_LARGE | PDE_PRESENT | PDE_WRITABLE) >>> 0, true);
  }
  const table = bytes(GUARD_PAGE_TABLE);
  for (let j = 0; j < 1024; j++) {
    const page = guardRegion + j * PAGE_SIZE;
    table.setUint32(4 * j, page === guard ? 0 : (page | PDE_PRESENT | PDE_WRITABLE) >>> 0, true);
  }
  const gdt = bytes(GUARD_GDT);
  flatSegment(gdt, GUARD_CODE_SELECTOR, 0x9a);   // present, ring 0, code, readable
  flatSegment(gdt, GUARD_DATA_SELECTOR, 0x92);   // present, ring 0, data, writable
  tssDescriptor(gdt, GUARD_MAIN_TSS_SELECTOR, data(GUARD_MAIN_TSS));
  tssDescriptor(gdt, GUARD_FAULT_TSS_SELECTOR, data(GUARD_FAULT_TSS));
  const idt = bytes(GUARD_IDT);
  idt.setUint16(8 * DOUBLE_FAULT_VECTOR + 2, GUARD_FAULT_TSS_SELECTOR, true);
  idt.setUint8(8 * DOUBLE_FAULT_VECTOR + 5, 0x85);             // present, DPL 0, task gate
  const pointer = (name: string, limit: number, base: number): void => {
    const v = bytes(name);
    v.setUint16(0, limit - 1, true);
    v.setUint32(2, base >>> 0, true);
  };
  pointer(GUARD_GDTR, 8 * GDT_ENTRIES, data(GUARD_GDT));
  pointer(GUARD_IDTR, 8 * IDT_ENTRIES, data(GUARD_IDT));
  bytes(GUARD_MAIN_TSS).setUint16(102, TSS_BYTES, true);       // I/O map base past the limit: no I/O bitmap
  const tss = bytes(GUARD_FAULT_TSS);
  tss.setUint32(28, data(GUARD_PAGE_DIRECTORY) >>> 0, true);   // CR3
  tss.setUint32(32, faultEntry >>> 0, true);                   // EIP
  tss.setUint32(36, 0x2, true);                                // EFLAGS: interrupts off
  tss.setUint32(56, (data(GUARD_FAULT_STACK) + GUARD_FAULT_STACK_BYTES) >>> 0, true); // ESP
  for (const offset of [72, 80, 84, 88, 92]) tss.setUint16(offset, GUARD_DATA_SELECTOR, true); // ES SS DS FS GS
  tss.setUint16(76, GUARD_CODE_SELECTOR, true);                // CS
  tss.setUint16(102, TSS_BYTES, true);
}
