// The guest ABI's calls (docs/virtual-architecture.md "Hypercalls", "Virtual interrupts"): the one
// definition of every hypercall number, error code, virtual-interrupt bit and limit a guest sees.
// `int 0x80` with eax = number, ebx/ecx/edx/esi = arguments, the result in eax (negative: an error).
// Imported by the kernel (kernel-src/hypercall.ts dispatches on these numbers), the guest runtime
// (guest-src/runtime/hypercalls.ts wraps each call), the test guests and harnesses, and checked
// against the docs' tables by test/abi/abi.test.ts. Nothing here may be defined anywhere else.
// Adding a hypercall: docs/virtual-architecture.md "Adding a hypercall" lists every file it touches.
import { u32 } from "dsl";

/** The interrupt vector of `int 0x80` (its gate has DPL 3: kernel-src/hypercall.ts installs it). */
export const HYPERCALL_VECTOR = 0x80;

// ---- numbers ---------------------------------------------------------------------------------------
export const HYPERCALL_EXIT = 0;
export const HYPERCALL_IDLE = 1;
export const HYPERCALL_SET_ALARM = 2;
export const HYPERCALL_READ_CLOCK = 3;
export const HYPERCALL_CONSOLE_WRITE = 4;
export const HYPERCALL_NET_SEND = 5;
export const HYPERCALL_NET_RECEIVE = 6;
export const HYPERCALL_INTERRUPT_MASK = 7;
export const HYPERCALL_INTERRUPT_ACKNOWLEDGE = 8;
export const HYPERCALL_YIELD = 9;
/** One past the last defined number: every number from here on answers EINVAL. */
export const HYPERCALL_COUNT = 10;

// ---- error codes (results < 0) ------------------------------------------------------------------------
/** Unknown number or bad argument. */
export const EINVAL = -1;
/** An address range not entirely inside the VM's own memory (or not writable where the kernel writes). */
export const EFAULT = -2;
/** A queue is full: try again later. */
export const EAGAIN = -3;
/** A frame too large or too small (Ethernet: FRAME_MIN..FRAME_MAX bytes). */
export const EMSGSIZE = -4;

// ---- virtual interrupts (bits of the pending and enabled masks) -----------------------------------------
/** The alarm set with setAlarm expired. */
export const INTERRUPT_TIMER: u32 = 1;
/** A frame was queued for netReceive. */
export const INTERRUPT_NET: u32 = 2;
/** The VM was switched back in after being descheduled: recalibrate against readClock. */
export const INTERRUPT_WAKEUP: u32 = 4;
export const INTERRUPT_ALL: u32 = 7;

// ---- limits -------------------------------------------------------------------------------------------
/** netSend's frame sizes: an Ethernet frame without FCS, header (14 bytes) to 1514 bytes (IEEE 802.3). */
export const FRAME_MIN = 14;
export const FRAME_MAX = 1514;
/** readClock and idle write the global clock in this many bytes: u64 nanoseconds, little-endian. */
export const CLOCK_BYTES: u32 = 8;
/** Consecutive bad calls (EINVAL, EFAULT, EMSGSIZE) after which the kernel ends the VM as hostile. */
export const HYPERCALL_ERROR_LIMIT: u32 = 1000;
