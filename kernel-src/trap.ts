// Where every interrupt and exception arrives: the compiler-generated entry stubs (idt.ts) call
// trapHandler(frame) with interrupts disabled (interrupt gates). Exceptions (vectors 0-31) go to
// exceptions.ts, hardware IRQs (32-47) to the handler registered for their line, with the 8259's
// spurious interrupts filtered out; the message vectors (MESSAGE_VECTOR_FIRST.., a PCI function's MSI or
// MSI-X: msi.ts) to the handler allocated each, then the local APIC's EOI (lapic.ts); the local APIC's
// spurious vector is counted (no EOI); any other vector is counted and ignored (with an EOI when the local
// APIC is in use: only it can have delivered it, and its in-service bit would block the vectors below).
import { bool, i32, u32, overlay, cli, sti, readFlags, readCr3, functionAddress, interruptEntryTable } from "dsl";
import {
  IRQ_BASE_VECTOR, IRQ_LINES, IRQ_MASTER_SPURIOUS, IRQ_SLAVE_SPURIOUS, picInit, picIsSpurious, picEndOfInterrupt,
  picEndOfSpuriousInterrupt, picUnmask,
} from "./pic.ts";
import { TrapFrame, frameFromUser } from "./trapframe.ts";
import { reportException, doubleFaultTask, VECTOR_NMI, VECTOR_MACHINE_CHECK } from "./exceptions.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine } from "./console.ts";
import { gdtInit, setDoubleFaultPageDirectory } from "./gdt.ts";
import { idtInit } from "./idt.ts";
import { entropyStir } from "./entropy.ts";
import { profileOn, profileEntry, profileExit, PROFILE_TRAP } from "./profile.ts";
import { LAPIC_SPURIOUS_VECTOR, lapicPresent, lapicEndOfInterrupt, lapicSpurious } from "./lapic.ts";

const EXCEPTION_VECTORS = 32;

/** An IRQ handler gets its line; it runs with interrupts disabled, before the EOI. */
type IrqHandler = (line: u32) => void;
/**
 * An exception hook may resolve a fault (and adjust the frame, e.g. step over the instruction) by
 * returning true; otherwise the fault is reported and the machine stops.
 */
type ExceptionHook = (frame: TrapFrame) => bool;

function ignoreIrq(line: u32): void {}
function noExceptionHook(frame: TrapFrame): bool { return false; }

/**
 * Ring 3 (the VMs, scheduler.ts and hypercall.ts): exceptions from a VM (CPL 3 by cs, or virtual-8086
 * mode by EFLAGS.VM: trapframe.ts frameFromUser) go to the user exception handler instead of the
 * kernel's report, except the two that are no VM's doing: an NMI is counted and the interrupted code
 * (VM or kernel) goes on; a machine check is a hardware error and stops the machine wherever it lands;
 * every trap ends with the resume hook, which returns the frame to resume (another VM's, for a switch).
 * The hypercall vector has its own entry stub and handler (hypercall.ts), not this dispatch.
 */
type FrameHandler = (frame: TrapFrame) => void;
type ResumeHook = (frameAddress: u32) => u32;
function noFrameHandler(frame: TrapFrame): void {}
function sameFrame(frameAddress: u32): u32 { return frameAddress; }
let userExceptionHandler: FrameHandler = noFrameHandler;
let userExceptionHandlerSet = false;
let resumeHook: ResumeHook = sameFrame;

export function trapSetUserExceptionHandler(handler: FrameHandler): void { userExceptionHandler = handler; userExceptionHandlerSet = true; }
export function trapSetResumeHook(hook: ResumeHook): void { resumeHook = hook; }

const irqHandlers: IrqHandler[] = [ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq];
const exceptionHooks: ExceptionHook[] = [noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook,
  noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook,
  noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook,
  noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook,
  noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook, noExceptionHook];

// Statistics (the shell's `irq` command). Invariant: changed only with interrupts disabled.
const irqCounts = new Uint32Array(IRQ_LINES);
const spuriousCounts = new Uint32Array(IRQ_LINES);  // only lines 7 and 15 are ever counted
let unexpectedInterrupts: u32 = 0;
let nmiCount: u32 = 0;

export function unexpectedInterruptCount(): u32 { return unexpectedInterrupts; }

/** An NMI (a watchdog, a parity or channel error, QEMU's `nmi`): logged and counted, never fatal to a VM. */
function nonMaskableInterrupt(frame: TrapFrame): void {
  nmiCount++;
  consoleWriteString("nmi: non-maskable interrupt ");
  consoleWriteDecimal(nmiCount);
  consoleWriteString(frameFromUser(frame) ? " during a VM" : " in the kernel");
  consoleWriteString(" at eip 0x");
  consoleWriteHex(frame.eip);
  consoleWriteString(": resumed");
  consoleNewLine();
}

/** Installs `handler` as the only handler of IRQ `line` (replacing any others) and unmasks the line. */
export function irqRegister(line: u32, handler: IrqHandler): void {
  sharedCounts[line] = 0;
  irqHandlers[line] = handler;
  picUnmask(line);
}

// Shared lines. A PCI function's INTx# is level-sensitive and may be wired to the same 8259 input as
// other functions' (PCI LB 3.0 §2.2.6 "Interrupt Pins"; QEMU's i440FX puts virtio-net and virtio-blk
// on IRQ 11): every handler of the line runs on each interrupt and checks whether its own device
// asked (a virtio ISR read of 0: not this one). Handler k of line l is sharedHandlers[l * LIMIT + k].
const IRQ_SHARED_LIMIT: u32 = 4;
const sharedHandlers: IrqHandler[] = [
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq];
const sharedCounts = new Uint32Array(IRQ_LINES);

function dispatchShared(line: u32): void {
  const count = sharedCounts[line];
  for (let k: u32 = 0; k < count; k++) sharedHandlers[line * IRQ_SHARED_LIMIT + k](line);
}

/**
 * Adds `handler` to IRQ `line`, which other devices' handlers may share (each must check its own
 * device; an exclusive handler irqRegister installed there is dropped), and unmasks the line. False
 * when the line has IRQ_SHARED_LIMIT handlers already.
 */
export function irqRegisterShared(line: u32, handler: IrqHandler): bool {
  const count = sharedCounts[line];
  if (count >= IRQ_SHARED_LIMIT) return false;
  sharedHandlers[line * IRQ_SHARED_LIMIT + count] = handler;
  sharedCounts[line] = count + 1;
  irqHandlers[line] = count === 0 ? handler : dispatchShared;     // alone on its line: called directly
  picUnmask(line);
  return true;
}

// Message vectors: one per PCI function that interrupts by MSI or MSI-X (msi.ts), never shared, above the
// 8259's (priority class 4, SDM Vol. 3A §10.8.3.1) and below the hypercall's 0x80.
const MESSAGE_VECTOR_FIRST: u32 = 0x40;
const MESSAGE_VECTORS: u32 = 16;
const messageHandlers: IrqHandler[] = [ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq,
  ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq, ignoreIrq];
const messageCounts = new Uint32Array(16);          // MESSAGE_VECTORS
let messageVectorsUsed: u32 = 0;

/** The next free message vector with `handler` installed, or 0 when all MESSAGE_VECTORS are taken. */
export function irqAllocateMessageVector(handler: IrqHandler): u32 {
  if (messageVectorsUsed >= MESSAGE_VECTORS) return 0;
  const index = messageVectorsUsed;
  messageVectorsUsed++;
  messageHandlers[index] = handler;
  messageCounts[index] = 0;
  return MESSAGE_VECTOR_FIRST + index;
}

/** Gives back the vector irqAllocateMessageVector returned last (its device could not be programmed). */
export function irqReleaseMessageVector(vector: u32): void {
  if (messageVectorsUsed === 0 || vector !== MESSAGE_VECTOR_FIRST + messageVectorsUsed - 1) return;
  messageVectorsUsed--;
  messageHandlers[messageVectorsUsed] = ignoreIrq;
}

/** Interrupts delivered on message vector `vector` so far. */
export function messageVectorCount(vector: u32): u32 {
  return vector >= MESSAGE_VECTOR_FIRST && vector < MESSAGE_VECTOR_FIRST + messageVectorsUsed
    ? messageCounts[vector - MESSAGE_VECTOR_FIRST] : 0;
}

function dispatchMessage(vector: u32): void {
  const index = vector - MESSAGE_VECTOR_FIRST;
  messageCounts[index]++;
  entropyStir();
  messageHandlers[index](vector);
  lapicEndOfInterrupt();
}

export function exceptionHookSet(vector: u32, hook: ExceptionHook): void { exceptionHooks[vector] = hook; }
export function exceptionHookClear(vector: u32): void { exceptionHooks[vector] = noExceptionHook; }

/** Every entry stub calls this; the frame returned is the one resumed (the resume hook decides). */
export function trapHandler(frameAddress: u32): u32 {
  if (profileOn()) return profiledTrap(frameAddress);
  return dispatch(frameAddress);
}

/** trapHandler with the profile's marks (profile.ts). */
function profiledTrap(frameAddress: u32): u32 {
  profileEntry(frameAddress, PROFILE_TRAP);
  const resumed = dispatch(frameAddress);
  profileExit(resumed);
  return resumed;
}

function dispatch(frameAddress: u32): u32 {
  const frame = overlay(TrapFrame, frameAddress);
  const vector = frame.vector;
  const fromUser = frameFromUser(frame);
  if (vector === VECTOR_NMI) {
    nonMaskableInterrupt(frame);
    // In the kernel (an entry stub, a handler): it goes on as it was. Through the resume hook a VM's slice
    // could end there and the kernel's own frame be saved as that VM's.
    if (!fromUser) return frameAddress;
  } else if (vector < EXCEPTION_VECTORS) {
    if (fromUser && userExceptionHandlerSet && vector !== VECTOR_MACHINE_CHECK) userExceptionHandler(frame);
    else if (!exceptionHooks[vector](frame)) reportException(frame, frameAddress);
    else if (!fromUser) return frameAddress;      // the kernel's own code goes on where it was: no VM switch
  } else if (vector < IRQ_BASE_VECTOR + IRQ_LINES) {
    dispatchIrq(vector - IRQ_BASE_VECTOR);
  } else if (vector >= MESSAGE_VECTOR_FIRST && vector < MESSAGE_VECTOR_FIRST + MESSAGE_VECTORS && lapicPresent()) {
    dispatchMessage(vector);
  } else if (vector === LAPIC_SPURIOUS_VECTOR && lapicPresent()) {
    lapicSpurious();
  } else {
    unexpectedInterrupts++;
    if (lapicPresent()) lapicEndOfInterrupt();
  }
  return resumeHook(frameAddress);
}

function dispatchIrq(line: u32): void {
  if ((line === IRQ_MASTER_SPURIOUS || line === IRQ_SLAVE_SPURIOUS) && picIsSpurious(line)) {
    spuriousCounts[line]++;
    picEndOfSpuriousInterrupt(line);
    return;
  }
  irqCounts[line]++;
  entropyStir();                  // the arrival time's low bits: the VMs' secrets (entropy.ts)
  irqHandlers[line](line);
  picEndOfInterrupt(line);
}

const EFLAGS_INTERRUPT_ENABLE = 1 << 9;   // IF (SDM Vol. 1 §3.4.3)

/** Disables interrupts and returns the previous eflags for interruptsRestore. */
export function interruptsDisable(): u32 {
  const flags = readFlags();
  cli();
  return flags;
}

/** Enables interrupts again if they were enabled when `flags` was read. */
export function interruptsRestore(flags: u32): void {
  if ((flags & EFLAGS_INTERRUPT_ENABLE) !== 0) sti();
}

export function interruptsEnabled(): bool { return (readFlags() & EFLAGS_INTERRUPT_ENABLE) !== 0; }

export function irqCount(line: u32): u32 { return irqCounts[line]; }
export function spuriousCount(line: u32): u32 { return spuriousCounts[line]; }
export function lineName(line: i32): string {
  switch (line) {
    case 0: return "timer";
    case 1: return "keyboard";
    case 2: return "cascade";
    case 3: return "COM2";
    case 4: return "COM1";
    case 7: return "LPT1/spurious";
    case 8: return "RTC";
    case 12: return "mouse";
    case 14: return "ATA primary";
    case 15: return "ATA secondary/spurious";
  }
  return "-";
}

/**
 * Segments and TSSs, the IDT (an entry stub per vector calling trapHandler; #DF through its task
 * gate), the 8259s with every line masked. Interrupts stay disabled until interruptsEnable.
 */
export function interruptsInit(): void {
  gdtInit(functionAddress(doubleFaultTask));
  idtInit(interruptEntryTable(trapHandler));
  picInit();
}

/**
 * Turns interrupts on. Paging is on by now: the #DF task switches to the current page directory
 * (the kernel's, which every address space shares).
 */
export function interruptsEnable(): void {
  setDoubleFaultPageDirectory(readCr3());
  sti();
}
