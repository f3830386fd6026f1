// One VM prints through consoleWrite and exits with status 7.
import { u32, print, write, exit } from "dsl";

export function guestMain(magic: u32, bootInfo: u32): void {
  write("hello from vm ");
  print(loadVmId(bootInfo));
  exit(7);
}

import { load32 } from "dsl";
function loadVmId(bootInfo: u32): u32 { return load32(bootInfo + 4); }
