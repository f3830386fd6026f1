// Hostile guest: loads and stores outside the VM's memory [GUEST_BASE, GUEST_BASE + memorySize).
// Another VM's memory is the same virtual range in another address space, so "another VM" means any
// address outside this VM's range. The manifest's argument picks the access:
// 0 read the kernel (0x00100000), 1 write the kernel, 2 read address 0, 3 read just below GUEST_BASE,
// 4 write just below GUEST_BASE, 5 read just past the end of memory, 6 write just past the end,
// 7 write 64 MiB past the end, 8 read 0xC0000000, 9 write 0xFFFFFFFC, 10 write the boot-information
// page's next page (the first unmapped one), 11 read the kernel's low memory (0x000B8000, VGA).
// Each must page fault and end only this VM.
import { u32, bool, load32, store32, print } from "dsl";
import { bootInit, argument, memoryEnd } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import { announceAddress, notContained } from "./common.ts";

function attackAddress(which: u32): u32 {
  switch (which) {
    case 0: case 1: return 0x00100000;
    case 2: return 0;
    case 3: case 4: return GUEST_BASE - 4;
    case 5: case 6: return memoryEnd();
    case 7: return memoryEnd() + 64 * 1024 * 1024;
    case 8: return 0xc0000000;
    case 9: return 0xfffffffc;
    case 10: return memoryEnd() + 4096;
    default: return 0x000b8000;
  }
}

function isWrite(which: u32): bool {
  return which === 1 || which === 4 || which === 6 || which === 7 || which === 9 || which === 10;
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const which = argument();
  const address = attackAddress(which);
  if (isWrite(which)) {
    announceAddress("memory", "write", address);
    store32(address, 0xdeadbeef);
  } else {
    announceAddress("memory", "read", address);
    print(load32(address));
  }
  notContained("memory");
}
