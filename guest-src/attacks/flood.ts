// Hostile guest: a console flooder. Calls consoleWrite with 4,096 newlines, again and again without
// ever yielding, for `argument` milliseconds of the global clock (500 when 0). Before issue 11 each
// call scrolled the screen 4,096 times with interrupts off (~17 ms): ticks were lost, the global clock
// fell behind and the neighbours' alarms rang late. The kernel must throttle this VM alone (a short
// count, then EAGAIN) and log it. At the end it prints
// `flood: calls C, bytes B, eagain E, short S, ms M` and exits with status 0.
import { i32, u32, addressOf, write, print, exit } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { consoleWrite } from "../runtime/hypercalls.ts";
import { EAGAIN } from "../../abi/hypercalls.ts";
import { clockMicroseconds } from "../runtime/events.ts";
import { announce } from "./common.ts";

const FLOOD_BYTES: u32 = 4096;
const DEFAULT_MILLISECONDS: u32 = 500;
const NEWLINE = 10;
const newlines = new Uint8Array(4096);   // FLOOD_BYTES

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const milliseconds = argument() === 0 ? DEFAULT_MILLISECONDS : argument();
  announce("flood", "4096 newlines per consoleWrite, in a loop");
  for (let i: u32 = 0; i < FLOOD_BYTES; i++) newlines[i] = NEWLINE;
  let calls: u32 = 0, bytes: u32 = 0, eagain: u32 = 0, short: u32 = 0;
  const start = clockMicroseconds();
  while (clockMicroseconds() - start < milliseconds * 1000) {
    const result: i32 = consoleWrite(addressOf(newlines), FLOOD_BYTES);
    calls++;
    if (result === EAGAIN) eagain++;
    else if (result > 0) { bytes += u32(result); if (u32(result) < FLOOD_BYTES) short++; }
  }
  const spent = (clockMicroseconds() - start) / 1000;
  write("flood: calls "); write(calls); write(", bytes "); write(bytes); write(", eagain "); write(eagain);
  write(", short "); write(short); write(", ms "); print(spent);
  exit(0);
}
