// The boot-information page (docs/virtual-architecture.md, "Boot information"): the kernel fills it
// in before the VM starts and passes its address in ebx, i.e. guestMain's `bootInfo` argument.
// `bootInit(magic, bootInfo)` checks and remembers it; `boot()` lays the ABI's struct (abi/boot.ts
// BootInfo, the one definition of the layout) over it.
import { u32, overlay, panic } from "dsl";
import { BootInfo, GUEST_MAGIC, ABI_VERSION } from "../../abi/boot.ts";

/** The x86 page: the boot-information page is the VM's last one. */
export const PAGE_SIZE: u32 = 4096;

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
/** One past the last byte of this VM's memory. */
export function memoryEnd(): u32 { return boot().memoryBase + boot().memorySize; }
export function argument(): u32 { return boot().argument; }
