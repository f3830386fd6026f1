// A bytecode VM's interpretation state (bytecode-interp.ts has the whole contract): the state at the start of
// its interpreter area (the rest of its kernel frame after its page map, linear.ts), the context table after
// it, then the main context's call records (a record: ACTIVATION_BYTES of words, then the function's
// registers). Also what every part of the interpreter uses: the checks of a range against the VM's memory
// (inMemory) and of its pages (touch: made resident, or the VM waits or ends) and the end of a VM for a trap.
import { bool, u32, load32, overlay, sizeOf } from "dsl";
import { GUEST_BASE } from "../abi/boot.ts";
import { Vm, vmPrepareRange, vmTakeOutOfMemory, vmTakeSwappedPage, END_OUT_OF_MEMORY } from "./vm.ts";
import { schedulerEnd, schedulerWaitForPage, schedulerWaitForMemory } from "./scheduler.ts";

/** Words of a call record before its registers: ACTIVATION_PREVIOUS .. ACTIVATION_FUNCTION. */
export const ACTIVATION_BYTES: u32 = 20;
export const ACTIVATION_PREVIOUS = 0;     // the caller's record (0: this is the entry's)
export const ACTIVATION_RETURN = 4;       // the code address to go on at (0: a trap handler's, which must not return;
                                   // in an entry's record, previous 0: 0 the VM's entry, RETURN_CONTEXT a context's)
/** The return address of a created context's first record: its entry must not return. */
export const RETURN_CONTEXT: u32 = 1;
export const ACTIVATION_RESULT = 8;       // the address of the caller's register for the result (0: none)
export const ACTIVATION_STACK = 12;       // the guest stack pointer to restore
export const ACTIVATION_FUNCTION = 16;    // its function index

/** The state of a VM's interpretation between slices, at the start of its area. */
export class InterpreterState {
  pc: u32 = 0;               // the next instruction's code address
  fp: u32 = 0;               // the current call record
  top: u32 = 0;              // one past the current record's registers
  sp: u32 = 0;               // the guest stack pointer (frames of slots grow down from stackTop)
  areaEnd: u32 = 0;
  group: u32 = 0;
  pendingResult: u32 = 0;    // a hypercall's result register, stored again at the next slice (0: none)
  started: u32 = 0;
  stackLimit: u32 = 0;       // the lowest guest stack pointer of the running context (its stack's base)
  context: u32 = 0;          // the running context's index in the context table
  contexts: u32 = 0;         // the context table's address (in this area)
  chunk: u32 = 0;            // the chunk of the current record (0: the running context's area)
  firstChunk: u32 = 0;       // the running context's first chunk (0: none yet)
  functions: u32 = 0;        // its group's function table (bytecode-decode.ts)
}
export const STATE_BYTES: u32 = 64;

/**
 * The contexts a VM may have at once (docs/bytecode.md "Threads"): the main one and libos's 16 threads
 * (guest-src/libos/threads.ts THREAD_MAX). Entry 0 is the VM's entry's to begin with; its area is the
 * VM's area and never freed.
 */
export const CONTEXT_LIMIT: u32 = 17;
export const CONTEXT_FREE: u32 = 0;
export const CONTEXT_CREATED = 1;      // made by contextCreate, not run yet (its entry and arg in the guest's words)
export const CONTEXT_SUSPENDED = 2;    // switched away from: resumed by its handle
export const CONTEXT_RUNNING = 3;
/**
 * One context of the VM: what the state holds while it runs. The handle is what the guest holds: the
 * guest stack pointer at the switch away (a created one's: the address of the words contextCreate wrote),
 * as on the host (compiler/bytecode/interpreter.ts); a handle the guest passes must be one of these.
 */
export class Context {
  kind: u32 = 0;
  handle: u32 = 0;
  area: u32 = 0;             // its call records' area (0: none yet)
  areaEnd: u32 = 0;
  pc: u32 = 0;
  fp: u32 = 0;
  top: u32 = 0;
  sp: u32 = 0;
  stackLimit: u32 = 0;
  chunk: u32 = 0;
  firstChunk: u32 = 0;
}

/** Where the main context's call records begin in the VM's area. */
export function recordsOffset(): u32 { return STATE_BYTES + CONTEXT_LIMIT * sizeOf(Context); }

export function contextAt(state: InterpreterState, k: u32): Context {
  return overlay(Context, state.contexts + k * sizeOf(Context));
}

/** Ends the VM for a trap of the interpreter's: `reason`, the function running, `address` (or 0). */
export function trapEnd(index: u32, state: InterpreterState, reason: u32, address: u32): void {
  const running = state.fp === 0 ? 0 : load32(state.fp + ACTIVATION_FUNCTION);
  schedulerEnd(index, reason, 0, running, address);
}

/**
 * Makes [address, address + length) of the VM's memory (checked by the caller) resident: the pages it never
 * touched demand-zero (vm.ts vmPrepareRange, into its map and the window). False when it cannot go on now:
 * with a swap disk it waits for a page on the disk or for memory, as a hardware VM's #PF does, and makes the
 * same instruction again (state.pc is at it; nothing it does before its touches has an effect that a second
 * time changes); else it ended (out of memory: beyond its reservation with the pool empty).
 */
export function touch(index: u32, vm: Vm, state: InterpreterState, address: u32, length: u32): bool {
  if (vmPrepareRange(vm, address, length, true)) return true;
  return waitOrEnd(index, state, address);
}

/** A page or a frame could not be had for `address`: the VM waits (swap.ts) or ends; false. */
export function waitOrEnd(index: u32, state: InterpreterState, address: u32): bool {
  const swapped = vmTakeSwappedPage();
  if (swapped !== 0 && schedulerWaitForPage(swapped)) return false;
  if (swapped === 0 && vmTakeOutOfMemory() && schedulerWaitForMemory()) return false;
  trapEnd(index, state, END_OUT_OF_MEMORY, address);
  return false;
}

/** True when [address, address + length) is inside the VM's memory. */
export function inMemory(vm: Vm, address: u32, length: u32): bool {
  return length <= vm.memorySize && address - GUEST_BASE <= vm.memorySize - length;
}
