// The in-kernel interpreter of bytecode VMs (issue 18, docs/bytecode.md "Bytecode VMs"): runs the code
// bytecode-decode.ts pre-decoded from a verified image, for VM `index`, a slice of BYTECODE_FUEL
// dispatches (instructions and superinstructions) at a time (the scheduler's idle loop calls bytecodeSlice
// with interrupts off; between slices the timer's IRQ comes in, so a bytecode VM is preempted and charged
// like a hardware one).
// The reference semantics is compiler/bytecode/interpreter.ts (32-bit wrapping integers, division by
// zero and `trap k` call the image's trap handler, function addresses FUNCTION_ADDRESS_BASE + 16 i).
//
// Isolation: the VM's memory is [GUEST_BASE, GUEST_BASE + memorySize), its pages listed in its page map
// (linear.ts: no address space of its own) and put in the shared window while it runs (scheduler.ts): every
// load, store, memoryCopy and memoryFill is checked against that range, then against the map (a page not
// there is mapped on demand, vm.ts; with a swap disk the VM may wait for it or for memory and then makes the
// same instruction again; else it ends out of memory) before it is made, so the bytecode
// reaches nothing else. Registers, return addresses and call records live in the VM's interpreter area
// (the rest of its kernel frame after the map) and its chunks, kernel frames the guest cannot address; the
// memory representation is touch, resident and the two checks in run(). What is read back from the guest's memory
// (an indirect call's target) is checked before use. A trap ends the VM alone with its reason
// (schedulerEnd): an access outside its memory, a call stack beyond its area or a frame below its stack
// (stack overflow), `unreachable`, a bad indirect call, a trap handler that returns, a bad context.
//
// Threads (contextSwitch, contextCreate; docs/bytecode.md "Threads"): each context's call records and
// registers live in an area of its own (the main context's in the VM's area, each other's in
// THREAD_AREA_FRAMES frames given when it first runs) and its chunks (CHUNK_FRAME_LIMIT frames at most),
// listed in a table of CONTEXT_LIMIT contexts in the VM's area. A handle is the
// guest's own number (its stack pointer, as on the host); one the guest passes is looked up in the table,
// never used as an address of the kernel's, and anything not there ends the VM.
//
// Hypercalls are direct calls into the dispatcher (hypercall.ts hypercallDirect) with the same ABI as a
// hardware VM's: the VM's save area holds eax (number, then result), ebx, ecx, edx, esi; idle's batch
// arrives in eax at the switch-in (scheduler.ts deliverBatch) and is stored into the call's result then.
// A bytecode VM's save area holds no frame to resume (the idle loop's frame is copied over it when the VM
// is preempted): eip holds the function running at a hypercall (what exit's end line names). Its
// interpreter area's address is kept in vm.fpuArea (a bytecode VM has no x87 state; cleared here, before
// the scheduler's fpuRelease would look at it; the area goes with the kernel frame, vm.ts).
import {
  bool, i32, u8, u16, u32, load8, load16, load32, store8, store16, store32, memoryCopy, memoryFill, overlay, sizeOf,
  mulHigh,
  rdtsc, rdtscHigh,
} from "dsl";
import { FUNCTION_ADDRESS_BASE, FUNCTION_ADDRESS_STRIDE } from "../abi/bytecode.ts";
import {
  I_BINARY, I_LOAD, I_STORE, I_NEG, I_NOT, I_CONST, I_COPY, I_SLOT, I_SELECT, I_CALL, I_CALL_INDIRECT, I_INTRINSIC,
  I_TRAP, I_JUMP, I_BRANCH, I_RETURN, I_UNREACHABLE, I_COMPARE_BRANCH, I_ADD_LOAD, I_ADD_STORE, I_SHIFT_ADD, I_FUEL,
  I_CONST_CONST, I_ADD_LTS_BRANCH, I_ADD_LTU_BRANCH, I_MUL_ADD, I_SHIFT_ADD_LOAD32, I_SHIFT_ADD_STORE32, I_SHRU_AND,
  I_CONST_ADD, I_CONST_SUB,
} from "./bytecode-ops.ts";
import { GUEST_MAGIC, GUEST_BASE } from "../abi/boot.ts";
import {
  VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNREACHABLE, VM_END_BYTECODE_CALL, VM_END_BYTECODE_TRAP_RETURNED,
  VM_END_BYTECODE_UNSUPPORTED, VM_END_BYTECODE_CONTEXT, VM_END_BYTECODE_CONTEXTS, VM_END_BYTECODE_CONTEXT_RETURNED,
} from "../abi/hypercalls.ts";
import {
  decodedImages, NO_REGISTER, FUNCTION_WORDS, FUNCTION_CODE, FUNCTION_PARAMETERS,
  FUNCTION_REGISTER_BYTES, FUNCTION_STACK_BYTES, FUNCTION_STACK_MASK, FUNCTION_RETURNS,
} from "./bytecode-decode.ts";
import {
  Vm, vmAt, vmBootInfoAddress, vmBootPageMake, vmBootPageFrame, vmPrepareRange, vmTakeOutOfMemory, vmTakeSwappedPage,
  vmKernelFrames, vmKernelFramesFree, END_EXIT, END_STACK_OVERFLOW, END_OUT_OF_MEMORY, VM_RUNNING,
} from "./vm.ts";
import { linearAreaOffset, linearKernelFrames } from "./linear.ts";
import { schedulerEnd, schedulerLeaving, schedulerWaitForPage, schedulerWaitForMemory } from "./scheduler.ts";
import { hypercallDirect, hypercallRetried } from "./hypercall.ts";
import { FRAME_NONE, PAGE_SIZE, PAGE_SHIFT, PAGE_OFFSET_MASK } from "./frames.ts";

/** IR instructions a slice runs with interrupts off at most (a tick waits for at most one slice). */
const BYTECODE_FUEL: i32 = 4096;
/** The area of each other context (a thread's call records and registers), given when it first runs. */
const THREAD_AREA_FRAMES: u32 = 1;
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
const CHUNK_HEADER: u32 = 32;
/** Words of a call record before its registers: ACTIVATION_PREVIOUS .. ACTIVATION_FUNCTION. */
const ACTIVATION_BYTES: u32 = 20;
const ACTIVATION_PREVIOUS = 0;     // the caller's record (0: this is the entry's)
const ACTIVATION_RETURN = 4;       // the code address to go on at (0: a trap handler's, which must not return;
                                   // in an entry's record, previous 0: 0 the VM's entry, RETURN_CONTEXT a context's)
/** The return address of a created context's first record: its entry must not return. */
const RETURN_CONTEXT: u32 = 1;
const ACTIVATION_RESULT = 8;       // the address of the caller's register for the result (0: none)
const ACTIVATION_STACK = 12;       // the guest stack pointer to restore
const ACTIVATION_FUNCTION = 16;    // its function index
/** The trap kind of a division by zero (compiler/ir.ts TRAP_DIVIDE_BY_ZERO). */
const TRAP_DIVIDE_BY_ZERO: u32 = 1;
/** The exception vectors a hardware VM would end with: #DE for divideUnchecked by 0, #UD for invalidOpcode. */
const VECTOR_DIVIDE_ERROR: u32 = 0;
const VECTOR_INVALID_OPCODE: u32 = 6;
// Intrinsic numbers the guest policy allows (bytecode-code.ts GUEST_INTRINSICS; abi/bytecode.ts numbering).
const INTRINSIC_PAUSE = 9;
const INTRINSIC_RDTSC = 10;
const INTRINSIC_RDTSC_HIGH = 11;
const INTRINSIC_MEMORY_COPY = 23;
const INTRINSIC_MEMORY_FILL = 24;
const INTRINSIC_INVALID_OPCODE = 27;
const INTRINSIC_DIVIDE_UNCHECKED = 29;
const INTRINSIC_HYPERCALL = 30;
const INTRINSIC_CRC32_WORD = 38;
const INTRINSIC_CONTEXT_SWITCH = 31;
const INTRINSIC_CONTEXT_CREATE = 32;
// Internal opcodes by name (bytecode-ops.ts; binary kinds in format.ts BINARY_OPS order).
const I_ADD = I_BINARY, I_SUB = I_BINARY + 1, I_MUL = I_BINARY + 2, I_DIVS = I_BINARY + 3, I_DIVU = I_BINARY + 4;
const I_REMS = I_BINARY + 5, I_REMU = I_BINARY + 6, I_AND = I_BINARY + 7, I_OR = I_BINARY + 8, I_XOR = I_BINARY + 9;
const I_SHL = I_BINARY + 10, I_SHRS = I_BINARY + 11, I_SHRU = I_BINARY + 12, I_EQ = I_BINARY + 13;
const I_NE = I_BINARY + 14, I_LTS = I_BINARY + 15, I_LES = I_BINARY + 16, I_GTS = I_BINARY + 17;
const I_GES = I_BINARY + 18, I_LTU = I_BINARY + 19, I_LEU = I_BINARY + 20, I_GTU = I_BINARY + 21;
const I_GEU = I_BINARY + 22, I_MULHS = I_BINARY + 23, I_MULHU = I_BINARY + 24;
const I_LOAD_8S = I_LOAD, I_LOAD_8U = I_LOAD + 1, I_LOAD_16S = I_LOAD + 2, I_LOAD_16U = I_LOAD + 3;
const I_LOAD_32S = I_LOAD + 4, I_LOAD_32U = I_LOAD + 5;
const I_STORE_8 = I_STORE, I_STORE_16 = I_STORE + 1, I_STORE_32 = I_STORE + 2;
const I_EQ_BRANCH = I_COMPARE_BRANCH, I_NE_BRANCH = I_COMPARE_BRANCH + 1, I_LTS_BRANCH = I_COMPARE_BRANCH + 2;
const I_LES_BRANCH = I_COMPARE_BRANCH + 3, I_GTS_BRANCH = I_COMPARE_BRANCH + 4, I_GES_BRANCH = I_COMPARE_BRANCH + 5;
const I_LTU_BRANCH = I_COMPARE_BRANCH + 6, I_LEU_BRANCH = I_COMPARE_BRANCH + 7, I_GTU_BRANCH = I_COMPARE_BRANCH + 8;
const I_GEU_BRANCH = I_COMPARE_BRANCH + 9;
const I_ADD_LOAD_8S = I_ADD_LOAD, I_ADD_LOAD_8U = I_ADD_LOAD + 1, I_ADD_LOAD_16S = I_ADD_LOAD + 2;
const I_ADD_LOAD_16U = I_ADD_LOAD + 3, I_ADD_LOAD_32S = I_ADD_LOAD + 4, I_ADD_LOAD_32U = I_ADD_LOAD + 5;
const I_ADD_STORE_8 = I_ADD_STORE, I_ADD_STORE_16 = I_ADD_STORE + 1, I_ADD_STORE_32 = I_ADD_STORE + 2;
/** CRC32C's polynomial, reflected (compiler/ir.ts crc32cWord). */
const CRC32C_POLYNOMIAL: u32 = 0x82f63b78;

/** The state of a VM's interpretation between slices, at the start of its area. */
class InterpreterState {
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
const STATE_BYTES: u32 = 64;

/**
 * The contexts a VM may have at once (docs/bytecode.md "Threads"): the main one and libos's 16 threads
 * (guest-src/libos/threads.ts THREAD_MAX). Entry 0 is the VM's entry's to begin with; its area is the
 * VM's area and never freed.
 */
const CONTEXT_LIMIT: u32 = 17;
const CONTEXT_FREE: u32 = 0;
const CONTEXT_CREATED = 1;      // made by contextCreate, not run yet (its entry and arg are in the guest's words)
const CONTEXT_SUSPENDED = 2;    // switched away from: resumed by its handle
const CONTEXT_RUNNING = 3;
/**
 * One context of the VM: what the state holds while it runs. The handle is what the guest holds: the
 * guest stack pointer at the switch away (a created one's: the address of the words contextCreate wrote),
 * as on the host (compiler/bytecode/interpreter.ts); a handle the guest passes must be one of these.
 */
class Context {
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
function recordsOffset(): u32 { return STATE_BYTES + CONTEXT_LIMIT * sizeOf(Context); }

function contextAt(state: InterpreterState, k: u32): Context {
  return overlay(Context, state.contexts + k * sizeOf(Context));
}

/**
 * Sets up VM `id` of bytecode group `group` (just created: vm.ts buildLinear gave it its kernel frame run,
 * the page map, then this area) for its first call, entry(magic, bootInfo); the data image is copied in at
 * its first slice, when its pages are in the window.
 */
export function bytecodeVmPrepare(id: u32, group: u32): void {
  const vm = vmAt(id);
  const area = vm.space + linearAreaOffset(vm.memorySize);
  vm.fpuArea = area;
  const state = overlay(InterpreterState, area);
  memoryFill(area, 0, recordsOffset());
  state.areaEnd = vm.space + (linearKernelFrames(vm.memorySize) << PAGE_SHIFT);
  state.group = group;
  state.fp = 0;
  state.top = area + recordsOffset();
  state.sp = decodedImages[group].stackTop;
  state.stackLimit = decodedImages[group].stackBottom;
  state.context = 0;
  state.contexts = area + STATE_BYTES;
  state.functions = decodedImages[group].functions;
  const main = contextAt(state, 0);
  main.kind = CONTEXT_RUNNING;
  main.area = area + recordsOffset();
  main.areaEnd = state.areaEnd;
}

/** Frees the threads' areas of bytecode VM `id` (it ended; its own area goes with its kernel frame run). */
export function bytecodeVmRelease(id: u32): void {
  const vm = vmAt(id);
  if (vm.fpuArea === 0) return;
  const state = overlay(InterpreterState, vm.fpuArea);
  contextAt(state, state.context).firstChunk = state.firstChunk;   // the running one's chunks are in the state
  for (let c: u32 = 0; c < CONTEXT_LIMIT; c++) discard(vm, state, c);
  vm.fpuArea = 0;
}

/**
 * The first slice: its boot page made, the data image copied into its memory (its pages in the window), then
 * entry(magic, bootInfo).
 */
function start(index: u32, vm: Vm, state: InterpreterState): bool {
  const image = decodedImages[state.group];
  // (made once: a start that waits for memory is made again)
  if (vmBootPageFrame(vm) === 0 && !vmBootPageMake(vm, index)) return waitOrEnd(index, state, vmBootInfoAddress(vm));
  // The data up to its last word not 0; the zeros after it stay demand-zero pages, not touched.
  if (image.copyBytes !== 0 && !touch(index, vm, state, image.dataBase, image.copyBytes)) return false;
  if (image.copyBytes !== 0) memoryCopy(image.dataBase, image.dataImage, image.copyBytes);
  state.started = 1;
  const registers = enter(index, state, image.entry, 0, 0);
  if (registers === 0) return false;
  store32(registers, GUEST_MAGIC);
  store32(registers + 4, vmBootInfoAddress(vm));
  return true;
}

/** Runs VM `index` (the current VM, its space loaded, interrupts off) for one slice. */
export function bytecodeSlice(index: u32): void {
  const vm = vmAt(index);
  const state = overlay(InterpreterState, vm.fpuArea);
  if (state.started === 0 && !start(index, vm, state)) return;
  if (state.pendingResult !== 0) {
    store32(state.pendingResult, vm.save.eax);
    state.pendingResult = 0;
  }
  run(index, vm, state);
}

/** Ends the VM for a trap of the interpreter's: `reason`, the function running, `address` (or 0). */
function trapEnd(index: u32, state: InterpreterState, reason: u32, address: u32): void {
  const running = state.fp === 0 ? 0 : load32(state.fp + ACTIVATION_FUNCTION);
  schedulerEnd(index, reason, 0, running, address);
}

/**
 * Pushes a call record for `callee` above the current one, returning to `returnPc`, its result into the
 * register at `resultAddress` (0: none): its registers' address (zeroed; the caller stores the arguments),
 * or 0 when the VM ended for a stack overflow.
 */
function enter(index: u32, state: InterpreterState, callee: u32, returnPc: u32, resultAddress: u32): u32 {
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
function call(index: u32, state: InterpreterState, at: u32, indirect: bool): bool {
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
function chunksFree(vm: Vm, chunk: u32): void {
  while (chunk !== 0) {
    const next = load32(chunk + CHUNK_NEXT);
    vmKernelFramesFree(vm, chunk, load32(chunk + CHUNK_FRAMES));
    chunk = next;
  }
}

/** Calls the trap handler with `kind` (it must not return); false if the VM ended. */
function trap(index: u32, state: InterpreterState, kind: u32): bool {
  const registers = enter(index, state, decodedImages[state.group].trapHandler, 0, 0);
  if (registers === 0) return false;
  store32(registers, kind);
  return true;
}

/** Returns from the current call with the register at offset `value` (NO_REGISTER: none); false if ended. */
function leave(index: u32, state: InterpreterState, value: u32): bool {
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

/**
 * Makes [address, address + length) of the VM's memory (checked by the caller) resident: the pages it never
 * touched demand-zero (vm.ts vmPrepareRange, into its map and the window). False when it cannot go on now:
 * with a swap disk it waits for a page on the disk or for memory, as a hardware VM's #PF does, and makes the
 * same instruction again (state.pc is at it; nothing it does before its touches has an effect that a second
 * time changes); else it ended (out of memory: beyond its reservation with the pool empty).
 */
function touch(index: u32, vm: Vm, state: InterpreterState, address: u32, length: u32): bool {
  if (vmPrepareRange(vm, address, length, true)) return true;
  return waitOrEnd(index, state, address);
}

/** A page or a frame could not be had for `address`: the VM waits (swap.ts) or ends; false. */
function waitOrEnd(index: u32, state: InterpreterState, address: u32): bool {
  const swapped = vmTakeSwappedPage();
  if (swapped !== 0 && schedulerWaitForPage(swapped)) return false;
  if (swapped === 0 && vmTakeOutOfMemory() && schedulerWaitForMemory()) return false;
  trapEnd(index, state, END_OUT_OF_MEMORY, address);
  return false;
}

/** True when [address, address + length) is inside the VM's memory. */
function inMemory(vm: Vm, address: u32, length: u32): bool {
  return length <= vm.memorySize && address - GUEST_BASE <= vm.memorySize - length;
}

/** CRC32C of the word's four bytes, low byte first, bit by bit (compiler/ir.ts crc32cWord). */
function crc32Word(crc: u32, word: u32): u32 {
  let c = u32(crc ^ word);
  for (let bit = 0; bit < 32; bit++) c = u32((c >>> 1) ^ (CRC32C_POLYNOMIAL & u32(-i32(c & 1))));
  return c;
}

/** The intrinsic at `at` (dst, number, argc, args); false when the VM ended or leaves the CPU. */
function intrinsic(index: u32, vm: Vm, state: InterpreterState, at: u32): bool {
  const registers = state.fp + ACTIVATION_BYTES;
  const dst = load32(at + 4), number = load32(at + 8), count = load32(at + 12);
  const a0 = count > 0 ? load32(registers + load32(at + 16)) : 0;
  const a1 = count > 1 ? load32(registers + load32(at + 20)) : 0;
  const a2 = count > 2 ? load32(registers + load32(at + 24)) : 0;
  let result: u32 = 0;
  switch (number) {
    case INTRINSIC_PAUSE: break;
    case INTRINSIC_RDTSC: result = rdtsc(); break;
    case INTRINSIC_RDTSC_HIGH: result = rdtscHigh(); break;
    case INTRINSIC_MEMORY_COPY:
      if (a2 !== 0 && (!inMemory(vm, a0, a2) || !inMemory(vm, a1, a2))) {
        trapEnd(index, state, VM_END_BYTECODE_BOUNDS, inMemory(vm, a0, a2) ? a1 : a0);
        return false;
      }
      if (a2 !== 0 && (!touch(index, vm, state, a0, a2) || !touch(index, vm, state, a1, a2))) return false;
      if (a2 !== 0) memoryCopy(a0, a1, a2);
      break;
    case INTRINSIC_MEMORY_FILL:
      if (a2 !== 0 && !inMemory(vm, a0, a2)) { trapEnd(index, state, VM_END_BYTECODE_BOUNDS, a0); return false; }
      if (a2 !== 0 && !touch(index, vm, state, a0, a2)) return false;
      if (a2 !== 0) memoryFill(a0, u8(a1), a2);
      break;
    case INTRINSIC_INVALID_OPCODE: trapEnd(index, state, VECTOR_INVALID_OPCODE, 0); return false;
    case INTRINSIC_DIVIDE_UNCHECKED:
      if (a1 === 0) { trapEnd(index, state, VECTOR_DIVIDE_ERROR, 0); return false; }
      result = a0 / a1;
      break;
    case INTRINSIC_CRC32_WORD: result = crc32Word(a0, a1); break;
    case INTRINSIC_HYPERCALL: return hypercall(index, vm, state, at, registers, a0, a1, a2);
    case INTRINSIC_CONTEXT_SWITCH: return contextSwitch(index, vm, state, at + (4 + count) * 4, a0, a1);
    case INTRINSIC_CONTEXT_CREATE:
      result = contextCreate(index, vm, state, a0, a1, a2, load32(registers + load32(at + 28)));
      if (result === 0) return false;
      break;
    default: trapEnd(index, state, VM_END_BYTECODE_UNSUPPORTED, number); return false;
  }
  if (dst !== NO_REGISTER) store32(registers + dst, result);
  state.pc = at + (4 + count) * 4;
  return true;
}

/** hypercall(number, a, b, c, d) through the dispatcher, the VM's save area as its registers. */
function hypercall(index: u32, vm: Vm, state: InterpreterState, at: u32, registers: u32, number: u32, a: u32,
  b: u32): bool {
  const frame = vm.save;
  frame.eax = number;
  frame.ebx = a;
  frame.ecx = b;
  frame.edx = load32(registers + load32(at + 28));
  frame.esi = load32(registers + load32(at + 32));
  frame.eip = load32(state.fp + ACTIVATION_FUNCTION);
  state.pc = at + 9 * 4;               // 4 words, 5 arguments: go on after it (the call is made once)
  hypercallDirect(index, frame);
  if (hypercallRetried()) {             // it waits (a page, memory), then calls again: pc back on the call,
    state.pc = at;                        // eip (moved back by retry) the function again, for an end line
    frame.eip = load32(state.fp + ACTIVATION_FUNCTION);
    return false;
  }
  const dst = load32(at + 4);
  if (dst !== NO_REGISTER) store32(registers + dst, frame.eax);
  if (vm.state !== VM_RUNNING || schedulerLeaving()) {
    // Idle's batch comes in eax when the VM is switched in again: stored into the result then.
    if (dst !== NO_REGISTER && vm.blockedInIdle) state.pendingResult = registers + dst;
    return false;
  }
  return true;
}

// ---- threads: contextSwitch and contextCreate ------------------------------------------------------

/** Forgets context `k` (not the running one) and frees its area (the main area, context 0's, stays). */
function discard(vm: Vm, state: InterpreterState, k: u32): void {
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
function contextSwitch(index: u32, vm: Vm, state: InterpreterState, next: u32, saveAt: u32, resume: u32): bool {
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
function contextCreate(index: u32, vm: Vm, state: InterpreterState, base: u32, size: u32, entry: u32, arg: u32): u32 {
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

/** The high 32 bits of the signed 64-bit product (mulhs). */
function mulHighSigned(a: u32, b: u32): u32 {
  let high = mulHigh(a, b);
  if (i32(a) < 0) high -= b;
  if (i32(b) < 0) high -= a;
  return high;
}

/** A division or remainder (I_DIVS .. I_REMU) of a by b, b not 0 (x / -1 = -x and x % -1 = 0 as in the IR). */
function divide(op: u32, a: u32, b: u32): u32 {
  if (op === I_DIVS) return u32(i32(a) / i32(b));
  if (op === I_DIVU) return a / b;
  if (op === I_REMS) return u32(i32(a) % i32(b));
  return a % b;
}

/** Ends the VM for a load or store at `address` outside its memory (the instruction at `pc`). */
function outOfRange(index: u32, state: InterpreterState, pc: u32, address: u32): void {
  state.pc = pc;
  trapEnd(index, state, VM_END_BYTECODE_BOUNDS, address);
}

/**
 * The bounds of the running VM's memory for a load or store of 1, 2 and 4 bytes (its size less the width), and
 * its fuel left in the slice: module globals, which the loop reads from memory each time (docs/dsl: globals are
 * reloaded in loops), so that its registers stay with the program counter and the register file.
 */
let memoryLimit1: u32 = 0;
let memoryLimit2: u32 = 0;
let memoryLimit4: u32 = 0;
let fuel: i32 = 0;
/**
 * The running VM's page map (linear.ts: a word a page, bit 0 set for a resident one) less GUEST_BASE's page
 * number in words, so that an address's entry is at pageBase + 4 * (address >> PAGE_SHIFT): a module global too.
 */
let pageBase: u32 = 0;

/**
 * True when the page of `address` (inside the VM's memory: checked first) is resident in its page map. An access
 * of 2 or 4 bytes goes straight through the window when its page is and, if it crosses into the next, that one
 * too; else fault() makes every page of it resident and the instruction is dispatched again
 * (so no value lives across that call). Small enough for the compiler to inline (compiler/passes/inline.ts).
 */
function mapped(address: u32): bool {
  return (load32(pageBase + ((address >>> PAGE_SHIFT) << 2)) & 1) !== 0;
}

/**
 * A load or store of `width` bytes at `address` (inside the VM's memory), the instruction at `pc`, whose pages
 * are not all resident: touch() makes them so, and the caller dispatches the instruction again. False when the VM
 * cannot go on now: it waits and makes the same instruction again (state.pc is at it; no instruction writes a
 * register before its checks) or it ended.
 */
function fault(index: u32, vm: Vm, state: InterpreterState, pc: u32, address: u32, width: u32): bool {
  state.pc = pc;
  return touch(index, vm, state, address, width);
}


/**
 * The interpreter's loop, until the VM ends or leaves the CPU or its fuel (BYTECODE_FUEL dispatches: an instruction
 * or a superinstruction) is spent. One `switch` over the dense internal opcodes (bytecode-ops.ts: a jump table),
 * every hot case inline, a direct call and a return too. The fuel is charged by the terminators and I_FUEL, each
 * the count of dispatches since the last charge in its block (the decoder puts an I_FUEL after every FUEL_CHUNK of
 * them), so a slice may run up to FUEL_CHUNK + 1 dispatches past BYTECODE_FUEL. The state lives in locals (pc,
 * registers) and memory (the bounds, the fuel); calls and returns update `state` as they go, the slow path (an
 * indirect call, an intrinsic, a trap, a call that overflows, the entry's or a trap handler's return) writes pc
 * back to it and reads everything again. A load or store of `width` bytes at `address` is inside the VM's memory
 * when address - GUEST_BASE <= size - width (unsigned: an address below GUEST_BASE wraps above).
 */
function run(index: u32, vm: Vm, state: InterpreterState): void {
  let pc = state.pc, registers = state.fp + ACTIVATION_BYTES;
  memoryLimit1 = vm.memorySize - 1;
  memoryLimit2 = vm.memorySize - 2;
  memoryLimit4 = vm.memorySize - 4;
  pageBase = vm.space - ((GUEST_BASE >>> PAGE_SHIFT) << 2);
  fuel = BYTECODE_FUEL;
  for (;;) {
    switch (load32(pc)) {
      case I_ADD:
        store32(registers + load32(pc + 4), load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12)));
        pc += 16;
        continue;
      case I_SUB:
        store32(registers + load32(pc + 4), load32(registers + load32(pc + 8)) - load32(registers + load32(pc + 12)));
        pc += 16;
        continue;
      case I_MUL: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(Math.imul(i32(a), i32(b))));
        pc += 16;
        continue;
      }
      case I_DIVS: case I_DIVU: case I_REMS: case I_REMU: {
        const b = load32(registers + load32(pc + 12));
        if (b === 0) {
          state.pc = pc;
          if (!trap(index, state, TRAP_DIVIDE_BY_ZERO)) return;
          pc = state.pc;
          registers = state.fp + ACTIVATION_BYTES;
          continue;
        }
        store32(registers + load32(pc + 4), divide(load32(pc), load32(registers + load32(pc + 8)), b));
        pc += 16;
        continue;
      }
      case I_AND: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(a & b));
        pc += 16;
        continue;
      }
      case I_OR: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(a | b));
        pc += 16;
        continue;
      }
      case I_XOR: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(a ^ b));
        pc += 16;
        continue;
      }
      case I_SHL: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(a << b));
        pc += 16;
        continue;
      }
      case I_SHRS: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), u32(i32(a) >> b));
        pc += 16;
        continue;
      }
      case I_SHRU:
        store32(registers + load32(pc + 4), load32(registers + load32(pc + 8)) >>> load32(registers + load32(pc + 12)));
        pc += 16;
        continue;
      case I_EQ: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a === b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_NE: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a !== b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_LTS: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), i32(a) < i32(b) ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_LES: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), i32(a) <= i32(b) ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_GTS: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), i32(a) > i32(b) ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_GES: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), i32(a) >= i32(b) ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_LTU: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a < b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_LEU: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a <= b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_GTU: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a > b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_GEU: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), a >= b ? 1 : 0);
        pc += 16;
        continue;
      }
      case I_MULHS: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), mulHighSigned(a, b));
        pc += 16;
        continue;
      }
      case I_MULHU: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), mulHigh(a, b));
        pc += 16;
        continue;
      }
      case I_LOAD_32S: case I_LOAD_32U: {
        const address = load32(registers + load32(pc + 8)) + load32(pc + 12);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(registers + load32(pc + 4), load32(address));
        pc += 16;
        continue;
      }
      case I_LOAD_8U: {
        const address = load32(registers + load32(pc + 8)) + load32(pc + 12);
        if (address - GUEST_BASE > memoryLimit1) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address)) {
          if (!fault(index, vm, state, pc, address, 1)) return;
          continue;
        }
        store32(registers + load32(pc + 4), u32(load8(address)));
        pc += 16;
        continue;
      }
      case I_LOAD_8S: case I_LOAD_16S: case I_LOAD_16U: {
        const address = load32(registers + load32(pc + 8)) + load32(pc + 12);
        if (!loadTo(index, vm, state, pc, registers + load32(pc + 4), load32(pc) - I_LOAD, address)) return;
        pc += 16;
        continue;
      }
      case I_STORE_32: {
        const address = load32(registers + load32(pc + 4)) + load32(pc + 8);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(address, load32(registers + load32(pc + 12)));
        pc += 16;
        continue;
      }
      case I_STORE_8: {
        const address = load32(registers + load32(pc + 4)) + load32(pc + 8);
        if (address - GUEST_BASE > memoryLimit1) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address)) {
          if (!fault(index, vm, state, pc, address, 1)) return;
          continue;
        }
        store8(address, u8(load32(registers + load32(pc + 12))));
        pc += 16;
        continue;
      }
      case I_STORE_16: {
        const address = load32(registers + load32(pc + 4)) + load32(pc + 8);
        if (address - GUEST_BASE > memoryLimit2) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 2 && !mapped(address + 1))) {
          if (!fault(index, vm, state, pc, address, 2)) return;
          continue;
        }
        store16(address, u16(load32(registers + load32(pc + 12))));
        pc += 16;
        continue;
      }
      case I_NEG:
        store32(registers + load32(pc + 4), u32(0 - load32(registers + load32(pc + 8))));
        pc += 12;
        continue;
      case I_NOT: store32(registers + load32(pc + 4), u32(~load32(registers + load32(pc + 8)))); pc += 12; continue;
      case I_CONST: store32(registers + load32(pc + 4), load32(pc + 8)); pc += 12; continue;
      case I_COPY: store32(registers + load32(pc + 4), load32(registers + load32(pc + 8))); pc += 12; continue;
      case I_SLOT: store32(registers + load32(pc + 4), state.sp + load32(pc + 8)); pc += 12; continue;
      case I_SELECT: {
        const chosen = load32(registers + load32(pc + 8)) !== 0 ? load32(pc + 12) : load32(pc + 16);
        store32(registers + load32(pc + 4), load32(registers + chosen));
        pc += 20;
        continue;
      }
      // ---- terminators and I_FUEL: the block's dispatches charged to the fuel (bytecode-ops.ts)
      case I_FUEL:
        fuel -= i32(load32(pc + 4));
        pc += 8;
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      case I_JUMP:
        fuel -= i32(load32(pc + 8));
        pc = load32(pc + 4);
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      case I_BRANCH:
        fuel -= i32(load32(pc + 16));
        pc = load32(registers + load32(pc + 4)) !== 0 ? load32(pc + 8) : load32(pc + 12);
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      // ---- superinstructions (bytecode-ops.ts): the first's result written, then the second
      case I_EQ_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a === b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_NE_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a !== b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_LTS_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (i32(a) < i32(b)) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_LES_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (i32(a) <= i32(b)) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_GTS_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (i32(a) > i32(b)) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_GES_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (i32(a) >= i32(b)) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_LTU_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a < b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_LEU_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a <= b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_GTU_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a > b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_GEU_BRANCH: {
        const a = load32(registers + load32(pc + 8)), b = load32(registers + load32(pc + 12));
        fuel -= i32(load32(pc + 24));
        if (a >= b) {
          store32(registers + load32(pc + 4), 1);
          pc = load32(pc + 16);
        } else {
          store32(registers + load32(pc + 4), 0);
          pc = load32(pc + 20);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_ADD_LOAD_32S: case I_ADD_LOAD_32U: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 20);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(registers + load32(pc + 4), t);
        store32(registers + load32(pc + 16), load32(address));
        pc += 24;
        continue;
      }
      case I_ADD_LOAD_8U: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 20);
        if (address - GUEST_BASE > memoryLimit1) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address)) {
          if (!fault(index, vm, state, pc, address, 1)) return;
          continue;
        }
        store32(registers + load32(pc + 4), t);
        store32(registers + load32(pc + 16), u32(load8(address)));
        pc += 24;
        continue;
      }
      case I_ADD_LOAD_8S: case I_ADD_LOAD_16S: case I_ADD_LOAD_16U: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 20);
        if (!loadTo(index, vm, state, pc, registers + load32(pc + 16), load32(pc) - I_ADD_LOAD, address)) return;
        if (load32(pc + 4) !== load32(pc + 16)) store32(registers + load32(pc + 4), t);   // else the load's value wins
        pc += 24;
        continue;
      }
      case I_ADD_STORE_32: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 16);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(registers + load32(pc + 4), t);
        store32(address, load32(registers + load32(pc + 20)));
        pc += 24;
        continue;
      }
      case I_ADD_STORE_8: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 16);
        if (address - GUEST_BASE > memoryLimit1) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address)) {
          if (!fault(index, vm, state, pc, address, 1)) return;
          continue;
        }
        store32(registers + load32(pc + 4), t);
        store8(address, u8(load32(registers + load32(pc + 20))));
        pc += 24;
        continue;
      }
      case I_ADD_STORE_16: {
        const t = load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12));
        const address = t + load32(pc + 16);
        if (address - GUEST_BASE > memoryLimit2) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 2 && !mapped(address + 1))) {
          if (!fault(index, vm, state, pc, address, 2)) return;
          continue;
        }
        store32(registers + load32(pc + 4), t);
        store16(address, u16(load32(registers + load32(pc + 20))));
        pc += 24;
        continue;
      }
      // ---- a direct call and a return, inline; anything out of the ordinary (a stack overflow, the entry's or a
      // trap handler's return) leaves the switch for the slow path's call() or leave(), which handle it all.
      case I_CALL: {
        const callee = load32(pc + 8), count = load32(pc + 12);
        const record = state.functions + callee * (FUNCTION_WORDS * 4);
        const fp = state.top, areaEnd = state.areaEnd, callerSp = state.sp;
        const next = fp + ACTIVATION_BYTES;
        const bytes = load32(record + FUNCTION_REGISTER_BYTES * 4);
        const stackBytes = load32(record + FUNCTION_STACK_BYTES * 4);
        const sp = u32((callerSp - stackBytes) & load32(record + FUNCTION_STACK_MASK * 4));
        if (next > areaEnd) break;
        if (bytes > areaEnd - next) break;
        if (sp < state.stackLimit) break;
        if (sp > callerSp) break;
        const dst = load32(pc + 4);
        store32(fp + ACTIVATION_PREVIOUS, state.fp);
        store32(fp + ACTIVATION_RETURN, pc + (4 + count) * 4);
        store32(fp + ACTIVATION_RESULT, dst === NO_REGISTER ? 0 : registers + dst);
        store32(fp + ACTIVATION_STACK, callerSp);
        store32(fp + ACTIVATION_FUNCTION, callee);
        memoryFill(next, 0, bytes);
        for (let k: u32 = 0; k < count; k++) store32(next + k * 4, load32(registers + load32(pc + 16 + k * 4)));
        state.fp = fp;
        state.top = next + bytes;
        state.sp = sp;
        registers = next;
        pc = load32(record + FUNCTION_CODE * 4);
        continue;
      }
      case I_RETURN: {
        const fp = state.fp;
        const previous = load32(fp + ACTIVATION_PREVIOUS), returnPc = load32(fp + ACTIVATION_RETURN);
        if (previous === 0 || returnPc === 0) break;
        if (fp === state.chunk + CHUNK_HEADER) break;     // its chunk's first record: leave() goes back out of it
        const value = load32(pc + 4), resultAddress = load32(fp + ACTIVATION_RESULT);
        if (resultAddress !== 0) store32(resultAddress, value === NO_REGISTER ? 0 : load32(registers + value));
        state.sp = load32(fp + ACTIVATION_STACK);
        state.top = fp;
        state.fp = previous;
        fuel -= i32(load32(pc + 8));
        pc = returnPc;
        registers = previous + ACTIVATION_BYTES;
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_SHIFT_ADD_LOAD32: {
        const t = u32(load32(registers + load32(pc + 8)) << load32(registers + load32(pc + 12)));
        const t1 = load32(pc + 4);
        const d = (load32(pc + 20) === t1 ? t : load32(registers + load32(pc + 20))) + t;
        const address = d + load32(pc + 28);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(registers + t1, t);
        store32(registers + load32(pc + 16), d);
        store32(registers + load32(pc + 24), load32(address));
        pc += 32;
        continue;
      }
      case I_SHIFT_ADD_STORE32: {
        const t = u32(load32(registers + load32(pc + 8)) << load32(registers + load32(pc + 12)));
        const t1 = load32(pc + 4);
        const d = (load32(pc + 20) === t1 ? t : load32(registers + load32(pc + 20))) + t;
        const address = d + load32(pc + 24);
        if (address - GUEST_BASE > memoryLimit4) { outOfRange(index, state, pc, address); return; }
        if (!mapped(address) || (u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - 4 && !mapped(address + 3))) {
          if (!fault(index, vm, state, pc, address, 4)) return;
          continue;
        }
        store32(registers + t1, t);
        store32(registers + load32(pc + 16), d);
        store32(address, load32(registers + load32(pc + 28)));
        pc += 32;
        continue;
      }
      case I_MUL_ADD: {
        const t = u32(Math.imul(i32(load32(registers + load32(pc + 8))), i32(load32(registers + load32(pc + 12)))));
        store32(registers + load32(pc + 4), t);
        store32(registers + load32(pc + 16), load32(registers + load32(pc + 20)) + t);
        pc += 24;
        continue;
      }
      case I_SHRU_AND: {
        const t = load32(registers + load32(pc + 8)) >>> load32(registers + load32(pc + 12));
        store32(registers + load32(pc + 4), t);
        store32(registers + load32(pc + 16), u32(load32(registers + load32(pc + 20)) & t));
        pc += 24;
        continue;
      }
      case I_CONST_ADD:
        store32(registers + load32(pc + 4), load32(pc + 8));
        store32(registers + load32(pc + 12), load32(registers + load32(pc + 16)) + load32(registers + load32(pc + 20)));
        pc += 24;
        continue;
      case I_CONST_SUB:
        store32(registers + load32(pc + 4), load32(pc + 8));
        store32(registers + load32(pc + 12), load32(registers + load32(pc + 16)) - load32(registers + load32(pc + 20)));
        pc += 24;
        continue;
      case I_CONST_CONST:
        store32(registers + load32(pc + 4), load32(pc + 8));
        store32(registers + load32(pc + 12), load32(pc + 16));
        pc += 20;
        continue;
      case I_ADD_LTS_BRANCH: {
        store32(registers + load32(pc + 4), load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12)));
        const x = load32(registers + load32(pc + 20)), y = load32(registers + load32(pc + 24));
        fuel -= i32(load32(pc + 36));
        if (i32(x) < i32(y)) {
          store32(registers + load32(pc + 16), 1);
          pc = load32(pc + 28);
        } else {
          store32(registers + load32(pc + 16), 0);
          pc = load32(pc + 32);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_ADD_LTU_BRANCH: {
        store32(registers + load32(pc + 4), load32(registers + load32(pc + 8)) + load32(registers + load32(pc + 12)));
        const x = load32(registers + load32(pc + 20)), y = load32(registers + load32(pc + 24));
        fuel -= i32(load32(pc + 36));
        if (x < y) {
          store32(registers + load32(pc + 16), 1);
          pc = load32(pc + 28);
        } else {
          store32(registers + load32(pc + 16), 0);
          pc = load32(pc + 32);
        }
        if (fuel <= 0) { state.pc = pc; return; }
        continue;
      }
      case I_SHIFT_ADD: {
        const t = u32(load32(registers + load32(pc + 8)) << load32(registers + load32(pc + 12)));
        store32(registers + load32(pc + 4), t);
        store32(registers + load32(pc + 16), load32(registers + load32(pc + 20)) + t);
        pc += 24;
        continue;
      }
    }
    // The rest leave the loop's locals: state.pc first, everything read back after.
    state.pc = pc;
    const op = load32(pc);
    let going = true;
    if (op === I_CALL || op === I_CALL_INDIRECT) going = call(index, state, pc, op === I_CALL_INDIRECT);
    else if (op === I_INTRINSIC) going = intrinsic(index, vm, state, pc);
    else if (op === I_TRAP) going = trap(index, state, load32(pc + 4));
    else if (op === I_RETURN) {
      fuel -= i32(load32(pc + 8));
      going = leave(index, state, load32(pc + 4));
    } else {
      trapEnd(index, state, op === I_UNREACHABLE ? VM_END_BYTECODE_UNREACHABLE : VM_END_BYTECODE_UNSUPPORTED, op);
      return;
    }
    if (!going) return;
    pc = state.pc;
    registers = state.fp + ACTIVATION_BYTES;
    if (fuel <= 0) return;
  }
}

/**
 * Load `kind` (0 load8s, 1 load8u, 2 load16s, 3 load16u, 4 and 5 load32) of `address` into the register at
 * `to`, the instruction at `pc`: checked inside the VM's memory (else it ends) and resident (else fault()) first.
 * False when the load cannot be made now (nothing loaded).
 */
function loadTo(index: u32, vm: Vm, state: InterpreterState, pc: u32, to: u32, kind: u32, address: u32): bool {
  const width: u32 = kind >= 4 ? 4 : kind >= 2 ? 2 : 1;
  if (address - GUEST_BASE > vm.memorySize - width) { outOfRange(index, state, pc, address); return false; }
  const crosses = u32(address & PAGE_OFFSET_MASK) > PAGE_SIZE - width;
  if ((!mapped(address) || crosses) && !fault(index, vm, state, pc, address, width)) return false;
  if (kind >= 4) store32(to, load32(address));
  else if (kind >= 2) store32(to, kind === 2 ? u32((load16(address) << 16) >> 16) : u32(load16(address)));
  else store32(to, kind === 0 ? u32((load8(address) << 24) >> 24) : u32(load8(address)));
  return true;
}
