// The manifest: what to run, as a multiboot module named `manifest` (packed by tools/manifest.ts).
// Format (little-endian; fixed with the image builder, issue 4):
//   u32 magic 0x464D4E44 ("DNMF"), u32 version 7, u32 groupCount,
//   groupCount x { u32 moduleIndex  (the multiboot module holding the group's guest ELF)
//                  u32 vmCount, u32 memoryKiB, u32 argument,
//                  u32 ipBase       (network byte order; VM k of the group gets ipBase + k)
//                  u32 guaranteedKiB (demand-zero memory reserved for each VM: vm.ts "Memory quotas")
//                  u32 netmask, u32 gateway (network byte order; given to each VM in its boot page)
//                  u32 flags        (GROUP_FLAG_CONTROL: its VM has the control capability;
//                                    GROUP_FLAG_BYTECODE: its module is DNBC, its VMs bytecode VMs)
//                  u32 cpuWeight    (each VM's CPU weight, SHARE_WEIGHT_MIN..MAX: scheduler.ts)
//                  u32 cpuCapPercent (each VM's CPU cap, 1..SHARE_CAP_MAX; 0: none)
//                  u32 txPacketsPerSecond, u32 txBytesPerSecond, u32 rxPacketsPerSecond, u32 rxBytesPerSecond
//                                   (each VM's network rate limits, 0: none; bytes 0 or >= NET_BYTE_RATE_MIN:
//                                   netlimit.ts)
//                  u32 memoryCapKiB (each VM's memory cap, 0: none; else at least its reservation: vm.ts) }
// VM ids are assigned in order across groups. Everything is validated here before any VM exists: at
// most one VM in all may have the control capability (a control group of one VM, and one such group).
import { bool, i32, u32, load32, structArray } from "dsl";
import { moduleCount, moduleAt, moduleSize, moduleFind } from "./modules.ts";
import { SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_CAP_MAX, NET_BYTE_RATE_MIN } from "../abi/hypercalls.ts";

const MANIFEST_MAGIC: u32 = 0x464d4e44;   // "DNMF" little-endian
const MANIFEST_VERSION: u32 = 7;
const HEADER_BYTES: u32 = 12;
const GROUP_BYTES: u32 = 64;
/** The most groups a manifest has (tools/manifest.ts MAX_GROUPS); the rest of the image slots are vmCreate's. */
const MANIFEST_GROUP_LIMIT: u32 = 16;
/** flags: the group's VM (one) may use the management hypercalls (control.ts). */
const GROUP_FLAG_CONTROL: u32 = 1;
/** flags: the group's module is a DNBC image its VMs run as bytecode VMs (docs/bytecode.md "Bytecode VMs"). */
const GROUP_FLAG_BYTECODE: u32 = 2;
/** The module's name: its command line, or the last path component of it (QEMU passes the file path). */
const MANIFEST_NAME = "manifest";

class ManifestGroup {
  moduleIndex: u32 = 0;
  vmCount: u32 = 0;
  memoryKiB: u32 = 0;
  argument: u32 = 0;
  ipBase: u32 = 0;
  guaranteedKiB: u32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;
  flags: u32 = 0;
  cpuWeight: u32 = 0;
  cpuCapPercent: u32 = 0;
  txPacketsPerSecond: u32 = 0;
  txBytesPerSecond: u32 = 0;
  rxPacketsPerSecond: u32 = 0;
  rxBytesPerSecond: u32 = 0;
  memoryCapKiB: u32 = 0;
}

export const groups = structArray(ManifestGroup, 16);      // MANIFEST_GROUP_LIMIT
let groupTotal: u32 = 0;
/** The manifest group whose VM has the control capability, or -1. */
let controlGroup: i32 = -1;

export function manifestGroupCount(): u32 { return groupTotal; }
export function manifestControlGroup(): i32 { return controlGroup; }
/** True when group `g`'s VMs are bytecode VMs. */
export function manifestGroupBytecode(g: u32): bool { return (groups[g].flags & GROUP_FLAG_BYTECODE) !== 0; }

/** Results of manifestLoad. */
export const MANIFEST_OK = 0;
export const MANIFEST_NONE = 1;
const MANIFEST_ERROR_FORMAT = 2;
const MANIFEST_ERROR_MODULE = 3;
const MANIFEST_ERROR_GROUPS = 4;
const MANIFEST_ERROR_CONTROL = 5;
const MANIFEST_ERROR_SHARE = 6;
const MANIFEST_ERROR_LIMIT = 7;

export function manifestErrorName(error: u32): string {
  switch (error) {
    case 1: return "no manifest module";
    case 2: return "bad magic, version or size";
    case 3: return "a group names a module that does not exist or is the manifest itself";
    case 4: return "no groups, or more than the kernel supports";
    case 5: return "the control capability is given to more than one VM, or an unknown flag is set";
    case 6: return "a CPU weight or cap out of range";
    case 7: return "a network byte rate limit below one largest frame a second, or a memory cap not in pages";
  }
  return "ok";
}

/** A byte rate limit: 0 (none) or at least NET_BYTE_RATE_MIN. */
function byteRateValid(rate: u32): bool { return rate === 0 || rate >= NET_BYTE_RATE_MIN; }

/** Finds and validates the manifest into `groups`; MANIFEST_OK, MANIFEST_NONE or an error. */
export function manifestLoad(): u32 {
  groupTotal = 0;
  controlGroup = -1;
  const index = moduleFind(MANIFEST_NAME);
  if (index === moduleCount()) return MANIFEST_NONE;
  const module = moduleAt(index);
  const base = module.start, size = moduleSize(module);
  if (size < HEADER_BYTES || load32(base) !== MANIFEST_MAGIC || load32(base + 4) !== MANIFEST_VERSION) return MANIFEST_ERROR_FORMAT;
  const count = load32(base + 8);
  if (count === 0 || count > MANIFEST_GROUP_LIMIT) return MANIFEST_ERROR_GROUPS;
  if (count * GROUP_BYTES > size - HEADER_BYTES) return MANIFEST_ERROR_FORMAT;
  for (let g: u32 = 0; g < count; g++) {
    const at = base + HEADER_BYTES + g * GROUP_BYTES;
    const group = groups[g];
    group.moduleIndex = load32(at);
    group.vmCount = load32(at + 4);
    group.memoryKiB = load32(at + 8);
    group.argument = load32(at + 12);
    group.ipBase = load32(at + 16);
    group.guaranteedKiB = load32(at + 20);
    group.netmask = load32(at + 24);
    group.gateway = load32(at + 28);
    group.flags = load32(at + 32);
    group.cpuWeight = load32(at + 36);
    group.cpuCapPercent = load32(at + 40);
    if (group.cpuWeight < SHARE_WEIGHT_MIN || group.cpuWeight > SHARE_WEIGHT_MAX) return MANIFEST_ERROR_SHARE;
    if (group.cpuCapPercent > SHARE_CAP_MAX) return MANIFEST_ERROR_SHARE;
    group.txPacketsPerSecond = load32(at + 44);
    group.txBytesPerSecond = load32(at + 48);
    group.rxPacketsPerSecond = load32(at + 52);
    group.rxBytesPerSecond = load32(at + 56);
    if (!byteRateValid(group.txBytesPerSecond) || !byteRateValid(group.rxBytesPerSecond)) return MANIFEST_ERROR_LIMIT;
    group.memoryCapKiB = load32(at + 60);
    if ((group.memoryCapKiB & 3) !== 0) return MANIFEST_ERROR_LIMIT;
    if (group.moduleIndex >= moduleCount() || group.moduleIndex === index) return MANIFEST_ERROR_MODULE;
    if ((group.flags & ~(GROUP_FLAG_CONTROL | GROUP_FLAG_BYTECODE)) !== 0) return MANIFEST_ERROR_CONTROL;
    if ((group.flags & GROUP_FLAG_CONTROL) !== 0) {
      if (controlGroup >= 0 || group.vmCount !== 1) return MANIFEST_ERROR_CONTROL;
      controlGroup = i32(g);
    }
  }
  groupTotal = count;
  return MANIFEST_OK;
}
