// One VM prints through consoleWrite and exits with status 7.
import { u32, print, write, exit, overlay } from "dsl";
import { BootInfo } from "../../../abi/boot.ts";

export function guestMain(magic: u32, bootInfo: u32): void {
  write("hello from vm ");
  print(overlay(BootInfo, bootInfo).vmId);
  exit(7);
}
