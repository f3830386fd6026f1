// Demo: a counter. Sets an alarm, idles until it rings, prints `vm ID count K`, N times (N: the
// manifest's argument, 10 when it is 0), then prints `vm ID done N` and exits with status 0.
// An idle VM costs no CPU: thousands of counters share one machine.
import { u32, print, write, exit } from "dsl";
import { bootInit, vmId, argument } from "../runtime/boot.ts";
import { setAlarm } from "../runtime/hypercalls.ts";
import { INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import { enableInterrupts, waitForEvents } from "../runtime/events.ts";

const DEFAULT_ROUNDS: u32 = 10;
const PERIOD_MICROSECONDS: u32 = 10000;

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  const id = vmId();
  const rounds = argument() === 0 ? DEFAULT_ROUNDS : argument();
  for (let count: u32 = 1; count <= rounds; count++) {
    setAlarm(PERIOD_MICROSECONDS);
    waitForEvents(INTERRUPT_TIMER);
    write("vm "); write(id); write(" count "); print(count);
  }
  write("vm "); write(id); write(" done "); print(rounds);
  exit(0);
}
