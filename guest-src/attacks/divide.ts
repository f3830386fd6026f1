// Hostile guest: division by zero. The manifest's argument picks it: 0 divideUnchecked (a real #DE,
// which the kernel must contain), 1 the DSL's checked division (the runtime traps: the VM prints
// `trap: integer division by zero` and exits with status 101, the kernel is never involved).
import { u32, divideUnchecked, print } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { announce, notContained } from "./common.ts";

let zero: u32 = 0;   // a global: the compiler cannot see the divisor

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  if (argument() === 0) {
    announce("divide", "divideUnchecked by zero (#DE)");
    print(divideUnchecked(1000, zero));
  } else {
    announce("divide", "checked division by zero (runtime trap)");
    print(u32(1000) / zero);
  }
  notContained("divide");
}
