// Boot of the VMs: the manifest (manifest.ts) names images and how many VMs of each; every image is
// parsed once (elf.ts), every VM created (vm.ts) and queued, then the scheduler runs them
// (scheduler.ts) until all have ended. Reports what a VM costs: memory (frames and page tables, at
// creation) and, with `bench` on the command line, the instructions to start one (under -icount).
import { bool, u32, rdtsc } from "dsl";
import { manifestLoad, manifestErrorName, manifestGroupCount, groups, MANIFEST_OK, MANIFEST_NONE } from "./manifest.ts";
import { elfParse, elfErrorName, ELF_OK } from "./elf.ts";
import { vmTableInit, vmCreate, vmCount, vmPrivateFrames, VM_CREATE_OK, VM_LIMIT, byteSwap32 } from "./vm.ts";
import { schedulerInit, schedulerAdd, schedulerRun, schedulerReport, schedulerStop } from "./scheduler.ts";
import { shellMonitor } from "./shell.ts";
import { switchReport } from "./switch.ts";
import { virtioNetReport } from "./virtio-net.ts";
import { hypercallInit } from "./hypercall.ts";
import { moduleAt } from "./modules.ts";
import { framesUsed, PAGE_SHIFT } from "./frames.ts";
import { pagingTableFrames } from "./paging.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

const KIB_SHIFT = 10;

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
 * unusable (reported). Interrupts may be on: nothing runs a VM before schedulerRun.
 */
export function vmsStart(bench: bool): bool {
  const status = manifestLoad();
  if (status === MANIFEST_NONE) return false;
  if (status !== MANIFEST_OK) return fail("manifest", manifestErrorName(status));
  const groupCount = manifestGroupCount();
  let total: u32 = 0;
  for (let g: u32 = 0; g < groupCount; g++) {
    const parsed = elfParse(moduleAt(groups[g].moduleIndex), g);
    if (parsed !== ELF_OK) return fail("image", elfErrorName(parsed));
    total += groups[g].vmCount;
    if (total > VM_LIMIT) return fail("manifest", "more VMs than VM_LIMIT");
  }
  if (!vmTableInit(total)) return fail("manifest", "no memory for the VM table");
  schedulerInit();
  hypercallInit();
  const framesBefore = framesUsed();
  const tablesBefore = pagingTableFrames();
  const start = rdtsc();
  for (let g: u32 = 0; g < groupCount; g++) {
    const group = groups[g];
    for (let k: u32 = 0; k < group.vmCount; k++) {
      const ip = byteSwap32(byteSwap32(group.ipBase) + k);
      const created = vmCreate(g, group.memoryKiB << KIB_SHIFT, total, group.argument, ip);
      if (created !== VM_CREATE_OK) {
        fail("create", created === 2 ? "memory size too small, too large or not a page multiple" : "out of memory");
        break;
      }
      schedulerAdd(vmCount() - 1);
    }
  }
  const elapsed = rdtsc() - start;
  const count = vmCount();
  const frames = framesUsed() - framesBefore;
  consoleWriteString("vms: ");
  consoleWriteDecimal(count);
  consoleWriteString(" created from ");
  consoleWriteDecimal(groupCount);
  consoleWriteString(" images; memory ");
  consoleWriteDecimal(frames << (PAGE_SHIFT - KIB_SHIFT));
  consoleWriteString(" KiB (");
  consoleWriteDecimal(vmPrivateFrames());
  consoleWriteString(" private frames, ");
  consoleWriteDecimal(pagingTableFrames() - tablesBefore);
  consoleWriteString(" page-table frames), ");
  consoleWriteDecimal(count === 0 ? 0 : (frames << PAGE_SHIFT) / count);
  consoleWriteString(" bytes per VM");
  consoleNewLine();
  if (bench && count !== 0) {
    consoleWriteString("bench vm-start ");
    consoleWriteDecimal(elapsed / count);
    consoleNewLine();
  }
  return count !== 0;
}

function netReport(): void { switchReport(); virtioNetReport(); }

/** Runs the VMs with COM1 as a monitor (shell.ts: vms, net, stop); returns only if they all end. */
export function vmsRun(): void {
  shellMonitor(schedulerReport, netReport, schedulerStop);
  schedulerRun();
}
