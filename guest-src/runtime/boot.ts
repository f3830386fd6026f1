// The boot-information page (docs/virtual-architecture.md, "Boot information"): the kernel fills it
// in before the VM starts and passes its address in ebx, i.e. guestMain's `bootInfo` argument.
// `bootInit(magic, bootInfo)` checks and remembers it; `boot()` lays the struct over it.
import { i32, u8, u16, u32, overlay, panic } from "dsl";

/** eax at entry: "DNLI". */
export const GUEST_MAGIC: u32 = 0x444e4c49;
/** Every VM's memory starts here (compiler/link GUEST_BASE). */
export const GUEST_BASE: u32 = 0x40000000;
export const ABI_VERSION: u32 = 1;
export const PAGE_SIZE: u32 = 4096;

/** The page's layout, little-endian, 48 bytes (C layout rules give exactly the documented offsets). */
export class BootInfo {
  abiVersion: u32 = 0;        //  0  1
  vmId: u32 = 0;              //  4  0 .. vmCount-1
  vmCount: u32 = 0;           //  8  VMs the kernel runs
  memoryBase: u32 = 0;        // 12  GUEST_BASE
  memorySize: u32 = 0;        // 16  bytes of memory of this VM
  mac = new Uint8Array(6);    // 20  02:00:00 + vmId (24 bits, big-endian)
  reserved: u16 = 0;          // 26
  ipAddress: u32 = 0;         // 28  IPv4, network byte order
  netmask: u32 = 0;           // 32  network byte order
  gateway: u32 = 0;           // 36  network byte order
  imageId: u32 = 0;           // 40  which image (group) of the manifest
  argument: u32 = 0;          // 44  the manifest's argument for this group
}

let bootInfoAddress: u32 = 0;

/** Checks the entry registers and remembers the page; panics when they are not the ABI's. */
export function bootInit(magic: u32, bootInfo: u32): void {
  if (magic !== GUEST_MAGIC) panic("bad boot magic");
  const info = overlay(BootInfo, bootInfo);
  if (info.abiVersion !== ABI_VERSION) panic("unknown ABI version");
  bootInfoAddress = bootInfo;
}

/** The boot-information page (after bootInit). */
export function boot(): BootInfo { return overlay(BootInfo, bootInfoAddress); }

export function vmId(): u32 { return boot().vmId; }
export function vmCount(): u32 { return boot().vmCount; }
export function memorySize(): u32 { return boot().memorySize; }
/** One past the last byte of this VM's memory. */
export function memoryEnd(): u32 { return boot().memoryBase + boot().memorySize; }
export function argument(): u32 { return boot().argument; }
export function ipAddress(): u32 { return boot().ipAddress; }

/** Writes the MAC address of VM `id` (02:00:00 + id, the ABI's rule) into `mac` at `offset`. */
export function macOfVm(mac: Uint8Array, offset: i32, id: u32): void {
  mac[offset] = 0x02;
  mac[offset + 1] = 0x00;
  mac[offset + 2] = 0x00;
  mac[offset + 3] = u8(id >>> 16);
  mac[offset + 4] = u8(id >>> 8);
  mac[offset + 5] = u8(id);
}
