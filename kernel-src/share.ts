// CPU shares: each VM's weight, optional cap and the scheduler's stride state (scheduler.ts), in a table
// beside the VM table (the Vm slot is full: vm.ts). Slot i is VM i's; it also holds position i of the
// scheduler's run heap (heapVm), so the heap needs no memory of its own: it never holds more VMs than
// there are VM ids. The table grows with the VM table (vm.ts vmTableGrow calls shareTableGrow), in
// frames (framearray.ts), so a kernel with few VMs pays for few.
// Units: pass is a VM's virtual time, TSC cycles it ran divided by its weight (64-bit); capUsed counts
// the cycles it ran in cap period capPeriod (scheduler.ts). The division is a multiply: inverse is
// floor((2^32 - 1) / weight), and mulHigh(cycles, inverse) is cycles / weight rounded down, less at most
// 1 (the switch path divides nothing: shareCharge). Weights are SHARE_WEIGHT_MIN..MAX (default
// SHARE_WEIGHT_DEFAULT), caps a percentage 1..100 of the CPU, 0 for none: the manifest (tools/manifest.ts)
// and the control VM's vmCreate (control.ts) check them; shareSet clamps whatever it is given.
import { bool, i32, u8, u16, u32, overlay, sizeOf, mulHigh } from "dsl";
import { frameArrayGrow } from "./framearray.ts";
import { PAGE_SHIFT } from "./frames.ts";
import { VM_LIMIT } from "../abi/boot.ts";
import { SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_WEIGHT_DEFAULT, SHARE_CAP_MAX } from "../abi/hypercalls.ts";

export class VmShare {
  passLow: u32 = 0;          // virtual time: cycles run / weight (64-bit)
  passHigh: u32 = 0;
  capUsed: u32 = 0;          // cycles run in cap period capPeriod
  capPeriod: u32 = 0;
  heapVm: i32 = -1;          // the run heap's element at position (this slot's index)
  heapPosition: i32 = -1;    // this VM's position in the run heap, -1: not in it
  throttledNext: i32 = -1;   // the list of VMs held off until the next cap period
  inverse: u32 = 0;          // floor((2^32 - 1) / weight): a charge is a multiply (shareCharge)
  quantumPass: u32 = 0;      // a whole quantum's charge, at least 1: what a yield costs (scheduler.ts)
  weight: u16 = 0;
  capPercent: u8 = 0;        // 0: no cap
  throttled: u8 = 0;         // 1: on the throttled list
}

/** 64-byte slots (sizeOf(VmShare), 40, checked by shareTableGrow), 64 to a frame. */
const SHARE_SHIFT: u32 = 6;
const SHARES_PER_FRAME_SHIFT: u32 = 6;     // PAGE_SHIFT - SHARE_SHIFT
const SHARE_DIRECTORY_LENGTH: u32 = 2048;     // VM_LIMIT >> (PAGE_SHIFT - SHARE_SHIFT), a power of 2
const shareFrames = new Uint32Array(SHARE_DIRECTORY_LENGTH);
let shareCapacity: u32 = 0;

/** VM `index`'s share record (framearray.ts's frameArrayAt with constant shifts: the scheduler's hot path). */
export function shareAt(index: u32): VmShare {
  return overlay(VmShare, shareFrames[index >>> SHARES_PER_FRAME_SHIFT]
    + ((index & ((1 << SHARES_PER_FRAME_SHIFT) - 1)) << SHARE_SHIFT));
}

/** Slot 0's record: the run heap's top is its heapVm (the scheduler's hot path; the table is never empty then). */
export function shareFirst(): VmShare { return overlay(VmShare, shareFrames[0]); }

/** Adds `cycles` / weight to the VM's pass (64-bit), by a multiply with the weight's inverse. */
export function shareCharge(share: VmShare, cycles: u32): void {
  const low = share.passLow + mulHigh(cycles, share.inverse);
  if (low < share.passLow) share.passHigh++;
  share.passLow = low;
}

/** Adds `step` to the VM's pass (64-bit). */
export function sharePassAdd(share: VmShare, step: u32): void {
  const low = share.passLow + step;
  if (low < share.passLow) share.passHigh++;
  share.passLow = low;
}

/** Makes room for VM ids below `count` (zeroed records); false when out of memory. */
export function shareTableGrow(count: u32): bool {
  if (count > VM_LIMIT || sizeOf(VmShare) > (u32(1) << SHARE_SHIFT)) return false;
  if (SHARE_SHIFT + SHARES_PER_FRAME_SHIFT !== PAGE_SHIFT) return false;
  if ((VM_LIMIT >>> SHARES_PER_FRAME_SHIFT) !== SHARE_DIRECTORY_LENGTH) return false;
  if (count <= shareCapacity) return true;
  if (!frameArrayGrow(shareFrames, shareCapacity, count, SHARE_SHIFT)) return false;
  shareCapacity = count;
  return true;
}

/**
 * Sets VM `index`'s weight (0: the default) and cap (0: none), clamped to their ranges; `quantumCycles`
 * is the scheduler's quantum in TSC cycles (its charge for a yield, quantumPass, follows from the weight).
 */
export function shareSet(index: u32, weight: u32, capPercent: u32, quantumCycles: u32): void {
  const share = shareAt(index);
  let w = weight === 0 ? SHARE_WEIGHT_DEFAULT : weight;
  if (w < SHARE_WEIGHT_MIN) w = SHARE_WEIGHT_MIN;
  if (w > SHARE_WEIGHT_MAX) w = SHARE_WEIGHT_MAX;
  share.weight = u16(w);
  share.inverse = u32(0xffffffff) / w;
  const quantum = mulHigh(quantumCycles, share.inverse);
  share.quantumPass = quantum === 0 ? 1 : quantum;
  share.capPercent = u8(capPercent > SHARE_CAP_MAX ? SHARE_CAP_MAX : capPercent);
}
