// Hostile guest: a privileged instruction in ring 3. The manifest's argument picks it:
// 0 cli, 1 sti, 2 hlt, 3 in (inb 0x3f8), 4 out (outb to the debug-exit port 0xf4), 5 lgdt, 6 lidt,
// 7 mov to cr3, 8 mov from cr3, 9 mov to cr0, 10 ltr, 11 invlpg, 12 out to the PIC (0x21: mask every
// IRQ), 13 ud2 (#UD). Each must fault (#GP, #UD) and end only this VM.
import {
  u32, addressOf, cli, sti, hlt, inb, outb, lgdt, lidt, writeCr3, readCr3, writeCr0, ltr, invlpg, invalidOpcode, print,
} from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { announce, notContained } from "./common.ts";

const descriptor = new Uint8Array(8);   // a pseudo-descriptor: limit 0, base 0

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const which = argument();
  switch (which) {
    case 0: announce("privileged", "cli"); cli(); break;
    case 1: announce("privileged", "sti"); sti(); break;
    case 2: announce("privileged", "hlt"); hlt(); break;
    case 3: announce("privileged", "in"); print(inb(0x3f8)); break;
    case 4: announce("privileged", "out"); outb(0xf4, 0x10); break;
    case 5: announce("privileged", "lgdt"); lgdt(addressOf(descriptor)); break;
    case 6: announce("privileged", "lidt"); lidt(addressOf(descriptor)); break;
    case 7: announce("privileged", "mov to cr3"); writeCr3(0); break;
    case 8: announce("privileged", "mov from cr3"); print(readCr3()); break;
    case 9: announce("privileged", "mov to cr0"); writeCr0(0); break;
    case 10: announce("privileged", "ltr"); ltr(0x28); break;
    case 11: announce("privileged", "invlpg"); invlpg(0x00100000); break;
    case 12: announce("privileged", "out to the PIC"); outb(0x21, 0xff); break;
    default: announce("privileged", "ud2"); invalidOpcode(); break;
  }
  notContained("privileged");
}
