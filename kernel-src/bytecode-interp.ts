// The in-kernel interpreter of bytecode VMs (issue 18, docs/bytecode.md "Bytecode VMs"): runs the code
// bytecode-decode.ts pre-decoded from a verified image, for VM `index`, a slice of BYTECODE_FUEL
// instructions at a time (the scheduler's idle loop calls bytecodeSlice with interrupts off; between
// slices the timer's IRQ comes in, so a bytecode VM is preempted and charged like a hardware one).
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
import {
  OP_CONST, OP_COPY, OP_SLOT_ADDRESS, OP_CALL, OP_CALL_INDIRECT, OP_INTRINSIC, OP_TRAP, OP_SELECT, TERM_JUMP,
  TERM_BRANCH, TERM_RETURN, TERM_UNREACHABLE, FUNCTION_ADDRESS_BASE, FUNCTION_ADDRESS_STRIDE, OP_BINARY_BASE,
  BINARY_OPCODE_COUNT, OP_LOAD_BASE, LOAD_OPCODE_COUNT, OP_STORE_BASE, STORE_OPCODE_COUNT, OP_UNARY_BASE,
} from "../abi/bytecode.ts";
import { GUEST_MAGIC, GUEST_BASE } from "../abi/boot.ts";
import {
  VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNREACHABLE, VM_END_BYTECODE_CALL, VM_END_BYTECODE_TRAP_RETURNED,
  VM_END_BYTECODE_UNSUPPORTED, VM_END_BYTECODE_CONTEXT, VM_END_BYTECODE_CONTEXTS, VM_END_BYTECODE_CONTEXT_RETURNED,
} from "../abi/hypercalls.ts";
import {
  decodedImages, NO_REGISTER, FUNCTION_WORDS, FUNCTION_CODE, FUNCTION_PARAMETERS, FUNCTION_REGISTERS,
  FUNCTION_FRAME_BYTES, FUNCTION_FRAME_ALIGN, FUNCTION_RETURNS,
} from "./bytecode-decode.ts";
import {
  Vm, vmAt, vmBootInfoAddress, vmBootPageMake, vmBootPageFrame, vmPrepareRange, vmTakeOutOfMemory, vmTakeSwappedPage,
  vmKernelFrames, vmKernelFramesFree, END_EXIT, END_STACK_OVERFLOW, END_OUT_OF_MEMORY, VM_RUNNING,
} from "./vm.ts";
import { linearAreaOffset, linearKernelFrames } from "./linear.ts";
import { schedulerEnd, schedulerLeaving, schedulerWaitForPage, schedulerWaitForMemory } from "./scheduler.ts";
import { hypercallDirect, hypercallRetried } from "./hypercall.ts";
import { FRAME_NONE, PAGE_SIZE, PAGE_SHIFT } from "./frames.ts";

/** IR instructions a slice runs with interrupts off at most (a tick waits for at most one slice). */
const BYTECODE_FUEL: u32 = 4096;
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
/** A call takes this much of the guest's stack besides its slots (the reference's native return address). */
const CALL_OVERHEAD: u32 = 16;
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
// Opcodes by name (abi/bytecode.ts has the bases; format.ts names each op).
const BINARY_END = OP_BINARY_BASE + BINARY_OPCODE_COUNT;
const LOAD_END = OP_LOAD_BASE + LOAD_OPCODE_COUNT;
const STORE_END = OP_STORE_BASE + STORE_OPCODE_COUNT;
const OP_LOAD_8S = OP_LOAD_BASE;
const OP_LOAD_8U = OP_LOAD_BASE + 1;
const OP_LOAD_16S = OP_LOAD_BASE + 2;
const OP_LOAD_16U = OP_LOAD_BASE + 3;
const OP_STORE_8 = OP_STORE_BASE;
const OP_STORE_16 = OP_STORE_BASE + 1;
const OP_NEGATE = OP_UNARY_BASE;
const OP_NOT = OP_UNARY_BASE + 1;
/** Binary kinds (opcode - OP_BINARY_BASE, format.ts BINARY_OPS) from divs to remu: they trap on a zero divisor. */
const BINARY_DIVS: u32 = 3;
const BINARY_REMU: u32 = 6;
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
  const image = decodedImages[state.group];
  const record = image.functions + callee * FUNCTION_WORDS * 4;
  let fp = state.top;
  let registers = fp + ACTIVATION_BYTES;
  const bytes = load32(record + FUNCTION_REGISTERS * 4) << 2;
  const frameBytes = load32(record + FUNCTION_FRAME_BYTES * 4) + CALL_OVERHEAD;
  const sp = u32((state.sp - frameBytes) & ~(load32(record + FUNCTION_FRAME_ALIGN * 4) - 1));
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
  const image = decodedImages[state.group];
  const callerRegisters = state.fp + ACTIVATION_BYTES;
  const dst = load32(at + 4);
  let callee = load32(at + 8);
  const count = load32(at + 12);
  if (indirect) {
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

/**
 * True when both ends of [address, address + width) (inside the VM's memory) are in resident pages of its
 * page map (linear.ts: bit 0 of an entry), so the access goes straight through the window.
 */
function resident(map: u32, address: u32, width: u32): bool {
  const offset = address - GUEST_BASE;
  const first = load32(map + (offset >>> PAGE_SHIFT) * 4);
  const last = load32(map + ((offset + width - 1) >>> PAGE_SHIFT) * 4);
  return (first & last & 1) !== 0;
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

/** A binary operation (opcode - OP_BINARY_BASE = `kind`) of a and b; b is not 0 for the divisions. */
function binary(kind: u32, a: u32, b: u32): u32 {
  switch (kind) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return u32(Math.imul(i32(a), i32(b)));
    case 3: return u32(i32(a) / i32(b));
    case 4: return a / b;
    case 5: return u32(i32(a) % i32(b));
    case 6: return a % b;
    case 7: return u32(a & b);
    case 8: return u32(a | b);
    case 9: return u32(a ^ b);
    case 10: return u32(a << b);
    case 11: return u32(i32(a) >> b);
    case 12: return a >>> b;
    case 13: return a === b ? 1 : 0;
    case 14: return a !== b ? 1 : 0;
    case 15: return i32(a) < i32(b) ? 1 : 0;
    case 16: return i32(a) <= i32(b) ? 1 : 0;
    case 17: return i32(a) > i32(b) ? 1 : 0;
    case 18: return i32(a) >= i32(b) ? 1 : 0;
    case 19: return a < b ? 1 : 0;
    case 20: return a <= b ? 1 : 0;
    case 21: return a > b ? 1 : 0;
    case 22: return a >= b ? 1 : 0;
    case 23: return mulHighSigned(a, b);
  }
  return mulHigh(a, b);
}

/**
 * The interpreter's loop: at most BYTECODE_FUEL instructions, or until the VM ends or leaves the CPU.
 * The state lives in locals (pc, registers, the memory's bounds); calls, returns, intrinsics and traps
 * write it back to `state` and read it again.
 */
function run(index: u32, vm: Vm, state: InterpreterState): void {
  let pc = state.pc, registers = state.fp + ACTIVATION_BYTES;
  const size = vm.memorySize, map = vm.space;     // map: the VM's page map (linear.ts), a word a page
  for (let fuel = BYTECODE_FUEL; fuel > 0; fuel--) {
    const op = load32(pc);
    if (op >= OP_BINARY_BASE && op < BINARY_END) {       // binary: dst a b
      const kind = op - OP_BINARY_BASE, b = load32(registers + load32(pc + 12));
      if (b === 0 && kind >= BINARY_DIVS && kind <= BINARY_REMU) {
        state.pc = pc;
        if (!trap(index, state, TRAP_DIVIDE_BY_ZERO)) return;
        pc = state.pc;
        registers = state.fp + ACTIVATION_BYTES;
        continue;
      }
      store32(registers + load32(pc + 4), binary(kind, load32(registers + load32(pc + 8)), b));
      pc += 16;
      continue;
    }
    if (op >= OP_LOAD_BASE && op < LOAD_END) {           // load: dst address offset
      const address = load32(registers + load32(pc + 8)) + load32(pc + 12);
      const width: u32 = u32(1 << ((op - OP_LOAD_BASE) >>> 1));
      if (address - GUEST_BASE > size - width) {
        state.pc = pc;
        trapEnd(index, state, VM_END_BYTECODE_BOUNDS, address);
        return;
      }
      if (!resident(map, address, width)) {
        state.pc = pc;
        if (!touch(index, vm, state, address, width)) return;
      }
      let value: u32 = 0;
      if (op === OP_LOAD_8S) value = u32((load8(address) << 24) >> 24);
      else if (op === OP_LOAD_8U) value = load8(address);
      else if (op === OP_LOAD_16S) value = u32((load16(address) << 16) >> 16);
      else if (op === OP_LOAD_16U) value = load16(address);
      else value = load32(address);
      store32(registers + load32(pc + 4), value);
      pc += 16;
      continue;
    }
    if (op >= OP_STORE_BASE && op < STORE_END) {         // store: address offset value
      const address = load32(registers + load32(pc + 4)) + load32(pc + 8);
      const width: u32 = u32(1 << (op - OP_STORE_BASE));
      if (address - GUEST_BASE > size - width) {
        state.pc = pc;
        trapEnd(index, state, VM_END_BYTECODE_BOUNDS, address);
        return;
      }
      if (!resident(map, address, width)) {
        state.pc = pc;
        if (!touch(index, vm, state, address, width)) return;
      }
      const value = load32(registers + load32(pc + 12));
      if (op === OP_STORE_8) store8(address, u8(value));
      else if (op === OP_STORE_16) store16(address, u16(value));
      else store32(address, value);
      pc += 16;
      continue;
    }
    switch (op) {
      case OP_CONST: store32(registers + load32(pc + 4), load32(pc + 8)); pc += 12; continue;
      case OP_COPY: store32(registers + load32(pc + 4), load32(registers + load32(pc + 8))); pc += 12; continue;
      case OP_SLOT_ADDRESS: store32(registers + load32(pc + 4), state.sp + load32(pc + 8)); pc += 12; continue;
      case OP_SELECT: {
        const chosen = load32(registers + load32(pc + 8)) !== 0 ? load32(pc + 12) : load32(pc + 16);
        store32(registers + load32(pc + 4), load32(registers + chosen));
        pc += 20;
        continue;
      }
      case OP_NEGATE:
        store32(registers + load32(pc + 4), u32(0 - load32(registers + load32(pc + 8))));
        pc += 12;
        continue;
      case OP_NOT: store32(registers + load32(pc + 4), u32(~load32(registers + load32(pc + 8)))); pc += 12; continue;
      case TERM_JUMP: pc = load32(pc + 4); continue;
      case TERM_BRANCH: pc = load32(registers + load32(pc + 4)) !== 0 ? load32(pc + 8) : load32(pc + 12); continue;
    }
    // The rest leave the loop's locals: state.pc first, everything read back after.
    state.pc = pc;
    let going = true;
    if (op === OP_CALL || op === OP_CALL_INDIRECT) going = call(index, state, pc, op === OP_CALL_INDIRECT);
    else if (op === OP_INTRINSIC) going = intrinsic(index, vm, state, pc);
    else if (op === OP_TRAP) going = trap(index, state, load32(pc + 4));
    else if (op === TERM_RETURN) going = leave(index, state, load32(pc + 4));
    else {
      trapEnd(index, state, op === TERM_UNREACHABLE ? VM_END_BYTECODE_UNREACHABLE : VM_END_BYTECODE_UNSUPPORTED, op);
      return;
    }
    if (!going) return;
    pc = state.pc;
    registers = state.fp + ACTIVATION_BYTES;
  }
  state.pc = pc;
}
