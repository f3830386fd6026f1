// Hypercalls: `int 0x80` from ring 3 (an interrupt gate with DPL 3 and its own entry stub, installed by hypercallInit:
// not trap.ts's general dispatch), eax = number, arguments in ebx, ecx, edx, esi, the result in eax; every other
// register is preserved (docs/virtual-architecture.md "Hypercalls", the table there is the contract). Compiled guests
// come in by `sysenter` instead (abi/hypercalls.ts: the IA32_SYSENTER_* MSRs set by hypercallInit where the CPU has
// it); its stub makes the frame `int 0x80` would have, so everything below serves both. Under QEMU's TCG an `int` is an
// exception, delivered under the emulator's global lock, which its I/O thread holds while it moves frames and disk
// requests: the virtual CPU stood waiting for it thousands of times a second at the 100,000-VM swap point; `sysenter`
// takes no lock. The fast path: dispatch, the result, and the same frame resumed unless the call made the VM leave the
// CPU (scheduler.ts schedulerSwitchRequested, schedulerLeaveFunction); what a failed call needs (a wait for a page or
// for memory, the count of bad calls) is looked at only when it failed. Every address and length is checked against the
// calling VM's range before use (vmRangeValid: no overflow) and the bytes are copied in or out exactly once (no double
// fetch). Bad calls return an error; more than HYPERCALL_ERROR_LIMIT of them in a row end the VM as hostile. A call
// that must map a demand-zero page of the VM and cannot (vm.ts "Memory quotas": over its reservation, pool empty) does
// what the #PF of the same touch would (scheduler.ts): with swapping the VM waits for frames and makes the call again;
// when nothing can make room it ends "out of memory"; never an EFAULT. A buffer page on the swap disk is read back the
// same way (swap-in.ts): the VM waits for it and makes the call again.
import {
  bool, i32, u32, panic, overlay, interruptEntry, sysenterEntry, readCr3, writeCr3, writeMsr,
} from "dsl";
import { cpuidFeature, CPU_SEP } from "./cpuid.ts";
import {
  Vm, vmAt, vmRangeValid, vmPrepareRange, vmTakeOutOfMemory, vmTakeSwappedPage, END_EXIT,
  END_BAD_HYPERCALLS, END_OUT_OF_MEMORY,
} from "./vm.ts";
import { TrapFrame } from "./trapframe.ts";
import {
  HYPERCALL_COUNT, HYPERCALL_ERROR_LIMIT, HYPERCALL_VECTOR, HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, EINVAL,
  EFAULT, EMSGSIZE, CLOCK_BYTES, SYSENTER_FRAME_VECTOR, SYSENTER_CALL_BYTES,
} from "../abi/hypercalls.ts";
import { setInterruptGate } from "./idt.ts";
import { KERNEL_CODE_SELECTOR } from "./gdt.ts";
import { trapStackTop } from "./stacks.ts";
import {
  schedulerCurrent, schedulerEnd, schedulerYieldCurrent, schedulerWaitForMemory, schedulerWaitForPage, VM_NONE_INDEX,
  schedulerSwitchRequested, schedulerLeaveFunction, SchedulerLeave, schedulerCurrentVm, schedulerBytecodeLeaves,
} from "./scheduler.ts";
import { virqIdle, virqSetAlarm, virqSetMask, virqAcknowledge } from "./vinterrupt.ts";
import { switchInit, switchSend, switchReceive } from "./switch.ts";
import { clockStore } from "./clock.ts";
import { consoleGuestWrite, consoleWriteString, consoleNewLine } from "./console.ts";
import { exceptionHookSet } from "./trap.ts";
import { VECTOR_DEBUG } from "./exceptions.ts";
import { callVmCreate, callVmStop, callVmList, callVmConsole, callMachineStatus } from "./control.ts";
import {
  profileOn, profileEntry, profileExit, profileEnter, profileLeave, profileCountCall, PROFILE_HYPERCALL,
  PROFILE_SWITCH,
} from "./profile.ts";

// The numbers, error codes and HYPERCALL_ERROR_LIMIT are the guest ABI's one definition (abi/hypercalls.ts),
// imported by the guests' runtime too, so the two sides cannot drift apart. Dispatch is one indexed call
// through hypercallTable (xv6's syscalls[]): entry n handles number n; any other number gets EINVAL.
/** `int 0x80` is CD 80: a call made again after a wait for memory starts this far back. */
const HYPERCALL_INSTRUCTION_BYTES: u32 = 2;
// `sysenter` (SDM Vol. 2B; the MSRs: Vol. 4 Table 2-2): CS (SS is CS + 8), ESP and EIP after it.
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_SYSENTER_ESP: u32 = 0x175;
const MSR_SYSENTER_EIP: u32 = 0x176;
/** EFLAGS.TF (SDM Vol. 3A §2.3): single-step. */
const EFLAGS_TRAP: u32 = 1 << 8;
/** The `sysenter` stub's address (0: this CPU has no SYSENTER, guests' calls by it fault). */
let sysenterStub: u32 = 0;
/** A user's TF trapping at the stub's first instructions (sysenterStep) is this close to it. */
const SYSENTER_STEP_BYTES: u32 = 16;
/** A selector's requested privilege level: the ring a trap came from (SDM Vol. 3A §3.4.2). */
const RING_MASK: u32 = 3;

let hypercallCount: u32 = 0;
function noLeave(vm: Vm, frameAddress: u32): u32 { return frameAddress; }
/** The scheduler's switch-out for a call that makes the VM leave the CPU (set by hypercallInit). */
let leave: SchedulerLeave = noLeave;
let memoryRetries: u32 = 0;
let pageRetries: u32 = 0;

/** Hypercalls that waited for memory and were made again (swap.ts reports them). */
export function hypercallMemoryWaits(): u32 { return memoryRetries; }

/** Hypercalls that waited for a buffer page on the swap disk and were made again (swap.ts reports them). */
export function hypercallPageWaits(): u32 { return pageRetries; }

/**
 * A hypercall: the calling VM's index and its trap frame (arguments in ebx, ecx, edx, esi); returns the
 * result for eax. Named `call` + the number's name (HYPERCALL_SET_ALARM: callSetAlarm).
 */
type Hypercall = (index: u32, frame: TrapFrame) => i32;

function callExit(index: u32, frame: TrapFrame): i32 {
  schedulerEnd(index, END_EXIT, frame.ebx, frame.eip, 0);
  return 0;
}

/** idle: ebx = the bits its delivery acknowledges, ecx = where it writes the clock then (0: nowhere). */
function callIdle(index: u32, frame: TrapFrame): i32 {
  const clock = frame.ecx;
  if (clock !== 0) {
    const vm = vmAt(u32(index));
    if (!vmRangeValid(vm, clock, CLOCK_BYTES) || !vmPrepareRange(vm, clock, CLOCK_BYTES, true)) return EFAULT;
  }
  return i32(virqIdle(index, frame.ebx, clock));
}

function callSetAlarm(index: u32, frame: TrapFrame): i32 { return virqSetAlarm(index, frame.ebx); }

/** Writes the global clock (u64 nanoseconds) to the 8 bytes at ebx. */
function callReadClock(index: u32, frame: TrapFrame): i32 {
  const vm = vmAt(u32(index)), address = frame.ebx;
  if (!vmRangeValid(vm, address, CLOCK_BYTES) || !vmPrepareRange(vm, address, CLOCK_BYTES, true)) return EFAULT;
  clockStore(address);
  return 0;
}

/** Queues ecx bytes at ebx for the console (console.ts: prefixed, escaped, rate-limited per VM). */
function callConsoleWrite(index: u32, frame: TrapFrame): i32 {
  if (!vmRangeValid(vmAt(u32(index)), frame.ebx, frame.ecx)) return EFAULT;
  return consoleGuestWrite(index, frame.ebx, frame.ecx);
}

function callNetSend(index: u32, frame: TrapFrame): i32 { return switchSend(index, frame.ebx, frame.ecx); }

function callNetReceive(index: u32, frame: TrapFrame): i32 { return switchReceive(index, frame.ebx, frame.ecx); }

/** The network calls in the profile's PROFILE_SWITCH: hypercallTable's entries when the kernel profiles. */
function profiledNetSend(index: u32, frame: TrapFrame): i32 {
  const previous = profileEnter(PROFILE_SWITCH);
  const result = callNetSend(index, frame);
  profileLeave(previous);
  return result;
}

function profiledNetReceive(index: u32, frame: TrapFrame): i32 {
  const previous = profileEnter(PROFILE_SWITCH);
  const result = callNetReceive(index, frame);
  profileLeave(previous);
  return result;
}

/**
 * `-append tlbflush=N` (bench:web --tlb-flush N): CR3 reloaded with its own value at every Nth netSend, which
 * costs a handful of instructions and, under QEMU's TCG, the whole soft TLB and jump cache (a CR3 load drops
 * them whatever the pages' global bits): one VM then pays the emulator's price of an address-space switch
 * without the switch, the part of the many-VM slowdown that instruction counts cannot show. Off by default:
 * the table's entry is callNetSend itself.
 */
let tlbFlushEvery: u32 = 0;
let tlbFlushCountdown: u32 = 0;
let unflushedNetSend: Hypercall = callNetSend;

/** Sets the knob above (main.ts, from the command line, before hypercallInit); 0: off. */
export function hypercallTlbFlushEvery(sends: u32): void { tlbFlushEvery = sends; }

function tlbFlushingNetSend(index: u32, frame: TrapFrame): i32 {
  if (++tlbFlushCountdown >= tlbFlushEvery) { tlbFlushCountdown = 0; writeCr3(readCr3()); }
  return unflushedNetSend(index, frame);
}

function callInterruptMask(index: u32, frame: TrapFrame): i32 { return i32(virqSetMask(index, frame.ebx)); }

function callInterruptAcknowledge(index: u32, frame: TrapFrame): i32 { return i32(virqAcknowledge(index, frame.ebx)); }

function callYield(index: u32, frame: TrapFrame): i32 {
  schedulerYieldCurrent();
  return 0;
}

/** Entry n handles hypercall number n (test/abi/abi.test.ts checks the order against abi/hypercalls.ts). */
const hypercallTable: Hypercall[] = [
  callExit,                     // HYPERCALL_EXIT
  callIdle,                     // HYPERCALL_IDLE
  callSetAlarm,                 // HYPERCALL_SET_ALARM
  callReadClock,                // HYPERCALL_READ_CLOCK
  callConsoleWrite,             // HYPERCALL_CONSOLE_WRITE
  callNetSend,                  // HYPERCALL_NET_SEND
  callNetReceive,               // HYPERCALL_NET_RECEIVE
  callInterruptMask,            // HYPERCALL_INTERRUPT_MASK
  callInterruptAcknowledge,     // HYPERCALL_INTERRUPT_ACKNOWLEDGE
  callYield,                    // HYPERCALL_YIELD
  callVmCreate,                 // HYPERCALL_VM_CREATE (control.ts: the control VM's management calls)
  callVmStop,                   // HYPERCALL_VM_STOP
  callVmList,                   // HYPERCALL_VM_LIST
  callVmConsole,                // HYPERCALL_VM_CONSOLE
  callMachineStatus,            // HYPERCALL_MACHINE_STATUS
];

export function hypercallInit(): void {
  if (u32(hypercallTable.length) !== HYPERCALL_COUNT) panic("hypercallTable: not one handler per hypercall number");
  switchInit();
  leave = schedulerLeaveFunction();
  // Profiled (profile.ts), the gate's stub calls a wrapper that marks the entry and the exit, and the
  // network calls are wrapped in the switch's category: none of it is on the unprofiled path.
  if (profileOn()) {
    hypercallTable[HYPERCALL_NET_SEND] = profiledNetSend;
    hypercallTable[HYPERCALL_NET_RECEIVE] = profiledNetReceive;
    setInterruptGate(HYPERCALL_VECTOR, interruptEntry(profiledHypercallEntry, HYPERCALL_VECTOR), true);
  } else {
    setInterruptGate(HYPERCALL_VECTOR, interruptEntry(hypercallEntry, HYPERCALL_VECTOR), true);
  }
  sysenterInit();
  if (tlbFlushEvery !== 0) {
    unflushedNetSend = hypercallTable[HYPERCALL_NET_SEND];
    hypercallTable[HYPERCALL_NET_SEND] = tlbFlushingNetSend;
  }
}

/**
 * `sysenter` into the stub (the MSRs) where CPUID says the CPU has it (SEP): every x86 since the Pentium II,
 * QEMU's and Bochs's models included. Without it a guest's `sysenter` faults and ends that guest.
 */
function sysenterInit(): void {
  if (!cpuidFeature(CPU_SEP)) return;
  sysenterStub = profileOn() ? sysenterEntry(profiledHypercallEntry) : sysenterEntry(hypercallEntry);
  writeMsr(MSR_SYSENTER_CS, KERNEL_CODE_SELECTOR, 0);
  writeMsr(MSR_SYSENTER_ESP, trapStackTop(), 0);        // the trap stack, as TSS.esp0 (scheduler.ts)
  writeMsr(MSR_SYSENTER_EIP, sysenterStub, 0);
  exceptionHookSet(VECTOR_DEBUG, sysenterStep);
  consoleWriteString("hypercalls: int 0x80, and sysenter (compiled guests)");
  consoleNewLine();
}

/**
 * A debug exception from ring 0 in the `sysenter` stub's first instructions: a VM's TF (`sysenter` keeps
 * it; QEMU traps right after the `sysenter`, a CPU after the stub's first instruction). The step is the
 * kernel's own, not the VM's: TF off and the stub goes on (the VM returns without it). True when it was.
 */
function sysenterStep(frame: TrapFrame): bool {
  if (sysenterStub === 0 || (frame.cs & RING_MASK) !== 0 || u32(frame.eip - sysenterStub) >= SYSENTER_STEP_BYTES) {
    return false;
  }
  frame.eflags &= ~EFLAGS_TRAP;
  return true;
}

/** The VM waits and then makes hypercall `number` again. */
function retry(frame: TrapFrame, number: u32): void {
  frame.eip -= frame.vector === SYSENTER_FRAME_VECTOR ? SYSENTER_CALL_BYTES : HYPERCALL_INSTRUCTION_BYTES;
  frame.eax = number;
  retried = true;
}

/** A call was to be made again (retry): a bytecode VM's interpreter makes it again, not eip. */
let retried = false;

/** True (once) when the last call is to be made again after a wait (bytecode-interp.ts: its pc back). */
export function hypercallRetried(): bool {
  const was = retried;
  retried = false;
  return was;
}

function bad(result: i32): bool { return result === EINVAL || result === EFAULT || result === EMSGSIZE; }

/** The entry of vector 0x80 (its own stub): the frame to resume. Only a VM's `int 0x80` gets here. */
function hypercallEntry(frameAddress: u32): u32 {
  const current = schedulerCurrent();
  if (current === VM_NONE_INDEX) return frameAddress;
  const frame = overlay(TrapFrame, frameAddress);
  // From ring 0 it is the idle loop's own `int 0x80`: the bytecode VM it runs leaves the CPU (scheduler.ts).
  if ((frame.cs & RING_MASK) === 0) return schedulerBytecodeLeaves(frameAddress);
  const index = u32(current);
  hypercallCount++;
  const number = frame.eax;
  const result = number < HYPERCALL_COUNT ? hypercallTable[number](index, frame) : EINVAL;
  frame.eax = u32(result);
  const vm = schedulerCurrentVm();
  if (result < 0) failed(index, frame, number, result);
  else if (vm.badCalls !== 0) vm.badCalls = 0;
  return schedulerSwitchRequested() ? leave(vm, frameAddress) : frameAddress;
}

/**
 * A bytecode VM's hypercall (bytecode-interp.ts): a direct call, its registers in `frame` (the VM's save
 * area: eax the number, then the result; ebx, ecx, edx, esi the arguments), dispatched as the gate's path
 * does. What the call did to the VM (it left the CPU, ended) is for the caller to see afterwards.
 */
export function hypercallDirect(index: u32, frame: TrapFrame): void {
  hypercallCount++;
  retried = false;                       // (a hardware VM's retry leaves it set: only this call's counts)
  const number = frame.eax;
  const result = number < HYPERCALL_COUNT ? hypercallTable[number](index, frame) : EINVAL;
  frame.eax = u32(result);
  const vm = vmAt(index);
  if (result < 0) failed(index, frame, number, result);
  else if (vm.badCalls !== 0) vm.badCalls = 0;
}

/** hypercallEntry with the profile's marks (profile.ts): the gate's handler when the kernel profiles. */
function profiledHypercallEntry(frameAddress: u32): u32 {
  profileEntry(frameAddress, PROFILE_HYPERCALL);
  profileCountCall(overlay(TrapFrame, frameAddress).eax);
  const resumed = hypercallEntry(frameAddress);
  profileExit(resumed);
  return resumed;
}

/**
 * A call that returned an error: it may have failed for a buffer page on the swap disk or for want of
 * memory (vm.ts vmPrepareRange; every caller then returns EFAULT); a bad call counts toward the limit.
 */
function failed(index: u32, frame: TrapFrame, number: u32, result: i32): void {
  const swappedPage = vmTakeSwappedPage();
  if (swappedPage !== 0) {
    // A buffer page is on the swap disk: the VM waits for it and makes the same call again (as below).
    if (schedulerWaitForPage(swappedPage)) { retry(frame, number); pageRetries++; return; }
    schedulerEnd(index, END_OUT_OF_MEMORY, 0, frame.eip, swappedPage);
    return;
  }
  if (vmTakeOutOfMemory()) {
    // No hypercall has an effect before its buffer is prepared, so with swapping the VM waits for frames
    // and then makes the same call again: eip back over `int 0x80` (CD 80, the only way to this gate;
    // prefixes before it change nothing), eax its number again, the other registers untouched.
    if (schedulerWaitForMemory()) { retry(frame, number); memoryRetries++; return; }
    schedulerEnd(index, END_OUT_OF_MEMORY, 0, frame.eip, frame.ebx);
    return;
  }
  const vm = vmAt(index);
  if (!bad(result)) { vm.badCalls = 0; return; }     // EAGAIN and the like: an answer, not a bad call
  vm.badCalls++;
  if (vm.badCalls > HYPERCALL_ERROR_LIMIT) schedulerEnd(index, END_BAD_HYPERCALLS, 0, frame.eip, 0);
}
