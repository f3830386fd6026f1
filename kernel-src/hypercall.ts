// Hypercalls: `int 0x80` from ring 3 (an interrupt gate with DPL 3, trap.ts/idt.ts), eax = number,
// arguments in ebx, ecx, edx, esi, the result in eax; every other register is preserved
// (docs/virtual-architecture.md "Hypercalls", the table there is the contract).
// Every address and length is checked against the calling VM's range before use (vmRangeValid: no
// overflow) and the bytes are copied in or out exactly once (no double fetch). Bad calls return an
// error; more than HYPERCALL_ERROR_LIMIT of them in a row end the VM as hostile. A call that must map a
// demand-zero page of the VM and cannot (vm.ts "Memory quotas": over its reservation, pool empty) ends
// the VM "out of memory", as the #PF of the same touch would (scheduler.ts): never an EFAULT.
import { bool, i32, u32, store32 } from "dsl";
import { vmAt, vmRangeValid, vmPrepareRange, vmTakeOutOfMemory, END_EXIT, END_BAD_HYPERCALLS, END_OUT_OF_MEMORY }
  from "./vm.ts";
import { TrapFrame } from "./trapframe.ts";
import {
  HYPERCALL_EXIT, HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_READ_CLOCK, HYPERCALL_CONSOLE_WRITE,
  HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_MASK, HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD,
  EINVAL, EFAULT, EMSGSIZE, HYPERCALL_ERROR_LIMIT,
} from "../abi/hypercalls.ts";
import { trapSetHypercallHandler } from "./trap.ts";
import { schedulerCurrent, schedulerEnd, schedulerYieldCurrent, VM_NONE_INDEX } from "./scheduler.ts";
import { virqIdle, virqSetAlarm, virqSetMask, virqAcknowledge } from "./vinterrupt.ts";
import { switchInit, switchSend, switchReceive } from "./switch.ts";
import { Nanoseconds, clockRead } from "./clock.ts";
import { consoleGuestWrite } from "./console.ts";

// The numbers, error codes and HYPERCALL_ERROR_LIMIT are the guest ABI's one definition (abi/hypercalls.ts),
// imported by the guests' runtime too, so the two sides cannot drift apart.
const CLOCK_BYTES: u32 = 8;

const clockNow = new Nanoseconds();
let hypercallCount: u32 = 0;
export function hypercallTotal(): u32 { return hypercallCount; }

export function hypercallInit(): void {
  switchInit();
  trapSetHypercallHandler(hypercallDispatch);
}

/** Queues the bytes for the console (console.ts: prefixed, escaped, rate-limited per VM). */
function consoleWrite(index: u32, address: u32, length: u32): i32 {
  if (!vmRangeValid(vmAt(u32(index)), address, length)) return EFAULT;
  return consoleGuestWrite(index, address, length);
}

function readClock(index: u32, address: u32): i32 {
  const vm = vmAt(u32(index));
  if (!vmRangeValid(vm, address, CLOCK_BYTES) || !vmPrepareRange(vm, address, CLOCK_BYTES, true)) return EFAULT;
  clockRead(clockNow);
  store32(address, clockNow.low);
  store32(address + 4, clockNow.high);
  return 0;
}

function bad(result: i32): bool { return result === EINVAL || result === EFAULT || result === EMSGSIZE; }

/** The trap.ts handler for vector 0x80 from ring 3. */
function hypercallDispatch(frame: TrapFrame): void {
  const current = schedulerCurrent();
  if (current === VM_NONE_INDEX) return;
  const index = u32(current);
  hypercallCount++;
  const a = frame.ebx, b = frame.ecx;
  let result: i32 = EINVAL;
  switch (frame.eax) {
    case HYPERCALL_EXIT:
      schedulerEnd(index, END_EXIT, a, frame.eip, 0);
      result = 0;
      break;
    case HYPERCALL_IDLE: result = i32(virqIdle(index)); break;
    case HYPERCALL_SET_ALARM: result = virqSetAlarm(index, a); break;
    case HYPERCALL_READ_CLOCK: result = readClock(index, a); break;
    case HYPERCALL_CONSOLE_WRITE: result = consoleWrite(index, a, b); break;
    case HYPERCALL_NET_SEND: result = switchSend(index, a, b); break;
    case HYPERCALL_NET_RECEIVE: result = switchReceive(index, a, b); break;
    case HYPERCALL_INTERRUPT_MASK: result = i32(virqSetMask(index, a)); break;
    case HYPERCALL_INTERRUPT_ACKNOWLEDGE: result = i32(virqAcknowledge(index, a)); break;
    case HYPERCALL_YIELD: schedulerYieldCurrent(); result = 0; break;
  }
  frame.eax = u32(result);
  if (vmTakeOutOfMemory()) { schedulerEnd(index, END_OUT_OF_MEMORY, 0, frame.eip, a); return; }
  const vm = vmAt(u32(index));
  if (!bad(result)) { vm.badCalls = 0; return; }
  vm.badCalls++;
  if (vm.badCalls > HYPERCALL_ERROR_LIMIT) schedulerEnd(index, END_BAD_HYPERCALLS, 0, frame.eip, 0);
}
