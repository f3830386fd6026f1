// VM groups: VMs created together from one image -- a manifest group at boot, or one vmCreate of the
// control VM at run time (control.ts). Group g is image slot g (elf.ts images[g]: vm.imageIndex is its
// group). A group holds consecutive VM ids [firstVm, firstVm + vmCount) and consecutive IPv4 addresses
// from ipBase (VM firstVm + k has ipBase + k), which is how the switch finds a VM by its address
// (groupVmOfAddress: O(groups in use), a handful). A group lives while any of its VMs holds its slot's
// memory: vmRelease (vm.ts) counts them down (groupVmReleased), and when the last is released the slot
// is free again -- its image frames given back when the kernel owns them (a pushed image: control.ts
// copies it into a run of frames), its addresses free for another group, its VMs' ids reusable.
// Invariants: a group in use has live >= 1; the address ranges of groups in use do not overlap (the
// manifest's tools check theirs, control.ts checks a new group's against every group in use).
import { bool, i32, u32, structArray } from "dsl";
import { PAGE_SHIFT, freeFrame } from "./frames.ts";
import { IMAGE_LIMIT } from "./elf.ts";

/** Groups: one per image slot. */
const GROUP_LIMIT: u32 = IMAGE_LIMIT;
/** No group: the group index of a VM whose group has ended (its id may be reused: control.ts). */
export const GROUP_NONE: u32 = 0xffffffff;

class VmGroup {
  inUse: bool = false;
  firstVm: u32 = 0;
  vmCount: u32 = 0;
  ipBase: u32 = 0;           // host byte order (a.b.c.d = a << 24 | ...)
  live: u32 = 0;             // its VMs not yet released
  imageFrames: u32 = 0;      // the kernel's copy of its image (a run of frames), 0: a multiboot module
  imagePages: u32 = 0;
}

const groups = structArray(VmGroup, 64);   // GROUP_LIMIT (a struct array's length is a literal)
/** One past the highest group in use: the scans stop there. */
let groupEnd: u32 = 0;

/** True when group `g` holds VMs. */
function groupInUse(g: u32): bool { return g < GROUP_LIMIT && groups[g].inUse; }

/** A free group slot, or GROUP_NONE. */
export function groupFree(): u32 {
  for (let g: u32 = 0; g < GROUP_LIMIT; g++) if (!groups[g].inUse) return g;
  return GROUP_NONE;
}

/**
 * Group `g` now holds VMs [firstVm, firstVm + vmCount), all created (each counts as live), with addresses
 * from `ipBase` (host byte order); `imageFrames`/`imagePages`: its image's run of frames when the kernel
 * owns it (0 for a module).
 */
export function groupStart(g: u32, firstVm: u32, vmCount: u32, ipBase: u32, imageFrames: u32, imagePages: u32): void {
  const group = groups[g];
  group.inUse = true;
  group.firstVm = firstVm;
  group.vmCount = vmCount;
  group.ipBase = ipBase;
  group.live = vmCount;
  group.imageFrames = imageFrames;
  group.imagePages = imagePages;
  if (g + 1 > groupEnd) groupEnd = g + 1;
}

/** Frees a run of image frames (a pushed image's copy, or one refused before any VM used it). */
export function groupFreeImage(frames: u32, pages: u32): void {
  for (let p: u32 = 0; p < pages; p++) freeFrame(frames + (p << PAGE_SHIFT));
}

/**
 * A VM of group `g` was released (vm.ts vmRelease). True when it was the last: the group has ended, its
 * image frames are free and its slot is free (the caller then marks its VMs' ids reusable).
 */
export function groupVmReleased(g: u32): bool {
  if (!groupInUse(g)) return false;
  const group = groups[g];
  group.live--;
  if (group.live !== 0) return false;
  if (group.imageFrames !== 0) groupFreeImage(group.imageFrames, group.imagePages);
  group.inUse = false;
  group.imageFrames = 0;
  while (groupEnd > 0 && !groups[groupEnd - 1].inUse) groupEnd--;
  return true;
}

export function groupFirstVm(g: u32): u32 { return groups[g].firstVm; }
export function groupVmCount(g: u32): u32 { return groups[g].vmCount; }

/** The id of the VM holding IPv4 address `host` (host byte order), or -1 when no group in use has it. */
export function groupVmOfAddress(host: u32): i32 {
  for (let g: u32 = 0; g < groupEnd; g++) {
    const group = groups[g];
    if (!group.inUse) continue;
    const offset = host - group.ipBase;
    if (offset < group.vmCount) return i32(group.firstVm + offset);
  }
  return -1;
}

/** True when [first, first + count) (host byte order, not wrapping) meets the addresses of a group in use. */
export function groupAddressesTaken(first: u32, count: u32): bool {
  for (let g: u32 = 0; g < groupEnd; g++) {
    const group = groups[g];
    if (!group.inUse) continue;
    // Two ranges meet unless one ends before the other starts.
    if (first - group.ipBase < group.vmCount || group.ipBase - first < count) return true;
  }
  return false;
}
