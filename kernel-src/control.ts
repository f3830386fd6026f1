// The control VM's management hypercalls (docs/virtual-architecture.md "Management hypercalls";
// numbers, request and record layouts in abi/hypercalls.ts): vmCreate, vmStop, vmList, vmConsole,
// machineStatus. Only the VM of the manifest group marked `control` (manifest.ts; at most one VM) may
// make them; every other VM gets EPERM, before any argument is looked at. hypercall.ts dispatches to
// them through its table like any call: the fast path of the other calls is untouched.
//
// vmCreate checks a pushed image as strictly as a boot module: the image is first copied out of the
// caller's memory into a run of kernel frames (so the caller cannot change it afterwards), then parsed
// and checked there by elf.ts like a module; a refused image answers with the reason's error code
// (ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS, EBADENTRY) and nothing else changes: its frames are given back.
// Admission is all or nothing, as at boot: the VMs' reservations must fit in the unreserved pool
// together, else ENOMEM; a creation that fails midway releases the ones already made. The new VMs form
// a group (groups.ts) whose image run is freed when its last VM is released. Their ids are reused slots
// of VMs whose groups have ended and which no swap list or transfer refers to (slotReusable), else new
// ones at the table's end (the table, the timer pool and the buffer pool grow then, and stay).
// So creating and stopping N VMs again and again holds the frame count steady after the first round.
//
// Every pointer and length the control VM passes is checked against its own memory (vmRangeValid, no
// overflow) and each request is copied in once. Work is bounded by the request: VM_CREATE_LIMIT VMs and
// IMAGE_BYTES_LIMIT bytes per call, the caller's buffer for vmList and vmConsole; the caller's slice
// pays for it (the calls run in its hypercall, interrupts off). A VM being written to or read from the
// swap disk is not stopped mid-transfer: vmStop answers EAGAIN, try again.
import { bool, i32, u32, addressOf, sizeOf, memoryCopy, memoryFill } from "dsl";
import { mapPagesOnDisk } from "./swap-map.ts";
import {
  EPERM, EINVAL, EFAULT, EAGAIN, ENOMEM, EADDRINUSE, ESRCH, ENOSPC, VM_CREATE_LIMIT, IMAGE_BYTES_LIMIT,
  VmCreateRequest, VmStatus, MachineStatus, VM_STATE_RUNNABLE, VM_STATE_RUNNING, VM_STATE_IDLE, VM_STATE_ENDED,
  VM_FLAG_SWAPPED, VM_FLAG_CONTROL, SHARE_WEIGHT_MAX, SHARE_CAP_MAX, NET_BYTE_RATE_MIN,
} from "../abi/hypercalls.ts";
import { shareAt } from "./share.ts";
import { netLimitAt, netLimitSet } from "./netlimit.ts";
import { VM_LIMIT } from "../abi/boot.ts";
import { TrapFrame } from "./trapframe.ts";
import {
  Vm, VmNetwork, vmAt, vmCount, vmRangeValid, vmPrepareRange, vmSizeValid, vmReservation, vmUnreservedFrames,
  vmCreateAt, vmRelease, vmTableGrow, vmSetBootCountOf, vmHeldFrames, vmGroupArgument, vmGroupNetmask,
  vmGroupGateway, byteSwap32, vmSetMemoryCap, VM_CREATE_OK, VM_MEMORY_LIMIT, VM_RUNNABLE, VM_RUNNING, VM_ENDED,
  END_STOPPED,
  SWAP_RESIDENT, SWAP_OUT, SWAP_READING, SWAP_WRITING,
} from "./vm.ts";
import { elfParseAt, elfErrorResult, imageFileEnd, ELF_OK } from "./elf.ts";
import {
  groupFree, groupStart, groupFreeImage, groupAddressesTaken, GROUP_NONE,
} from "./groups.ts";
import {
  PAGE_SHIFT, PAGE_OFFSET_MASK, PAGE_KIB_SHIFT, FRAME_NONE, allocFrameRun, framesFree, framesAvailable,
} from "./frames.ts";
import { schedulerAdd, schedulerEnd, schedulerLiveCount, schedulerSetBytecodeGroup } from "./scheduler.ts";
import { timerGrow, TIMER_KERNEL_SLOTS } from "./timer.ts";
import { netBufferGrow } from "./netbuf.ts";
import { swapPrepare } from "./swap.ts";
import { consoleKeptCopy, consoleKeptTotal, consoleKeptHeld, CONSOLE_KEPT_BYTES } from "./console.ts";

const KIB_SHIFT = 10;

/** The control VM's id, or -1 when the manifest has none. */
let controlVm: i32 = -1;

/** The VM with the control capability (vmstart.ts, once the manifest's VMs exist). */
export function controlStart(id: u32): void { controlVm = i32(id); }

/** The kernel's copies: a request, a record being written out. */
const request = new VmCreateRequest();
const status = new VmStatus();
const machine = new MachineStatus();
const network = new VmNetwork();

/** Copies `length` bytes of the VM's memory at `address` into the kernel at `to`; false: EFAULT. */
function copyIn(vm: Vm, address: u32, to: u32, length: u32): bool {
  if (!vmRangeValid(vm, address, length) || !vmPrepareRange(vm, address, length, false)) return false;
  memoryCopy(to, address, length);
  return true;
}

/** True when [address, address + length) is the VM's and writable (mapped now); false: EFAULT. */
function writable(vm: Vm, address: u32, length: u32): bool {
  return vmRangeValid(vm, address, length) && vmPrepareRange(vm, address, length, true);
}

// ---- vmCreate -------------------------------------------------------------------------------------------

/** A byte rate limit: 0 (none) or at least NET_BYTE_RATE_MIN (one largest frame a second). */
function byteRateValid(rate: u32): bool { return rate === 0 || rate >= NET_BYTE_RATE_MIN; }

/** The request's fields make sense on their own (EINVAL otherwise). */
function requestValid(): bool {
  const r = request;
  if (r.count === 0 || r.count > VM_CREATE_LIMIT) return false;
  if (r.imageLength === 0 || r.imageLength > IMAGE_BYTES_LIMIT) return false;
  if (r.memoryKiB === 0 || (r.memoryKiB & 3) !== 0 || r.memoryKiB > (VM_MEMORY_LIMIT >>> KIB_SHIFT)) return false;
  if ((r.guaranteedKiB & 3) !== 0 || r.guaranteedKiB > r.memoryKiB) return false;
  if (r.cpuWeight > SHARE_WEIGHT_MAX || r.cpuCapPercent > SHARE_CAP_MAX) return false;
  if (!byteRateValid(r.txBytesPerSecond) || !byteRateValid(r.rxBytesPerSecond)) return false;
  const first = byteSwap32(r.ipAddress);
  return first !== 0 && first + (r.count - 1) >= first;          // the addresses do not wrap
}

/**
 * True when slot `id` may hold a new VM: its VM ended, was released, and its group ended (so no address
 * lookup finds it), and it waits on no swap list, ring or transfer. (Frames it sent that still wait on
 * queues, and its bytes still waiting in the console ring, stay charged to the slot: vm.ts initSlot.)
 */
function slotReusable(id: u32): bool {
  const vm = vmAt(id);
  return vm.state === VM_ENDED && vm.space === 0 && vm.imageIndex === GROUP_NONE && !vm.swapQueued
    && vm.swapList === 0 && vm.swapMap === 0;
}

/** The first id of `count` consecutive slots for new VMs: reusable ones, else (partly) past the table's end. */
function findSlots(count: u32): u32 {
  let run: u32 = 0;
  const total = vmCount();
  for (let id: u32 = 0; id < total; id++) {
    run = slotReusable(id) ? run + 1 : 0;
    if (run === count) return id + 1 - count;
  }
  return total - run;
}

/** Makes room for ids below `end` (table, alarms, network buffers); false: out of memory. */
function growTables(end: u32): bool {
  if (end <= vmCount()) return true;
  if (!vmTableGrow(end) || !timerGrow(end + TIMER_KERNEL_SLOTS)) return false;
  netBufferGrow(end);
  return true;
}

/** The memory cap, if any, holds the VMs' reservation (EINVAL otherwise). */
function capValid(group: u32, memorySize: u32): bool {
  const cap = request.memoryCapKiB;
  if (cap === 0) return true;
  const reservation = vmReservation(group, memorySize, request.guaranteedKiB >>> PAGE_KIB_SHIFT);
  return (cap & 3) === 0 && (cap >>> PAGE_KIB_SHIFT) >= reservation;
}

/** The VMs' reservations fit in the unreserved pool together. */
function admitted(group: u32, memorySize: u32, count: u32): bool {
  const each = vmReservation(group, memorySize, request.guaranteedKiB >>> PAGE_KIB_SHIFT);
  return count <= vmUnreservedFrames() / each;
}

/** Releases VMs [first, first + made) of a creation that failed midway: as if never created. */
function undoCreation(first: u32, made: u32): void {
  for (let id = first; id < first + made; id++) {
    const vm = vmAt(id);
    vm.state = VM_ENDED;
    vmRelease(vm);                       // its group has not started: only its memory and queue
    vm.imageIndex = GROUP_NONE;
  }
}

/**
 * Creates the VMs of a checked request from group `group`'s parsed image (its frames `run`, `pages`):
 * the first id, or an error (the caller frees the image then).
 */
function createVms(group: u32, run: u32, pages: u32): i32 {
  const r = request, memorySize = r.memoryKiB << KIB_SHIFT, count = r.count;
  if (!vmSizeValid(group, memorySize) || !capValid(group, memorySize)) return EINVAL;
  const ipBase = byteSwap32(r.ipAddress);
  if (groupAddressesTaken(ipBase, count)) return EADDRINUSE;
  if (!admitted(group, memorySize, count)) return ENOMEM;
  const first = findSlots(count);
  if (first + count > VM_LIMIT) return ENOSPC;
  if (!growTables(first + count) || !admitted(group, memorySize, count)) return ENOMEM;
  const control = vmAt(u32(controlVm));
  network.netmask = r.netmask !== 0 ? r.netmask : vmGroupNetmask(control.imageIndex);
  network.gateway = r.netmask !== 0 ? r.gateway : vmGroupGateway(control.imageIndex);
  for (let k: u32 = 0; k < count; k++) {
    network.ipAddress = byteSwap32(ipBase + k);
    const created = vmCreateAt(first + k, group, memorySize, r.guaranteedKiB >>> PAGE_KIB_SHIFT, r.argument, network);
    if (created !== VM_CREATE_OK) { undoCreation(first, k); return ENOMEM; }
  }
  groupStart(group, first, count, ipBase, run, pages);
  for (let k: u32 = 0; k < count; k++) {
    swapPrepare(first + k);
    netLimitSet(first + k, r.txPacketsPerSecond, r.txBytesPerSecond, r.rxPacketsPerSecond, r.rxBytesPerSecond);
    vmSetMemoryCap(vmAt(first + k), r.memoryCapKiB >>> PAGE_KIB_SHIFT);
    schedulerAdd(first + k, r.cpuWeight, r.cpuCapPercent);
  }
  vmSetBootCountOf(first, first + count);
  return i32(first);
}

/**
 * vmCreate: ebx = a VmCreateRequest. The first new VM's id (the others follow it), or EPERM, EINVAL,
 * EFAULT, ENOMEM, ENOSPC, EADDRINUSE, or the image's refusal (ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS,
 * EBADENTRY).
 */
export function callVmCreate(index: u32, frame: TrapFrame): i32 {
  if (i32(index) !== controlVm) return EPERM;
  const caller = vmAt(index);
  if (!copyIn(caller, frame.ebx, addressOf(request), sizeOf(VmCreateRequest))) return EFAULT;
  if (!requestValid()) return EINVAL;
  const length = request.imageLength;
  if (!vmRangeValid(caller, request.imageAddress, length)) return EFAULT;
  if (!vmPrepareRange(caller, request.imageAddress, length, false)) return EFAULT;
  const group = groupFree();
  if (group === GROUP_NONE) return ENOSPC;
  schedulerSetBytecodeGroup(group, false);          // the number may have been a bytecode group's
  let pages = (length + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  const run = allocFrameRun(pages);
  if (run === FRAME_NONE) return ENOMEM;
  // The kernel's own copy, zero past the file's end (a shared page's tail is mapped into every VM).
  memoryCopy(run, request.imageAddress, length);
  memoryFill(run + length, 0, (pages << PAGE_SHIFT) - length);
  const parsed = elfParseAt(run, length, group);
  if (parsed !== ELF_OK) { groupFreeImage(run, pages); return elfErrorResult(parsed); }
  // Only the pages the segments load are kept (not the symbols and debugging sections after them).
  let used = (imageFileEnd(group) + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
  if (used === 0) used = 1;
  if (used < pages) { groupFreeImage(run + (used << PAGE_SHIFT), pages - used); pages = used; }
  const result = createVms(group, run, pages);
  if (result < 0) groupFreeImage(run, pages);
  return result;
}

// ---- vmStop, vmList, vmConsole, machineStatus -------------------------------------------------------------

/** vmStop: ebx = a VM id. 0: it ended (END_STOPPED), its memory is free; ESRCH, EINVAL (itself), EAGAIN. */
export function callVmStop(index: u32, frame: TrapFrame): i32 {
  if (i32(index) !== controlVm) return EPERM;
  const id = frame.ebx;
  if (id >= vmCount()) return ESRCH;
  if (id === index) return EINVAL;                  // the control VM ends itself with exit
  const vm = vmAt(id);
  if (vm.state === VM_ENDED) return ESRCH;
  // Pages in flight to or from the swap disk are written into or read from its frames: not now.
  if (vm.swapState !== SWAP_RESIDENT && vm.swapState !== SWAP_OUT) return EAGAIN;
  schedulerEnd(id, END_STOPPED, 0, vm.save.eip, 0);
  return 0;
}

function stateOf(vm: Vm): u32 {
  if (vm.state === VM_ENDED) return VM_STATE_ENDED;
  if (vm.state === VM_RUNNING) return VM_STATE_RUNNING;
  return vm.state === VM_RUNNABLE ? VM_STATE_RUNNABLE : VM_STATE_IDLE;
}

/** Fills `status` with VM `id`'s record. */
function describe(id: u32): void {
  const vm = vmAt(id), s = status;
  s.id = id;
  s.state = stateOf(vm);
  s.flags = 0;
  const swapped = vm.swapState === SWAP_OUT || vm.swapState === SWAP_READING || vm.swapState === SWAP_WRITING;
  if (swapped) s.flags = VM_FLAG_SWAPPED;
  if (i32(id) === controlVm) s.flags = s.flags | VM_FLAG_CONTROL;
  s.endReason = vm.state === VM_ENDED ? vm.endReason : 0;
  s.exitStatus = vm.state === VM_ENDED ? vm.exitStatus : 0;
  s.ipAddress = vm.ipAddress;
  s.memoryKiB = vm.memorySize >>> KIB_SHIFT;
  s.residentKiB = vmHeldFrames(vm) << PAGE_KIB_SHIFT;
  s.reservedKiB = vm.reservedFrames << PAGE_KIB_SHIFT;
  s.cpuLow = vm.cyclesLow;
  s.cpuHigh = vm.cyclesHigh;
  s.switches = vm.switchIns;
  s.rxPackets = vm.rxPackets;
  s.rxBytes = vm.rxBytes;
  s.txPackets = vm.txPackets;
  s.txBytes = vm.txBytes;
  s.dropped = vm.rxDropped;
  s.spoofed = vm.txSpoofed;
  s.refused = vm.txRefused;
  s.evicted = netLimitAt(id).rxEvicted;
  s.consoleBytes = consoleKeptTotal(vm);
  s.argument = vm.imageIndex !== GROUP_NONE ? vmGroupArgument(vm.imageIndex) : 0;
  const share = shareAt(id);
  s.cpuWeight = u32(share.weight);
  s.cpuCapPercent = u32(share.capPercent);
  const limit = netLimitAt(id);
  s.txPacketsPerSecond = limit.txPacketRate;
  s.txBytesPerSecond = limit.txByteRate;
  s.rxPacketsPerSecond = limit.rxPacketRate;
  s.rxBytesPerSecond = limit.rxByteRate;
  s.txLimited = limit.txLimited;
  s.rxLimited = limit.rxLimited;
  s.memoryCapKiB = vm.memoryCapFrames << PAGE_KIB_SHIFT;
  s.swapKiB = mapPagesOnDisk(vm) << PAGE_KIB_SHIFT;
}

/**
 * vmList: ebx = the first id, ecx = a buffer, edx = its capacity in bytes. Writes a VmStatus for each VM
 * from ebx on while they fit; returns how many (0: none from there). EINVAL: no room for one.
 */
export function callVmList(index: u32, frame: TrapFrame): i32 {
  if (i32(index) !== controlVm) return EPERM;
  const first = frame.ebx, buffer = frame.ecx, size = sizeOf(VmStatus);
  const fits = frame.edx / size;
  if (fits === 0) return EINVAL;
  if (first >= vmCount()) return 0;
  const count = fits < vmCount() - first ? fits : vmCount() - first;
  if (!writable(vmAt(index), buffer, count * size)) return EFAULT;
  for (let k: u32 = 0; k < count; k++) {
    describe(first + k);
    memoryCopy(buffer + k * size, addressOf(status), size);
  }
  return i32(count);
}

/**
 * vmConsole: ebx = a VM id, ecx = a buffer, edx = its capacity. Copies the VM's last console bytes (at
 * most the capacity, of the last CONSOLE_KEPT_BYTES it wrote, as written), oldest first; returns how many.
 */
export function callVmConsole(index: u32, frame: TrapFrame): i32 {
  if (i32(index) !== controlVm) return EPERM;
  const id = frame.ebx, buffer = frame.ecx, capacity = frame.edx;
  if (!vmRangeValid(vmAt(index), buffer, capacity)) return EFAULT;
  if (id >= vmCount()) return ESRCH;
  const vm = vmAt(id);
  const held = consoleKeptHeld(vm);
  const count = capacity < held ? capacity : held;
  if (!writable(vmAt(index), buffer, count)) return EFAULT;
  return i32(consoleKeptCopy(vm, buffer, count));
}

/** machineStatus: ebx = where to write a MachineStatus. 0. */
export function callMachineStatus(index: u32, frame: TrapFrame): i32 {
  if (i32(index) !== controlVm) return EPERM;
  if (!writable(vmAt(index), frame.ebx, sizeOf(MachineStatus))) return EFAULT;
  const m = machine;
  m.framesTotal = framesAvailable();
  m.framesFree = framesFree();
  m.framesUnreserved = vmUnreservedFrames();
  m.vmSlots = vmCount();
  m.vmsLive = schedulerLiveCount();
  m.controlVm = u32(controlVm);
  m.consoleKeptBytes = CONSOLE_KEPT_BYTES;
  memoryCopy(frame.ebx, addressOf(machine), sizeOf(MachineStatus));
  return 0;
}
