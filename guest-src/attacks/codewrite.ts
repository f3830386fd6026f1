// Hostile guest: writes to its own code pages, which every VM of the image shares read-only.
// The manifest's argument picks the write: 0 store over guestMain's first bytes, 1 store at
// GUEST_BASE (the image's first code byte), 2 memoryCopy over the runtime's flush(). Each must page
// fault (a write to a read-only page) and end only this VM; the other VMs of the image run on.
import { u32, store32, store8, memoryCopy, functionAddress, addressOf } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import { flush } from "../runtime/runtime.ts";
import { announceAddress, notContained } from "./common.ts";

const junk = new Uint8Array(64);

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const which = argument();
  if (which === 0) {
    const target = functionAddress(guestMain);
    announceAddress("codewrite", "store over guestMain at", target);
    store32(target, 0xcccccccc);
  } else if (which === 1) {
    announceAddress("codewrite", "store at", GUEST_BASE);
    store8(GUEST_BASE, 0xf4);
  } else {
    const target = functionAddress(flush);
    announceAddress("codewrite", "memoryCopy over flush at", target);
    memoryCopy(target, addressOf(junk), 64);
  }
  notContained("codewrite");
}
