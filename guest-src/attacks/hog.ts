// Hostile guest: takes all the memory it can. Its manifest gives it far more memory than the machine
// has (64 MiB beside a 32 MiB QEMU); it touches its pages one after the other, downwards from the page
// below its boot-information page, until the kernel refuses one. The argument picks how:
// 0 a store to each page (the #PF path), as fast as it can;
// 1 readClock into each page and a yield after each (the hypercall maps the page on its behalf: the
//   kernel must end the VM "out of memory", never return an error to it);
// 2 a store to each page and a yield after each (a slow racer: the pool stays nearly empty for long).
// Each page it gets beyond its reservation is lent from what no VM reserved; when that pool is empty the
// kernel must end this VM, its neighbours within their reservations untouched (docs/virtual-architecture.md
// "Memory quotas"). Touching every page, or a readClock error, prints NOT CONTAINED.
import { u32, i32, store32, write, print } from "dsl";
import { bootInit, argument, memoryEnd, PAGE_SIZE } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import { readClock, yieldCpu } from "../runtime/hypercalls.ts";
import { announce, notContained } from "./common.ts";

/** The image lies below this address: the pages above it are demand-zero. */
const TOUCH_FLOOR: u32 = GUEST_BASE + 0x100000;

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const how = argument();
  if (how === 1) announce("hog", "readClock into every page, yielding");
  else announce("hog", how === 2 ? "store to every page, yielding" : "store to every page");
  let touched: u32 = 0;
  for (let page = memoryEnd() - 2 * PAGE_SIZE; page >= TOUCH_FLOOR; page -= PAGE_SIZE) {
    if (how === 1) {
      const result: i32 = readClock(page);
      if (result !== 0) { write("attack hog: readClock returned "); print(result); notContained("hog"); }
      yieldCpu();
    } else {
      store32(page, page);
      if (how === 2) yieldCpu();
    }
    touched++;
  }
  write("attack hog: touched "); print(touched);
  notContained("hog");
}
