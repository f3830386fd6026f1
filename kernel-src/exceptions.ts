// CPU exceptions (vectors 0-31) the kernel cannot resolve: a report on the console (name, vector,
// error code, EIP, every register, CR2 for a page fault, a symbolized backtrace), then the machine
// stops with the exception's own isa-debug-exit status (machine.ts: EXIT_EXCEPTION_BASE + vector).
// The double fault arrives differently: through a task gate (idt.ts) into doubleFaultTask, on its own
// stack, with the faulting state saved by the task switch in the kernel TSS (gdt.ts).
// Reference: Intel SDM Vol. 3A §6.3.1 and Table 6-1 "Protected-Mode Exceptions and Interrupts";
// §6.15 "Exception and Interrupt Reference" (error codes; #PF: CR2 and Figure 6-11); §7.3 (task switch).
import { u8, u32, readCr2, readCr3, readCr0 } from "dsl";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine } from "./console.ts";
import { exitMachine, EXIT_EXCEPTION_BASE } from "./machine.ts";
import { writeBacktrace } from "./backtrace.ts";
import { TrapFrame, interruptedStackPointer, frameFromUser } from "./trapframe.ts";
import { kernelTss } from "./gdt.ts";
import { stackOfGuard, stackName } from "./stacks.ts";

const VECTOR_DIVIDE_ERROR = 0;
export const VECTOR_DEBUG = 1;
export const VECTOR_NMI = 2;
export const VECTOR_INVALID_OPCODE = 6;
export const VECTOR_DEVICE_NOT_AVAILABLE = 7;
const VECTOR_DOUBLE_FAULT = 8;
const VECTOR_GENERAL_PROTECTION = 13;
export const VECTOR_PAGE_FAULT = 14;
export const VECTOR_MACHINE_CHECK = 18;

/** Mnemonic and name (SDM Table 6-1); 15, 22-27 and 31 are reserved. */
export function exceptionName(vector: u32): string {
  switch (vector) {
    case 0: return "#DE divide error";
    case 1: return "#DB debug";
    case 2: return "NMI non-maskable interrupt";
    case 3: return "#BP breakpoint";
    case 4: return "#OF overflow";
    case 5: return "#BR bound range exceeded";
    case 6: return "#UD invalid opcode";
    case 7: return "#NM device not available";
    case 8: return "#DF double fault";
    case 9: return "coprocessor segment overrun";
    case 10: return "#TS invalid TSS";
    case 11: return "#NP segment not present";
    case 12: return "#SS stack-segment fault";
    case 13: return "#GP general protection";
    case 14: return "#PF page fault";
    case 16: return "#MF x87 floating-point error";
    case 17: return "#AC alignment check";
    case 18: return "#MC machine check";
    case 19: return "#XM SIMD floating-point exception";
    case 20: return "#VE virtualization exception";
    case 21: return "#CP control protection";
    case 28: return "#HV hypervisor injection";
    case 29: return "#VC VMM communication";
    case 30: return "#SX security exception";
  }
  return "reserved exception";
}

// #PF error code bits (SDM Figure 6-11).
const PAGE_FAULT_PRESENT = 1 << 0;   // 0: page not present; 1: protection violation
const PAGE_FAULT_WRITE = 1 << 1;     // 0: read; 1: write
const PAGE_FAULT_USER = 1 << 2;      // 0: supervisor; 1: user mode
const PAGE_FAULT_FETCH = 1 << 4;     // instruction fetch

// Invariant: set while a report is being written; a fault inside the report stops at once.
let reporting = false;

function writeRegister(name: string, value: u32): void {
  consoleWriteString(name);
  consoleWriteString(" 0x");
  consoleWriteHex(value);
}

function writeHeader(vector: u32, errorCode: u32): void {
  consoleWriteString("exception: ");
  consoleWriteString(exceptionName(vector));
  consoleWriteString(" (vector ");
  consoleWriteDecimal(vector);
  consoleWriteString(") error code 0x");
  consoleWriteHex(errorCode);
  consoleNewLine();
}

function writeRegisters(eip: u32, cs: u32, eflags: u32, eax: u32, ebx: u32, ecx: u32, edx: u32): void {
  writeRegister("eip", eip); consoleWriteString(" "); writeRegister("cs", cs); consoleWriteString(" ");
  writeRegister("eflags", eflags); consoleNewLine();
  writeRegister("eax", eax); consoleWriteString(" "); writeRegister("ebx", ebx); consoleWriteString(" ");
  writeRegister("ecx", ecx); consoleWriteString(" "); writeRegister("edx", edx); consoleNewLine();
}

function writeMoreRegisters(esi: u32, edi: u32, ebp: u32, esp: u32): void {
  writeRegister("esi", esi); consoleWriteString(" "); writeRegister("edi", edi); consoleWriteString(" ");
  writeRegister("ebp", ebp); consoleWriteString(" "); writeRegister("esp", esp); consoleNewLine();
}

function writeSegments(ds: u32, es: u32, fs: u32, gs: u32, ss: u32): void {
  writeRegister("ds", ds); consoleWriteString(" "); writeRegister("es", es); consoleWriteString(" ");
  writeRegister("fs", fs); consoleWriteString(" "); writeRegister("gs", gs); consoleWriteString(" ");
  writeRegister("ss", ss); consoleNewLine();
  writeRegister("cr0", readCr0()); consoleWriteString(" "); writeRegister("cr3", readCr3()); consoleNewLine();
}

function writePageFaultDetails(errorCode: u32): void {
  writeRegister("cr2", readCr2());
  consoleWriteString((errorCode & PAGE_FAULT_PRESENT) !== 0 ? " protection violation" : " page not present");
  consoleWriteString((errorCode & PAGE_FAULT_FETCH) !== 0 ? ", fetch" : (errorCode & PAGE_FAULT_WRITE) !== 0 ? ", write" : ", read");
  consoleWriteString((errorCode & PAGE_FAULT_USER) !== 0 ? ", user" : ", supervisor");
  consoleNewLine();
}

/** `kernel stack overflow: the NAME (guard page hit at 0x...)` when `address` lies in a stack's guard page. */
function writeStackOverflow(address: u32): void {
  const stack = stackOfGuard(address);
  if (stack < 0) return;
  consoleWriteString("kernel stack overflow: the ");
  consoleWriteString(stackName(stack));
  consoleWriteString(" (guard page hit at 0x");
  consoleWriteHex(address);
  consoleWriteString(")");
  consoleNewLine();
}

function stop(vector: u32): void {
  consoleWriteString("exception: machine stopped");
  consoleNewLine();
  exitMachine(u8(EXIT_EXCEPTION_BASE + vector));
}

/** Reports the exception in `frame` (trap.ts) and stops the machine. */
export function reportException(frame: TrapFrame, frameAddress: u32): void {
  if (reporting) exitMachine(u8(EXIT_EXCEPTION_BASE + frame.vector));
  reporting = true;
  consoleNewLine();
  writeHeader(frame.vector, frame.errorCode);
  writeRegisters(frame.eip, frame.cs, frame.eflags, frame.eax, frame.ebx, frame.ecx, frame.edx);
  writeMoreRegisters(frame.esi, frame.edi, frame.ebp, interruptedStackPointer(frame, frameAddress));
  writeSegments(frame.ds, frame.es, frame.fs, frame.gs, frameFromUser(frame) ? frame.userSs : frame.ds);
  if (frame.vector === VECTOR_PAGE_FAULT) { writePageFaultDetails(frame.errorCode); writeStackOverflow(readCr2()); }
  writeBacktrace(frame.eip, interruptedStackPointer(frame, frameAddress), frame.ebp);
  stop(frame.vector);
}

/**
 * The #DF task's entry (gdt.ts puts its address in the double-fault TSS). The CPU switched tasks: the
 * state of the faulting code is in the kernel TSS, this function runs on the double-fault stack, and
 * the #DF error code (always 0) sits where a return address would. It never returns (an iret would
 * switch back to the broken task).
 */
export function doubleFaultTask(): void {
  reporting = true;
  consoleNewLine();
  writeHeader(VECTOR_DOUBLE_FAULT, 0);
  writeRegisters(kernelTss.eip, kernelTss.cs, kernelTss.eflags, kernelTss.eax, kernelTss.ebx, kernelTss.ecx, kernelTss.edx);
  writeMoreRegisters(kernelTss.esi, kernelTss.edi, kernelTss.ebp, kernelTss.esp);
  writeSegments(kernelTss.ds, kernelTss.es, kernelTss.fs, kernelTss.gs, kernelTss.ss);
  writeRegister("cr2", readCr2());
  consoleWriteString(" (the last page fault address)");
  consoleNewLine();
  writeStackOverflow(readCr2());
  writeBacktrace(kernelTss.eip, kernelTss.esp, kernelTss.ebp);
  stop(VECTOR_DOUBLE_FAULT);
}

