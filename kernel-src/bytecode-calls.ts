// Calls, returns and traps of bytecode VMs off the dispatch loop's fast path (bytecode-interp.ts inlines the
// common direct call and return): a call record pushed above the current one (enter), its checks (the guest
// stack, an indirect call's target and signature), the return of an entry (exit), of a trap handler (ends
// the VM) or of a context's entry; records that do not fit in a context's area go on in chunks, kernel frames
// charged to the VM (at most CHUNK_FRAME_LIMIT a context: beyond, a stack overflow).
import { bool, u32, load32, store32, memoryFill } from "dsl";
import { FUNCTION_ADDRESS_BASE, FUNCTION_ADDRESS_STRIDE } from "../abi/bytecode.ts";
import {
  VM_END_BYTECODE_CALL, VM_END_BYTECODE_TRAP_RETURNED, VM_END_BYTECODE_CONTEXT_RETURNED,
} from "../abi/hypercalls.ts";
import {
  decodedImages, NO_REGISTER, FUNCTION_WORDS, FUNCTION_CODE, FUNCTION_PARAMETERS, FUNCTION_REGISTER_BYTES,
  FUNCTION_STACK_BYTES, FUNCTION_STACK_MASK, FUNCTION_RETURNS,
} from "./bytecode-decode.ts";
import {
  Vm, vmAt, vmKernelFrames, vmKernelFramesFree, END_EXIT, END_STACK_OVERFLOW, END_OUT_OF_MEMORY,
} from "./vm.ts";
import { schedulerEnd } from "./scheduler.ts";
import { FRAME_NONE, PAGE_SIZE, PAGE_SHIFT } from "./frames.ts";
import {
  ACTIVATION_BYTES, ACTIVATION_FUNCTION, ACTIVATION_PREVIOUS, ACTIVATION_RESULT, ACTIVATION_RETURN, ACTIVATION_STACK,
  InterpreterState, RETURN_CONTEXT, contextAt, trapEnd,
} from "./bytecode-state.ts";

/**
 * A call that does not fit in its context's area goes on in a chunk (kernel frames of the VM's, kept for
 * the next time once it returns, freed with the context): a header, then call records as in the area.
 * All the chunks of one context hold at most CHUNK_FRAME_LIMIT frames; beyond, a call is a stack overflow.
 */
const CHUNK_FRAME_LIMIT: u32 = 8;
const CHUNK_FRAMES = 0;            // frames of this chunk
const CHUNK_NEXT = 4;              // the chunk kept after this one (0: none)
const CHUNK_PREVIOUS = 8;          // the chunk (0: the area) of the record that called into this one
const CHUNK_PREVIOUS_END = 12;     // and that chunk's (or area's) end and top, given back when it returns
const CHUNK_PREVIOUS_TOP = 16;
export const CHUNK_HEADER: u32 = 32;

/**
 * Pushes a call record for `callee` above the current one, returning to `returnPc`, its result into the
 * register at `resultAddress` (0: none): its registers' address (zeroed; the caller stores the arguments),
 * or 0 when the VM ended for a stack overflow.
 */
export function enter(index: u32, state: InterpreterState, callee: u32, returnPc: u32, resultAddress: u32): u32 {
  const record = state.functions + callee * (FUNCTION_WORDS * 4);
  let fp = state.top;
  let registers = fp + ACTIVATION_BYTES;
  const bytes = load32(record + FUNCTION_REGISTER_BYTES * 4);
  const sp = u32((state.sp - load32(record + FUNCTION_STACK_BYTES * 4)) & load32(record + FUNCTION_STACK_MASK * 4));
  if (sp < state.stackLimit || sp > state.sp) {
    trapEnd(index, state, END_STACK_OVERFLOW, sp);
    return 0;
  }
  if (registers > state.areaEnd || bytes > state.areaEnd - registers) {
    fp = chunkEnter(index, state, bytes, sp);
    if (fp === 0) return 0;
    registers = fp + ACTIVATION_BYTES;
  }
  store32(fp + ACTIVATION_PREVIOUS, state.fp);
  store32(fp + ACTIVATION_RETURN, returnPc);
  store32(fp + ACTIVATION_RESULT, resultAddress);
  store32(fp + ACTIVATION_STACK, state.sp);
  store32(fp + ACTIVATION_FUNCTION, callee);
  memoryFill(registers, 0, bytes);
  state.fp = fp;
  state.top = registers + bytes;
  state.sp = sp;
  state.pc = load32(record + FUNCTION_CODE * 4);
  return registers;
}

/** A call at `at` (OP_CALL or OP_CALL_INDIRECT: dst, callee or target, argc, args); false if the VM ended. */
export function call(index: u32, state: InterpreterState, at: u32, indirect: bool): bool {
  const callerRegisters = state.fp + ACTIVATION_BYTES;
  const dst = load32(at + 4);
  let callee = load32(at + 8);
  const count = load32(at + 12);
  if (indirect) {
    const image = decodedImages[state.group];
    const target = load32(callerRegisters + callee) - FUNCTION_ADDRESS_BASE;
    callee = target / FUNCTION_ADDRESS_STRIDE;
    const record = image.functions + callee * FUNCTION_WORDS * 4;
    if (target % FUNCTION_ADDRESS_STRIDE !== 0 || callee >= image.functionCount
      || load32(record + FUNCTION_PARAMETERS * 4) !== count
      || (dst !== NO_REGISTER && load32(record + FUNCTION_RETURNS * 4) === 0)) {
      trapEnd(index, state, VM_END_BYTECODE_CALL, target + FUNCTION_ADDRESS_BASE);
      return false;
    }
  }
  const resultAddress = dst === NO_REGISTER ? 0 : callerRegisters + dst;
  const registers = enter(index, state, callee, at + (4 + count) * 4, resultAddress);
  if (registers === 0) return false;
  for (let k: u32 = 0; k < count; k++) store32(registers + k * 4, load32(callerRegisters + load32(at + 16 + k * 4)));
  return true;
}

// ---- chunks: call records beyond a context's area ------------------------------------------------------

/**
 * A call record of `bytes` of registers that does not fit where the current one ends: the next chunk (the
 * one kept from an earlier call, if large enough, else a new one) becomes current and the record goes at its
 * start; its address, or 0 when the VM ended: a stack overflow (the context's chunks would pass
 * CHUNK_FRAME_LIMIT; `sp`, the guest stack pointer the call would have, named) or out of memory.
 */
function chunkEnter(index: u32, state: InterpreterState, bytes: u32, sp: u32): u32 {
  const vm = vmAt(index);
  const frames = (CHUNK_HEADER + ACTIVATION_BYTES + bytes + PAGE_SIZE - 1) >>> PAGE_SHIFT;
  const previous = state.chunk;
  let chunk = previous === 0 ? state.firstChunk : load32(previous + CHUNK_NEXT);
  if (chunk !== 0 && load32(chunk + CHUNK_FRAMES) < frames) {    // too small: it and those after it go
    chunksFree(vm, chunk);
    chunk = linkNext(state, previous, 0);
  }
  if (chunk === 0) {
    let held: u32 = 0;          // the chunks up to `previous`, the last one now
    for (let c = state.firstChunk; c !== 0; c = load32(c + CHUNK_NEXT)) held += load32(c + CHUNK_FRAMES);
    if (frames > CHUNK_FRAME_LIMIT - held) { trapEnd(index, state, END_STACK_OVERFLOW, sp); return 0; }
    chunk = vmKernelFrames(vm, frames);
    if (chunk === FRAME_NONE) { trapEnd(index, state, END_OUT_OF_MEMORY, 0); return 0; }
    store32(chunk + CHUNK_FRAMES, frames);
    store32(chunk + CHUNK_NEXT, 0);
    linkNext(state, previous, chunk);
  }
  store32(chunk + CHUNK_PREVIOUS, previous);
  store32(chunk + CHUNK_PREVIOUS_END, state.areaEnd);
  store32(chunk + CHUNK_PREVIOUS_TOP, state.top);
  state.chunk = chunk;
  state.areaEnd = chunk + (load32(chunk + CHUNK_FRAMES) << PAGE_SHIFT);
  state.top = chunk + CHUNK_HEADER;
  return state.top;
}

/** Makes `chunk` the one after `previous` (0: after the area); returns 0. */
function linkNext(state: InterpreterState, previous: u32, chunk: u32): u32 {
  if (previous === 0) state.firstChunk = chunk; else store32(previous + CHUNK_NEXT, chunk);
  return 0;
}

/** The first record of the current chunk returned: the caller's chunk (or area) is current again. */
function chunkLeave(state: InterpreterState): void {
  const chunk = state.chunk;
  state.top = load32(chunk + CHUNK_PREVIOUS_TOP);
  state.areaEnd = load32(chunk + CHUNK_PREVIOUS_END);
  state.chunk = load32(chunk + CHUNK_PREVIOUS);
}

/** Frees `chunk` and every chunk kept after it. */
export function chunksFree(vm: Vm, chunk: u32): void {
  while (chunk !== 0) {
    const next = load32(chunk + CHUNK_NEXT);
    vmKernelFramesFree(vm, chunk, load32(chunk + CHUNK_FRAMES));
    chunk = next;
  }
}

/** Calls the trap handler with `kind` (it must not return); false if the VM ended. */
export function trap(index: u32, state: InterpreterState, kind: u32): bool {
  const registers = enter(index, state, decodedImages[state.group].trapHandler, 0, 0);
  if (registers === 0) return false;
  store32(registers, kind);
  return true;
}

/** Returns from the current call with the register at offset `value` (NO_REGISTER: none); false if ended. */
export function leave(index: u32, state: InterpreterState, value: u32): bool {
  const fp = state.fp;
  const result = value === NO_REGISTER ? 0 : load32(fp + ACTIVATION_BYTES + value);
  const previous = load32(fp + ACTIVATION_PREVIOUS), returnPc = load32(fp + ACTIVATION_RETURN);
  if (previous === 0 && returnPc === RETURN_CONTEXT) {   // a created context's entry returned
    trapEnd(index, state, VM_END_BYTECODE_CONTEXT_RETURNED, contextAt(state, state.context).handle);
    return false;
  }
  if (previous === 0) {                  // the entry returned: as exit(its value)
    schedulerEnd(index, END_EXIT, result, load32(fp + ACTIVATION_FUNCTION), 0);
    return false;
  }
  if (returnPc === 0) {
    trapEnd(index, state, VM_END_BYTECODE_TRAP_RETURNED, 0);
    return false;
  }
  const resultAddress = load32(fp + ACTIVATION_RESULT);
  if (resultAddress !== 0) store32(resultAddress, result);
  state.sp = load32(fp + ACTIVATION_STACK);
  state.top = fp;
  if (state.chunk !== 0 && fp === state.chunk + CHUNK_HEADER) chunkLeave(state);
  state.fp = previous;
  state.pc = returnPc;
  return true;
}
