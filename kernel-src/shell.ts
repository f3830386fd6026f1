// The serial console: a line-oriented command shell on COM1, active only when the kernel command line
// holds the word `console` (test runs never see it). Input is interrupt driven: the IRQ 4 handler
// moves received bytes into a ring buffer; the shell loop, in kmain's context, sleeps with hlt while
// the buffer is empty, echoes, edits the line and runs a command at the end of a line.
// Commands: help, mem, clock, irq, exit.
// While VMs run, the same console is a monitor (shellMonitor): a line typed on COM1 runs in the IRQ
// handler itself (every command is short), without echo or prompt (VM output shares the line), and
// adds vms (the per-VM summary), net (switch and NIC counters), swap, profile (profile.ts) and stop (the
// summary, then exit).
// Invariant: the ring buffer's `written` is advanced only by the IRQ handler and `read` only by the
// shell loop; both are free-running counters (their difference is the number of bytes waiting).
import { bool, i32, u8, u32, hlt } from "dsl";
import { messageInterruptsReport } from "./msi.ts";
import { lapicSpuriousCount } from "./lapic.ts";
import {
  consoleWriteByte, consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine,
} from "./console.ts";
import { serialEnableReceiveInterrupt, serialReadByte } from "./serial.ts";
import { IRQ_COM1, IRQ_LINES, IRQ_MASTER_SPURIOUS, IRQ_SLAVE_SPURIOUS, picIsMasked } from "./pic.ts";
import { irqRegister, irqCount, spuriousCount, unexpectedInterruptCount, lineName } from "./trap.ts";
import {
  Nanoseconds, clockRead, clockTicks, clockTscKiloHertz, nanosecondsToMilliseconds, clockLostTicks,
} from "./clock.ts";
import { timerPendingCount, timerExpiredCount } from "./timer.ts";
import { printMemoryStatistics } from "./memory.ts";
import { exitMachine, EXIT_SUCCESS } from "./machine.ts";

const INPUT_BUFFER_BYTES = 256;                 // a power of two: indices wrap with a mask
const LINE_BYTES = 80;
const ASCII_BACKSPACE = 8;
const ASCII_DELETE = 127;
const ASCII_NEWLINE = 10;
const ASCII_CARRIAGE_RETURN = 13;
const ASCII_SPACE = 32;
const ASCII_TILDE = 126;

const input = new Uint8Array(INPUT_BUFFER_BYTES);
let written: u32 = 0;
let read: u32 = 0;
let droppedBytes: u32 = 0;
const line = new Uint8Array(LINE_BYTES);
let lineLength: u32 = 0;
const now = new Nanoseconds();

/** IRQ 4: drains the UART's receive FIFO into the ring buffer (a full buffer drops and counts). */
function serialInterrupt(irqLine: u32): void {
  for (let byte = serialReadByte(); byte >= 0; byte = serialReadByte()) {
    if (written - read >= INPUT_BUFFER_BYTES) { droppedBytes++; continue; }
    input[written & (INPUT_BUFFER_BYTES - 1)] = byte;
    written++;
  }
}

function nothing(): void {}
let monitor = false;
let monitorVms: () => void = nothing;
let monitorNet: () => void = nothing;
let monitorStop: () => void = nothing;
let monitorSwap: () => void = nothing;
let monitorProfile: () => void = nothing;

/** Makes COM1 a monitor while VMs run (vmstart.ts hands in the VM commands). */
export function shellMonitor(
  vms: () => void, net: () => void, swap: () => void, profile: () => void, stop: () => void,
): void {
  monitor = true;
  monitorProfile = profile;
  monitorSwap = swap;
  monitorVms = vms;
  monitorNet = net;
  monitorStop = stop;
  irqRegister(IRQ_COM1, monitorInterrupt);
  serialEnableReceiveInterrupt();
}

/** IRQ 4 in monitor mode: each byte is handled at once. */
function monitorInterrupt(irqLine: u32): void {
  for (let byte = serialReadByte(); byte >= 0; byte = serialReadByte()) acceptByte(u8(byte));
}

/** The shell loop; never returns (`exit` leaves the machine). Interrupts must be enabled. */
export function shellRun(): void {
  irqRegister(IRQ_COM1, serialInterrupt);
  serialEnableReceiveInterrupt();
  consoleWriteString("console: type help");
  consoleNewLine();
  prompt();
  while (true) {
    while (read === written) hlt();            // a missed wake-up costs at most one PIT tick
    const byte = input[read & (INPUT_BUFFER_BYTES - 1)];
    read++;
    acceptByte(byte);
  }
}

function prompt(): void { consoleWriteString("> "); }

function acceptByte(byte: u8): void {
  if (byte === ASCII_CARRIAGE_RETURN || byte === ASCII_NEWLINE) {
    if (!monitor) consoleNewLine();
    runCommand();
    lineLength = 0;
    if (!monitor) prompt();
  } else if (byte === ASCII_BACKSPACE || byte === ASCII_DELETE) {
    if (lineLength > 0) {
      lineLength--;
      if (!monitor) { consoleWriteByte(ASCII_BACKSPACE); consoleWriteByte(ASCII_SPACE); consoleWriteByte(ASCII_BACKSPACE); }
    }
  } else if (byte >= ASCII_SPACE && byte <= ASCII_TILDE && lineLength < LINE_BYTES) {
    line[lineLength] = byte;
    lineLength++;
    if (!monitor) consoleWriteByte(byte);
  }
}

/** The line without surrounding spaces equals `word`. */
function lineIs(word: string): bool {
  let start: u32 = 0, end = lineLength;
  while (start < end && line[start] === ASCII_SPACE) start++;
  while (end > start && line[end - 1] === ASCII_SPACE) end--;
  if (end - start !== u32(word.length)) return false;
  for (let i: u32 = 0; i < end - start; i++) if (line[start + i] !== u8(word.charCodeAt(i32(i)))) return false;
  return true;
}

function runCommand(): void {
  if (lineIs("")) return;
  if (lineIs("help")) commandHelp();
  else if (lineIs("mem")) printMemoryStatistics();
  else if (lineIs("clock")) commandClock();
  else if (lineIs("irq")) commandIrq();
  else if (monitor && lineIs("vms")) monitorVms();
  else if (monitor && lineIs("net")) monitorNet();
  else if (monitor && lineIs("swap")) monitorSwap();
  else if (monitor && lineIs("profile")) monitorProfile();
  else if (monitor && (lineIs("stop") || lineIs("exit"))) monitorStop();
  else if (lineIs("exit")) exitMachine(EXIT_SUCCESS);
  else {
    consoleWriteString("unknown command: ");
    for (let i: u32 = 0; i < lineLength; i++) consoleWriteByte(line[i]);
    consoleWriteString(" (try help)");
    consoleNewLine();
  }
}

function commandHelp(): void {
  consoleWriteString("help   this list"); consoleNewLine();
  consoleWriteString("mem    frames, paging and kernel allocator statistics"); consoleNewLine();
  consoleWriteString("clock  uptime, PIT ticks, TSC rate, timers"); consoleNewLine();
  consoleWriteString("irq    interrupt counts per line"); consoleNewLine();
  if (monitor) {
    consoleWriteString("vms    per-VM CPU, switches, packets and bytes"); consoleNewLine();
    consoleWriteString("net    switch and network card counters"); consoleNewLine();
    consoleWriteString("swap   the memory cache: resident and swapped-out VMs, frames, swap traffic, rates");
    consoleNewLine();
    consoleWriteString("profile instructions by category, the kernel's and the guests' (`-append profile`)");
    consoleNewLine();
    consoleWriteString("stop   the summary, then stop the machine (also: exit)"); consoleNewLine();
  } else {
    consoleWriteString("exit   stop the machine"); consoleNewLine();
  }
}

function commandClock(): void {
  clockRead(now);
  consoleWriteString("clock: uptime ");
  consoleWriteDecimal(nanosecondsToMilliseconds(now));
  consoleWriteString(" ms (0x");
  consoleWriteHex(now.high);
  consoleWriteHex(now.low);
  consoleWriteString(" ns), ticks ");
  consoleWriteDecimal(clockTicks());
  consoleWriteString(", TSC ");
  consoleWriteDecimal(clockTscKiloHertz());
  consoleWriteString(" kHz, lost ticks counted from the TSC ");
  consoleWriteDecimal(clockLostTicks());
  consoleNewLine();
  consoleWriteString("timers: pending ");
  consoleWriteDecimal(timerPendingCount());
  consoleWriteString(", expired ");
  consoleWriteDecimal(timerExpiredCount());
  consoleNewLine();
}

function commandIrq(): void {
  for (let irq: u32 = 0; irq < IRQ_LINES; irq++) {
    if (irqCount(irq) === 0 && picIsMasked(irq)) continue;
    consoleWriteString("irq ");
    consoleWriteDecimal(irq);
    consoleWriteString(" (");
    consoleWriteString(lineName(i32(irq)));
    consoleWriteString("): ");
    consoleWriteDecimal(irqCount(irq));
    consoleNewLine();
  }
  messageInterruptsReport();
  consoleWriteString("spurious: irq 7 ");
  consoleWriteDecimal(spuriousCount(IRQ_MASTER_SPURIOUS));
  consoleWriteString(", irq 15 ");
  consoleWriteDecimal(spuriousCount(IRQ_SLAVE_SPURIOUS));
  consoleWriteString(", local APIC ");
  consoleWriteDecimal(lapicSpuriousCount());
  consoleWriteString("; unexpected vectors ");
  consoleWriteDecimal(unexpectedInterruptCount());
  consoleWriteString("; console bytes dropped ");
  consoleWriteDecimal(droppedBytes);
  consoleNewLine();
}
