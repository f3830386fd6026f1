// The network stack as a whole: initialization from the boot information and the event loop glue.
// An application binds its UDP ports and TCP listeners, then calls `stackRun()` (never returns), or
// `threadsRun()` with threads (threads.ts: `stackPoll` with each batch, then `stackTimers`).
// Timers (ARP retries, TCP retransmission and TIME-WAIT) share the one virtual alarm: after every
// batch the alarm is set to the nearest deadline.
import { i32, u32, write, print } from "dsl";
import { boot, vmId } from "../runtime/boot.ts";
import { setAlarm } from "../runtime/hypercalls.ts";
import { INTERRUPT_NET, INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import {
  waitForEvents, clockMicroseconds, clockMicrosecondsAtWake, setLazyAcks,
} from "../runtime/events.ts";
import { netifInit, netifPoll, netifSetClock, netNow, ourIp, ourNetmask, ourGateway, netSecret } from "./netif.ts";
import { arpInit, arpTimer } from "./arp.ts";
import { udpInit } from "./udp.ts";
import { tcpInit, tcpTimer, tcpAcksMayWait } from "./tcp.ts";
import { profileInit } from "../runtime/profile.ts";

export const NO_DEADLINE: u32 = 0xffffffff;

/** The absolute time the alarm is set for, or NO_DEADLINE (the alarm is off). */
let alarmAt: u32 = 0xffffffff;

function noTimerSource(): u32 { return 0xffffffff; }
/**
 * A further timer sharing the alarm (threads.ts: sleeping threads): runs what expired, returns microseconds to its next
 * deadline.
 */
let timerSource: () => u32 = noTimerSource;

/** Installs the one further timer source (threads.ts does, in threadsInit). */
export function stackSetTimerSource(source: () => u32): void { timerSource = source; }

/** Converts a u32 read little-endian from network-byte-order bytes (the boot page's addresses) to a number. */
function fromNetworkOrder(x: u32): u32 {
  return u32(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24));
}

/** Initializes every layer with an explicit address (addresses as numbers: 10.0.0.2 is 0x0A000002). */
function stackInit(mac: Uint8Array, macOffset: i32, ip: u32, netmask: u32, gateway: u32): void {
  netifInit(mac, macOffset, ip, netmask, gateway);
  const now = clockMicroseconds();
  netifSetClock(now);
  arpInit();
  udpInit();
  tcpInit();
  alarmAt = NO_DEADLINE;
  timerSource = noTimerSource;
}

/** Initializes every layer from the boot information (after bootInit). */
export function stackInitFromBoot(): void {
  profileInit();
  const info = boot();
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) mac[i] = info.mac[i];
  for (let i = 0; i < 4; i++) netSecret[i] = info.entropy[i];     // ENTROPY_WORDS
  stackInit(mac, 0, fromNetworkOrder(info.ipAddress), fromNetworkOrder(info.netmask), fromNetworkOrder(info.gateway));
}

/** Writes an address given as a number (10.0.0.1 is 0x0A000001) as a.b.c.d. */
function writeIpv4(address: u32): void {
  write(address >>> 24); write("."); write((address >>> 16) & 0xff); write(".");
  write((address >>> 8) & 0xff); write("."); write(address & 0xff);
}

/** Prints the interface's configuration: `vm N net A.B.C.D netmask M gateway G` (G `none` when 0). */
export function stackReport(): void {
  write("vm "); write(vmId()); write(" net "); writeIpv4(ourIp);
  write(" netmask "); writeIpv4(ourNetmask);
  write(" gateway ");
  if (ourGateway === 0) write("none"); else writeIpv4(ourGateway);
  print("");
}

/** Runs the timers and sets the alarm for the nearest deadline. */
export function stackTimers(): void {
  let next = arpTimer();
  const tcpNext = tcpTimer();
  if (tcpNext < next) next = tcpNext;
  setLazyAcks(tcpAcksMayWait());           // the VM idles next: bare ACKs need not wake it when none is awaited
  const otherNext = timerSource();
  if (otherNext < next) next = otherNext;
  if (next === NO_DEADLINE) {
    if (alarmAt !== NO_DEADLINE) { setAlarm(0); alarmAt = NO_DEADLINE; }
    return;
  }
  if (next === 0) next = 1;
  const at = netNow + next;
  if (at !== alarmAt) { setAlarm(next); alarmAt = at; }
}

/** Handles one batch of virtual interrupts (as waitForEvents returned it): its frames, then the timers. */
function stackHandle(events: u32): void {
  stackPoll(events);
  stackTimers();
}

/**
 * The first half of stackHandle, for a loop that runs stackTimers itself before it idles again (threads.ts:
 * once per round, after the threads the batch woke, not twice): the clock, the alarm's state, the frames.
 */
export function stackPoll(events: u32): void {
  const now = clockMicrosecondsAtWake();
  netifSetClock(now);
  if ((events & INTERRUPT_TIMER) !== 0) alarmAt = NO_DEADLINE;   // it rang: set it again in stackTimers if needed
  if ((events & INTERRUPT_NET) !== 0) netifPoll();
}

/** The event loop: idles until a frame or the alarm, handles it, forever. */
export function stackRun(): void {
  stackTimers();
  while (true) stackHandle(waitForEvents(INTERRUPT_NET | INTERRUPT_TIMER));
}
