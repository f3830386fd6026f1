// Segmentation: the global descriptor table (flat ring-0 and ring-3 code and data), the kernel's task
// state segment (the ring-0 stack the CPU switches to on a trap from ring 3) and a second TSS that
// is a task of its own, entered through the #DF task gate with its own stack: a double fault caused
// by a kernel stack overflow still runs on good memory (the xv6 / Linux-on-i386 way).
// Isolation: the LDT register is loaded with the null selector (the reset state, base 0 and limit 0xffff,
// would let ring 3 load descriptors out of the kernel's low memory: lar/lsl/verr read kernel bytes, a
// segment load sets an accessed bit there, a far call reaches whatever gates lie there); every
// descriptor is created with its accessed bit set, so no segment load by a VM ever writes the GDT (no
// bit another VM could read back with lar); and UMIP (CR4 bit 11, where CPUID.(7,0):ECX[2] reports it)
// makes sgdt, sidt, sldt, smsw and str fault in ring 3 instead of telling where the kernel's tables lie.
// Reference: Intel SDM Vol. 3A, §3.4.5 "Segment Descriptors" (Figure 3-8), §3.4.5.1 (Table 3-1, code-
// and data-segment types), §3.5.1 "Segment Descriptor Tables", §7.2.1 "Task-State Segment" (Figure
// 7-2), §7.2.2 "TSS Descriptor" (Figure 7-3), §7.3 "Task Switching".
import {
  bool, u16, u32, addressOf, lgdt, ltr, lldt, loadSegments, linkerAddress, readCr3, readCr4, writeCr4,
} from "dsl";
import { cpuidFeature, CPU_UMIP } from "./cpuid.ts";
import { doubleFaultStackTop } from "./stacks.ts";
import { USER_CODE_SELECTOR, USER_DATA_SELECTOR } from "../abi/boot.ts";

// ---- selectors (index * 8 | table indicator 0 (GDT) | requested privilege level; SDM §3.4.2) -----------
export const KERNEL_CODE_SELECTOR = 0x08;
const KERNEL_DATA_SELECTOR = 0x10;
const KERNEL_TSS_SELECTOR = 0x28;
export const DOUBLE_FAULT_TSS_SELECTOR = 0x30;
const DESCRIPTOR_COUNT = 7;                     // null, 4 segments, 2 TSSs
const DESCRIPTOR_BYTES = 8;

// ---- descriptor fields (SDM Figure 3-8): access byte = P | DPL | S | type ---------------------------
const ACCESS_PRESENT = 0x80;                    // P
const ACCESS_DPL_USER = 0x60;                   // DPL = 3
const ACCESS_CODE_OR_DATA = 0x10;               // S = 1: code or data (0: system)
const TYPE_CODE_EXECUTE_READ = 0x0a;            // Table 3-1: execute/read
const TYPE_DATA_READ_WRITE = 0x02;              // Table 3-1: read/write, expand-up
const TYPE_TSS_AVAILABLE_32 = 0x09;             // Table 3-2: 32-bit TSS (available)
const TYPE_ACCESSED = 0x01;                     // Table 3-1: A, set by the CPU on a segment load if clear
const NULL_SELECTOR = 0;                        // lldt 0: no LDT (SDM §3.5.1)
const CR4_UMIP: u32 = 1 << 11;                  // SDM Vol. 3A §2.5: user-mode instruction prevention
// Flags nibble (bits 52-55): G (limit in 4 KiB units) and D/B (32-bit segment).
const FLAGS_4K_32BIT = 0x0c;
const FLAGS_BYTE_GRANULAR = 0x00;
const FLAT_LIMIT = 0xfffff;                     // with G = 1: 4 GiB

/** The 32-bit TSS (SDM Figure 7-2); byte offsets in comments. */
class TaskStateSegment {
  previousTaskLink: u32 = 0; //   0 (low 16 bits)
  esp0: u32 = 0;             //   4 stack for traps from ring 3
  ss0: u32 = 0;              //   8
  esp1: u32 = 0;             //  12
  ss1: u32 = 0;              //  16
  esp2: u32 = 0;             //  20
  ss2: u32 = 0;              //  24
  cr3: u32 = 0;              //  28
  eip: u32 = 0;              //  32
  eflags: u32 = 0;           //  36
  eax: u32 = 0;              //  40
  ecx: u32 = 0;              //  44
  edx: u32 = 0;              //  48
  ebx: u32 = 0;              //  52
  esp: u32 = 0;              //  56
  ebp: u32 = 0;              //  60
  esi: u32 = 0;              //  64
  edi: u32 = 0;              //  68
  es: u32 = 0;               //  72
  cs: u32 = 0;               //  76
  ss: u32 = 0;               //  80
  ds: u32 = 0;               //  84
  fs: u32 = 0;               //  88
  gs: u32 = 0;               //  92
  ldt: u32 = 0;              //  96
  trap: u16 = 0;             // 100 bit 0: T (debug trap on switch)
  ioMapBase: u16 = 0;        // 102 offset of the I/O permission bitmap; >= limit: none (§16.5.2)
}
const TSS_LIMIT = 103;                          // sizeOf(TaskStateSegment) - 1: no I/O bitmap
const EFLAGS_RESERVED_ONE = 0x2;                // bit 1 is always 1 (SDM §2.3); IF = 0 in the #DF task

const gdt = new Uint32Array(DESCRIPTOR_COUNT * 2);
let umipEnabled = false;
const gdtPseudoDescriptor = new Uint16Array(3);  // limit, base 15..0, base 31..16 (SDM §3.5.1)

/** Invariant after gdtInit: TR holds KERNEL_TSS_SELECTOR; the previous task state lands here on #DF. */
export const kernelTss = new TaskStateSegment();
const doubleFaultTss = new TaskStateSegment();

/** Writes descriptor `index`: base, 20-bit limit, access byte, flags nibble (SDM Figure 3-8). */
function setDescriptor(index: u32, base: u32, limit: u32, access: u32, flags: u32): void {
  gdt[2 * index] = (limit & 0xffff) | ((base & 0xffff) << 16);
  gdt[2 * index + 1] = ((base >>> 16) & 0xff) | (access << 8) | (((limit >>> 16) & 0xf) << 16) | (flags << 20) | (base & 0xff000000);
}

function setTssDescriptor(selector: u32, tss: TaskStateSegment): void {
  setDescriptor(selector >>> 3, addressOf(tss), TSS_LIMIT, ACCESS_PRESENT | TYPE_TSS_AVAILABLE_32, FLAGS_BYTE_GRANULAR);
}

/**
 * The double-fault task starts at `entry` with a 16-aligned stack top: the CPU pushes the #DF error
 * code there, so the entry function sees it where a return address would be, as after a call.
 */
function prepareDoubleFaultTask(entry: u32): void {
  doubleFaultTss.eip = entry;
  doubleFaultTss.esp = doubleFaultStackTop();    // stacks.ts: its own stack, with a guard page
  doubleFaultTss.ebp = 0;                       // ends backtraces of this task
  doubleFaultTss.eflags = EFLAGS_RESERVED_ONE;
  doubleFaultTss.cs = KERNEL_CODE_SELECTOR;
  doubleFaultTss.ss = KERNEL_DATA_SELECTOR;
  doubleFaultTss.ds = KERNEL_DATA_SELECTOR;
  doubleFaultTss.es = KERNEL_DATA_SELECTOR;
  doubleFaultTss.fs = KERNEL_DATA_SELECTOR;
  doubleFaultTss.gs = KERNEL_DATA_SELECTOR;
  doubleFaultTss.cr3 = readCr3();
  doubleFaultTss.ioMapBase = TSS_LIMIT + 1;
}

/** The address space the #DF task switches to (SDM §7.3: CR3 is loaded from the new TSS). */
export function setDoubleFaultPageDirectory(cr3: u32): void { doubleFaultTss.cr3 = cr3; }

/**
 * Loads the GDT, reloads every segment register, loads TR. `doubleFaultEntry` is the function the
 * #DF task runs (exceptions.ts); it must never return.
 */
export function gdtInit(doubleFaultEntry: u32): void {
  setDescriptor(0, 0, 0, 0, 0);                 // the null descriptor (SDM §3.4.2)
  setDescriptor(KERNEL_CODE_SELECTOR >>> 3, 0, FLAT_LIMIT,
    ACCESS_PRESENT | ACCESS_CODE_OR_DATA | TYPE_CODE_EXECUTE_READ | TYPE_ACCESSED, FLAGS_4K_32BIT);
  setDescriptor(KERNEL_DATA_SELECTOR >>> 3, 0, FLAT_LIMIT,
    ACCESS_PRESENT | ACCESS_CODE_OR_DATA | TYPE_DATA_READ_WRITE | TYPE_ACCESSED, FLAGS_4K_32BIT);
  setDescriptor(USER_CODE_SELECTOR >>> 3, 0, FLAT_LIMIT,
    ACCESS_PRESENT | ACCESS_DPL_USER | ACCESS_CODE_OR_DATA | TYPE_CODE_EXECUTE_READ | TYPE_ACCESSED, FLAGS_4K_32BIT);
  setDescriptor(USER_DATA_SELECTOR >>> 3, 0, FLAT_LIMIT,
    ACCESS_PRESENT | ACCESS_DPL_USER | ACCESS_CODE_OR_DATA | TYPE_DATA_READ_WRITE | TYPE_ACCESSED, FLAGS_4K_32BIT);

  kernelTss.ss0 = KERNEL_DATA_SELECTOR;
  kernelTss.esp0 = linkerAddress("stackTop");   // the scheduler sets each VM's kernel stack here
  kernelTss.ioMapBase = TSS_LIMIT + 1;          // no I/O bitmap: ring 3 gets no port access (IOPL 0)
  setTssDescriptor(KERNEL_TSS_SELECTOR, kernelTss);
  prepareDoubleFaultTask(doubleFaultEntry);
  setTssDescriptor(DOUBLE_FAULT_TSS_SELECTOR, doubleFaultTss);

  gdtPseudoDescriptor[0] = u16(DESCRIPTOR_COUNT * DESCRIPTOR_BYTES - 1);
  gdtPseudoDescriptor[1] = u16(addressOf(gdt) & 0xffff);
  gdtPseudoDescriptor[2] = u16(addressOf(gdt) >>> 16);
  lgdt(addressOf(gdtPseudoDescriptor));
  loadSegments(KERNEL_CODE_SELECTOR, KERNEL_DATA_SELECTOR);
  ltr(KERNEL_TSS_SELECTOR);
  lldt(NULL_SELECTOR);
  enableUmip();
}

/** Sets CR4.UMIP when CPUID says the CPU has it (QEMU's default CPU does not; `-cpu ...,+umip` does). */
function enableUmip(): void {
  if (!cpuidFeature(CPU_UMIP)) return;
  writeCr4(readCr4() | CR4_UMIP);
  umipEnabled = true;
}

/** True when sgdt, sidt, sldt, smsw and str fault in ring 3 (UMIP on). */
export function gdtUmipEnabled(): bool { return umipEnabled; }

/** The ring-0 stack the CPU loads on a trap from ring 3 (SDM §6.12.1). */
export function setKernelStack(top: u32): void { kernelTss.esp0 = top; }

