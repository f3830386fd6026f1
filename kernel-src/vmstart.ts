// Boot of the VMs: the manifest (manifest.ts) names images and how many VMs of each; every image is
// parsed once (elf.ts), every VM created (vm.ts) and queued, then the scheduler runs them
// (scheduler.ts) until all have ended. Reports what a VM costs: memory (frames and page tables, at
// creation) and, with `bench` on the command line, the instructions to start one (under -icount).
// Admission is all or nothing: before any VM exists, every group's memory size is checked and the
// reservations of all its VMs (vm.ts "Memory quotas") must fit in the memory left for VMs; otherwise
// the manifest is refused with one `vms: manifest refused: ...` line and no VM runs. Should a creation
// still fail midway (a frame the reservation promised was taken by the kernel), the VMs created run and
// their boot pages give the number created (vmSetBootCount after the last creation), never the plan.
// A bytecode group (manifest.ts GROUP_FLAG_BYTECODE) has a DNBC module: it is verified first
// (bytecode-verify.ts); a bad image refuses that group alone with the verifier's reason, function and
// offset (`vms: group G refused: bytecode image: REASON in function F at offset O; its N VMs not started`)
// and the other groups start. A good one is pre-decoded (bytecode-decode.ts) and its VMs run on the
// in-kernel interpreter (bytecode-interp.ts, scheduled by scheduler.ts like the others), with no address
// space of their own: a page map and the shared window (linear.ts), their pages demand-zero.
import { bool, i32, u32, rdtsc } from "dsl";
import {
  manifestLoad, manifestErrorName, manifestGroupCount, manifestControlGroup, manifestGroupBytecode, groups, MANIFEST_OK,
  MANIFEST_NONE,
} from "./manifest.ts";
import { verifyBytecode, bytecodeDataBytes } from "./bytecode-verify.ts";
import { verdict, bytecodeErrorName, alignUp, VERIFY_OK, NO_FUNCTION } from "./bytecode-reader.ts";
import { bytecodeDecode, decodedImages } from "./bytecode-decode.ts";
import { bytecodeSlice, bytecodeVmPrepare, bytecodeVmRelease } from "./bytecode-interp.ts";
import { BYTECODE_DATA_OFFSET, BYTECODE_DATA_ALIGN } from "../abi/bytecode.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { elfParse, elfErrorName, imageWithoutSegments, ELF_OK } from "./elf.ts";
import {
  vmTableInit, vmCreate, vmCreateSwappedOut, vmSetBytecodeBuilt, vmCount, vmPrivateFrames, vmSizeValid, vmReservation,
  vmUnreservedFrames, vmSetBootCount, vmAt, vmSlotBytes, vmTableFrameTotal, imageSharedPages, vmMapsSharedCode,
  VM_CREATE_OK, VM_CREATE_BAD_SIZE, VM_CREATE_NO_MEMORY, VM_MEMORY_LIMIT, VmNetwork, byteSwap32, vmSetControlKey,
  vmSetMemoryCap,
} from "./vm.ts";
import { linearWindowReserve } from "./linear.ts";
import {
  schedulerInit, schedulerAdd, schedulerAddSwappedOut, schedulerRun, schedulerStop, schedulerSetBytecode,
  schedulerSetBytecodeGroup,
} from "./scheduler.ts";
import { vmsReport, vmsMonitorReport, vmsProfileReport } from "./vmreport.ts";
import { shellMonitor } from "./shell.ts";
import { switchReport } from "./switch.ts";
import { nicReport } from "./nic.ts";
import { diskReport } from "./disk.ts";
import { swapInit, swapActive, swapStartLater, swapPrepare, swapWaitReport } from "./swap.ts";
import { swapReport, swapRates } from "./swap-report.ts";
import { hypercallInit } from "./hypercall.ts";
import { timerGrow, TIMER_KERNEL_SLOTS } from "./timer.ts";
import { netBufferGrow } from "./netbuf.ts";
import { VM_LIMIT } from "../abi/boot.ts";
import { moduleAt, moduleFind, moduleCount, moduleSize, MultibootModule } from "./modules.ts";
import { framesUsed, PAGE_SHIFT, PAGE_KIB_SHIFT } from "./frames.ts";
import { pagingTableFrames } from "./paging.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleNewLine, consoleKeepStart, CONSOLE_KEPT_BYTES,
} from "./console.ts";
import { groupStart } from "./groups.ts";
import { netLimitSet } from "./netlimit.ts";
import { controlStart } from "./control.ts";

const KIB_SHIFT = 10;
const network = new VmNetwork();
/** 1 for a group whose VMs are not started (a bytecode group refused). */
const groupSkipped = new Uint8Array(16);   // manifest.ts MANIFEST_GROUP_LIMIT
const PAGE_BYTES: u32 = 4096;

/** Starts the line `vms: manifest refused: group G: WHY` (the caller may add figures and ends it). */
function refuse(group: u32, why: string): void {
  consoleWriteString("vms: manifest refused: group ");
  consoleWriteDecimal(group);
  consoleWriteString(": ");
  consoleWriteString(why);
}

/** The demand pages each VM of group `g` is guaranteed (bytecode VMs' pages are demand-zero too). */
function guaranteedPagesOf(g: u32): u32 { return groups[g].guaranteedKiB >>> PAGE_KIB_SHIFT; }

/**
 * Admission control: true when every group's memory size is valid for its image and the reservations
 * of all the manifest's VMs fit in the unreserved pool together (else one line says why).
 */
function admit(groupCount: u32): bool {
  const pool = vmUnreservedFrames();
  let reserved: u32 = 0;
  for (let g: u32 = 0; g < groupCount; g++) {
    const group = groups[g];
    if (groupSkipped[g] !== 0) continue;
    if (group.memoryKiB > (VM_MEMORY_LIMIT >>> KIB_SHIFT) || !vmSizeValid(g, group.memoryKiB << KIB_SHIFT)) {
      refuse(g, "memory size too small for its image, too large or not a page multiple");
      consoleNewLine();
      return false;
    }
    const each = vmReservation(g, group.memoryKiB << KIB_SHIFT, guaranteedPagesOf(g));
    if (group.memoryCapKiB !== 0 && (group.memoryCapKiB >>> PAGE_KIB_SHIFT) < each) {
      refuse(g, "memory cap below the reservation of its VMs, ");
      consoleWriteDecimal(each << PAGE_KIB_SHIFT);
      consoleWriteString(" KiB");
      consoleNewLine();
      return false;
    }
    // With a swap disk the VMs beyond memory start swapped out: each reservation must fit, not their sum
    // (a bytecode VM's too: its kernel frame and interpreter's state are made when it is built).
    const overcommit = swapActive() && each <= pool;
    // vmCount * each > pool - reserved, without overflow:
    if (!overcommit && group.vmCount > (pool - reserved) / each) {
      refuse(g, "out of memory: its ");
      consoleWriteDecimal(group.vmCount);
      consoleWriteString(" VMs reserve ");
      consoleWriteDecimal(each << PAGE_KIB_SHIFT);
      consoleWriteString(" KiB each; ");
      consoleWriteDecimal((pool - reserved) << PAGE_KIB_SHIFT);
      consoleWriteString(" KiB left of the ");
      consoleWriteDecimal(pool << PAGE_KIB_SHIFT);
      consoleWriteString(" KiB free for VMs");
      consoleNewLine();
      return false;
    }
    reserved += group.vmCount * each;
  }
  consoleWriteString("vms: admitted, reservations ");
  consoleWriteDecimal(reserved << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB of the ");
  consoleWriteDecimal(pool << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB free for VMs");
  if (reserved > pool) consoleWriteString(" (overcommitted: the VMs beyond memory start swapped out)");
  consoleNewLine();
  return true;
}

/** The name of the boot module holding the control VM's key (tools/cli.ts `boot` makes it). */
const CONTROL_KEY_MODULE = "control-key";

/** VM `id`, the control VM, gets the key module's bytes in its boot page (none: length 0, it serves no one). */
function giveControlKey(id: u32): void {
  const index = moduleFind(CONTROL_KEY_MODULE);
  if (index === moduleCount()) { vmSetControlKey(id, 0, 0); return; }
  vmSetControlKey(id, moduleAt(index).start, moduleSize(moduleAt(index)));
}

/**
 * Verifies bytecode group `g`'s module and pre-decodes it: true when its VMs can start. A refusal names the
 * verifier's reason, the function (its index in the image's function section, if any) and the byte offset;
 * an image that passes must leave room in the group's memory for its data, its stack and the boot page.
 * One line says what became of the group.
 */
function startBytecodeGroup(g: u32, module: MultibootModule): bool {
  const error = verifyBytecode(module.start, moduleSize(module));
  consoleWriteString("vms: group ");
  consoleWriteDecimal(g);
  if (error !== VERIFY_OK) {
    consoleWriteString(" refused: bytecode image: ");
    consoleWriteString(bytecodeErrorName(error));
    if (verdict.functionIndex !== NO_FUNCTION) {
      consoleWriteString(" in function ");
      consoleWriteDecimal(verdict.functionIndex);
    }
    consoleWriteString(" at offset ");
    consoleWriteDecimal(verdict.offset);
    return notStarted(g);
  }
  const data = alignUp(bytecodeDataBytes(), BYTECODE_DATA_ALIGN);
  const memory = groups[g].memoryKiB << KIB_SHIFT;
  // Its stack, boot information and data (abi/bytecode.ts), then a page at least (checked exactly once it is
  // decoded: the data's base is aligned up to its symbols' largest alignment).
  if (data > memory || memory - data < BYTECODE_DATA_OFFSET + PAGE_BYTES) return tooSmall(g);
  if (!linearWindowReserve(memory)) {
    consoleWriteString(" refused: no memory for the bytecode window's page tables");
    return notStarted(g);
  }
  if (!bytecodeDecode(g, module.start, moduleSize(module))) {
    consoleWriteString(" refused: bytecode image: no memory to pre-decode it, or a function of too many blocks");
    return notStarted(g);
  }
  const end = decodedImages[g].dataBase + decodedImages[g].dataBytes;
  if (end - GUEST_BASE > memory - PAGE_BYTES) return tooSmall(g);
  imageWithoutSegments(g, end);
  schedulerSetBytecodeGroup(g, true);
  consoleWriteString(": bytecode image verified, ");
  consoleWriteDecimal(moduleSize(module));
  consoleWriteString(" bytes, ");
  consoleWriteDecimal(data);
  consoleWriteString(" bytes of data");
  consoleNewLine();
  return true;
}

function tooSmall(g: u32): bool {
  consoleWriteString(" refused: bytecode image: memory size too small for its data and stack");
  return notStarted(g);
}

function notStarted(g: u32): bool {
  consoleWriteString("; its ");
  consoleWriteDecimal(groups[g].vmCount);
  consoleWriteString(" VMs not started");
  consoleNewLine();
  return false;
}


function fail(what: string, why: string): bool {
  consoleWriteString("vms: ");
  consoleWriteString(what);
  consoleWriteString(": ");
  consoleWriteString(why);
  consoleNewLine();
  return false;
}

/**
 * Creates every VM the manifest asks for; false when there is no manifest (boot as before) or it is
 * unusable (reported). Interrupts may be on: nothing runs a VM before schedulerRun. `timeScheduler`
 * (`scheduler=timed` on the command line): the scheduler times its run heap (schedulerInit).
 */
export function vmsStart(bench: bool, timeScheduler: bool): bool {
  const status = manifestLoad();
  if (status === MANIFEST_NONE) return false;
  if (status !== MANIFEST_OK) return fail("manifest", manifestErrorName(status));
  const groupCount = manifestGroupCount();
  let total: u32 = 0;
  for (let g: u32 = 0; g < groupCount; g++) {
    groupSkipped[g] = 0;
    schedulerSetBytecodeGroup(g, false);
    if (manifestGroupBytecode(g)) {
      if (!startBytecodeGroup(g, moduleAt(groups[g].moduleIndex))) { groupSkipped[g] = 1; continue; }
    } else {
      const parsed = elfParse(moduleAt(groups[g].moduleIndex), g);
      if (parsed !== ELF_OK) return fail("image", elfErrorName(parsed));
    }
    total += groups[g].vmCount;
    if (total > VM_LIMIT) return fail("manifest", "more VMs than VM_LIMIT");
  }
  // With a control VM, every VM's last console bytes are kept for it (console.ts), in the kernel's reserve;
  // and VMs may come at run time: the swap wait ring is made for as many as there can ever be.
  const control = manifestControlGroup() >= 0;
  if (!vmTableInit(total, control ? CONSOLE_KEPT_BYTES : 0)) return fail("manifest", "no memory for the VM table");
  if (!timerGrow(total + TIMER_KERNEL_SLOTS)) return fail("manifest", "no memory for the VMs' alarms");
  if (control) consoleKeepStart();
  schedulerInit(vmsReport, timeScheduler);
  schedulerSetBytecode(bytecodeSlice, bytecodeVmRelease);
  vmSetBytecodeBuilt(bytecodeVmPrepare);
  swapInit(bench, control ? VM_LIMIT : total);
  hypercallInit();
  netBufferGrow(total);
  if (!admit(groupCount)) return false;
  const framesBefore = framesUsed();
  const tablesBefore = pagingTableFrames();
  const start = rdtsc();
  let failed = false;
  for (let g: u32 = 0; g < groupCount && !failed; g++) {
    if (groupSkipped[g] !== 0) continue;
    const group = groups[g], first = vmCount();
    if (i32(g) === manifestControlGroup()) giveControlKey(first);
    for (let k: u32 = 0; k < group.vmCount && !failed; k++) {
      network.ipAddress = byteSwap32(byteSwap32(group.ipBase) + k);
      network.netmask = group.netmask;
      network.gateway = group.gateway;
      const bytecode = manifestGroupBytecode(g);
      const guaranteedPages = guaranteedPagesOf(g);
      let created = vmCreate(g, group.memoryKiB << KIB_SHIFT, guaranteedPages, group.argument, network);
      // A bytecode VM's kernel frame holds its page map and its interpreter's area (vm.ts buildLinear).
      if (created === VM_CREATE_OK && bytecode) bytecodeVmPrepare(vmCount() - 1, g);
      if (created === VM_CREATE_NO_MEMORY && swapActive()) {
        // Memory is full: with a swap disk the VM starts swapped out, built when its turn comes (swap.ts;
        // a bytecode VM's interpreter area then too: vm.ts vmSwapInBuild).
        created = vmCreateSwappedOut(g, group.memoryKiB << KIB_SHIFT, guaranteedPages, group.argument, network);
        if (created === VM_CREATE_OK) {
          vmSetMemoryCap(vmAt(vmCount() - 1), group.memoryCapKiB >>> PAGE_KIB_SHIFT);
          netLimitSet(vmCount() - 1, group.txPacketsPerSecond, group.txBytesPerSecond, group.rxPacketsPerSecond,
            group.rxBytesPerSecond);
          schedulerAddSwappedOut(vmCount() - 1, group.cpuWeight, group.cpuCapPercent);
          swapStartLater(vmCount() - 1);
          continue;
        }
      }
      if (created !== VM_CREATE_OK) {
        const badSize = created === VM_CREATE_BAD_SIZE;
        failed = !fail("create", badSize ? "memory size too small, too large or not a page multiple" : "out of memory");
        continue;
      }
      swapPrepare(vmCount() - 1);
      vmSetMemoryCap(vmAt(vmCount() - 1), group.memoryCapKiB >>> PAGE_KIB_SHIFT);
      netLimitSet(vmCount() - 1, group.txPacketsPerSecond, group.txBytesPerSecond, group.rxPacketsPerSecond,
        group.rxBytesPerSecond);
      schedulerAdd(vmCount() - 1, group.cpuWeight, group.cpuCapPercent);
    }
    // The group (groups.ts): its VMs' addresses, for the switch; it ends when its last VM is released.
    if (vmCount() !== first) groupStart(g, first, vmCount() - first, byteSwap32(group.ipBase), 0, 0);
    if (i32(g) === manifestControlGroup() && vmCount() !== first) controlStart(first);
  }
  vmSetBootCount();
  const elapsed = rdtsc() - start;
  const count = vmCount();
  const frames = framesUsed() - framesBefore;
  consoleWriteString("vms: ");
  consoleWriteDecimal(count);
  consoleWriteString(" created from ");
  consoleWriteDecimal(groupCount);
  consoleWriteString(" images; memory ");
  consoleWriteDecimal(frames << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB (");
  consoleWriteDecimal(vmPrivateFrames());
  consoleWriteString(" private frames, ");
  consoleWriteDecimal(pagingTableFrames() - tablesBefore);
  consoleWriteString(" page-table frames), ");
  consoleWriteDecimal(count === 0 ? 0 : (frames << PAGE_SHIFT) / count);
  consoleWriteString(" bytes per VM");
  consoleNewLine();
  reportTableAndSharing(groupCount, count);
  if (bench && count !== 0) {
    consoleWriteString("bench vm-start ");
    consoleWriteDecimal(elapsed / count);
    consoleNewLine();
  }
  return count !== 0;
}

/**
 * After creation, what the `bytes per VM` line leaves out and what it relies on (tests read both):
 *   vms: table F frames, a B-byte slot per VM
 *   vms: image G: P code pages shared, mapped from the module read-only by S of its V VMs
 * S counts the VMs whose page tables map every shared page to the module's own frame (vmMapsSharedCode).
 */
function reportTableAndSharing(groupCount: u32, count: u32): void {
  consoleWriteString("vms: table ");
  consoleWriteDecimal(vmTableFrameTotal());
  consoleWriteString(" frames, a ");
  consoleWriteDecimal(vmSlotBytes());
  consoleWriteString("-byte slot per VM");
  consoleNewLine();
  for (let g: u32 = 0; g < groupCount; g++) {
    let vms: u32 = 0, sharing: u32 = 0;
    for (let id: u32 = 0; id < count; id++) {
      const vm = vmAt(id);
      if (vm.imageIndex !== g || vm.space === 0) continue;
      vms++;
      if (vmMapsSharedCode(vm)) sharing++;
    }
    consoleWriteString("vms: image ");
    consoleWriteDecimal(g);
    consoleWriteString(": ");
    consoleWriteDecimal(imageSharedPages(g));
    consoleWriteString(" code pages shared, mapped from the module read-only by ");
    consoleWriteDecimal(sharing);
    consoleWriteString(" of its ");
    consoleWriteDecimal(vms);
    consoleWriteString(" VMs");
    consoleNewLine();
  }
}

function netReport(): void { switchReport(); nicReport(); }
function swapMonitor(): void { swapReport(); swapRates(); swapWaitReport(); diskReport(); }

/** Runs the VMs with COM1 as a monitor (shell.ts: vms, net, stop); returns only if they all end. */
export function vmsRun(): void {
  shellMonitor(vmsMonitorReport, netReport, swapMonitor, vmsProfileReport, schedulerStop);
  schedulerRun();
}
