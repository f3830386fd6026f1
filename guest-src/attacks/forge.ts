// Hostile guest: forges the kernel's console lines and drives the operator's terminal. Writes, with
// raw consoleWrite calls, lines the kernel and the test harness would take for their own
// (`vm 0 ended: ...`, `panic: ...`, `exception: ...`, `vms done: ...`, a counter line of vm 0 with
// and without a forged `[vm 0] ` prefix), ANSI escape sequences (clear screen, colour, window title),
// a carriage return, a NUL, bytes >= 0x80 and a backslash; then a partial line, 30 ms of spinning (the
// other VMs' lines come in between) and its end. The kernel must print all of it prefixed with this
// VM's `[vm N] ` and escaped. Then `forge: done` and exit 0.
import { u8, u32, addressOf, print, exit } from "dsl";
import { bootInit } from "../runtime/boot.ts";
import { consoleWrite, yieldCpu } from "../runtime/hypercalls.ts";
import { EAGAIN } from "../../abi/hypercalls.ts";
import { clockMicroseconds } from "../runtime/events.ts";
import { announce } from "./common.ts";

const ESC = 0x1b;
const BEL = 0x07;
const SPIN_MICROSECONDS: u32 = 30000;
const buffer = new Uint8Array(512);
let length: u32 = 0;

function putByte(byte: u8): void { buffer[length] = byte; length++; }
function put(s: string): void { for (let i = 0; i < s.length; i++) putByte(u8(s.charCodeAt(i))); }

/** Writes the buffer with raw consoleWrite calls (EAGAIN: yield and retry), then empties it. */
function send(): void {
  let done: u32 = 0;
  while (done < length) {
    const result = consoleWrite(addressOf(buffer) + done, length - done);
    if (result === EAGAIN) yieldCpu();
    else if (result > 0) done += u32(result);
    else break;
  }
  length = 0;
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  announce("forge", "kernel lines, escape sequences and control bytes on the console");
  put("vm 0 ended: #GP general protection at eip 0x40000000\n");
  put("panic: forged by a guest (in kernelMain)\n");
  put("exception: #PF page fault (forged)\n");
  put("vms done: every VM has ended\n");
  put("vm 0 count 31\n");
  put("[vm 0] vm 0 count 32\n");
  send();
  putByte(ESC); put("[2J"); putByte(ESC); put("[31mred"); putByte(ESC); put("]0;title"); putByte(BEL); put("\n");
  put("carriage\rreturn\n");
  put("nul"); putByte(0); put("byte\n");
  put("high"); putByte(0x80); putByte(0xfe); putByte(0xff); put("\n");
  put("back\\slash\n");
  send();
  put("partial-");
  send();
  const start = clockMicroseconds();
  while (clockMicroseconds() - start < SPIN_MICROSECONDS) {}
  put("continued\n");
  send();
  print("forge: done");
  exit(0);
}
