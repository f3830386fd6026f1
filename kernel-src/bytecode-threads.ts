// Threads (contextSwitch, contextCreate; docs/bytecode.md "Threads"): each context's call records and
// registers live in an area of its own (the main context's in the VM's area, each other's in
// THREAD_AREA_FRAMES frames given when it first runs) and its chunks (CHUNK_FRAME_LIMIT frames at most),
// listed in a table of CONTEXT_LIMIT contexts in the VM's area. A handle is the
// guest's own number (its stack pointer, as on the host); one the guest passes is looked up in the table,
// never used as an address of the kernel's, and anything not there ends the VM.
import { bool, u32, load32, store32 } from "dsl";
import { FUNCTION_ADDRESS_BASE, FUNCTION_ADDRESS_STRIDE } from "../abi/bytecode.ts";
import {
  VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_CALL, VM_END_BYTECODE_CONTEXT, VM_END_BYTECODE_CONTEXTS,
} from "../abi/hypercalls.ts";
import { decodedImages, FUNCTION_WORDS, FUNCTION_PARAMETERS } from "./bytecode-decode.ts";
import { Vm, vmKernelFrames, vmKernelFramesFree, END_OUT_OF_MEMORY } from "./vm.ts";
import { FRAME_NONE, PAGE_SIZE } from "./frames.ts";
import {
  CONTEXT_CREATED, CONTEXT_FREE, CONTEXT_LIMIT, CONTEXT_RUNNING, CONTEXT_SUSPENDED, Context, InterpreterState,
  RETURN_CONTEXT, contextAt, inMemory, touch, trapEnd,
} from "./bytecode-state.ts";
import { chunksFree, enter } from "./bytecode-calls.ts";

/** The area of each other context (a thread's call records and registers), given when it first runs. */
const THREAD_AREA_FRAMES: u32 = 1;

// ---- threads: contextSwitch and contextCreate ------------------------------------------------------

/** Forgets context `k` (not the running one) and frees its area (the main area, context 0's, stays). */
export function discard(vm: Vm, state: InterpreterState, k: u32): void {
  const context = contextAt(state, k);
  if (k !== 0 && context.area !== 0) {
    vmKernelFramesFree(vm, context.area, THREAD_AREA_FRAMES);
    context.area = 0;
  }
  chunksFree(vm, context.firstChunk);
  context.firstChunk = 0;
  context.chunk = 0;
  context.kind = CONTEXT_FREE;
  context.handle = 0;
}

/** The context but `except` that `handle` names (CREATED or SUSPENDED), or CONTEXT_LIMIT. */
function contextNamed(state: InterpreterState, handle: u32, except: u32): u32 {
  for (let k: u32 = 0; k < CONTEXT_LIMIT; k++) {
    const context = contextAt(state, k);
    const waiting = context.kind === CONTEXT_CREATED || context.kind === CONTEXT_SUSPENDED;
    if (k !== except && waiting && context.handle === handle) return k;
  }
  return CONTEXT_LIMIT;
}

/**
 * contextSwitch(saveAt, resume), going on at `next` when this context is resumed: the running context is
 * suspended under its handle (its guest stack pointer), stored at saveAt; then the context `resume` names
 * runs: a suspended one where it stopped, a created one from its entry(arg) on its own stack and area.
 * False when the VM ended (saveAt outside its memory, `resume` no context of it, no frames for an area).
 */
export function contextSwitch(index: u32, vm: Vm, state: InterpreterState, next: u32, saveAt: u32, resume: u32): bool {
  if (!inMemory(vm, saveAt, 4)) { trapEnd(index, state, VM_END_BYTECODE_BOUNDS, saveAt); return false; }
  if (!touch(index, vm, state, saveAt, 4)) return false;
  const handle = state.sp;
  const same = contextNamed(state, handle, state.context);        // a context already under this handle is overwritten
  if (same !== CONTEXT_LIMIT) discard(vm, state, same);
  const from = contextAt(state, state.context);
  from.kind = CONTEXT_SUSPENDED;
  from.handle = handle;
  from.pc = next;
  from.fp = state.fp;
  from.top = state.top;
  from.sp = state.sp;
  from.stackLimit = state.stackLimit;
  from.areaEnd = state.areaEnd;
  from.chunk = state.chunk;
  from.firstChunk = state.firstChunk;
  store32(saveAt, handle);
  const k = contextNamed(state, resume, CONTEXT_LIMIT);   // itself included: switching to itself goes on
  if (k === CONTEXT_LIMIT) {
    from.kind = CONTEXT_RUNNING;
    trapEnd(index, state, VM_END_BYTECODE_CONTEXT, resume);
    return false;
  }
  const to = contextAt(state, k);
  if (to.kind === CONTEXT_SUSPENDED) {
    to.kind = CONTEXT_RUNNING;
    state.context = k;
    state.pc = to.pc;
    state.fp = to.fp;
    state.top = to.top;
    state.sp = to.sp;
    state.stackLimit = to.stackLimit;
    state.areaEnd = to.areaEnd;
    state.chunk = to.chunk;
    state.firstChunk = to.firstChunk;
    return true;
  }
  return contextStart(index, vm, state, from, k);
}

/**
 * Starts created context `k` (its handle and stack checked by contextCreate): entry and arg read back
 * from the words contextCreate wrote at its handle (the guest may have changed them: the entry is checked
 * as an indirect call's target), its first record at the start of its area. False when the VM ended.
 */
function contextStart(index: u32, vm: Vm, state: InterpreterState, from: Context, k: u32): bool {
  const image = decodedImages[state.group];
  const to = contextAt(state, k);
  if (!touch(index, vm, state, to.handle, 12)) { from.kind = CONTEXT_RUNNING; return false; }
  const target = load32(to.handle) - FUNCTION_ADDRESS_BASE, arg = load32(to.handle + 8);
  const entry = target / FUNCTION_ADDRESS_STRIDE;
  if (target % FUNCTION_ADDRESS_STRIDE !== 0 || entry >= image.functionCount) {
    from.kind = CONTEXT_RUNNING;
    trapEnd(index, state, VM_END_BYTECODE_CALL, target + FUNCTION_ADDRESS_BASE);
    return false;
  }
  if (to.area === 0) {
    const area = vmKernelFrames(vm, THREAD_AREA_FRAMES);
    if (area === FRAME_NONE) {
      from.kind = CONTEXT_RUNNING;
      trapEnd(index, state, END_OUT_OF_MEMORY, 0);
      return false;
    }
    to.area = area;
    to.areaEnd = area + THREAD_AREA_FRAMES * PAGE_SIZE;
  }
  to.kind = CONTEXT_RUNNING;
  state.context = k;
  state.fp = 0;
  state.top = to.area;
  state.areaEnd = to.areaEnd;
  state.chunk = 0;
  state.firstChunk = to.firstChunk;
  state.sp = to.handle;
  state.stackLimit = to.stackLimit;
  const registers = enter(index, state, entry, RETURN_CONTEXT, 0);
  if (registers === 0) return false;
  if (load32(image.functions + entry * FUNCTION_WORDS * 4 + FUNCTION_PARAMETERS * 4) > 0) store32(registers, arg);
  return true;
}

/**
 * contextCreate(base, size, entry, arg): a context that will start entry(arg) on the stack [base, base +
 * size), as the hardware form does (compiler lowering): the words entry, 0, arg at its handle, 24 bytes
 * below the stack's top aligned down to 16. Every other context whose handle lies in that stack is
 * forgotten (its stack is overwritten: an exited thread whose stack is reused). Returns the handle, or 0
 * when the VM ended (a stack outside its memory or too small, more than CONTEXT_LIMIT contexts).
 */
export function contextCreate(index: u32, vm: Vm, state: InterpreterState, base: u32, size: u32, entry: u32,
  arg: u32): u32 {
  const end = base + size;
  const top = u32(end & ~15);
  const handle = top - 24;
  if (end < base || base >= top || handle < base || !inMemory(vm, base, top - base)) {
    trapEnd(index, state, VM_END_BYTECODE_CONTEXT, base);
    return 0;
  }
  let free = CONTEXT_LIMIT;
  for (let k: u32 = 0; k < CONTEXT_LIMIT; k++) {
    if (k === state.context) continue;
    const context = contextAt(state, k);
    if (context.kind !== CONTEXT_FREE && context.handle - base < top - base) discard(vm, state, k);
    if (context.kind === CONTEXT_FREE && free === CONTEXT_LIMIT) free = k;
  }
  if (free === CONTEXT_LIMIT) { trapEnd(index, state, VM_END_BYTECODE_CONTEXTS, handle); return 0; }
  if (!touch(index, vm, state, handle, 12)) return 0;
  store32(handle, entry);
  store32(handle + 4, 0);
  store32(handle + 8, arg);
  const context = contextAt(state, free);
  context.kind = CONTEXT_CREATED;
  context.handle = handle;
  context.stackLimit = base;
  return handle;
}
