// Hostile guest: an endless loop that never yields, idles nor makes a hypercall. The scheduler must
// preempt it at the end of each quantum so the other VMs keep their share of the CPU.
import { u32 } from "dsl";
import { bootInit } from "../runtime/boot.ts";
import { announce } from "./common.ts";

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  announce("endless", "looping forever without a hypercall");
  while (true) {}
}
