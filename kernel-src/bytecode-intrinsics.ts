// The intrinsics a bytecode VM may call (bytecode-code.ts GUEST_INTRINSICS; the verifier refused the others),
// each with its checks: memoryCopy and memoryFill inside the VM's memory and resident, divideUnchecked by 0
// and invalidOpcode ending the VM as their exceptions would a hardware one.
//
// Hypercalls are direct calls into the dispatcher (hypercall.ts hypercallDirect) with the same ABI as a
// hardware VM's: the VM's save area holds eax (number, then result), ebx, ecx, edx, esi; idle's batch
// arrives in eax at the switch-in (scheduler.ts deliverBatch) and is stored into the call's result then.
// A bytecode VM's save area holds no frame to resume (the idle loop's frame is copied over it when the VM
// is preempted): eip holds the function running at a hypercall (what exit's end line names).
import { bool, i32, u8, u32, load32, store32, memoryCopy, memoryFill, rdtsc, rdtscHigh } from "dsl";
import { VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNSUPPORTED } from "../abi/hypercalls.ts";
import { NO_REGISTER } from "./bytecode-decode.ts";
import { Vm, VM_RUNNING } from "./vm.ts";
import { schedulerLeaving } from "./scheduler.ts";
import { hypercallDirect, hypercallRetried } from "./hypercall.ts";
import {
  ACTIVATION_BYTES, ACTIVATION_FUNCTION, InterpreterState, inMemory, touch, trapEnd,
} from "./bytecode-state.ts";
import { contextCreate, contextSwitch } from "./bytecode-threads.ts";

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
/** CRC32C's polynomial, reflected (compiler/ir.ts crc32cWord). */
const CRC32C_POLYNOMIAL: u32 = 0x82f63b78;

/** CRC32C of the word's four bytes, low byte first, bit by bit (compiler/ir.ts crc32cWord). */
function crc32Word(crc: u32, word: u32): u32 {
  let c = u32(crc ^ word);
  for (let bit = 0; bit < 32; bit++) c = u32((c >>> 1) ^ (CRC32C_POLYNOMIAL & u32(-i32(c & 1))));
  return c;
}

/** The intrinsic at `at` (dst, number, argc, args); false when the VM ended or leaves the CPU. */
export function intrinsic(index: u32, vm: Vm, state: InterpreterState, at: u32): bool {
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
