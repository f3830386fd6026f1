// The intrinsics a bytecode VM may call (bytecode-code.ts GUEST_INTRINSICS; the verifier refused the others),
// each with its checks: memoryCopy and memoryFill inside the VM's memory and resident, divideUnchecked by 0
// and invalidOpcode ending the VM as their exceptions would a hardware one.
//
// `hypercall` is not here: the decoder makes it I_HYPERCALL, which the dispatch loop runs inline
// (bytecode-interp.ts, whose contract gives its ABI).
import { bool, i32, u8, u32, load32, store32, memoryCopy, memoryFill, rdtsc, rdtscHigh } from "dsl";
import { VM_END_BYTECODE_BOUNDS, VM_END_BYTECODE_UNSUPPORTED } from "../abi/hypercalls.ts";
import {
  INTRINSIC_PAUSE, INTRINSIC_RDTSC, INTRINSIC_RDTSC_HIGH, INTRINSIC_MEMORY_COPY, INTRINSIC_MEMORY_FILL,
  INTRINSIC_INVALID_OPCODE, INTRINSIC_DIVIDE_UNCHECKED, INTRINSIC_CONTEXT_SWITCH,
  INTRINSIC_CONTEXT_CREATE, INTRINSIC_CRC32_WORD,
} from "../abi/bytecode.ts";
import { NO_REGISTER } from "./bytecode-decode.ts";
import { Vm } from "./vm.ts";
import {
  ACTIVATION_BYTES, InterpreterState, inMemory, touch, trapEnd,
} from "./bytecode-state.ts";
import { contextCreate, contextSwitch } from "./bytecode-threads.ts";

/** The exception vectors a hardware VM would end with: #DE for divideUnchecked by 0, #UD for invalidOpcode. */
const VECTOR_DIVIDE_ERROR: u32 = 0;
const VECTOR_INVALID_OPCODE: u32 = 6;
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

