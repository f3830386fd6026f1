// The scheduler: stride scheduling over the runnable VMs by their CPU weights, with optional caps, driven
// by the PIT tick (pit.ts, 1 kHz), and fault containment (a ring-3 exception ends only its VM).
//
// How a switch works: every trap from ring 3 lands on one kernel trap stack (TSS.esp0); trap.ts calls
// schedulerResume(frame) last, and the stub resumes whatever frame address it returns
// (docs/calling-convention.md). Switching out copies the VM's frame (TRAP_FRAME_BYTES) into its save
// area (vm.ts); switching in returns the address of the next VM's save area itself, so the stub pops
// that VM's registers and irets into it. With nothing runnable the kernel resumes its own idle loop
// (sti; hlt in schedulerRun), whose ring-0 frame was recorded when it was last interrupted.
//
// Policy (docs/virtual-architecture.md "Scheduling and accounting"): each VM has a weight and a pass,
// its virtual time (share.ts). The next VM is the runnable one with the least pass; when it leaves the
// CPU its pass grows by the TSC cycles it ran divided by its weight, so over time VMs get the CPU in
// proportion to their weights. A VM that joins the run heap (new, or woken after idling) gets a pass of
// at least the virtual time, the pass of the VM last picked (every VM in the heap has at least that):
// idling banks no credit. A yield counts as a whole quantum run from the least pass in the heap. A capped VM
// that has run its share of a cap period (CAP_PERIOD_TICKS) is held off, on the throttled list, until
// the next period; with no other VM to run, the kernel idles (hlt). Running past its budget within a
// tick is a debt it pays next period.
// Costs: O(1) per tick, O(log n) per switch. Runnable VMs are a binary heap (positions in share.ts's
// table); idle VMs are on no list and are never scanned (an event wakes one VM: vinterrupt.ts); throttled
// VMs are walked once a period. The quantum is checked by comparing the tick count at the start of the
// slice, not by a per-tick walk.
// Bytecode VMs (issue 18: bytecode-interp.ts, set up by vmstart.ts through schedulerSetBytecode) run in
// the kernel's idle loop: switching one in returns the idle loop's frame with the VM current and its space
// loaded, and the loop runs it a slice at a time with interrupts off (bytecodeSlice), letting interrupts in
// between slices; the timer's IRQ then ends its quantum as a hardware VM's, through schedulerResume, whose
// frame is the idle loop's (recorded as idleFrame). One that idles, yields or ends in its slice leaves at
// once: the loop's own `int 0x80` (schedulerBytecodeLeaves). Its save area is never a frame to resume.
// Invariants: `current` is VM_NONE exactly when the kernel idles; the current VM is in VM_RUNNING and
// on no queue; interrupts are disabled in all of this (interrupt gates), uniprocessor.
import { bool, i32, u32, rdtsc, sti, cli, hlt, addressOf, memoryCopy, readCr2, overlay, hypercall } from "dsl";
import {
  Vm, vmAt, vmRelease, vmDemandPage, vmSwappedEntry, vmRangeValid, vmHeldFrames, vmUnreservedFrames, vmStackGuard,
  TRAP_FRAME_BYTES,
  VM_NONE, VM_RUNNABLE, VM_RUNNING, VM_IDLE, VM_ENDED, RUN_NEVER, RUN_STARTING,
  END_EXIT, END_BAD_HYPERCALLS, END_OUT_OF_MEMORY, END_VIRTUAL_8086, END_STACK_OVERFLOW, END_SWAP_CORRUPTION,
  END_SWAP_READ_ERROR, END_STOPPED, vmBootInfoAddress, vmTakeCapRefusal, vmSetGroupBytecode, bytecodeGroups,
  BYTECODE_GROUP_MASK,
} from "./vm.ts";
import { linearInstall, linearPresent, linearWindow } from "./linear.ts";
import {
  INTERRUPT_WAKEUP, CLOCK_BYTES, HYPERCALL_YIELD, VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNREACHABLE,
  VM_END_BYTECODE_CALL, VM_END_BYTECODE_TRAP_RETURNED, VM_END_BYTECODE_CONTEXT, VM_END_BYTECODE_CONTEXTS,
  VM_END_BYTECODE_CONTEXT_RETURNED,
} from "../abi/hypercalls.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { TrapFrame, frameInVirtual8086, EFLAGS_VIRTUAL_8086 } from "./trapframe.ts";
import { fpuInit, fpuSwitchNeeded, fpuSwitchTo, fpuClaim, fpuRelease } from "./fpu.ts";
import { setKernelStack } from "./gdt.ts";
import { trapStackTop } from "./stacks.ts";
import { PAGE_KIB_SHIFT } from "./frames.ts";
import {
  switchAddressSpace, switchVmAddressSpace, pagingKeepsCr3, loadedAddressSpace, pagingCr3Loads, currentAddressSpace,
  kernelAddressSpace, pageEntry, PAGE_PRESENT, PAGE_WRITABLE, PAGE_USER,
} from "./paging.ts";
import { clockTicks, clockStore, clockTscPerTick } from "./clock.ts";
import { VmShare, shareAt, shareSet, shareFirst, shareCharge, sharePassAdd } from "./share.ts";
import { timerCancel, timerPendingCount } from "./timer.ts";
import { trapSetResumeHook, trapSetUserExceptionHandler } from "./trap.ts";
import { exceptionName, VECTOR_PAGE_FAULT, VECTOR_DEVICE_NOT_AVAILABLE } from "./exceptions.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine, consoleIdleBatch,
} from "./console.ts";
import { exitMachine, EXIT_SUCCESS } from "./machine.ts";
import { nicPresent, nicPoll, nicArm, nicSetBusyTest } from "./nic.ts";
import { diskInFlight, diskPollCompleted, diskArm } from "./disk.ts";
import {
  profileOn, profileEnter, profileLeave, profileSetVm, profileCountCr3Load, PROFILE_SCHEDULER,
} from "./profile.ts";

/** The time slice: 10 PIT ticks = 10 ms (pit.ts: 1 tick = 0.9998 ms). */
const QUANTUM_TICKS: u32 = 10;
/** A cap period: 100 ticks; a VM capped at P% runs P ticks' worth of TSC cycles in each. */
const CAP_PERIOD_TICKS: u32 = 100;
/** #PF error code bit 0: set for a protection violation, clear for a not-present page (SDM Figure 6-11). */
const PAGE_FAULT_PRESENT: u32 = 1;
// EFLAGS a VM resumes with (SDM Vol. 3A §2.3): never virtual-8086 mode, never I/O privilege, always
// interrupts on. Ring 3 cannot change IOPL or IF itself; the mask is the last word at every switch-in.
const EFLAGS_IO_PRIVILEGE_MASK: u32 = 3 << 12;
const EFLAGS_INTERRUPT_ENABLE: u32 = 1 << 9;
const EFLAGS_FORBIDDEN: u32 = EFLAGS_VIRTUAL_8086 | EFLAGS_IO_PRIVILEGE_MASK;
/** idle's clock buffer is written at switch-in only through a page table entry with all of these. */
const CLOCK_PAGE_NEEDS: u32 = PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER;

let active = false;
let current: i32 = VM_NONE;
/** The VM switched in last: the one that ran before whichever is switched in next (switchInTo). */
let lastRan: i32 = VM_NONE;
/** VMs in the run heap: positions [0, heapSize) of share.ts's table. */
let heapSize: u32 = 0;
/** The virtual time: the pass of the VM last picked; every VM in the heap has a pass at least this. */
let virtualLow: u32 = 0;
let virtualHigh: u32 = 0;
/** The current VM yielded: its pass goes past the least in the heap. */
let yielded = false;
/** Cap periods: their number, the tick the current one began, and the VMs held off until the next. */
let capPeriod: u32 = 0;
let capPeriodTick: u32 = 0;
let throttledHead: i32 = VM_NONE;
let throttledCount: u32 = 0;
/**
 * `scheduler=timed` on the command line: switchOut is timed (timedSwitchOut: its TSC cycles, instructions
 * under -icount, from the leaving VM's charge to the next VM's frame). Off, the switch path pays nothing.
 */
let timedCycles: u32 = 0;
let timedCount: u32 = 0;
/** A quantum in TSC cycles (QUANTUM_TICKS ticks; set by schedulerInit, the clock calibrated). */
let quantumCycles: u32 = 0;
let idleFrame: u32 = 0;
/** The current VM leaves the CPU at the end of this trap: it yielded, blocked, waits or ended. */
let switchRequested = false;
let liveCount: u32 = 0;
let switchCount: u32 = 0;
let faultedCount: u32 = 0;

export const VM_NONE_INDEX = -1;
export function schedulerCurrent(): i32 { return current; }
/** The current VM's record (set with `current` by switchInTo; stale while `current` is VM_NONE). */
let currentRecord: u32 = 0;
/** vmAt(schedulerCurrent()) without the table walk (the hypercall entry's): only while a VM is current. */
export function schedulerCurrentVm(): Vm { return overlay(Vm, currentRecord); }
/** The current VM leaves the CPU at the end of this trap (or, a bytecode VM, after its slice). */
export function schedulerLeaving(): bool { return switchRequested; }

// ---- bytecode VMs' hooks (vmstart.ts sets them; the scheduler imports no interpreter) ----------------

/** Runs the current bytecode VM for one slice (bytecode-interp.ts bytecodeSlice). */
type BytecodeSlice = (index: u32) => void;
function noSlice(index: u32): void {}
let bytecodeSlice: BytecodeSlice = noSlice;
/** Frees what the interpreter holds for an ended bytecode VM (bytecode-interp.ts bytecodeVmRelease). */
let bytecodeRelease: BytecodeSlice = noSlice;

export function schedulerSetBytecode(slice: BytecodeSlice, released: BytecodeSlice): void {
  bytecodeSlice = slice;
  bytecodeRelease = released;
}

/** Group `group`'s VMs are bytecode VMs (or, `on` false, hardware ones: a reused group number). */
export function schedulerSetBytecodeGroup(group: u32, on: bool): void { vmSetGroupBytecode(group, on); }

/** True when VM `vm` is a bytecode VM (vm.ts vmIsBytecode, read here directly: the switch's hot path). */
function schedulerIsBytecode(vm: Vm): bool { return bytecodeGroups[vm.imageIndex & BYTECODE_GROUP_MASK] !== 0; }

/** The VM's registers into its save area, unless it is a bytecode VM blocked in a hypercall (deliverBatch's). */
function saveFrame(vm: Vm, frameAddress: u32): void {
  if (!schedulerIsBytecode(vm)) memoryCopy(addressOf(vm.save), frameAddress, TRAP_FRAME_BYTES);
}
export function schedulerSwitchCount(): u32 { return switchCount; }
/** VMs not ended yet, and VMs the kernel ended (a fault, too many bad calls, out of memory). */
export function schedulerLiveCount(): u32 { return liveCount; }
export function schedulerFaultedCount(): u32 { return faultedCount; }
/** True when some VM waits in the run heap (throttled VMs wait for their next period instead). */
export function schedulerHasRunnable(): bool { return heapSize !== 0; }
/** VMs held off by their cap now, and the picks made so far (one per switch-in). */
export function schedulerThrottledCount(): u32 { return throttledCount; }
export function schedulerDecisionCount(): u32 { return switchCount; }   // each pick is one switch-in
/**
 * With `scheduler=timed`: TSC cycles per switch-out (the leaving VM charged and saved, put back in the
 * run heap and the next picked, the next switched in); 0 when not timed.
 */
export function schedulerCyclesPerSwitchOut(): u32 { return timedCount === 0 ? 0 : timedCycles / timedCount; }

// ---- the run heap (stride scheduling) ------------------------------------------------------------------

/** True when VM a (share sa) goes before VM b: the lesser pass, ties to the lower id. */
function before(sa: VmShare, a: i32, sb: VmShare, b: i32): bool {
  const highA = sa.passHigh, highB = sb.passHigh, lowA = sa.passLow, lowB = sb.passLow;
  return highA !== highB ? highA < highB : lowA !== lowB ? lowA < lowB : a < b;
}

/** Places VM `index` (share `share`) at `position` or above, moving greater parents down. */
function siftUp(position: u32, index: i32, share: VmShare): void {
  while (position > 0) {
    const parent = (position - 1) >>> 1;
    const above = shareAt(parent).heapVm, aboveShare = shareAt(u32(above));
    if (!before(share, index, aboveShare, above)) break;
    shareAt(position).heapVm = above;      // the parent moves down to `position`
    aboveShare.heapPosition = i32(position);
    position = parent;
  }
  shareAt(position).heapVm = index;
  share.heapPosition = i32(position);
}

/** Places VM `index` (share `share`) at `position` or below, moving lesser children up. */
function siftDown(position: u32, index: i32, share: VmShare): void {
  const size = heapSize;
  while (true) {
    const left = 2 * position + 1;
    if (left >= size) break;
    let child = left, childIndex = shareAt(left).heapVm;
    if (left + 1 < size) {
      const rightIndex = shareAt(left + 1).heapVm;
      if (before(shareAt(u32(rightIndex)), rightIndex, shareAt(u32(childIndex)), childIndex)) {
        child = left + 1;
        childIndex = rightIndex;
      }
    }
    const childShare = shareAt(u32(childIndex));
    if (!before(childShare, childIndex, share, index)) break;
    shareAt(position).heapVm = childIndex;  // the lesser child moves up to `position`
    childShare.heapPosition = i32(position);
    position = child;
  }
  shareAt(position).heapVm = index;
  share.heapPosition = i32(position);
}

/** Takes VM `index` (share `share`) out of the heap (it is in it). */
function heapRemove(index: i32, share: VmShare): void {
  const position = u32(share.heapPosition);
  share.heapPosition = -1;
  heapSize--;
  if (position === heapSize) return;
  const last = shareAt(heapSize).heapVm, lastShare = shareAt(u32(last));
  siftDown(position, last, lastShare);
  if (position !== 0 && lastShare.heapPosition === i32(position)) siftUp(position, last, lastShare);
}

/** Raises a pass to at least (high, low). */
function passAtLeast(share: VmShare, high: u32, low: u32): void {
  const own = share.passHigh;
  if (own > high || (own === high && share.passLow >= low)) return;
  share.passHigh = high;
  share.passLow = low;
}

/** A capped VM's budget in a period: P% of CAP_PERIOD_TICKS ticks of TSC cycles (P ticks' worth). */
function capBudget(share: VmShare): u32 { return u32(share.capPercent) * clockTscPerTick(); }

/** Brings the VM's cap count to the current period: a debt from the one before is carried over. */
function capRoll(share: VmShare): void {
  if (share.capPeriod === capPeriod) return;
  const budget = capBudget(share);
  share.capUsed = capPeriod - share.capPeriod === 1 && share.capUsed > budget ? share.capUsed - budget : 0;
  share.capPeriod = capPeriod;
}

function capCharge(share: VmShare, cycles: u32): void {
  capRoll(share);
  const used = share.capUsed + cycles;
  share.capUsed = used < cycles ? 0xffffffff : used;
}

/** True when a capped VM has run its budget of this period (with `running` cycles of its slice so far). */
function capSpent(share: VmShare, running: u32): bool {
  if (share.capPercent === 0) return false;
  capRoll(share);
  return share.capUsed + running >= capBudget(share) || share.capUsed + running < running;
}

/** VM `index` waits for the CPU: in the heap, no earlier than the virtual time; or throttled. */
function enqueue(index: i32): void { enqueueVm(index, vmAt(u32(index))); }

/** enqueue with VM `index`'s record `vm` at hand (a wake-up's path); into an empty heap without a sift. */
function enqueueVm(index: i32, vm: Vm): void {
  vm.state = VM_RUNNABLE;
  const share = shareAt(u32(index));
  if (share.capPercent !== 0 && capSpent(share, 0)) { throttle(index, share); return; }
  passAtLeast(share, virtualHigh, virtualLow);
  const position = heapSize;
  heapSize = position + 1;
  if (position === 0) { shareFirst().heapVm = index; share.heapPosition = 0; } else siftUp(position, index, share);
}

/** A capped VM over its budget waits on the throttled list for the next period. */
function throttle(index: i32, share: VmShare): void {
  share.throttled = 1;
  share.throttledNext = throttledHead;
  throttledHead = index;
  throttledCount++;
}

/** The runnable VM with the least pass, out of the heap; the virtual time becomes its pass. */
function dequeue(): i32 {
  if (heapSize === 0) return VM_NONE;
  const index = shareFirst().heapVm, share = shareAt(u32(index));
  if (heapSize === 1) { heapSize = 0; share.heapPosition = -1; } else heapRemove(index, share);
  virtualHigh = share.passHigh;
  virtualLow = share.passLow;
  return index;
}

/** A new cap period (CAP_PERIOD_TICKS since the last, at tick `now`): the throttled VMs may run again. */
function capPeriodBegin(now: u32): void {
  capPeriod++;
  capPeriodTick = now - now % CAP_PERIOD_TICKS;
  let at = throttledHead;
  throttledHead = VM_NONE;
  throttledCount = 0;
  while (at !== VM_NONE) {
    const share = shareAt(u32(at));
    const next = share.throttledNext;
    share.throttled = 0;
    share.throttledNext = VM_NONE;
    if (vmAt(u32(at)).state === VM_RUNNABLE) enqueue(at);   // over budget still (a debt): held again
    at = next;
  }
}

// ---- swapping's hooks (swap.ts sets them when the kernel has a swap disk) ---------------------------

/** A VM blocked in idle (the current one, still in its trap). */
type IdleHook = (index: u32) => void;
/** An idle VM is to run: false lets it run now; true: swap.ts brings it back first (schedulerRunWoken). */
type WakeHook = (index: u32) => bool;
/**
 * The current VM's page fault or hypercall found no frame (`capped`: its own memory cap refused it, not the
 * pool): true when it is to wait (then retried).
 */
type MemoryHook = (index: u32, capped: bool) => bool;
/** VM `index`'s memory was released (it ended): VMs waiting for frames may have them now. */
type ReleaseHook = (index: u32) => void;
/** The current VM touched a page on the swap disk: PAGE_HOOK_WAITS, PAGE_HOOK_MAPPED or PAGE_HOOK_FAILED. */
type PageHook = (index: u32, address: u32) => u32;
/** The page hook's answers: the page cannot be had (the VM ends)... */
export const PAGE_HOOK_FAILED: u32 = 0;
/** ...the VM waits while it is read back (then retries)... */
export const PAGE_HOOK_WAITS: u32 = 1;
/** ...or it is mapped already (an eviction was still writing it): the access is made again at once. */
export const PAGE_HOOK_MAPPED: u32 = 2;
/** The current VM took a frame for a demand-zero page: swapping checks its pool. */
type TookHook = (index: u32) => void;
/** The kernel is about to idle, no VM runnable: swapping may end a memory waiter (true: a VM is runnable now). */
type StuckHook = () => bool;
function noIdleHook(index: u32): void {}
function noWakeHook(index: u32): bool { return false; }
function noMemoryHook(index: u32, capped: bool): bool { return false; }
function noReleaseHook(index: u32): void {}
function noPageHook(index: u32, address: u32): u32 { return PAGE_HOOK_FAILED; }
function noStuckHook(): bool { return false; }
let idleHook: IdleHook = noIdleHook;
let wakeHook: WakeHook = noWakeHook;
let memoryHook: MemoryHook = noMemoryHook;
let releaseHook: ReleaseHook = noReleaseHook;
let pageHook: PageHook = noPageHook;
let tookHook: TookHook = noReleaseHook;
let stuckHook: StuckHook = noStuckHook;

export function schedulerSetSwapHooks(
  idle: IdleHook, wake: WakeHook, memory: MemoryHook, released: ReleaseHook, page: PageHook, took: TookHook,
  stuck: StuckHook,
): void {
  idleHook = idle;
  wakeHook = wake;
  memoryHook = memory;
  releaseHook = released;
  pageHook = page;
  tookHook = took;
  stuckHook = stuck;
}

/** Puts an idle VM that swap.ts held back (read in, or memory come back) on the run queue. */
export function schedulerRunWoken(index: u32): void {
  if (vmAt(index).state === VM_IDLE) enqueue(i32(index));
}

/** A new VM's share: `weight` (0: the default) and `capPercent` (0: none), its pass the virtual time. */
function shareStart(index: u32, weight: u32, capPercent: u32): void {
  shareSet(index, weight, capPercent, quantumCycles);
  const share = shareAt(index);
  share.passHigh = virtualHigh;
  share.passLow = virtualLow;
  share.capUsed = 0;
  share.capPeriod = capPeriod;
  share.heapPosition = -1;
  share.throttled = 0;
  share.throttledNext = VM_NONE;
}

/**
 * Counts a new VM created swapped out (vm.ts vmCreateSwappedOut): idle until swap.ts builds it. Its
 * CPU weight and cap as schedulerAdd's.
 */
export function schedulerAddSwappedOut(index: u32, weight: u32, capPercent: u32): void {
  shareStart(index, weight, capPercent);
  liveCount++;
}

/** Puts a new VM (vm.ts vmCreate) in the run heap, with its CPU `weight` (0: the default) and cap (0: none). */
export function schedulerAdd(index: u32, weight: u32, capPercent: u32): void {
  shareStart(index, weight, capPercent);
  enqueue(i32(index));
  liveCount++;
}

/** Wakes an idle VM (vinterrupt.ts, when one of its enabled events is pending). */
export function schedulerWake(index: u32): void {
  const vm = vmAt(index);
  if (vm.state === VM_IDLE && !wakeHook(index)) enqueueVm(i32(index), vm);
}

/** The current VM gives up the CPU until schedulerWake (idle with nothing pending). */
export function schedulerBlockCurrent(): void {
  const vm = vmAt(u32(current));
  vm.state = VM_IDLE;
  vm.blockedInIdle = true;
  switchRequested = true;
  idleHook(u32(current));
}

/**
 * The current VM found no frame for a page (a fault, or a hypercall's buffer): with swapping it waits,
 * blocked, for frames a write-out gives back (or, when its own memory cap refused the frame, vm.ts
 * vmTakeCapRefusal, for its own cold pages to go out), and true (the caller arranges the retry: the
 * faulting access, or the hypercall made again); false when nothing can make room (the caller ends it).
 */
export function schedulerWaitForMemory(): bool {
  if (!memoryHook(u32(current), vmTakeCapRefusal())) return false;
  vmAt(u32(current)).state = VM_IDLE;
  switchRequested = true;
  return true;
}

/**
 * The current VM touched page `address`, whose contents are on the swap disk only (a fault, or a
 * hypercall's buffer): it waits, blocked, while swap.ts reads it back (or finds a frame for it first),
 * or its frame, still being written out, is mapped again at once (the VM goes on), and true (the caller
 * arranges the retry); false when the page cannot be had (the caller ends it).
 */
export function schedulerWaitForPage(address: u32): bool {
  const result = pageHook(u32(current), address);
  if (result === PAGE_HOOK_FAILED) return false;
  if (result === PAGE_HOOK_MAPPED) return true;
  vmAt(u32(current)).state = VM_IDLE;
  switchRequested = true;
  return true;
}

/** The current VM leaves the CPU at the end of this trap, charged a whole quantum (yield). */
export function schedulerYieldCurrent(): void { switchRequested = true; yielded = true; }

/** Ends memory waiter `index` out of memory, at the access it waits to make again (swap.ts stuck). */
export function schedulerEndWaiter(index: u32): void {
  const vm = vmAt(index);
  schedulerEnd(index, END_OUT_OF_MEMORY, 0, vm.save.eip, vm.endAddress);
}

/** Ends VM `index` (exit or fault): its alarm is cancelled; its memory goes when it is switched out. */
export function schedulerEnd(index: u32, reason: u32, status: u32, eip: u32, address: u32): void {
  const vm = vmAt(u32(index));
  if (vm.state === VM_ENDED) return;
  if (vm.state === VM_RUNNABLE) unlinkRunnable(i32(index));
  vm.endReason = reason;
  vm.exitStatus = status;
  vm.endEip = eip;
  vm.endAddress = address;
  if (vm.alarm !== 0) { timerCancel(vm.alarm); vm.alarm = 0; }
  vm.state = VM_ENDED;
  liveCount--;
  if (reason !== END_EXIT) { faultedCount++; writeEndLine(index, vm); }
  if (i32(index) !== current) release(index, vm); else switchRequested = true;
}

/** A runnable VM ended while not current: out of the heap (O(log n)), or off the throttled list (rare). */
function unlinkRunnable(index: i32): void {
  const share = shareAt(u32(index));
  if (share.throttled === 0) { if (share.heapPosition >= 0) heapRemove(index, share); return; }
  share.throttled = 0;
  throttledCount--;
  let previous = VM_NONE;
  for (let at = throttledHead; at !== VM_NONE; at = shareAt(u32(at)).throttledNext) {
    if (at !== index) { previous = at; continue; }
    if (previous === VM_NONE) throttledHead = share.throttledNext;
    else shareAt(u32(previous)).throttledNext = share.throttledNext;
    share.throttledNext = VM_NONE;
    return;
  }
}

function release(index: u32, vm: Vm): void {
  const bytecode = schedulerIsBytecode(vm);
  // A bytecode VM's pages may be in the window (linear.ts): the kernel's space while they are freed.
  const space = bytecode ? linearWindow() : vm.space;
  if (space !== 0 && currentAddressSpace() === space) switchAddressSpace(kernelAddressSpace());
  if (bytecode) bytecodeRelease(index);
  fpuRelease(i32(index), vm.fpuArea);
  vm.fpuArea = 0;
  vmRelease(vm);
  releaseHook(index);
}

// ---- the switch ------------------------------------------------------------------------------------

/** Adds `spent` cycles to the VM's CPU time (64-bit). */
function addCycles(vm: Vm, spent: u32): void {
  const low = vm.cyclesLow + spent;
  if (low < vm.cyclesLow) vm.cyclesHigh++;
  vm.cyclesLow = low;
}

/**
 * Exact accounting (the Denali paper §4.1): kernel work done for VM `index` from `startTsc` until now
 * while another VM or the kernel's idle loop ran -- its alarm expiring in a timer tick -- is charged to
 * `index` and taken off the running VM's slice, so a VM's charge does not grow with its neighbours' alarms.
 */
export function schedulerChargeFor(index: u32, startTsc: u32): void {
  if (i32(index) === current) return;          // inside its own slice: already its time
  const spent = rdtsc() - startTsc;
  addCycles(vmAt(index), spent);
  shareCharge(shareAt(index), spent);
  if (current !== VM_NONE) vmAt(u32(current)).sliceTsc += spent;
}

// The switch paths the resume hooks take: switchOut and switchIn, or when the kernel profiles
// (profile.ts) the same wrapped in the scheduler's marks, with the CR3 loads counted and the running
// VM's boot page handed to the profile. An indirect call: the unprofiled path pays one instruction.
type SwitchOut = (vm: Vm, frameAddress: u32) => u32;
export type SchedulerLeave = (vm: Vm, frameAddress: u32) => u32;
type SwitchIn = () => u32;
let switchOutNow: SwitchOut = switchOut;
let switchInNow: SwitchIn = switchIn;

/** switchOut timed (`scheduler=timed`): the scheduler's cost per switch, with 10 or 10,000 VMs waiting. */
function timedSwitchOut(vm: Vm, frameAddress: u32): u32 {
  const start = rdtsc();
  const next = switchOut(vm, frameAddress);
  timedCycles += rdtsc() - start;
  timedCount++;
  return next;
}

function profiledSwitchOut(vm: Vm, frameAddress: u32): u32 {
  const previous = profileEnter(PROFILE_SCHEDULER);
  const cr3 = loadedAddressSpace(), loads = pagingCr3Loads();
  const next = switchOut(vm, frameAddress);
  if (loadedAddressSpace() !== cr3 || pagingCr3Loads() !== loads) profileCountCr3Load();
  profiledSwitched();
  profileLeave(previous);
  return next;
}

function profiledSwitchIn(): u32 {
  const previous = profileEnter(PROFILE_SCHEDULER);
  const cr3 = loadedAddressSpace(), loads = pagingCr3Loads();
  const next = switchIn();
  if (loadedAddressSpace() !== cr3 || pagingCr3Loads() !== loads) profileCountCr3Load();
  profiledSwitched();
  profileLeave(previous);
  return next;
}

function profiledSwitched(): void {
  if (current === VM_NONE) { profileSetVm(0, 0); return; }
  const vm = vmAt(u32(current));
  profileSetVm(schedulerIsBytecode(vm) ? linearWindow() : vm.space, vmBootInfoAddress(vm));
}

/** trap.ts calls this at the end of every trap: the frame to resume. */
function schedulerResume(frameAddress: u32): u32 {
  if (!active) return frameAddress;
  const now = clockTicks();
  if (now - capPeriodTick >= CAP_PERIOD_TICKS) capPeriodBegin(now);     // a new cap period
  if (current === VM_NONE) {
    idleFrame = frameAddress;           // the idle loop's ring-0 frame
    // Idle still: the card's interrupts on again (an interrupt turned them off), and what came meanwhile.
    if (heapSize === 0) { nicArm(); diskArm(); }
    if (heapSize === 0) return frameAddress;
    return switchInNow();
  }
  const vm = vmAt(u32(current));
  if (schedulerIsBytecode(vm)) idleFrame = frameAddress;   // the idle loop, which runs its slices
  // Any trap out of virtual-8086 mode (a fault, an IRQ) ends the VM: its frame is not ours to resume.
  if (frameInVirtual8086(overlay(TrapFrame, frameAddress))) schedulerEnd(u32(current), END_VIRTUAL_8086, 0, 0, 0);
  if (vm.state === VM_RUNNING && !switchRequested && clockTicks() - vm.sliceTick < QUANTUM_TICKS
    && !capSpent(shareAt(u32(current)), rdtsc() - vm.sliceTsc)) return frameAddress;
  return switchOutNow(vm, frameAddress);
}

/**
 * The current VM leaves the CPU (its slice ended, it yielded, blocked or ended); the next one's frame.
 * A VM that leaves runnable is put back and the next one picked in one step, written out here (the
 * switch's hot path, no call but the switch-in): the leaving VM takes the heap top's place and sinks,
 * or stays on when it still has the least pass; with no VM waiting it goes on. A yield is charged
 * first: as if it had run a whole quantum from the least pass waiting, behind the VMs waiting, as at
 * the back of a round robin's queue (a VM that yields between rounds alternates with its peers).
 */
function switchOut(vm: Vm, frameAddress: u32): u32 {
  switchRequested = false;
  const index = current;
  const spent = rdtsc() - vm.sliceTsc;
  addCycles(vm, spent);                   // the slice that ends
  const share = shareAt(u32(index));
  shareCharge(share, spent);
  if (share.capPercent !== 0) {
    capCharge(share, spent);
    if (vm.state === VM_RUNNING && capSpent(share, 0)) return switchOutHeld(vm, frameAddress, index, share);
  }
  if (vm.state !== VM_RUNNING) {
    yielded = false;
    if (vm.state === VM_IDLE) saveFrame(vm, frameAddress);
    else release(u32(index), vm);
    current = VM_NONE;
    nicPoll();                            // frames and completions that came without an interrupt (nic.ts,
    diskPollCompleted();                  // disk.ts)
    return switchIn();
  }
  // A bytecode VM's registers are the interpreter's: the idle loop's frame copied here is never resumed.
  memoryCopy(addressOf(vm.save), frameAddress, TRAP_FRAME_BYTES);
  vm.state = VM_RUNNABLE;                 // `current` stays until switchInTo replaces it
  if (heapSize === 0) {                   // no VM waits: it goes on
    yielded = false;
    virtualHigh = share.passHigh;
    virtualLow = share.passLow;
    return switchInTo(index);
  }
  const top = shareFirst().heapVm, topShare = shareAt(u32(top));
  if (yielded) {                          // its pass goes past the least waiting: it sinks
    yielded = false;
    // passAtLeast(share, the top's pass) and sharePassAdd(share, share.quantumPass), written out
    let high = share.passHigh, low = share.passLow;
    const topHigh = topShare.passHigh, topLow = topShare.passLow;
    if (high < topHigh || (high === topHigh && low < topLow)) { high = topHigh; low = topLow; }
    const sum = low + share.quantumPass;
    share.passHigh = sum < low ? high + 1 : high;
    share.passLow = sum;
  } else {
    // before(share, index, topShare, top), written out: does the leaving VM still go first?
    const high = share.passHigh, topHigh = topShare.passHigh, low = share.passLow, topLow = topShare.passLow;
    if (high < topHigh || (high === topHigh && (low < topLow || (low === topLow && index < top)))) {
      virtualHigh = high;
      virtualLow = low;
      return switchInTo(index);
    }
  }
  topShare.heapPosition = -1;
  if (heapSize === 1) { shareFirst().heapVm = index; share.heapPosition = 0; } else siftDown(0, index, share);
  virtualHigh = topShare.passHigh;
  virtualLow = topShare.passLow;
  return switchInTo(top);
}

/**
 * A capped VM leaves runnable with its period's budget spent (switchOut): charged a yield as switchOut
 * would, held on the throttled list until the next period, and the next VM picked.
 */
function switchOutHeld(vm: Vm, frameAddress: u32, index: i32, share: VmShare): u32 {
  saveFrame(vm, frameAddress);
  vm.state = VM_RUNNABLE;
  if (yielded && heapSize !== 0) {
    const least = shareAt(u32(shareFirst().heapVm));
    passAtLeast(share, least.passHigh, least.passLow);
    sharePassAdd(share, share.quantumPass);
  }
  yielded = false;
  throttle(index, share);
  return switchInTo(dequeue());
}

/**
 * The hypercall entry's resume (hypercall.ts): the same frame unless the call made the VM leave the CPU
 * (schedulerSwitchRequested: it yielded, blocked in idle, waits for memory or a page, or ended; a test
 * the compiler inlines into the entry), then schedulerLeave's. The end of a slice is left to the timer's
 * IRQ, which goes through schedulerResume: a tick that came during the call is pending and arrives as
 * soon as the VM runs again.
 */
export function schedulerSwitchRequested(): bool { return switchRequested; }

/**
 * What makes the current VM leave the CPU at the end of its hypercall, (vm, frameAddress) to the next
 * one's frame: switchOut, or its timed or profiled form. hypercall.ts calls it through its own reference
 * (taken after schedulerInit), so the switch from a hypercall pays one indirect call.
 */
export function schedulerLeaveFunction(): SchedulerLeave { return switchOutNow; }

function switchIn(): u32 { return switchInTo(dequeue()); }

/** Runs VM `index` (out of the heap, or VM_NONE: the idle loop); the frame to resume. */
function switchInTo(index: i32): u32 {
  if (index === VM_NONE) {
    current = VM_NONE;
    // Before the kernel idles the devices' interrupts go on; what came meanwhile may wake a VM.
    const frames = nicArm();
    if ((diskArm() || frames) && heapSize !== 0) return switchInTo(dequeue());
    // No VM runnable, none throttled (to run at its next cap period): swapping may end a memory waiter.
    if (liveCount !== 0 && throttledHead === VM_NONE && stuckHook() && heapSize !== 0) return switchInTo(dequeue());
    if (liveCount === 0) finish("every VM has ended");
    // Every live VM idles and no timer can wake one: nothing will ever run again -- unless a network
    // card is up, whose next frame can wake a server VM, or a disk request is in flight, whose
    // completion can: then the kernel idles until it comes.
    if (timerPendingCount() === 0 && !nicPresent() && diskInFlight() === 0 && throttledHead === VM_NONE) {
      finish("every VM is idle with nothing to wake it");
    }
    return idleFrame;
  }
  const vm = vmAt(u32(index));
  vm.state = VM_RUNNING;
  current = index;
  currentRecord = addressOf(vm);
  if (vm.runPhase === RUN_NEVER) vm.runPhase = RUN_STARTING;
  else if (lastRan !== index) vm.pending = vm.pending | INTERRUPT_WAKEUP;
  lastRan = index;
  const bytecode = schedulerIsBytecode(vm);
  if (bytecode) linearInstall(vm.space, vm.memorySize);       // its pages in the window, loaded (linear.ts)
  else if (pagingKeepsCr3()) switchVmAddressSpace(vm.space, GUEST_BASE, vm.memorySize, vm.imageIndex + 1);
  else if (loadedAddressSpace() !== vm.space) switchAddressSpace(vm.space);
  if (vm.blockedInIdle) deliverBatch(vm);
  vm.switchIns++;
  switchCount++;
  vm.sliceTick = clockTicks();
  vm.sliceTsc = rdtsc();
  if (bytecode) return idleFrame;   // the idle loop runs it
  vm.save.eflags = (vm.save.eflags & ~EFLAGS_FORBIDDEN) | EFLAGS_INTERRUPT_ENABLE;
  if (fpuSwitchNeeded(index)) fpuSwitchTo(index);
  return addressOf(vm.save);
}

/**
 * The idle loop's own `int 0x80` (hypercall.ts sends a trap from ring 0 here): the bytecode VM it runs
 * leaves the CPU now (it idles, yields or ended in its slice) rather than at the next tick.
 */
export function schedulerBytecodeLeaves(frameAddress: u32): u32 {
  idleFrame = frameAddress;
  if (current === VM_NONE || !switchRequested) return frameAddress;
  return switchOutNow(vmAt(u32(current)), frameAddress);
}

/**
 * A VM blocked in idle is switched in: idle returns the whole batch, clears the bits it was asked to
 * acknowledge (its ebx) and writes the clock where its ecx says (vinterrupt.ts virqIdle's contract),
 * if that page is still mapped writable: it may have gone to the swap disk while the VM idled, and then
 * the guest finds its buffer as it left it and reads the clock itself. The VM's space is current.
 */
function deliverBatch(vm: Vm): void {
  vm.blockedInIdle = false;
  const batch = vm.pending;
  vm.save.eax = batch;
  vm.pending = batch & ~vm.save.ebx;
  const clock = vm.save.ecx;
  if (clock === 0) return;
  // Both ends' pages (the same one unless the 8 bytes straddle a boundary): idle checked the range.
  if (schedulerIsBytecode(vm)) {
    if (linearPresent(vm.space, clock) && linearPresent(vm.space, clock + CLOCK_BYTES - 1)) clockStore(clock);
    return;
  }
  const first = pageEntry(vm.space, clock), last = pageEntry(vm.space, clock + CLOCK_BYTES - 1);
  if ((first & last & CLOCK_PAGE_NEEDS) === CLOCK_PAGE_NEEDS) clockStore(clock);
}

// ---- fault containment -----------------------------------------------------------------------------

/**
 * An exception from ring 3 (trap.ts): a not-present page inside the VM's memory is demand-zero
 * (vm.ts); anything else ends the VM with its reason, and the scheduler goes on. Out of memory: a
 * page vmDemandPage refuses is one beyond the VM's reservation with the unreserved pool empty (vm.ts
 * "Memory quotas"), so the VM that faults is the one over its share: it ends, its figures logged
 * (until swapping lets it wait instead); a VM within its reservation always gets its page.
 */
function userException(frame: TrapFrame): void {
  if (current === VM_NONE) return;
  const vm = vmAt(u32(current));
  if (frameInVirtual8086(frame)) { schedulerEnd(u32(current), END_VIRTUAL_8086, 0, frame.eip, 0); return; }
  if (frame.vector === VECTOR_DEVICE_NOT_AVAILABLE) {
    vm.fpuArea = fpuClaim(current, vm.fpuArea);
    if (vm.fpuArea === 0) schedulerEnd(u32(current), END_OUT_OF_MEMORY, 0, frame.eip, 0);
    return;
  }
  const cr2 = frame.vector === VECTOR_PAGE_FAULT ? readCr2() : 0;
  if (frame.vector === VECTOR_PAGE_FAULT && (frame.errorCode & PAGE_FAULT_PRESENT) === 0 && vmRangeValid(vm, cr2, 1)) {
    if (vmStackGuard(vm, cr2)) { schedulerEnd(u32(current), END_STACK_OVERFLOW, 0, frame.eip, cr2); return; }
    if (vmSwappedEntry(vm, cr2) !== 0) {            // its contents are on the swap disk: read back, then retried
      if (!schedulerWaitForPage(cr2)) schedulerEnd(u32(current), END_OUT_OF_MEMORY, 0, frame.eip, cr2);
      return;
    }
    if (vmDemandPage(vm, cr2)) { tookHook(u32(current)); return; }
    // With swapping, it waits for frames being written out (at its memory cap: its own) and then retries
    // the access (eip unchanged). The address is the one reported if it ends waiting (swap.ts stuck).
    vm.endAddress = cr2;
    if (schedulerWaitForMemory()) return;
    schedulerEnd(u32(current), END_OUT_OF_MEMORY, 0, frame.eip, cr2);
    return;
  }
  schedulerEnd(u32(current), frame.vector, 0, frame.eip, cr2);
}

/** Why an ended VM ended: `exit status N`, or the reason the kernel ended it and where. */
export function schedulerWriteEndReason(vm: Vm): void {
  if (vm.endReason === END_EXIT) { consoleWriteString("exit status "); consoleWriteDecimal(vm.exitStatus); return; }
  if (vm.endReason === END_BAD_HYPERCALLS) consoleWriteString("too many bad hypercalls");
  else if (vm.endReason === END_OUT_OF_MEMORY) consoleWriteString("out of memory");
  else if (vm.endReason === END_VIRTUAL_8086) consoleWriteString("entered virtual-8086 mode");
  else if (vm.endReason === END_STACK_OVERFLOW) consoleWriteString("stack overflow");
  else if (vm.endReason === END_SWAP_CORRUPTION) consoleWriteString("swap corruption");
  else if (vm.endReason === END_SWAP_READ_ERROR) consoleWriteString("swap read error");
  else if (vm.endReason === END_STOPPED) consoleWriteString("stopped by the control VM");
  else if (vm.endReason >= VM_END_BYTECODE_BOUNDS && vm.endReason <= VM_END_BYTECODE_CONTEXT_RETURNED) {
    writeBytecodeEnd(vm);
    return;
  }
  else consoleWriteString(exceptionName(vm.endReason));
  if (vm.endReason === VECTOR_PAGE_FAULT) { consoleWriteString(" cr2 0x"); consoleWriteHex(vm.endAddress); }
  if (vm.endReason === END_SWAP_CORRUPTION || vm.endReason === END_SWAP_READ_ERROR) {
    consoleWriteString(" at page 0x");
    consoleWriteHex(vm.endAddress);
  }
  if (vm.endReason === END_OUT_OF_MEMORY || vm.endReason === END_STACK_OVERFLOW) {
    consoleWriteString(" address 0x");
    consoleWriteHex(vm.endAddress);
  }
  if (schedulerIsBytecode(vm)) {                 // no eip: the function it was running (bytecode-interp.ts)
    consoleWriteString(" in function ");
    consoleWriteDecimal(vm.endEip);
    return;
  }
  consoleWriteString(" at eip 0x");
  consoleWriteHex(vm.endEip);
}

/** A bytecode VM's trap: `memory access out of range at 0x... in function F` (endEip: the function). */
function writeBytecodeEnd(vm: Vm): void {
  const reason = vm.endReason;
  consoleWriteString("bytecode: ");
  if (reason === VM_END_BYTECODE_BOUNDS) consoleWriteString("memory access out of range at 0x");
  else if (reason === VM_END_BYTECODE_UNREACHABLE) consoleWriteString("unreachable executed, opcode 0x");
  else if (reason === VM_END_BYTECODE_CALL) consoleWriteString("bad indirect call of 0x");
  else if (reason === VM_END_BYTECODE_TRAP_RETURNED) consoleWriteString("its trap handler returned, 0x");
  else if (reason === VM_END_BYTECODE_CONTEXT) consoleWriteString("bad context 0x");
  else if (reason === VM_END_BYTECODE_CONTEXTS) consoleWriteString("too many contexts, creating 0x");
  else if (reason === VM_END_BYTECODE_CONTEXT_RETURNED) consoleWriteString("a context's entry returned, 0x");
  else consoleWriteString("not supported by the interpreter: 0x");
  consoleWriteHex(vm.endAddress);
  consoleWriteString(" in function ");
  consoleWriteDecimal(vm.endEip);
}

/** `vm N ended: REASON at eip 0x...` (docs/virtual-architecture.md "Faults"). */
function writeEndLine(index: u32, vm: Vm): void {
  consoleWriteString("vm ");
  consoleWriteDecimal(index);
  consoleWriteString(" ended: ");
  schedulerWriteEndReason(vm);
  if (vm.endReason === END_OUT_OF_MEMORY) {
    // Its figures while it still holds its memory: KiB held (pages and page tables), reserved, and the pool.
    consoleWriteString(": holds ");
    consoleWriteDecimal(vmHeldFrames(vm) << PAGE_KIB_SHIFT);
    consoleWriteString(" KiB, reserved ");
    consoleWriteDecimal(vm.reservedFrames << PAGE_KIB_SHIFT);
    consoleWriteString(" KiB, unreserved pool ");
    consoleWriteDecimal(vmUnreservedFrames() << PAGE_KIB_SHIFT);
    consoleWriteString(" KiB");
  }
  consoleNewLine();
}

// ---- start and finish --------------------------------------------------------------------------------

function noReport(): void {}
/** What finish() prints before the machine exits: the summary (vmreport.ts, given to schedulerInit). */
let finishReport: () => void = noReport;

/**
 * Installs the hooks; VMs may be added from now on. `report` prints the summary when every VM has ended
 * (vmreport.ts's vmsReport: a hook, so that the scheduler imports neither the report nor the switch).
 * `timed`: every switch-out is timed (schedulerCyclesPerSwitchOut; `scheduler=timed`), not when profiling.
 */
export function schedulerInit(report: () => void, timed: bool): void {
  finishReport = report;
  if (timed) switchOutNow = timedSwitchOut;
  quantumCycles = QUANTUM_TICKS * clockTscPerTick();
  trapSetResumeHook(schedulerResume);
  if (profileOn()) { switchOutNow = profiledSwitchOut; switchInNow = profiledSwitchIn; }
  trapSetUserExceptionHandler(userException);
  nicSetBusyTest(schedulerHasRunnable);   // doorbells wait while VMs do (nic.ts)
  fpuInit();
  setKernelStack(trapStackTop());     // every trap from ring 3 lands there; handlers run to completion, IF = 0
}

/**
 * Runs the VMs: the kernel's idle loop; the next interrupt switches to the first VM. Never returns.
 * While idle it writes out queued console output in batches, with interrupts on between them.
 */
export function schedulerRun(): void {
  active = true;
  while (true) {
    // A bytecode VM current and running: a slice with interrupts off, then they come in (sti's shadow
    // ends after the next instruction) before the next slice. One that leaves goes to the scheduler now.
    cli();
    if (current !== VM_NONE && !switchRequested) {
      const vm = vmAt(u32(current));
      if (vm.state === VM_RUNNING && schedulerIsBytecode(vm)) {
        bytecodeSlice(u32(current));
        if (switchRequested) hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);   // schedulerBytecodeLeaves, from ring 0
        sti();
        continue;
      }
    }
    sti();
    if (!consoleIdleBatch()) hlt();
  }
}

/** The console's `stop` command while VMs run: the summary, then QEMU exits with status 0. */
export function schedulerStop(): void { finish("stopped from the console"); }

/** The summary, then QEMU exits with status 0 (isa-debug-exit). */
function finish(why: string): void {
  consoleWriteString("vms done: ");
  consoleWriteString(why);
  consoleNewLine();
  finishReport();
  exitMachine(EXIT_SUCCESS);
}
