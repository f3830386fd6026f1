// The VMs' summary (docs/virtual-architecture.md "Build and run"): one line per VM with its CPU time,
// switches and how it ended (and, when it used the network, its packet counters: switch.ts; when its CPU
// weight or cap is not the default, `vm N share: weight W, cap P%`; when it has network rate limits,
// `vm N limits: ...`: netlimit.ts; with a memory cap, `vm N memory cap C KiB, holds H KiB, on swap S KiB`), then the
// totals, the scheduler's,
// the switch's and the NIC's counters. Printed by the console's `vms` command (shell.ts: the
// first 1,000 VMs only) and, through the hook vmstart.ts gives schedulerInit, when every VM has ended
// (all of them). It lives apart from the
// scheduler so that the scheduler imports neither it nor the switch (which imports vinterrupt.ts, which
// imports the scheduler): the scheduler's state is read through its getters.
import { u32, overlay } from "dsl";
import { pagingCr3Loads, pagingSwitchesKept, pagingSwitchInvalidations, pagingKeepsCr3 } from "./paging.ts";
import { mapPagesOnDisk } from "./swap-map.ts";
import { messageInterruptsReport } from "./msi.ts";
import { Vm, vmAt, vmCount, vmPrivateFramePeak, vmBootPageFrame, VM_ENDED, END_EXIT } from "./vm.ts";
import {
  BootInfo, PROFILE_GUEST_RUNTIME, PROFILE_GUEST_NETIF, PROFILE_GUEST_TCP, PROFILE_GUEST_CATEGORIES,
} from "../abi/boot.ts";
import { profileReport, profileAdd } from "./profile.ts";
import {
  schedulerWriteEndReason, schedulerSwitchCount, schedulerLiveCount, schedulerFaultedCount, schedulerDecisionCount,
  schedulerThrottledCount, schedulerCyclesPerSwitchOut,
} from "./scheduler.ts";
import { shareAt } from "./share.ts";
import { SHARE_WEIGHT_DEFAULT } from "../abi/hypercalls.ts";
import { fpuClaimCount, fpuSaveCount } from "./fpu.ts";
import { divideWide } from "./clock.ts";
import { PAGE_KIB_SHIFT } from "./frames.ts";
import { switchReport, switchReportVm } from "./switch.ts";
import { netLimitReportVm } from "./netlimit.ts";
import { nicReport } from "./nic.ts";
import { diskReport } from "./disk.ts";
import { swapReport } from "./swap-report.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHex64, consoleNewLine } from "./console.ts";

/** CPU time of a VM in thousands of cycles. */
function vmKiloCycles(vm: Vm): u32 {
  if (vm.cyclesHigh >= 1000) return 0xffffffff;
  return divideWide(vm.cyclesHigh, vm.cyclesLow, 1000);
}

/**
 * The console's `vms` lists at most this many VMs, then the totals: with 100,000 VMs a full list is 4 MB
 * of COM1 output (a minute under emulation, the VMs starved meanwhile). The summary when every VM has
 * ended (vmsReport) lists them all.
 */
const MONITOR_VM_LINES: u32 = 1000;

/** Per-VM CPU, switches and end reasons of every VM, the totals, the counters (at the end of a run). */
export function vmsReport(): void { report(vmCount()); }

/** The console's `vms`: the first MONITOR_VM_LINES VMs and how many more, then the same totals. */
export function vmsMonitorReport(): void {
  const count = vmCount();
  if (count <= MONITOR_VM_LINES) { report(count); return; }
  report(MONITOR_VM_LINES);
  consoleWriteString("vms: ");
  consoleWriteDecimal(count - MONITOR_VM_LINES);
  consoleWriteString(" more VMs not listed (the summary at the end lists every one)");
  consoleNewLine();
}

/** Per-VM lines for VMs 0 .. listed - 1, then the totals over all VMs and the counters. */
function report(listed: u32): void {
  const count = vmCount();
  let exited: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const vm = vmAt(u32(i));
    if (vm.state === VM_ENDED && vm.endReason === END_EXIT) exited++;
  }
  for (let i: u32 = 0; i < listed; i++) {
    const vm = vmAt(u32(i));
    consoleWriteString("vm ");
    consoleWriteDecimal(i);
    consoleWriteString(": cpu ");
    consoleWriteDecimal(vmKiloCycles(vm));
    consoleWriteString(" kcycles, switches ");
    consoleWriteDecimal(vm.switchIns);
    consoleWriteString(", ");
    if (vm.state !== VM_ENDED) consoleWriteString("still idle");
    else schedulerWriteEndReason(vm);
    consoleNewLine();
    shareReportVm(i);
    switchReportVm(i);     // per-VM packet and byte counters, when the VM used the network
    netLimitReportVm(i);   // its rate limits and what they dropped, when it has any
    if (vm.memoryCapFrames !== 0) memoryCapReportVm(i, vm);
  }
  consoleWriteString("vms: ");
  consoleWriteDecimal(count);
  consoleWriteString(" started, ");
  consoleWriteDecimal(exited);
  consoleWriteString(" exited, ");
  consoleWriteDecimal(schedulerFaultedCount());
  consoleWriteString(" ended by the kernel, ");
  consoleWriteDecimal(schedulerLiveCount());
  consoleWriteString(" idle; switches ");
  consoleWriteDecimal(schedulerSwitchCount());
  consoleWriteString("; private frames peak ");
  consoleWriteDecimal(vmPrivateFramePeak());
  consoleWriteString("; fpu claims ");
  consoleWriteDecimal(fpuClaimCount());
  consoleWriteString(", saves ");
  consoleWriteDecimal(fpuSaveCount());
  if (pagingKeepsCr3()) {                    // `keepcr3`: the run directory's loads, and the switches without
    consoleWriteString("; CR3 loads ");
    consoleWriteDecimal(pagingCr3Loads());
    consoleWriteString(", VM switches without one ");
    consoleWriteDecimal(pagingSwitchesKept());
    consoleWriteString(" (pages invalidated ");
    consoleWriteDecimal(pagingSwitchInvalidations());
    consoleWriteString(")");
  }
  consoleNewLine();
  consoleWriteString("vms: scheduler: ");
  consoleWriteDecimal(schedulerDecisionCount());
  consoleWriteString(" picks from the run heap, ");
  consoleWriteDecimal(schedulerThrottledCount());
  consoleWriteString(" VMs held by their caps now");
  consoleNewLine();
  const perSwitchOut = schedulerCyclesPerSwitchOut();
  if (perSwitchOut !== 0) {              // `scheduler=timed` (scheduler.ts): a switch-out's cost
    consoleWriteString("bench scheduler-switch-out ");
    consoleWriteDecimal(perSwitchOut);
    consoleNewLine();
  }
  switchReport();
  nicReport();
  diskReport();
  messageInterruptsReport();
  swapReport();
}

/** `vm N memory cap C KiB, holds H KiB, on swap S KiB` for a VM with a memory cap (vm.ts; swap.ts atCap). */
function memoryCapReportVm(i: u32, vm: Vm): void {
  consoleWriteString("vm ");
  consoleWriteDecimal(i);
  consoleWriteString(" memory cap ");
  consoleWriteDecimal(vm.memoryCapFrames << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB, holds ");
  consoleWriteDecimal((vm.privateFrames + vm.tableFrames) << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB, on swap ");
  consoleWriteDecimal(mapPagesOnDisk(vm) << PAGE_KIB_SHIFT);
  consoleWriteString(" KiB");
  consoleNewLine();
}

/** `vm N share: weight W, cap P%` (`cap none`) when VM i's CPU share is not the default one. */
function shareReportVm(i: u32): void {
  const share = shareAt(i);
  if (u32(share.weight) === SHARE_WEIGHT_DEFAULT && share.capPercent === 0) return;
  consoleWriteString("vm ");
  consoleWriteDecimal(i);
  consoleWriteString(" share: weight ");
  consoleWriteDecimal(u32(share.weight));
  if (share.capPercent === 0) consoleWriteString(", cap none");
  else { consoleWriteString(", cap "); consoleWriteDecimal(u32(share.capPercent)); consoleWriteString("%"); }
  consoleNewLine();
}

// ---- the profile (profile.ts, `-append profile`) ----------------------------------------------------------

const guestSums = new Uint32Array(8);     // PROFILE_GUEST_CATEGORIES (low, high) pairs

function guestCategoryName(c: u32): string {
  switch (c) {
    case PROFILE_GUEST_RUNTIME: return "runtime";
    case PROFILE_GUEST_NETIF: return "netif";
    case PROFILE_GUEST_TCP: return "tcp";
  }
  return "app";
}

/**
 * The console's `profile`: the kernel's totals (profile.ts), then `profile-guest: vms N absent A requests
 * R switches S; runtime 0x..; netif 0x..; tcp 0x..; app 0x..`: the VM switches so far, and the guests' own
 * counts (their boot pages) summed over the N VMs whose boot page is resident (A are not: swapped out, or
 * ended). The guest figures are what the
 * guests wrote: a hostile guest can only misreport its own.
 */
export function vmsProfileReport(): void {
  profileReport();
  consoleNewLine();
  for (let i: u32 = 0; i < PROFILE_GUEST_CATEGORIES * 2; i++) guestSums[i] = 0;
  let counted: u32 = 0, absent: u32 = 0, requests: u32 = 0;
  for (let id: u32 = 0; id < vmCount(); id++) {
    const vm = vmAt(id);
    const page = vm.space === 0 ? 0 : vmBootPageFrame(vm);
    if (page === 0) { absent++; continue; }
    const info = overlay(BootInfo, page);
    counted++;
    requests += info.profileRequests;
    for (let c: u32 = 0; c < PROFILE_GUEST_CATEGORIES; c++) {
      profileAdd(guestSums, c, info.profileCounts[c * 2]);
      guestSums[c * 2 + 1] += info.profileCounts[c * 2 + 1];
    }
  }
  consoleWriteString("profile-guest: vms ");
  consoleWriteDecimal(counted);
  consoleWriteString(" absent ");
  consoleWriteDecimal(absent);
  consoleWriteString(" requests ");
  consoleWriteDecimal(requests);
  consoleWriteString(" switches ");
  consoleWriteDecimal(schedulerSwitchCount());
  for (let c: u32 = 0; c < PROFILE_GUEST_CATEGORIES; c++) {
    consoleWriteString("; ");
    consoleWriteString(guestCategoryName(c));
    consoleWriteString(" ");
    consoleWriteHex64(guestSums[c * 2 + 1], guestSums[c * 2]);
  }
  consoleNewLine();
}
