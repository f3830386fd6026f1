// Demo: a VM that never yields nor idles: it counts in a tight loop and prints `vm ID spin K` every
// 2^24 iterations. The scheduler preempts it at the end of each quantum; the other VMs keep their
// share of the CPU. It exits after N reports (N: the manifest's argument; 0 = never).
import { u32, print, write, exit } from "dsl";
import { bootInit, vmId, argument } from "../runtime/boot.ts";

const REPORT_EVERY: u32 = 1 << 24;

let counter: u32 = 0;   // a global: the loop really runs (stores are not optimized away)

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const id = vmId();
  const reports = argument();
  write("vm "); write(id); print(" spinning");
  let reported: u32 = 0;
  while (true) {
    counter++;
    if ((counter & (REPORT_EVERY - 1)) === 0) {
      reported++;
      write("vm "); write(id); write(" spin "); print(reported);
      if (reported === reports) { write("vm "); write(id); write(" done "); print(reported); exit(0); }
    }
  }
}
