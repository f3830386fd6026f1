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
//
// Hypercalls are direct calls into the dispatcher (hypercall.ts hypercallDirect) with the same ABI as a
// hardware VM's: the VM's save area holds eax (number, then result), ebx, ecx, edx, esi; idle's batch
// arrives in eax at the switch-in (scheduler.ts deliverBatch) and is stored into the call's result then.
// A bytecode VM's save area holds no frame to resume (the idle loop's frame is copied over it when the VM
// is preempted): eip holds the function running at a hypercall (what exit's end line names). The decoder makes
// the intrinsic I_HYPERCALL, run inline by the dispatch loop.
//
// A VM's interpreter area's address is kept in vm.fpuArea (a bytecode VM has no x87 state; cleared by
// bytecodeVmRelease, before the scheduler's fpuRelease would look at it; the area goes with the kernel frame,
// vm.ts).
//
// The interpreter in five files: this one (a VM's preparation, its slices, the dispatch loop with the hot
// instructions inline), bytecode-state.ts (a VM's state and call records, memory checks, ends), bytecode-calls.ts
// (calls, returns and traps off the fast path; call records in chunks), bytecode-threads.ts (contexts) and
// bytecode-intrinsics.ts (intrinsics and hypercalls).
import {
  bool, i32, u8, u16, u32, load8, load16, load32, store8, store16, store32, memoryCopy, memoryFill, overlay, mulHigh,
} from "dsl";
import {
  I_BINARY, I_LOAD, I_STORE, I_NEG, I_NOT, I_CONST, I_COPY, I_SLOT, I_SELECT, I_CALL, I_CALL_INDIRECT, I_INTRINSIC,
  I_TRAP, I_JUMP, I_BRANCH, I_RETURN, I_UNREACHABLE, I_COMPARE_BRANCH, I_ADD_LOAD, I_ADD_STORE, I_SHIFT_ADD, I_FUEL,
  I_CONST_CONST, I_ADD_LTS_BRANCH, I_ADD_LTU_BRANCH, I_MUL_ADD, I_SHIFT_ADD_LOAD32, I_SHIFT_ADD_STORE32, I_SHRU_AND,
  I_CONST_ADD, I_CONST_SUB, I_HYPERCALL,
} from "./bytecode-ops.ts";
import { GUEST_MAGIC, GUEST_BASE } from "../abi/boot.ts";
import {
  VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNREACHABLE, VM_END_BYTECODE_UNSUPPORTED,
} from "../abi/hypercalls.ts";
import {
  decodedImages, NO_REGISTER, FUNCTION_WORDS, FUNCTION_CODE, FUNCTION_REGISTER_BYTES, FUNCTION_STACK_BYTES,
  FUNCTION_STACK_MASK,
} from "./bytecode-decode.ts";
import { Vm, vmAt, vmBootInfoAddress, vmBootPageMake, vmBootPageFrame, VM_RUNNING } from "./vm.ts";
import { schedulerLeaving } from "./scheduler.ts";
import { hypercallDirect, hypercallRetried } from "./hypercall.ts";
import { linearAreaOffset, linearKernelFrames } from "./linear.ts";
import { PAGE_SIZE, PAGE_SHIFT, PAGE_OFFSET_MASK } from "./frames.ts";
import {
  ACTIVATION_BYTES, ACTIVATION_FUNCTION, ACTIVATION_PREVIOUS, ACTIVATION_RESULT, ACTIVATION_RETURN, ACTIVATION_STACK,
  CONTEXT_LIMIT, CONTEXT_RUNNING, InterpreterState, STATE_BYTES, contextAt, recordsOffset, touch, trapEnd, waitOrEnd,
} from "./bytecode-state.ts";
import { CHUNK_HEADER, call, enter, leave, trap } from "./bytecode-calls.ts";
import { discard } from "./bytecode-threads.ts";
import { intrinsic } from "./bytecode-intrinsics.ts";

/** IR instructions a slice runs with interrupts off at most (a tick waits for at most one slice). */
const BYTECODE_FUEL: i32 = 4096;
/** The trap kind of a division by zero (compiler/ir.ts TRAP_DIVIDE_BY_ZERO). */
const TRAP_DIVIDE_BY_ZERO: u32 = 1;
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
    switch (load8(pc)) {              // a byte: its table needs no bounds check (opcodes < 256)
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
      case I_HYPERCALL: {
        // A direct call into the dispatcher (bytecode-intrinsics.ts has the ABI): the five registers into the
        // save area, the result back; a call that waits (a page, memory) is made again from pc later.
        const frame = vm.save;
        frame.eax = load32(registers + load32(pc + 16));
        frame.ebx = load32(registers + load32(pc + 20));
        frame.ecx = load32(registers + load32(pc + 24));
        frame.edx = load32(registers + load32(pc + 28));
        frame.esi = load32(registers + load32(pc + 32));
        frame.eip = load32(state.fp + ACTIVATION_FUNCTION);
        hypercallDirect(index, frame);          // (reads no state: state.pc is set below when it leaves)
        if (hypercallRetried()) {
          state.pc = pc;                        // on the call again; eip (moved back by retry) the function again
          frame.eip = load32(state.fp + ACTIVATION_FUNCTION);
          return;
        }
        const dst = load32(pc + 4);
        if (dst !== NO_REGISTER) store32(registers + dst, frame.eax);
        if (vm.state !== VM_RUNNING || schedulerLeaving()) {
          // Idle's batch comes in eax when the VM is switched in again: stored into the result then.
          if (dst !== NO_REGISTER && vm.blockedInIdle) state.pendingResult = registers + dst;
          state.pc = pc + 36;                   // go on after it (the call is made once)
          return;
        }
        pc += 36;
        continue;
      }
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
