// Not an attacker: the healthy neighbour of the console flooder (flood.ts). Sets an alarm of
// `argument` microseconds (2,000 when 0) 50 times, after a first one of 60 ms that lets the
// short-lived VMs beside it finish (only the flooder competes for the CPU then); around each alarm it
// reads the global clock and the TSC. It prints the worst lateness of a wake-up by each
// (`alarms: late clock-us C tsc T`: by the clock in microseconds past the deadline, by the TSC in
// cycles from setAlarm to the wake-up) and the whole run by each (`alarms: total clock-ns N tsc T`),
// so the test can check that the alarms rang on time and that the global clock lost no time against
// the TSC. Then `alarms: done` and exit 0.
import { u32, rdtsc, write, print, exit } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { setAlarm } from "../runtime/hypercalls.ts";
import { INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import { enableInterrupts, waitForEvents, clockLow } from "../runtime/events.ts";

const ROUNDS: u32 = 50;
const DEFAULT_MICROSECONDS: u32 = 2000;
const SETTLE_MICROSECONDS: u32 = 60000;

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  const period = argument() === 0 ? DEFAULT_MICROSECONDS : argument();
  setAlarm(SETTLE_MICROSECONDS);
  waitForEvents(INTERRUPT_TIMER);
  let worstClock: u32 = 0, worstTsc: u32 = 0;
  const clockStart = clockLow(), tscStart = rdtsc();
  for (let round: u32 = 0; round < ROUNDS; round++) {
    const clockBefore = clockLow(), tscBefore = rdtsc();
    setAlarm(period);
    waitForEvents(INTERRUPT_TIMER);
    const waited = (clockLow() - clockBefore) / 1000, tscWaited = rdtsc() - tscBefore;
    const late = waited > period ? waited - period : 0;
    if (late > worstClock) worstClock = late;
    if (tscWaited > worstTsc) worstTsc = tscWaited;
  }
  const clockTotal = clockLow() - clockStart, tscTotal = rdtsc() - tscStart;
  write("alarms: late clock-us "); write(worstClock); write(" tsc "); print(worstTsc);
  write("alarms: total clock-ns "); write(clockTotal); write(" tsc "); print(tscTotal);
  print("alarms: done");
  exit(0);
}
