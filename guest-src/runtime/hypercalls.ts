// The hypercalls of the Denali virtual architecture (docs/virtual-architecture.md, "Hypercalls"):
// `sysenter` (compiled guests; `int 0x80` works too) with eax = number, ebx/ecx/edx/esi = arguments,
// result in eax (negative: an error).
// One typed wrapper per call, and `sleep` (the alarm and idle together); the numbers, error codes,
// virtual-interrupt bits and limits are the ABI's (abi/hypercalls.ts, their one definition).
import { i32, u32, hypercall } from "dsl";
import {
  HYPERCALL_EXIT, HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_READ_CLOCK, HYPERCALL_CONSOLE_WRITE,
  HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_MASK, HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD,
  HYPERCALL_VM_CREATE, HYPERCALL_VM_STOP, HYPERCALL_VM_LIST, HYPERCALL_VM_CONSOLE, HYPERCALL_MACHINE_STATUS,
  INTERRUPT_TIMER,
} from "../../abi/hypercalls.ts";

/** Ends this VM with `status`; never returns. */
export function exitVm(status: i32): void {
  hypercall(HYPERCALL_EXIT, u32(status), 0, 0, 0);
  while (true) {}   // not reached: the kernel does not return from exit
}

/**
 * Gives up the CPU until a virtual interrupt is pending; returns the pending mask, of which the bits of
 * `acknowledge` are cleared as it is delivered; writes the global clock at that moment to the 8 bytes
 * at `clock` unless it is 0 (or the page went to the swap disk meanwhile: then unchanged).
 */
export function idle(acknowledge: u32, clock: u32): i32 { return hypercall(HYPERCALL_IDLE, acknowledge, clock, 0, 0); }

/**
 * Sleeps `microseconds`: the alarm, then idle until it rings; the other events that come meanwhile are
 * acknowledged and dropped (for guests with nothing else to do: demos, tests' guests).
 */
export function sleep(microseconds: u32): void {
  setAlarm(microseconds);
  while (true) {
    const events = u32(idle(0, 0));
    interruptAcknowledge(events);
    if ((events & INTERRUPT_TIMER) !== 0) return;
  }
}

/** Raises INTERRUPT_TIMER `microseconds` from now (0 cancels the alarm). */
export function setAlarm(microseconds: u32): i32 { return hypercall(HYPERCALL_SET_ALARM, microseconds, 0, 0, 0); }

/** Writes the global clock (u64 nanoseconds, little-endian) to the 8 bytes at `address`. */
export function readClock(address: u32): i32 { return hypercall(HYPERCALL_READ_CLOCK, address, 0, 0, 0); }

/** Writes `length` bytes at `address` to the console; returns the bytes written. */
export function consoleWrite(address: u32, length: u32): i32 { return hypercall(HYPERCALL_CONSOLE_WRITE, address, length, 0, 0); }

/** Sends one Ethernet frame (FRAME_MIN..FRAME_MAX bytes at `address`); 0, or EAGAIN/EMSGSIZE/EFAULT. */
export function netSend(address: u32, length: u32): i32 { return hypercall(HYPERCALL_NET_SEND, address, length, 0, 0); }

/** Copies the next queued frame into `capacity` bytes at `address`; its length, or 0 when none is queued. */
export function netReceive(address: u32, capacity: u32): i32 { return hypercall(HYPERCALL_NET_RECEIVE, address, capacity, 0, 0); }

/** Sets the mask of enabled virtual interrupts; returns the previous mask. */
export function interruptMask(mask: u32): i32 { return hypercall(HYPERCALL_INTERRUPT_MASK, mask, 0, 0, 0); }

/** Clears `bits` of the pending mask; returns the bits still pending. */
export function interruptAcknowledge(bits: u32): i32 { return hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, bits, 0, 0, 0); }

/** Gives the rest of this quantum to the other runnable VMs (`yield` is a reserved word). */
export function yieldCpu(): i32 { return hypercall(HYPERCALL_YIELD, 0, 0, 0, 0); }

// ---- management: the control VM's calls (every other VM gets EPERM) -----------------------------------------

/**
 * Creates VMs as the VmCreateRequest (abi/hypercalls.ts) at `request` says; the first new VM's id (the
 * others follow), or an error (a refused image: ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS, EBADENTRY).
 */
export function vmCreate(request: u32): i32 { return hypercall(HYPERCALL_VM_CREATE, request, 0, 0, 0); }

/** Stops VM `id` (its memory freed at once); 0, or ESRCH, EINVAL (the caller itself), EAGAIN (swap in flight). */
export function vmStop(id: u32): i32 { return hypercall(HYPERCALL_VM_STOP, id, 0, 0, 0); }

/** Writes a VmStatus per VM from `first` into `capacity` bytes at `buffer`; how many (0: none left). */
export function vmList(first: u32, buffer: u32, capacity: u32): i32 {
  return hypercall(HYPERCALL_VM_LIST, first, buffer, capacity, 0);
}

/** Copies VM `id`'s last console bytes (at most `capacity`) to `buffer`, oldest first; how many. */
export function vmConsole(id: u32, buffer: u32, capacity: u32): i32 {
  return hypercall(HYPERCALL_VM_CONSOLE, id, buffer, capacity, 0);
}

/** Writes a MachineStatus (memory and VM counts) at `address`. */
export function machineStatus(address: u32): i32 { return hypercall(HYPERCALL_MACHINE_STATUS, address, 0, 0, 0); }
