// The guest ABI's calls (docs/virtual-architecture.md "Hypercalls", "Virtual interrupts"): the one
// definition of every hypercall number, error code, virtual-interrupt bit and limit a guest sees.
// `int 0x80` with eax = number, ebx/ecx/edx/esi = arguments, the result in eax (negative: an error).
// Imported by the kernel (kernel-src/hypercall.ts dispatches on these numbers), the guest runtime
// (guest-src/runtime/hypercalls.ts wraps each call), the test guests and harnesses, and checked
// against the docs' tables by test/abi/abi.test.ts. Nothing here may be defined anywhere else.
// Adding a hypercall: docs/virtual-architecture.md "Adding a hypercall" lists every file it touches.
// The management calls (10..14) answer only the control VM (a manifest group with `control`); every
// other VM gets EPERM (docs/virtual-architecture.md "Management hypercalls").
import { u32 } from "dsl";

/** The interrupt vector of `int 0x80` (its gate has DPL 3: kernel-src/hypercall.ts installs it). */
export const HYPERCALL_VECTOR = 0x80;
/**
 * The fast way in, which compiled guests use (compiler/x86/lower.ts): `sysenter` (SDM Vol. 2B) with eax, ebx,
 * ecx, edx, esi as for `int 0x80`, edi = the stack pointer and ebp = the address to return to; the result in
 * eax, edi and ebp clobbered, the other registers kept. The sequence `mov edi, esp; mov ebp, <the address
 * after it>; sysenter` is SYSENTER_CALL_BYTES long, so that a call the kernel makes again after a wait
 * (kernel-src/hypercall.ts retry) starts it over. Same calls, same checks as `int
 * 0x80`, which stays for hand-written guests; under QEMU's TCG an `int` is an exception taken under the
 * emulator's global lock and `sysenter` is not (docs/virtual-architecture.md "Hypercalls").
 */
export const SYSENTER_CALL_BYTES = 9;
/** The vector a trap frame records for a hypercall made by `sysenter` (above the IDT's 0..255). */
export const SYSENTER_FRAME_VECTOR = 0x100;

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
export const HYPERCALL_VM_CREATE = 10;
export const HYPERCALL_VM_STOP = 11;
export const HYPERCALL_VM_LIST = 12;
export const HYPERCALL_VM_CONSOLE = 13;
export const HYPERCALL_MACHINE_STATUS = 14;
/** One past the last defined number: every number from here on answers EINVAL. */
export const HYPERCALL_COUNT = 15;

// ---- error codes (results < 0) ------------------------------------------------------------------------
/** Unknown number or bad argument. */
export const EINVAL = -1;
/** An address range not entirely inside the VM's own memory (or not writable where the kernel writes). */
export const EFAULT = -2;
/** A queue is full: try again later. */
export const EAGAIN = -3;
/** A frame too large or too small (Ethernet: FRAME_MIN..FRAME_MAX bytes). */
export const EMSGSIZE = -4;
/** A management call from a VM without the control capability. */
export const EPERM = -5;
/** Not enough memory for what was asked (the VMs' reservations, the kernel's tables, the image's frames). */
export const ENOMEM = -6;
/** A pushed image is not an ELF32 i386 executable (its header: magic, class, data, type, machine, table). */
export const ENOEXEC = -7;
/** A pushed image's PT_LOAD segment is misaligned, overlaps another, or lies outside the guest range or the file. */
export const EBADSEGMENT = -8;
/** A pushed image has more PT_LOAD segments than a guest image may (4). */
export const ETOOMANYSEGMENTS = -9;
/** A pushed image's entry point is not in an executable segment. */
export const EBADENTRY = -10;
/** The IPv4 addresses asked for overlap those of VMs that exist. */
export const EADDRINUSE = -11;
/** No such VM (an id never created), or it has ended (vmStop). */
export const ESRCH = -12;
/** No room: the VM table is full (VM_LIMIT) or every image slot holds VMs. */
export const ENOSPC = -13;

// ---- virtual interrupts (bits of the pending and enabled masks) -----------------------------------------
/** The alarm set with setAlarm expired. */
export const INTERRUPT_TIMER: u32 = 1;
/** A frame was queued for netReceive. */
export const INTERRUPT_NET: u32 = 2;
/** The VM was switched back in after being descheduled: recalibrate against readClock. */
export const INTERRUPT_WAKEUP: u32 = 4;
export const INTERRUPT_ALL: u32 = 7;
/**
 * Not an event: a mode bit of the enabled mask (interruptMask). While it is set, a frame for the VM that is
 * a bare TCP acknowledgement (IPv4, TCP, ACK without SYN, FIN, RST or URG, no data: nothing for the VM to do
 * but free what it sent) sets NET pending without waking the idle VM, as long as fewer than LAZY_ACK_QUEUE
 * frames wait for it; its next wake-up, for any event, delivers it with the rest (the switch's `acks held`).
 */
export const INTERRUPT_LAZY_ACKS: u32 = 8;
/** What interruptMask keeps of its argument: the events and the mode bits. */
export const ENABLED_MASK_BITS: u32 = INTERRUPT_ALL | INTERRUPT_LAZY_ACKS;
/** A held acknowledgement wakes the VM anyway when this many frames wait for it. */
export const LAZY_ACK_QUEUE: u32 = 16;

// ---- limits -------------------------------------------------------------------------------------------
/** netSend's frame sizes: an Ethernet frame without FCS, header (14 bytes) to 1514 bytes (IEEE 802.3). */
export const FRAME_MIN = 14;
export const FRAME_MAX = 1514;
/** readClock and idle write the global clock in this many bytes: u64 nanoseconds, little-endian. */
export const CLOCK_BYTES: u32 = 8;
/** Consecutive bad calls (EINVAL, EFAULT, EMSGSIZE) after which the kernel ends the VM as hostile. */
export const HYPERCALL_ERROR_LIMIT: u32 = 1000;

// ---- management (the control VM's calls) ------------------------------------------------------------------
/** vmCreate: the most VMs one call creates, and the largest image it takes (bytes). */
export const VM_CREATE_LIMIT: u32 = 4096;
export const IMAGE_BYTES_LIMIT: u32 = 8 * 1024 * 1024;
/**
 * CPU shares (docs/virtual-architecture.md "Scheduling and accounting"): a VM's weight,
 * SHARE_WEIGHT_MIN..MAX (0 in a request: SHARE_WEIGHT_DEFAULT), and its cap, a percentage of the CPU
 * 1..SHARE_CAP_MAX (0: none).
 */
export const SHARE_WEIGHT_MIN: u32 = 1;
export const SHARE_WEIGHT_MAX: u32 = 10000;
export const SHARE_WEIGHT_DEFAULT: u32 = 100;
export const SHARE_CAP_MAX: u32 = 100;
/**
 * Network rate limits (docs/virtual-architecture.md "Network rate limits"; kernel-src/netlimit.ts): a VM's
 * packets/s and bytes/s on send and on receive, each 0 for none. A byte rate is at least NET_BYTE_RATE_MIN
 * (one largest frame a second); each bucket lets NET_LIMIT_BURST_MILLISECONDS of its rate through at once.
 */
export const NET_BYTE_RATE_MIN: u32 = FRAME_MAX;
export const NET_LIMIT_BURST_MILLISECONDS: u32 = 20;

/**
 * vmCreate's request (ebx points at one; the kernel copies it once): `count` VMs of the ELF image at
 * [imageAddress, imageAddress + imageLength) in the caller's memory, each with `memoryKiB` of memory of
 * which `guaranteedKiB` reserved, `argument` in its boot page, and consecutive IPv4 addresses from
 * `ipAddress` (network byte order, not 0) with `netmask` and `gateway` (network byte order; netmask 0:
 * the control VM's own netmask and gateway), and each the CPU weight `cpuWeight` (0: the default) and
 * cap `cpuCapPercent` (0: none), the network rate limits (0: none; a byte rate 0 or at least
 * NET_BYTE_RATE_MIN), and the memory cap `memoryCapKiB` (0: none; else a multiple of 4, at least the VM's
 * reservation: the frames it may hold at once, pages and page tables).
 */
export class VmCreateRequest {
  imageAddress: u32 = 0;
  imageLength: u32 = 0;
  count: u32 = 0;
  memoryKiB: u32 = 0;
  guaranteedKiB: u32 = 0;
  argument: u32 = 0;
  ipAddress: u32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;
  cpuWeight: u32 = 0;          // 0: SHARE_WEIGHT_DEFAULT
  cpuCapPercent: u32 = 0;      // 0: no cap
  txPacketsPerSecond: u32 = 0; // frames it may send a second, 0: no limit
  txBytesPerSecond: u32 = 0;   // bytes it may send a second, 0: no limit
  rxPacketsPerSecond: u32 = 0; // frames it may be given a second, 0: no limit
  rxBytesPerSecond: u32 = 0;   // bytes it may be given a second, 0: no limit
  memoryCapKiB: u32 = 0;       // memory it may hold at once (pages and page tables), 0: no cap
}

// VmStatus.state
export const VM_STATE_RUNNABLE: u32 = 1;   // waiting for the CPU
export const VM_STATE_RUNNING: u32 = 2;    // on the CPU (the caller itself)
export const VM_STATE_IDLE: u32 = 3;       // idle until an event (or waiting for memory or a page)
export const VM_STATE_ENDED: u32 = 4;      // see endReason
// VmStatus.flags
export const VM_FLAG_SWAPPED: u32 = 1;     // its memory is on the swap disk (or on its way there or back)
export const VM_FLAG_CONTROL: u32 = 2;     // the control VM
// VmStatus.endReason: an x86 exception vector (0..31, the VM faulted), or one of these.
export const VM_END_EXIT: u32 = 0x100;             // it called exit (exitStatus)
export const VM_END_BAD_HYPERCALLS: u32 = 0x101;   // more than HYPERCALL_ERROR_LIMIT bad calls in a row
export const VM_END_OUT_OF_MEMORY: u32 = 0x102;
export const VM_END_VIRTUAL_8086: u32 = 0x103;
export const VM_END_STACK_OVERFLOW: u32 = 0x104;
export const VM_END_SWAP_CORRUPTION: u32 = 0x105;
export const VM_END_SWAP_READ_ERROR: u32 = 0x106;
export const VM_END_STOPPED: u32 = 0x107;          // stopped by the control VM (vmStop)
// A bytecode VM's traps (kernel-src/bytecode-interp.ts); its stack overflow is VM_END_STACK_OVERFLOW.
export const VM_END_BYTECODE_BOUNDS: u32 = 0x108;       // a load, store, copy or fill outside its memory
export const VM_END_BYTECODE_UNREACHABLE: u32 = 0x109;  // it executed `unreachable`
export const VM_END_BYTECODE_CALL: u32 = 0x10a;         // an indirect call of no function, or with the wrong shape
export const VM_END_BYTECODE_TRAP_RETURNED: u32 = 0x10b; // its trap handler returned
export const VM_END_BYTECODE_UNSUPPORTED: u32 = 0x10c;  // an opcode or intrinsic the interpreter does not implement
export const VM_END_BYTECODE_CONTEXT: u32 = 0x10d;      // contextSwitch to no context, or contextCreate of a bad stack
export const VM_END_BYTECODE_CONTEXTS: u32 = 0x10e;     // contextCreate beyond the interpreter's contexts a VM
export const VM_END_BYTECODE_CONTEXT_RETURNED: u32 = 0x10f; // the entry function of a created context returned

/** vmList's record of one VM: what the console's `vms` shows (its accounting). */
export class VmStatus {
  id: u32 = 0;
  state: u32 = 0;              // VM_STATE_*
  flags: u32 = 0;              // VM_FLAG_*
  endReason: u32 = 0;          // when ended: VM_END_* or an exception vector
  exitStatus: u32 = 0;         // when it called exit
  ipAddress: u32 = 0;          // network byte order
  memoryKiB: u32 = 0;          // its memory size
  residentKiB: u32 = 0;        // frames held for it now: pages and page tables
  reservedKiB: u32 = 0;        // its reservation
  cpuLow: u32 = 0;             // TSC cycles it ran (64-bit)
  cpuHigh: u32 = 0;
  switches: u32 = 0;           // times it was switched in
  rxPackets: u32 = 0;          // frames queued for it, and their bytes
  rxBytes: u32 = 0;
  txPackets: u32 = 0;          // frames it sent that the switch forwarded, and their bytes
  txBytes: u32 = 0;
  dropped: u32 = 0;            // frames for it dropped (queue full, no buffer)
  spoofed: u32 = 0;            // frames it sent with another address or type: dropped
  refused: u32 = 0;            // its netSend EAGAINs from the buffer quotas
  evicted: u32 = 0;            // frames for it dropped unread while the pool ran low
  consoleBytes: u32 = 0;       // bytes it has written to the console
  argument: u32 = 0;           // its boot page's argument
  cpuWeight: u32 = 0;          // its CPU weight (SHARE_WEIGHT_MIN..MAX)
  cpuCapPercent: u32 = 0;      // its CPU cap, 0: none
  txPacketsPerSecond: u32 = 0; // its network rate limits (VmCreateRequest), 0: none
  txBytesPerSecond: u32 = 0;
  rxPacketsPerSecond: u32 = 0;
  rxBytesPerSecond: u32 = 0;
  txLimited: u32 = 0;          // frames it sent dropped by its send limits
  rxLimited: u32 = 0;          // frames for it dropped by its receive limits
  memoryCapKiB: u32 = 0;       // its memory cap, 0: none
  swapKiB: u32 = 0;            // its pages whose only copy is on the swap disk
}

/** machineStatus's record: the machine's memory and VMs. Frames are 4 KiB. */
export class MachineStatus {
  framesTotal: u32 = 0;        // frames the kernel manages
  framesFree: u32 = 0;         // free now
  framesUnreserved: u32 = 0;   // free and promised to no VM's reservation nor the kernel's reserve
  vmSlots: u32 = 0;            // VM ids in use (created so far, ended ones included; vmList goes to here)
  vmsLive: u32 = 0;            // VMs not ended
  controlVm: u32 = 0;          // the control VM's id
  consoleKeptBytes: u32 = 0;   // vmConsole keeps this many of each VM's last bytes
}
