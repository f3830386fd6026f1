// Virtual machines: the table of VMs and each VM's memory (docs/virtual-architecture.md, the Denali
// paper §3.1). A VM's memory is [GUEST_BASE, GUEST_BASE + memorySize) in its own address space
// (paging.ts); the kernel space below is supervisor-only. From its image (elf.ts):
//   - segments nobody writes (.text, .rodata) map the multiboot module's own frames, read-only: every
//     VM of the image shares them (the module is page-aligned, our linker page-aligns file offsets);
//   - writable segments get private frames: pages holding file bytes are copied at creation;
//   - every other page of the range (bss, stack, heap) is demand-zero: mapped on its first touch
//     (vmDemandPage, from the #PF of the guest), so an idle VM holds only the pages it used;
//   - the last page is the boot-information page (vmWriteBootInfo), private and writable;
//   - with swapping, a page whose contents are on the swap disk only has a not-present PAGE_SWAPPED entry:
//     a touch reads it back (swap.ts, through the scheduler's page-fault path or a hypercall's retry).
// Each VM has a receive queue of network buffers (vmQueuePut/vmQueueTake, FIFO): a queued frame is
// charged to the VM that sent it (vm.netSent, switch.ts's budget) until it is taken off the queue.
// Invariants: private pages, and only they, are mapped writable, so a page's R/W bit says whether the
// VM owns its frame; a VM's save area holds its registers whenever it is not running (scheduler.ts).
//
// Memory quotas (docs/virtual-architecture.md "Memory quotas"). A VM is charged every frame held on its
// behalf: private pages and its page directory and tables (vmHeldFrames). At creation it reserves its
// minimum (vmReservation): its directory, every page table its range can need, its image's private
// file pages, the boot page and the manifest's guaranteed demand pages; a VM is created only when its
// reservation fits in the unreserved pool (vmUnreservedFrames: free frames minus what reservations
// still promise minus the kernel's reserve, kernelReserveFrames). A frame within the VM's reservation is
// always granted; one beyond it comes from the unreserved pool, first come first served, and when that
// pool is empty the request fails: the VM is the one out of memory (the scheduler ends it), never a
// neighbour within its share. The VM's resident limit is its whole range (memorySize and its tables), or
// its memory cap when it has one (vmSetMemoryCap: the manifest's or vmCreate's memoryCapKiB, at least its
// reservation): a frame beyond the cap is refused like one from an empty pool, and the caller learns it
// was the cap (vmTakeCapRefusal): without swap the VM ends "out of memory", alone, never waiting; with
// swap it pushes its own coldest pages out to the disk and waits for them (swap.ts atCap), so its
// resident pages stay within the cap and the rest of its memory lies on the disk.
// With swap, a VM blocked in idle is promised nothing: it is cache content, its frames the disk's to take
// back (swap.ts); woken, it is promised its reservation again before it runs, and waits while the pool
// does not hold it (vmRenewPromise); one run unwoken (held ACKs) is promised it at its first frame request
// (charge). A swapped-out VM is promised nothing until its swap-in ends.
// Invariant: promisedFrames = the sum over live VMs with vm.promised of max(0, reservedFrames - held frames).
import { bool, i32, u8, u16, u32, overlay, sizeOf, memoryFill, memoryCopy, store32, load32, addressOf } from "dsl";
import {
  INTERRUPT_ALL, VM_END_EXIT, VM_END_BAD_HYPERCALLS, VM_END_OUT_OF_MEMORY, VM_END_VIRTUAL_8086, VM_END_STACK_OVERFLOW,
  VM_END_SWAP_CORRUPTION, VM_END_SWAP_READ_ERROR, VM_END_STOPPED,
} from "../abi/hypercalls.ts";
import {
  BootInfo, GUEST_MAGIC, GUEST_BASE, ABI_VERSION, MAC_BYTES, VM_LIMIT, VM_SLOT_SHIFT, VMS_PER_FRAME_SHIFT, macByteOfVm,
  CONTROL_KEY_LIMIT,
} from "../abi/boot.ts";
import {
  PAGE_SIZE, PAGE_SHIFT, PAGE_OFFSET_MASK, FRAME_NONE, allocFrame, allocFrameRun, freeFrame, framesFree,
} from "./frames.ts";
import {
  linearKernelFrames, linearMapClear, linearMapPage, linearUnmapPage, linearEntry, linearFrame, linearForget,
  linearEntryBits, linearClearAccessed, linearSync, linearSlot,
} from "./linear.ts";
import {
  createAddressSpace, destroyAddressSpaceOf, currentAddressSpace, switchAddressSpace, kernelAddressSpace, mapRange,
  pageEntry, pageEntrySlot, firstEntryWith, entryFrame, PAGE_TABLE_SPAN, PAGE_PRIVATE_BITS, setAbsentEntry,
  clearAccessed, changeEntryBits, PAGE_PRESENT, PAGE_KEPT, PAGE_WRITABLE, PAGE_SWAPPED, MAP_USER, MAP_WRITABLE,
  PAGING_OK,
  tablesMissing, tablesSpanned, pagingTableFrames,
} from "./paging.ts";
import { profileOn } from "./profile.ts";
import { entropyForVm } from "./entropy.ts";
import { BYTECODE_BOOT_INFO_OFFSET, BYTECODE_BOOT_INFO_BYTES } from "../abi/bytecode.ts";
import {
  netBufferFree, netBufferAgeAppend, netBufferAgeRemove,
  NET_BUFFER_NEXT, NET_BUFFER_SENDER, NET_BUFFER_RECEIVER, NET_BUFFER_QUEUED_SWITCHES, NET_SENDER_WIRE,
} from "./netbuf.ts";
import { TrapFrame } from "./trapframe.ts";
import { USER_CODE_SELECTOR, USER_DATA_SELECTOR } from "../abi/boot.ts";
import { images, imageSegment, segmentShared } from "./elf.ts";
import { frameArrayGrow, frameArrayFrames } from "./framearray.ts";
import { shareTableGrow } from "./share.ts";
import { netLimitTableGrow } from "./netlimit.ts";
import { groupVmReleased, groupFirstVm, groupVmCount, GROUP_NONE } from "./groups.ts";
import { consoleKeptClear, CONSOLE_QUEUED_COUNT } from "./console.ts";

export const VM_NONE = -1;

// States.
const VM_FREE = 0;
export const VM_RUNNABLE = 1;   // on the run queue
export const VM_RUNNING = 2;    // the current VM
export const VM_IDLE = 3;       // blocked in idle, off the run queue
export const VM_ENDED = 4;      // exited or killed; its memory is released when it is switched out

/** Why a VM ended: an exception vector (0..31), or one of these (the ABI's: the control VM reads them). */
export const END_EXIT: u32 = VM_END_EXIT;
export const END_BAD_HYPERCALLS: u32 = VM_END_BAD_HYPERCALLS;
export const END_OUT_OF_MEMORY: u32 = VM_END_OUT_OF_MEMORY;
export const END_VIRTUAL_8086: u32 = VM_END_VIRTUAL_8086;       // it entered virtual-8086 mode (trapframe.ts)
export const END_STACK_OVERFLOW: u32 = VM_END_STACK_OVERFLOW;   // it touched its stack's guard page (vmStackGuard)
export const END_SWAP_CORRUPTION: u32 = VM_END_SWAP_CORRUPTION; // a page read back from swap failed its checksum
export const END_SWAP_READ_ERROR: u32 = VM_END_SWAP_READ_ERROR; // the disk failed to read a page back from swap
export const END_STOPPED: u32 = VM_END_STOPPED;                 // the control VM stopped it (control.ts)

// Where a VM's memory is (swap.ts).
export const SWAP_RESIDENT = 0;
export const SWAP_WRITING = 1;   // its pages are being written out; still resident, still usable
export const SWAP_OUT = 2;       // swapped out: no frame held, its pages on the disk (swapMap)
export const SWAP_READING = 3;   // its pages are being read back; not runnable until they are in
export const SWAP_PAGING = 4;    // resident, blocked while one page it touched is read back from the disk
export const SWAP_EVICTING = 5;  // resident, blocked (waiting for memory) while some of its pages are written out

// Vm.runPhase: where a VM is in its life. scheduler.ts: never run, then starting when it first runs; with a swap
// disk, swap-learn.ts: started at its first idle (its start done), serving once a write-out found it had run since.
export const RUN_NEVER = 0;      // created, not run yet
export const RUN_STARTING = 1;   // run, not idle yet: its start
export const RUN_STARTED = 2;    // idle once (its start done), not known to have run since
export const RUN_SERVING = 3;    // a write-out measured what it touched after its start

// EFLAGS of a VM at entry: IF (SDM Vol. 1 §3.4.3) and the reserved bit 1; IOPL 0 (no port access).
const EFLAGS_INTERRUPT_ENABLE: u32 = 1 << 9;
const EFLAGS_RESERVED_ONE: u32 = 1 << 1;

export class Vm {
  state: u32 = 0;
  space: u32 = 0;            // page directory (CR3)
  memorySize: u32 = 0;
  imageIndex: u32 = 0;
  pending: u32 = 0;          // virtual interrupts pending
  mask: u32 = 0;             // virtual interrupts enabled (wake idle)
  blockedInIdle: bool = false;
  runPhase: u8 = 0;          // RUN_*
  swapState: u8 = 0;         // SWAP_*
  swapQueued: bool = false;  // on swap.ts's waiting ring
  swapList: u8 = 0;          // which of swap.ts's lists of candidates it is on (0: none)
  swapGranted: bool = false; // run again by swap.ts's load control, not settled yet
  // The low 16 bits of its switchIns when swap-evict.ts's hand last looked at it, or when pages were last
  // mapped for it (in the small fields' padding: the slot is full).
  sweepMark: u16 = 0;
  alarm: u32 = 0;            // timer handle (timer.ts), 0: none
  next: i32 = -1;            // run queue link
  sliceTick: u32 = 0;        // PIT tick when the current slice began
  sliceTsc: u32 = 0;         // TSC when the current slice began
  cyclesLow: u32 = 0;        // TSC cycles spent running (64-bit)
  cyclesHigh: u32 = 0;
  switchIns: u32 = 0;
  badCalls: u16 = 0;         // consecutive failed hypercalls (at most HYPERCALL_ERROR_LIMIT + 1)
  promised: bool = false;    // promisedFrames counts its reservation not yet held ("Memory quotas")
  exitStatus: u32 = 0;
  endReason: u32 = 0;        // END_* or an exception vector
  endEip: u32 = 0;
  endAddress: u32 = 0;       // CR2 of a #PF
  privateFrames: u32 = 0;
  netHead: u32 = 0;          // receive queue (switch.ts): network buffers (netbuf.ts), linked at +0
  netTail: u32 = 0;
  netCount: u32 = 0;
  ipAddress: u32 = 0;        // IPv4, network byte order (the manifest's)
  rxPackets: u32 = 0;        // frames queued for the VM, and their bytes (switch.ts)
  rxBytes: u32 = 0;
  txPackets: u32 = 0;        // frames the VM sent that the switch forwarded, and their bytes
  txBytes: u32 = 0;
  rxDropped: u32 = 0;        // frames for the VM dropped: its queue was full, or no buffer
  txSpoofed: u32 = 0;        // frames the VM sent with another source MAC or IP (or a type it may not send): dropped
  fpuArea: u32 = 0;          // its saved x87 state (fpu.ts), 0 until its first x87 instruction
  tableFrames: u32 = 0;      // its page directory and page tables (charged like privateFrames)
  reservedFrames: u32 = 0;   // its reservation (vmReservation): frames always granted
  netSent: u32 = 0;          // frames the VM sent that wait on VMs' queues: charged to it (switch.ts budget)
  txRefused: u32 = 0;        // netSend EAGAINs from a buffer quota (its budget, the receiver's queue, the reserve)
  memoryCapFrames: u32 = 0;  // its memory cap: frames it may hold at once (vmHeldFrames), 0: none (vmSetMemoryCap)
  consoleDebt: u32 = 0;      // console.ts rate limit: bytes written not yet paid back (at most the burst)
  consoleTick: u32 = 0;      // the clock tick when consoleDebt was last paid down
  consoleQueued: u32 = 0;    // its bytes waiting in the console ring; bit 31: its throttling was logged
  swapMap: u32 = 0;          // its swap map (SwapMap layout below, kalloc'd) while not resident, else 0
  swapSector: u32 = 0;       // first sector of its region on the swap disk (vmCreate, swap.ts)
  lruPrev: i32 = -1;         // swap.ts's list of idle resident VMs (with `next`, free while idle)
  consoleKeep: u32 = 0;      // console.ts: its last console bytes (a kernel with a control VM), 0: none
  evictHand: u32 = 0;        // swap-evict.ts's clock hand over its pages: the next one it looks at
  save = new TrapFrame();    // registers while not running (an iret frame from ring 3)
}

// The VM table lives in frames allocated when VMs are started (vmTableInit, framearray.ts), not in the
// kernel image: a kernel without a manifest pays nothing, VM_LIMIT (abi/boot.ts) costs only the
// directory. VM i is slot i % 16 of frame i / 16.
// 256-byte slots (abi/boot.ts VM_SLOT_SHIFT; sizeOf(Vm) <= VM_SLOT_BYTES, checked)
const VM_SLOT_BYTES: u32 = 1 << VM_SLOT_SHIFT;
const vmTableFrames = new Uint32Array(8192);   // VM_LIMIT >> (PAGE_SHIFT - VM_SLOT_SHIFT): framearray.ts
let vmTableFrameCount: u32 = 0;

/**
 * 1 for a group (= vm.imageIndex) whose VMs are bytecode VMs (vmstart.ts; 0 again for a group number
 * control.ts reuses): their memory is a page map in their kernel frame (linear.ts), not an address space.
 */
export const bytecodeGroups = new Uint8Array(64);   // groups.ts GROUP_LIMIT (the scheduler reads it too)
/** A group number masked into the table: GROUP_NONE (an ended group's VMs) lands on 63, a hardware group. */
export const BYTECODE_GROUP_MASK: u32 = 63;

/** Group `group`'s VMs are bytecode VMs (or, `on` false, hardware ones). */
export function vmSetGroupBytecode(group: u32, on: bool): void {
  bytecodeGroups[group & BYTECODE_GROUP_MASK] = on ? 1 : 0;
}

/** True when group `group`'s VMs are bytecode VMs. */
function groupBytecode(group: u32): bool { return bytecodeGroups[group & BYTECODE_GROUP_MASK] !== 0; }

/** True when `vm` is a bytecode VM: vm.space is then its page map (linear.ts), never loaded in CR3. */
export function vmIsBytecode(vm: Vm): bool { return bytecodeGroups[vm.imageIndex & BYTECODE_GROUP_MASK] !== 0; }

/** The bytes of the VM table one VM takes: its slot. */
export function vmSlotBytes(): u32 { return VM_SLOT_BYTES; }
/** Frames of the VM table (vmTableInit): ceil(count / (PAGE_SIZE / VM_SLOT_BYTES)). */
export function vmTableFrameTotal(): u32 { return vmTableFrameCount; }

/** VM `index` (< the count given to vmTableInit). */
export function vmAt(index: u32): Vm {
  return overlay(Vm, vmTableFrames[index >>> VMS_PER_FRAME_SHIFT]
    + ((index & ((1 << VMS_PER_FRAME_SHIFT) - 1)) << VM_SLOT_SHIFT));
}

/**
 * Allocates zeroed table frames for `count` VMs; false when out of memory or the slot is too small.
 * `extraBytes`: kernel memory each VM may take beyond vmKernelBytes' (console.ts's kept console bytes).
 */
export function vmTableInit(count: u32, extraBytes: u32): bool {
  if (sizeOf(Vm) > VM_SLOT_BYTES || count > VM_LIMIT || sizeOf(BootInfo) > BYTECODE_BOOT_INFO_BYTES) return false;
  if (VM_SLOT_SHIFT + VMS_PER_FRAME_SHIFT !== PAGE_SHIFT) return false;   // abi/boot.ts's two agree
  vmKernelBytes = VM_KERNEL_BYTES + extraBytes;
  return vmTableGrow(count);
}

/**
 * Makes room in the table for VM ids below `count` (vmCreate at run time: control.ts); the kernel's
 * reserve grows with it. False when out of memory or over VM_LIMIT (the table keeps what it had).
 */
export function vmTableGrow(count: u32): bool {
  if (count > VM_LIMIT) return false;
  if (count <= vmTableCapacity) return true;
  if (!frameArrayGrow(vmTableFrames, vmTableCapacity, count, VM_SLOT_SHIFT)) return false;
  if (!shareTableGrow(count)) return false;          // the CPU shares beside it (share.ts)
  if (!netLimitTableGrow(count)) return false;       // and the network rate limits (netlimit.ts)
  vmTableCapacity = count;
  vmTableFrameCount = frameArrayFrames(count, VM_SLOT_SHIFT);
  kernelReserveFrames = KERNEL_RESERVE_FRAMES + ((count * vmKernelBytes + PAGE_OFFSET_MASK) >>> PAGE_SHIFT);
  return true;
}
/** VM ids the table has room for. */
let vmTableCapacity: u32 = 0;
let vmTotal: u32 = 0;
let privateFrameTotal: u32 = 0;
let privateFramePeak: u32 = 0;
/** Frames reservations still promise: the sum over live VMs of their reservation not yet taken. */
let promisedFrames: u32 = 0;
/** Fresh frames the last vmPrepareRange could not get: the hypercall's VM is out of memory. */
let prepareOutOfMemory = false;
/** The page the last vmPrepareRange found on the swap disk (0: none): the hypercall waits for it. */
let prepareSwappedPage: u32 = 0;

/**
 * Frames never promised to VMs: what the kernel allocates after the VMs are admitted comes from here.
 * 1 MiB for itself (kalloc slabs for timers, say), plus VM_KERNEL_BYTES for each VM of the table.
 */
const KERNEL_RESERVE_FRAMES: u32 = 256;
/**
 * Kernel memory a VM may make the kernel allocate besides its page tables: its x87 area (fpu.ts, 108
 * bytes from kalloc's 128-byte class). Kept in the kernel's reserve, so it never takes promised frames.
 */
const VM_KERNEL_BYTES: u32 = 128;
let vmKernelBytes: u32 = VM_KERNEL_BYTES;
let kernelReserveFrames: u32 = KERNEL_RESERVE_FRAMES;

export function vmCount(): u32 { return vmTotal; }
export function vmPrivateFrames(): u32 { return privateFrameTotal; }
export function vmPrivateFramePeak(): u32 { return privateFramePeak; }

// ---- memory quotas -----------------------------------------------------------------------------------

/** Frames held on the VM's behalf: private pages, page directory and tables. */
export function vmHeldFrames(vm: Vm): u32 { return vm.privateFrames + vm.tableFrames; }

/** Free frames no reservation promises, beyond the kernel's own reserve: what VMs may borrow. */
export function vmUnreservedFrames(): u32 {
  const free = framesFree(), kept = promisedFrames + kernelReserveFrames;
  return free > kept ? free - kept : 0;
}

/** The part of `count` more frames that the VM's reservation covers. */
function withinReservation(vm: Vm, count: u32): u32 {
  const held = vmHeldFrames(vm);
  if (held >= vm.reservedFrames) return 0;
  const left = vm.reservedFrames - held;
  return count < left ? count : left;
}

/**
 * Admits `count` more frames for the VM before they are allocated (the caller then counts them in
 * privateFrames or tableFrames): within its reservation always, beyond it only from the unreserved
 * pool. False: the VM is over its share and the pool is empty.
 */
function charge(vm: Vm, count: u32): bool {
  capRefusal = vm.memoryCapFrames !== 0 && vmHeldFrames(vm) + count > vm.memoryCapFrames;
  if (capRefusal) return false;
  if (!vm.promised) vmRenewPromise(vm, true);
  const within = withinReservation(vm, count);
  if (count - within > vmUnreservedFrames()) return false;
  promisedFrames -= within;
  return true;
}

/** Whether the last charge was refused by the VM's memory cap (not the pool); vmTakeCapRefusal clears it. */
let capRefusal = false;

/**
 * True (once) when the last refused frame was refused by the VM's own memory cap: the VM must not wait
 * for memory (the scheduler's page fault, hypercall.ts's retry), none will come; it is out of memory.
 */
export function vmTakeCapRefusal(): bool {
  const refused = capRefusal;
  capRefusal = false;
  return refused;
}

/** Sets the VM's memory cap, `frames` it may hold at once (0: none; callers keep it at least its reservation). */
export function vmSetMemoryCap(vm: Vm, frames: u32): void { vm.memoryCapFrames = frames; }

/** Undoes charge(vm, count) for frames not (or no longer) held; the caller has uncounted them. */
function refund(vm: Vm, count: u32): void { if (vm.promised) promisedFrames += withinReservation(vm, count); }

/**
 * The frames VM creation reserves for images[imageIndex] with `memorySize` bytes (valid: vmSizeValid)
 * and `guaranteedPages` demand-zero pages (at most those the range has): directory, page tables of the
 * whole range, private file pages, boot page, guaranteed pages.
 */
export function vmReservation(imageIndex: u32, memorySize: u32, guaranteedPages: u32): u32 {
  if (groupBytecode(imageIndex)) {
    // A bytecode VM: its kernel frame run (page map, interpreter area), the boot page, the guaranteed pages.
    const demand = (memorySize >>> PAGE_SHIFT) - 1;
    return linearKernelFrames(memorySize) + 1 + (guaranteedPages < demand ? guaranteedPages : demand);
  }
  const image = images[imageIndex];
  let filePages: u32 = 0, sharedPages: u32 = 0;
  for (let i: u32 = 0; i < image.segmentCount; i++) {
    const s = imageSegment(imageIndex, i);
    if (s.memorySize === 0) continue;
    if (segmentShared(s)) sharedPages += (s.memorySize + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
    else filePages += (s.fileSize + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  }
  const pages = memorySize >>> PAGE_SHIFT, mapped = filePages + sharedPages + 1;
  const demandPages = pages > mapped ? pages - mapped : 0;
  const guaranteed = guaranteedPages < demandPages ? guaranteedPages : demandPages;
  return 1 + tablesSpanned(GUEST_BASE, memorySize) + filePages + 1 + guaranteed;
}

/** Maps pages for the VM, charging the page tables mapRange allocates; false when it may not have them. */
function mapCharged(vm: Vm, address: u32, frame: u32, length: u32, rights: u32): bool {
  const tables = tablesMissing(vm.space, address, length);
  if (!charge(vm, tables)) return false;
  const before = pagingTableFrames();
  const ok = mapRange(vm.space, address, frame, length, rights) === PAGING_OK;
  const made = pagingTableFrames() - before;
  vm.tableFrames += made;
  if (made < tables) refund(vm, tables - made);
  return ok;
}

function allocPrivateFrame(vm: Vm): u32 {
  if (!charge(vm, 1)) return FRAME_NONE;
  const frame = allocFrame();
  if (frame === FRAME_NONE) { refund(vm, 1); return FRAME_NONE; }
  vm.privateFrames++;
  privateFrameTotal++;
  if (privateFrameTotal > privateFramePeak) privateFramePeak = privateFrameTotal;
  return frame;
}

/** Frees a private frame allocated by allocPrivateFrame and not mapped. */
function freePrivateFrame(vm: Vm, frame: u32): void {
  freeFrame(frame);
  vm.privateFrames--;
  privateFrameTotal--;
  refund(vm, 1);
}

// ---- creation ---------------------------------------------------------------------------------------

/** Maps one image segment into the VM: shared read-only frames, or private copies of the file pages. */
function mapSegment(vm: Vm, imageIndex: u32, i: u32): bool {
  const image = images[imageIndex];
  const s = imageSegment(imageIndex, i);
  if (s.memorySize === 0) return true;
  if (segmentShared(s)) {
    const length = (s.memorySize + PAGE_OFFSET_MASK) & ~PAGE_OFFSET_MASK;
    return mapCharged(vm, s.virtualAddress, image.moduleStart + s.fileOffset, length, MAP_USER);
  }
  // Private: the pages holding file bytes now; the rest is demand-zero.
  for (let offset: u32 = 0; offset < s.fileSize; offset += PAGE_SIZE) {
    const frame = allocPrivateFrame(vm);
    if (frame === FRAME_NONE) return false;
    const bytes = s.fileSize - offset < PAGE_SIZE ? s.fileSize - offset : PAGE_SIZE;
    memoryCopy(frame, image.moduleStart + s.fileOffset + offset, bytes);
    if (bytes < PAGE_SIZE) memoryFill(frame + bytes, 0, PAGE_SIZE - bytes);
    if (!mapCharged(vm, s.virtualAddress + offset, frame, PAGE_SIZE, MAP_USER | MAP_WRITABLE)) {
      freePrivateFrame(vm, frame);
      return false;
    }
  }
  return true;
}

/** Pages of images[imageIndex]'s shared segments (segmentShared): what its VMs map from the module. */
export function imageSharedPages(imageIndex: u32): u32 {
  let pages: u32 = 0;
  for (let i: u32 = 0; i < images[imageIndex].segmentCount; i++) {
    const s = imageSegment(imageIndex, i);
    if (s.memorySize !== 0 && segmentShared(s)) pages += (s.memorySize + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  }
  return pages;
}

/**
 * True when the VM's page tables map every page of its image's shared segments to the module's own
 * frame, present, user and read-only: the code is shared, not copied (a report, not a hot path).
 */
export function vmMapsSharedCode(vm: Vm): bool {
  const image = images[vm.imageIndex];
  for (let i: u32 = 0; i < image.segmentCount; i++) {
    const s = imageSegment(vm.imageIndex, i);
    if (s.memorySize === 0 || !segmentShared(s)) continue;
    for (let offset: u32 = 0; offset < s.memorySize; offset += PAGE_SIZE) {
      const entry = pageEntry(vm.space, s.virtualAddress + offset);
      const flags = entry & (PAGE_PRESENT | PAGE_WRITABLE | MAP_USER);
      if (flags !== (PAGE_PRESENT | MAP_USER) || entryFrame(entry) !== image.moduleStart + s.fileOffset + offset) return false;
    }
  }
  return true;
}

/**
 * The address of the boot information: the last page of the VM's memory; a bytecode VM's, above its stack
 * and below its data in the same page (abi/bytecode.ts BYTECODE_BOOT_INFO_OFFSET).
 */
export function vmBootInfoAddress(vm: Vm): u32 {
  return vmIsBytecode(vm) ? GUEST_BASE + BYTECODE_BOOT_INFO_OFFSET : GUEST_BASE + vm.memorySize - PAGE_SIZE;
}

/**
 * Where the kernel reaches the VM's boot information (its boot page's frame, through the kernel's map of
 * memory; a bytecode VM's: that frame + the offset in its page); 0 when it is not resident.
 */
export function vmBootPageFrame(vm: Vm): u32 {
  if (vmIsBytecode(vm)) {
    const frame = linearFrame(vm.space, vmBootInfoAddress(vm));
    return frame === 0 ? 0 : frame + (vmBootInfoAddress(vm) & PAGE_OFFSET_MASK);
  }
  const entry = pageEntry(vm.space, vmBootInfoAddress(vm));
  return (entry & PAGE_PRESENT) !== 0 ? entryFrame(entry) : 0;
}

/** Byte-swaps a u32 (network <-> host order). */
export function byteSwap32(x: u32): u32 {
  return u32((x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24));
}

/**
 * The boot information (abi/boot.ts BootInfo laid over the page). The VM count is final when the VM is
 * built after the last vmCreate (swapped out from birth); else vmSetBootCount writes it again then. The
 * caller zeroed the page (the reserved field stays 0); `page`: where the BootInfo goes in it.
 */
function writeBootInfo(vm: Vm, id: u32, page: u32): void {
  const info = overlay(BootInfo, page);
  info.abiVersion = ABI_VERSION;
  info.vmId = id;
  info.memoryBase = GUEST_BASE;
  info.memorySize = vm.memorySize;
  for (let i = 0; i < MAC_BYTES; i++) info.mac[i] = macByteOfVm(id, i);
  info.ipAddress = vm.ipAddress;
  info.netmask = imageNetmask[vm.imageIndex];
  info.gateway = imageGateway[vm.imageIndex];
  info.imageId = vm.imageIndex;
  info.argument = imageArgument[vm.imageIndex];
  info.vmCount = vmTotal;                  // final once every VM is created (vmSetBootCount)
  info.profileOn = profileOn() ? 1 : 0;
  entropyForVm(id, addressOf(info.entropy));
  if (i32(id) === controlKeyVm) {
    info.controlKeyLength = controlKeyLength;
    memoryCopy(addressOf(info.controlKey), controlKeyAddress, controlKeyLength);
  }
}

// The control VM's key (abi/boot.ts BootInfo.controlKey): where it is (a boot module, kept reserved) and
// which VM's boot page gets it.
let controlKeyVm: i32 = VM_NONE;
let controlKeyAddress: u32 = 0;
let controlKeyLength: u32 = 0;

/** VM `id`, when it is built, gets the `length` (<= CONTROL_KEY_LIMIT) bytes at `address` as its key. */
export function vmSetControlKey(id: u32, address: u32, length: u32): void {
  controlKeyVm = i32(id);
  controlKeyAddress = address;
  controlKeyLength = length < CONTROL_KEY_LIMIT ? length : CONTROL_KEY_LIMIT;
}

/**
 * The swap disk's layout (swap.ts): VM i's pages at sector VM_SWAP_FIRST_SECTOR + (the memory sizes of
 * VMs 0..i-1) / 512 + 8 * page, whether or not it is ever written out (page 0 of the disk unused).
 */
const VM_SWAP_FIRST_SECTOR: u32 = 8;
const SECTOR_SHIFT = 9;
let swapRegionNext: u32 = VM_SWAP_FIRST_SECTOR;

/** Results of vmCreate. */
export const VM_CREATE_OK = 0;
const VM_CREATE_NO_SLOT = 1;
export const VM_CREATE_BAD_SIZE = 2;
export const VM_CREATE_NO_MEMORY = 3;

/** The highest memory size: the range must end below 0xBFFFF000 (docs/virtual-architecture.md). */
export const VM_MEMORY_LIMIT: u32 = 0xbffff000 - GUEST_BASE;

/** True when `memorySize` is a page multiple, at most VM_MEMORY_LIMIT, with room for the image and boot page. */
export function vmSizeValid(imageIndex: u32, memorySize: u32): bool {
  if ((memorySize & PAGE_OFFSET_MASK) !== 0 || memorySize > VM_MEMORY_LIMIT || memorySize < PAGE_SIZE) return false;
  return images[imageIndex].extentEnd - GUEST_BASE <= memorySize - PAGE_SIZE;
}

/** A VM's IPv4 configuration, each in network byte order (the manifest's; written to its boot page). */
export class VmNetwork {
  ipAddress: u32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;          // 0: none
}

// What a VM's boot page gets besides its id and address, per image (= group, groups.ts): recorded by
// vmCreate, read again when a VM created swapped out is built (vmSwapInBuild).
const imageArgument = new Uint32Array(64);     // elf.ts IMAGE_LIMIT
const imageNetmask = new Uint32Array(64);
const imageGateway = new Uint32Array(64);

/** The argument, netmask and gateway (network byte order) the VMs of group `imageIndex` get. */
export function vmGroupArgument(imageIndex: u32): u32 { return imageArgument[imageIndex]; }
export function vmGroupNetmask(imageIndex: u32): u32 { return imageNetmask[imageIndex]; }
export function vmGroupGateway(imageIndex: u32): u32 { return imageGateway[imageIndex]; }

/**
 * Creates VM `vmTotal` from images[imageIndex] with `memorySize` bytes (vmSizeValid) and its reservation
 * (vmReservation with `guaranteedPages`), which must fit in the unreserved pool. Its save area holds the
 * entry state; the caller puts it on the run queue and then writes the VM count (vmSetBootCount).
 */
export function vmCreate(
  imageIndex: u32, memorySize: u32, guaranteedPages: u32, argument: u32, network: VmNetwork,
): u32 {
  return vmCreateAt(vmTotal, imageIndex, memorySize, guaranteedPages, argument, network);
}

/**
 * vmCreate into slot `id`: vmCount() (a new id), or the slot of a VM that ended and whose group ended
 * too (control.ts reuses such ids; the table has room for `id`: vmTableGrow).
 */
export function vmCreateAt(
  id: u32, imageIndex: u32, memorySize: u32, guaranteedPages: u32, argument: u32, network: VmNetwork,
): u32 {
  if (id >= VM_LIMIT || id > vmTotal) return VM_CREATE_NO_SLOT;
  if (!vmSizeValid(imageIndex, memorySize)) return VM_CREATE_BAD_SIZE;
  const reservation = vmReservation(imageIndex, memorySize, guaranteedPages);
  if (reservation > vmUnreservedFrames()) return VM_CREATE_NO_MEMORY;
  const vm = vmAt(id);
  initSlot(vm, imageIndex, memorySize, reservation, argument, network);
  promisedFrames += reservation;
  vm.promised = true;
  if (!buildMemory(vm, id)) {
    releaseMemory(vm);
    vm.state = VM_ENDED;                  // a reused slot stays what it was: an ended VM of no group
    vm.imageIndex = GROUP_NONE;
    return VM_CREATE_NO_MEMORY;
  }
  vm.state = VM_RUNNABLE;
  if (id === vmTotal) vmTotal++;
  return VM_CREATE_OK;
}

/**
 * Creates VM `vmTotal` like vmCreate but holding nothing: swapped out from birth (SWAP_OUT with no swap
 * map), promised nothing, idle. swap.ts builds its memory when the pool holds its reservation
 * (vmSwapInBuild): with a swap disk, a manifest may ask for more VMs than memory holds at once.
 */
export function vmCreateSwappedOut(
  imageIndex: u32, memorySize: u32, guaranteedPages: u32, argument: u32, network: VmNetwork,
): u32 {
  if (vmTotal >= VM_LIMIT) return VM_CREATE_NO_SLOT;
  if (!vmSizeValid(imageIndex, memorySize)) return VM_CREATE_BAD_SIZE;
  const vm = vmAt(vmTotal);
  initSlot(vm, imageIndex, memorySize, vmReservation(imageIndex, memorySize, guaranteedPages), argument, network);
  vm.swapState = SWAP_OUT;
  vm.state = VM_IDLE;
  vmTotal++;
  return VM_CREATE_OK;
}

/**
 * Builds the memory of a VM created swapped out (its reservation fits in the unreserved pool: swap.ts
 * checked): it is resident from now, promised its reservation. False when a frame could not be had.
 */
export function vmSwapInBuild(vm: Vm, id: u32): bool {
  vm.swapState = SWAP_RESIDENT;
  promisedFrames += vm.reservedFrames;
  vm.promised = true;
  if (!buildMemory(vm, id)) return false;
  if (vmIsBytecode(vm)) bytecodeBuilt(id, vm.imageIndex);   // its interpreter's area, as at vmCreate
  return true;
}

/** Sets up the interpreter's area of bytecode VM `id` of group `group` (bytecode-interp.ts bytecodeVmPrepare). */
type BytecodeBuilt = (id: u32, group: u32) => void;
function noBytecodeBuilt(id: u32, group: u32): void {}
let bytecodeBuilt: BytecodeBuilt = noBytecodeBuilt;

/** vmstart.ts: what prepares a bytecode VM built late (created swapped out: vmCreateSwappedOut). */
export function vmSetBytecodeBuilt(built: BytecodeBuilt): void { bytecodeBuilt = built; }

/**
 * Everything but memory: the slot's fields, the entry state (an iret frame to ring 3), its disk region: a
 * new one, or the slot's own when it is reused for no more memory than it had (a fresh slot has none).
 */
function initSlot(vm: Vm, imageIndex: u32, memorySize: u32, reservation: u32, argument: u32, network: VmNetwork): void {
  const keepRegion = vm.swapSector !== 0 && memorySize <= vm.memorySize;
  vm.memorySize = memorySize;
  vm.imageIndex = imageIndex;
  vm.privateFrames = 0;
  vm.tableFrames = 0;
  vm.space = 0;
  vm.reservedFrames = reservation;
  vm.promised = false;
  imageArgument[imageIndex] = argument;
  imageNetmask[imageIndex] = network.netmask;
  imageGateway[imageIndex] = network.gateway;
  // The entry state: an iret frame to ring 3 (SDM Vol. 3A §6.12.1), registers as the ABI says.
  const f = vm.save;
  memoryFill(addressOfFrame(f), 0, TRAP_FRAME_BYTES);
  f.eip = images[imageIndex].entry;
  f.cs = USER_CODE_SELECTOR;
  f.eflags = EFLAGS_INTERRUPT_ENABLE | EFLAGS_RESERVED_ONE;
  f.userEsp = vmBootInfoAddress(vm);      // any value: _start sets its own stack
  f.userSs = USER_DATA_SELECTOR;
  f.ds = USER_DATA_SELECTOR;
  f.es = USER_DATA_SELECTOR;
  f.fs = USER_DATA_SELECTOR;
  f.gs = USER_DATA_SELECTOR;
  f.eax = GUEST_MAGIC;
  f.ebx = vmBootInfoAddress(vm);
  vm.pending = 0;
  vm.mask = INTERRUPT_ALL;
  vm.blockedInIdle = false;
  vm.runPhase = RUN_NEVER;
  vm.alarm = 0;
  vm.next = VM_NONE;
  vm.cyclesLow = 0;
  vm.cyclesHigh = 0;
  vm.switchIns = 0;
  vm.badCalls = 0;
  vm.netHead = 0;
  vm.netTail = 0;
  vm.netCount = 0;
  vm.ipAddress = network.ipAddress;   // network byte order
  vm.rxPackets = 0;
  vm.rxBytes = 0;
  vm.txPackets = 0;
  vm.txBytes = 0;
  vm.rxDropped = 0;
  vm.txSpoofed = 0;
  vm.fpuArea = 0;
  // A reused slot (control.ts) keeps the charges its last VM left behind: frames it sent still waiting
  // on queues, its bytes still waiting in the console ring. They are taken off this slot's count as they
  // go, so the counts stay exact; the new VM has that much less room until then. A fresh slot has none.
  vm.txRefused = 0;
  vm.swapState = SWAP_RESIDENT;
  vm.swapQueued = false;
  vm.swapList = 0;
  vm.swapGranted = false;
  vm.swapMap = 0;
  if (!keepRegion) {
    vm.swapSector = swapRegionNext;
    swapRegionNext += memorySize >>> SECTOR_SHIFT;
  }
  vm.lruPrev = VM_NONE;
  vm.memoryCapFrames = 0;            // none while it is built (its reservation); set after (vmSetMemoryCap)
  vm.state = VM_FREE;
  vm.endReason = 0;
  vm.exitStatus = 0;
  vm.consoleDebt = 0;
  vm.consoleTick = 0;
  vm.consoleQueued = vm.consoleQueued & CONSOLE_QUEUED_COUNT;   // its own throttling not logged yet
  consoleKeptClear(vm);                    // nothing kept of the slot's last VM
  vm.evictHand = 0;
  vm.sweepMark = 0;
}

/** The directory, the image's segments and the boot page, charged (within the reservation). */
function buildMemory(vm: Vm, id: u32): bool {
  if (vmIsBytecode(vm)) return buildLinear(vm);
  if (!charge(vm, 1)) return false;
  const space = createAddressSpace();
  if (space === FRAME_NONE) { refund(vm, 1); return false; }
  vm.space = space;
  vm.tableFrames = 1;
  let ok = true;
  for (let i: u32 = 0; i < images[vm.imageIndex].segmentCount && ok; i++) ok = mapSegment(vm, vm.imageIndex, i);
  const bootPage = ok ? allocPrivateFrame(vm) : FRAME_NONE;
  if (bootPage === FRAME_NONE || !mapCharged(vm, vmBootInfoAddress(vm), bootPage, PAGE_SIZE, MAP_USER | MAP_WRITABLE)) {
    if (bootPage !== FRAME_NONE) freePrivateFrame(vm, bootPage);
    return false;
  }
  memoryFill(bootPage, 0, PAGE_SIZE);
  writeBootInfo(vm, id, bootPage);
  return true;
}

/**
 * A bytecode VM's memory (linear.ts): its kernel frame run (the page map, then the interpreter's area),
 * charged; no directory, no page tables. Its boot page is made when it first runs (vmBootPageMake, in
 * its reservation); every other page is demand-zero.
 */
function buildLinear(vm: Vm): bool {
  const run = vmKernelFrames(vm, linearKernelFrames(vm.memorySize));
  if (run === FRAME_NONE) return false;
  vm.space = run;
  linearMapClear(run, vm.memorySize);
  return true;
}

/**
 * Bytecode VM `id`'s boot page, at its first slice (bytecode-interp.ts): written then, so a VM that has not
 * run holds no page of memory (the count of VMs is the one at that time: final for the VMs of a manifest,
 * created before any runs). False without a frame (it is in the VM's reservation).
 */
export function vmBootPageMake(vm: Vm, id: u32): bool {
  // Made, then evicted before the first slice got on (it waited for memory): it is read back instead.
  if ((linearEntry(vm.space, vmBootInfoAddress(vm)) & PAGE_SWAPPED) !== 0) {
    prepareSwappedPage = vmBootInfoAddress(vm) & ~PAGE_OFFSET_MASK;
    return false;
  }
  const page = allocPrivateFrame(vm);
  if (page === FRAME_NONE) return false;
  memoryFill(page, 0, PAGE_SIZE);
  linearMapPage(vm.space, vm.memorySize, vmBootInfoAddress(vm), page, true);
  writeBootInfo(vm, id, page + (vmBootInfoAddress(vm) & PAGE_OFFSET_MASK));
  return true;
}

/**
 * `count` adjacent zeroed-or-not kernel frames held for bytecode VM `vm` (its kernel frame run, the
 * interpreter's call areas), charged like page tables (vm.tableFrames); FRAME_NONE when it may not have them.
 */
export function vmKernelFrames(vm: Vm, count: u32): u32 {
  if (!charge(vm, count)) return FRAME_NONE;
  const run = count === 1 ? allocFrame() : allocFrameRun(count);
  if (run === FRAME_NONE) { refund(vm, count); return FRAME_NONE; }
  vm.tableFrames += count;
  return run;
}

/** Gives back `count` frames of vmKernelFrames at `run`. */
export function vmKernelFramesFree(vm: Vm, run: u32, count: u32): void {
  for (let k: u32 = 0; k < count; k++) freeFrame(run + (k << PAGE_SHIFT));
  vm.tableFrames -= count;
  refund(vm, count);
}

/** Size of the save area: the ring-3 trap frame (docs/calling-convention.md, "Interrupt entries"). */
export const TRAP_FRAME_BYTES: u32 = 76;
function addressOfFrame(f: TrapFrame): u32 { return addressOf(f); }

// ---- demand paging and user memory -------------------------------------------------------------------

/** True when [address, address + length) lies inside the VM's memory (no overflow: see the ABI). */
export function vmRangeValid(vm: Vm, address: u32, length: u32): bool {
  return length <= vm.memorySize && address - GUEST_BASE <= vm.memorySize - length;
}

/** True when `address` is in the guard page under the VM's stack (elf.ts elfStackGuard): never mapped. */
export function vmStackGuard(vm: Vm, address: u32): bool {
  const guard = images[vm.imageIndex].stackGuard;
  return guard !== 0 && address - guard < PAGE_SIZE;
}

/**
 * Maps a zeroed private page at `address` (inside the range, not mapped), its page table charged too;
 * false when the VM is out of memory: over its reservation with the unreserved pool empty.
 */
export function vmDemandPage(vm: Vm, address: u32): bool {
  const frame = allocPrivateFrame(vm);
  if (frame === FRAME_NONE) return false;
  memoryFill(frame, 0, PAGE_SIZE);
  if (vmIsBytecode(vm)) {                // its map, and the window when it is installed there (linear.ts)
    linearMapPage(vm.space, vm.memorySize, address & ~PAGE_OFFSET_MASK, frame, true);
    return true;
  }
  if (!mapCharged(vm, address & ~PAGE_OFFSET_MASK, frame, PAGE_SIZE, MAP_USER | MAP_WRITABLE)) {
    freePrivateFrame(vm, frame);
    return false;
  }
  return true;
}

/**
 * Makes every page of a valid range usable by the kernel for a copy: demand-zero pages are mapped
 * now; with `write`, every page must be writable (shared code is not). False: fail with EFAULT -- or,
 * when a page could not be had (vmDemandPage), the VM is out of memory: vmTakeOutOfMemory then says so
 * and the hypercall's VM is ended as on a #PF (hypercall.ts), whatever the call returns; or a page is on
 * the swap disk: vmTakeSwappedPage names it, and the VM waits for it and makes the call again.
 */
export function vmPrepareRange(vm: Vm, address: u32, length: u32, write: bool): bool {
  if (length === 0) return true;
  const last = (address + length - 1) & ~PAGE_OFFSET_MASK;
  if (vmIsBytecode(vm)) {                // every page of a bytecode VM is private and writable
    for (let page = address & ~PAGE_OFFSET_MASK; ; page += PAGE_SIZE) {
      const entry = linearEntry(vm.space, page);
      if ((entry & PAGE_SWAPPED) !== 0) { prepareSwappedPage = page; return false; }
      if ((entry & PAGE_PRESENT) === 0 && !vmDemandPage(vm, page)) { prepareOutOfMemory = true; return false; }
      if (page === last) return true;
    }
  }
  for (let page = address & ~PAGE_OFFSET_MASK; ; page += PAGE_SIZE) {
    const entry = pageEntry(vm.space, page);
    if ((entry & PAGE_SWAPPED) !== 0) { prepareSwappedPage = page; return false; }
    if ((entry & PAGE_PRESENT) === 0) {
      if (vmStackGuard(vm, page)) return false;
      if (!vmDemandPage(vm, page)) { prepareOutOfMemory = true; return false; }
    } else if (write && (entry & PAGE_WRITABLE) === 0) {
      return false;
    }
    if (page === last) break;
  }
  return true;
}

/** True (once) when a vmPrepareRange since the last call failed for want of memory. */
export function vmTakeOutOfMemory(): bool {
  const was = prepareOutOfMemory;
  prepareOutOfMemory = false;
  return was;
}

/** The page (once) a vmPrepareRange since the last call found on the swap disk; 0 when none. */
export function vmTakeSwappedPage(): u32 {
  const page = prepareSwappedPage;
  prepareSwappedPage = 0;
  return page;
}

/** The PAGE_SWAPPED entry of `address` (a page on the swap disk only), else 0. */
export function vmSwappedEntry(vm: Vm, address: u32): u32 {
  if (vmIsBytecode(vm)) {
    const entry = linearEntry(vm.space, address);
    return (entry & PAGE_SWAPPED) !== 0 ? entry : 0;
  }
  const entry = pageEntry(vm.space, address);
  return (entry & PAGE_SWAPPED) !== 0 ? entry : 0;
}

/** Writes the number of VMs created into every created VM's boot page (after the last vmCreate). */
export function vmSetBootCount(): void { vmSetBootCountOf(0, vmTotal); }

/**
 * Writes vmCount() into the boot pages of VMs [first, end), just created (control.ts, after a vmCreate's
 * batch: the VMs that existed before keep the count of their own start).
 */
export function vmSetBootCountOf(first: u32, end: u32): void {
  for (let id = first; id < end; id++) {
    const vm = vmAt(id);
    const page = vm.space === 0 ? 0 : vmBootPageFrame(vm);
    if (page !== 0) overlay(BootInfo, page).vmCount = vmTotal;   // 0: ended and released already
  }
}

// ---- release ----------------------------------------------------------------------------------------

/** Frees the VM's private frames, its page tables and directory. Its space must not be in CR3. */
function releaseMemory(vm: Vm): void {
  // The part of its reservation it never took is no longer promised.
  vmWithdrawPromise(vm);
  vm.reservedFrames = 0;
  if (vm.space !== 0) freeMemory(vm);
}

/** Frees the private frames, the page tables and the directory (no promise changes). */
function freeMemory(vm: Vm): void {
  if (vmIsBytecode(vm)) { freeLinear(vm); return; }
  // Writable = private (the invariant above); read-only pages are the module's shared frames.
  const end = GUEST_BASE + vm.memorySize;
  for (let table = GUEST_BASE; table < end; table += PAGE_TABLE_SPAN) {
    const slot = pageEntrySlot(vm.space, table);
    const count = (end - table < PAGE_TABLE_SPAN ? end - table : PAGE_TABLE_SPAN) >>> PAGE_SHIFT;
    let k = slot === 0 ? count : firstEntryWith(slot, count, PAGE_PRIVATE_BITS);
    while (k < count) {
      freeFrame(entryFrame(load32(slot + (k << 2))));
      privateFrameTotal--;
      k += 1 + firstEntryWith(slot + ((k + 1) << 2), count - k - 1, PAGE_PRIVATE_BITS);
    }
  }
  vm.privateFrames = 0;
  // Still in force (the last VM to run, written out while the kernel idles): the kernel's space first, or
  // its directory and tables could not be freed.
  if (currentAddressSpace() === vm.space) switchAddressSpace(kernelAddressSpace());
  destroyAddressSpaceOf(vm.space, GUEST_BASE, vm.memorySize);
  vm.tableFrames = 0;
  vm.space = 0;
}

/**
 * A bytecode VM's pages, out of the window, then its kernel frame run (the interpreter gave back its other
 * areas first: bytecode-interp.ts bytecodeVmRelease). No promise changes.
 */
function freeLinear(vm: Vm): void {
  const pages = vm.memorySize >>> PAGE_SHIFT;
  linearForget(vm.space);
  for (let page: u32 = 0; page < pages; page++) {
    const frame = linearFrame(vm.space, GUEST_BASE + (page << PAGE_SHIFT));
    if (frame === 0) continue;
    freeFrame(frame);
    privateFrameTotal--;
  }
  vm.privateFrames = 0;
  for (let k: u32 = 0; k < vm.tableFrames; k++) freeFrame(vm.space + (k << PAGE_SHIFT));
  vm.tableFrames = 0;
  vm.space = 0;
}

// ---- swapping: the VM's side (swap.ts has the policy and the disk) ------------------------------------
// A swapped-out VM holds no frame and is promised none: its reservation counts again from the swap-in,
// which must find it whole in the unreserved pool first (vmSwapInFrames), so a VM coming back never
// takes what the resident VMs were promised.

/** Gives back every frame of a written-out VM (private pages, tables, directory) and its promise. */
export function vmSwapRelease(vm: Vm): void {
  vmWithdrawPromise(vm);
  if (vmIsBytecode(vm)) { releaseLinearPages(vm); return; }
  freeMemory(vm);
}

/**
 * A bytecode VM written out whole gives back its pages (out of the window first) and empties its map; it
 * keeps its kernel frame (its interpreter's state, its page map: vm.tableFrames), as a VM keeps its slot.
 */
function releaseLinearPages(vm: Vm): void {
  linearForget(vm.space);
  const pages = vm.memorySize >>> PAGE_SHIFT;
  for (let page: u32 = 0; page < pages; page++) {
    const frame = linearFrame(vm.space, GUEST_BASE + (page << PAGE_SHIFT));
    if (frame === 0) continue;
    freeFrame(frame);
    privateFrameTotal--;
  }
  vm.privateFrames = 0;
  linearMapClear(vm.space, vm.memorySize);
}

/**
 * The entry of the VM's page at `address`: its PTE, or a bytecode VM's map entry (the same format, its
 * accessed and dirty bits those of the window too while it is installed there: linear.ts).
 */
export function vmPageEntry(vm: Vm, address: u32): u32 {
  return vmIsBytecode(vm) ? linearEntryBits(vm.space, address) : pageEntry(vm.space, address);
}

/**
 * A bytecode VM's map made to say its pages' accessed and dirty bits by itself (the window's harvested:
 * linear.ts linearSync), for a loop over its entries (swap-out.ts); nothing for a hardware VM.
 */
export function vmSyncBits(vm: Vm): void { if (vmIsBytecode(vm)) linearSync(vm.space); }

/** Marks the VM's resident page at `address` PAGE_KEPT (swap-out.ts: its clean copy kept, not written). */
export function vmMarkKept(vm: Vm, address: u32): void {
  if (!vmIsBytecode(vm)) { changeEntryBits(vm.space, address, PAGE_KEPT, 0); return; }
  const slot = linearSlot(vm.space, (address - GUEST_BASE) >>> PAGE_SHIFT);
  store32(slot, u32(load32(slot) | PAGE_KEPT));              // (the window's entries never carry it)
}

/** Frames a swap-in of `pages` private pages needs free: what it maps, or the reservation if more. */
export function vmSwapInFrames(vm: Vm, pages: u32): u32 {
  if (vmIsBytecode(vm)) {                 // its kernel frame is still held: only its pages come
    const rest = vm.reservedFrames > vm.tableFrames ? vm.reservedFrames - vm.tableFrames : 0;
    return pages > rest ? pages : rest;
  }
  const held = 1 + tablesSpanned(GUEST_BASE, vm.memorySize) + pages;
  return held > vm.reservedFrames ? held : vm.reservedFrames;
}

/** A new directory with the image's shared segments mapped; false without a frame (nothing held then). */
export function vmSwapInBegin(vm: Vm): bool {
  if (vmIsBytecode(vm)) return true;      // its map is in its kernel frame, kept
  const space = createAddressSpace();
  if (space === FRAME_NONE) return false;
  vm.space = space;
  vm.tableFrames = 1;
  const image = images[vm.imageIndex];
  for (let i: u32 = 0; i < image.segmentCount; i++) {
    const s = imageSegment(vm.imageIndex, i);
    if (s.memorySize === 0 || !segmentShared(s)) continue;
    const length = (s.memorySize + PAGE_OFFSET_MASK) & ~PAGE_OFFSET_MASK;
    if (!mapCounted(vm, s.virtualAddress, image.moduleStart + s.fileOffset, length, MAP_USER)) return false;
  }
  return true;
}

/** Maps a fresh private frame at `address` for a swap-in (the disk fills it); FRAME_NONE without one. */
export function vmSwapInPage(vm: Vm, address: u32): u32 {
  const frame = allocFrame();
  if (frame === FRAME_NONE) return FRAME_NONE;
  vm.privateFrames++;
  privateFrameTotal++;
  if (privateFrameTotal > privateFramePeak) privateFramePeak = privateFrameTotal;
  if (vmIsBytecode(vm)) { linearMapPage(vm.space, vm.memorySize, address, frame, false); return frame; }
  if (mapCounted(vm, address, frame, PAGE_SIZE, MAP_USER | MAP_WRITABLE)) return frame;
  freeFrame(frame);
  vm.privateFrames--;
  privateFrameTotal--;
  return FRAME_NONE;
}

/** Marks page `address` as on the swap disk at `position` of the VM's region (swap.ts); false without a table. */
export function vmSwapInMark(vm: Vm, address: u32, position: u32): bool {
  if (vmIsBytecode(vm)) { linearUnmapPage(vm.space, address, (position << PAGE_SHIFT) | PAGE_SWAPPED); return true; }
  const before = pagingTableFrames();
  const ok = setAbsentEntry(vm.space, address, (position << PAGE_SHIFT) | PAGE_SWAPPED);
  vm.tableFrames += pagingTableFrames() - before;
  return ok;
}

/** Clears the accessed bit of the VM's present page at `address` (swap-evict.ts's second chance). */
export function vmClearAccessed(vm: Vm, address: u32): void {
  if (vmIsBytecode(vm)) linearClearAccessed(vm.space, address); else clearAccessed(vm.space, address);
}

/**
 * Gives back the frame of a page written out alone (its entry already PAGE_SWAPPED): free and uncharged.
 * A VM that ended meanwhile (its memory released, this frame not among it) is charged nothing any more.
 */
export function vmPageOutFrame(vm: Vm, frame: u32): void {
  if (vm.space !== 0) { freePrivateFrame(vm, frame); return; }
  freeFrame(frame);
  privateFrameTotal--;
}

/** A private frame, charged, for a page read back on demand (not mapped yet); FRAME_NONE without one. */
export function vmPageInFrame(vm: Vm): u32 { return allocPrivateFrame(vm); }

/** Maps the frame of a page read back on demand at `address` (its PAGE_SWAPPED entry's table exists). */
export function vmPageInMap(vm: Vm, address: u32, frame: u32): void {
  if (vmIsBytecode(vm)) { linearMapPage(vm.space, vm.memorySize, address & ~PAGE_OFFSET_MASK, frame, false); return; }
  mapRange(vm.space, address & ~PAGE_OFFSET_MASK, frame, PAGE_SIZE, MAP_USER | MAP_WRITABLE);
}

/** The swap-in's frames are all held (or it failed): from now the VM is promised its reservation again. */
export function vmSwapInEnd(vm: Vm): void { vmRenewPromise(vm, true); }

/**
 * With swap, a VM blocked in idle is promised nothing (swap.ts): the part of its reservation it does not
 * hold goes back to the unreserved pool, so that memory fills with idle VMs as a cache rather than stand
 * free for them. Also when a VM goes out or ends. Nothing when it holds no promise.
 */
export function vmWithdrawPromise(vm: Vm): void {
  if (!vm.promised) return;
  promisedFrames -= withinReservation(vm, vm.reservedFrames);
  vm.promised = false;
}

/**
 * A woken VM is promised its reservation again before it runs: true when it is (or was), false when the
 * unreserved pool does not hold the part it does not hold (it waits: swap.ts). `anyway`: promised even
 * then: a VM that runs unpromised (swap-out.ts runs an idle one as it is to settle held ACKs, at the
 * moment the pool is shortest) and asks for a frame (charge), so that within its reservation it is
 * granted as always; the write-outs under way refill the pool.
 */
export function vmRenewPromise(vm: Vm, anyway: bool): bool {
  if (vm.promised) return true;
  const unheld = withinReservation(vm, vm.reservedFrames);
  if (!anyway && unheld > vmUnreservedFrames()) return false;
  promisedFrames += unheld;
  vm.promised = true;
  return true;
}

/** mapRange with the page tables it makes counted as the VM's (not charged: vmSwapInFrames was checked). */
function mapCounted(vm: Vm, address: u32, frame: u32, length: u32, rights: u32): bool {
  const before = pagingTableFrames();
  const ok = mapRange(vm.space, address, frame, length, rights) === PAGING_OK;
  vm.tableFrames += pagingTableFrames() - before;
  return ok;
}

// ---- the receive queue -----------------------------------------------------------------------------

/** Appends `buffer` to VM `id`'s receive queue and the pool's age list, charged to VM `sender` (or the wire). */
export function vmQueuePut(id: u32, buffer: u32, sender: u32): void {
  const vm = vmAt(id);
  store32(buffer + NET_BUFFER_NEXT, 0);
  store32(buffer + NET_BUFFER_SENDER, sender);
  store32(buffer + NET_BUFFER_RECEIVER, id);
  store32(buffer + NET_BUFFER_QUEUED_SWITCHES, vm.switchIns);
  if (vm.netTail === 0) vm.netHead = buffer; else store32(vm.netTail + NET_BUFFER_NEXT, buffer);
  vm.netTail = buffer;
  vm.netCount++;
  netBufferAgeAppend(buffer);
  if (sender !== NET_SENDER_WIRE) vmAt(sender).netSent++;
}

/** Takes the oldest frame off the VM's queue and the age list, its sender's charge released; 0 if none. */
export function vmQueueTake(vm: Vm): u32 {
  const buffer = vm.netHead;
  if (buffer === 0) return 0;
  vm.netHead = load32(buffer + NET_BUFFER_NEXT);
  if (vm.netHead === 0) vm.netTail = 0;
  vm.netCount--;
  netBufferAgeRemove(buffer);
  const sender = load32(buffer + NET_BUFFER_SENDER);
  if (sender !== NET_SENDER_WIRE) vmAt(sender).netSent--;
  return buffer;
}

/**
 * Releases everything an ended VM holds (memory, queued frames). Its space must not be in CR3. The last
 * VM of its group released ends the group (groups.ts): its image is freed, and its VMs' slots belong to
 * no group from then on (GROUP_NONE), which lets control.ts reuse their ids.
 */
export function vmRelease(vm: Vm): void {
  for (let buffer = vmQueueTake(vm); buffer !== 0; buffer = vmQueueTake(vm)) netBufferFree(buffer);
  releaseMemory(vm);
  const group = vm.imageIndex;
  if (!groupVmReleased(group)) return;
  const first = groupFirstVm(group), end = first + groupVmCount(group);
  for (let id = first; id < end; id++) if (vmAt(id).imageIndex === group) vmAt(id).imageIndex = GROUP_NONE;
}
