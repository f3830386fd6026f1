// Exercises guest-src/libos/threads.ts under the test harness: sleepers, a wait with a timeout, a
// wake-up by channel, yields taking turns, a thread ending and its slot reused, then "threads done";
// wakeOneMain: four threads wait on one channel and threadWakeOne hands out three wake-ups.
import { i32, u32, write, print } from "dsl";
import { bootInit } from "../../../guest-src/runtime/boot.ts";
import { GUEST_MAGIC } from "../../../abi/boot.ts";
import { enableInterrupts, clockMicroseconds } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot } from "../../../guest-src/libos/stack.ts";
import {
  threadsInit, threadCreate, threadsRun, threadSleep, threadWait, threadWake, threadWakeOne, threadYield, threadSelf,
  threadCount,
} from "../../../guest-src/libos/threads.ts";

let start: u32 = 0;
let finished: i32 = 0;
const CHANNEL: u32 = 77;

function elapsedMs(): u32 { return (clockMicroseconds() - start) / 1000; }

function note(what: string, value: u32): void {
  write("t"); write(threadSelf()); write(" "); write(what); write(" "); write(value); write(" at "); write(elapsedMs()); print(" ms");
}

function done(): void {
  finished++;
  if (finished === 6) { write("threads done, live "); print(threadCount()); }
}

function sleeper(ms: u32): void {
  threadSleep(ms * 1000);
  note("slept", ms);
  done();
}

function waiter(arg: u32): void {
  const first = threadWait(CHANNEL, 5000);
  note(first ? "woken" : "timed out", 5);
  const second = threadWait(CHANNEL, 0);
  note(second ? "woken" : "timed out", 0);
  done();
}

function waker(arg: u32): void {
  threadSleep(15000);
  note("wakes", CHANNEL);
  threadWake(CHANNEL);
  done();
}

function yielder(turns: u32): void {
  for (let i: u32 = 0; i < turns; i++) { note("turn", i); threadYield(); }
  done();
}

export function testMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  start = clockMicroseconds();
  threadCreate(sleeper, 30);
  threadCreate(sleeper, 10);
  threadCreate(waiter, 0);
  threadCreate(waker, 0);
  threadCreate(yielder, 2);
  threadCreate(yielder, 2);
  write("threads "); print(threadCount());
  threadsRun();
}

// ---- wakeOneMain: threadWakeOne wakes the lowest numbered waiter, one per call ---------------------------
const ACCEPTS: u32 = 78;

function acceptor(arg: u32): void {
  while (true) {
    threadWait(ACCEPTS, 0);
    write("t"); write(threadSelf()); print(" took one");
  }
}

function dealer(arg: u32): void {
  threadSleep(1000);
  threadWakeOne(ACCEPTS);
  threadSleep(1000);
  threadWakeOne(ACCEPTS);
  threadWakeOne(ACCEPTS);
  threadSleep(1000);
  print("dealer done");
}

export function wakeOneMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  for (let i = 0; i < 4; i++) threadCreate(acceptor, 0);
  threadCreate(dealer, 0);
  threadsRun();
}

// ---- udpEchoMain: a UDP echo server with two threads on one blocking socket -------------------------------
import {
  socketUdpOpen, socketUdpReceive, socketUdpSend, socketUdpSource, socketUdpSourcePort, SOCKET_TIMEOUT,
} from "../../../guest-src/libos/sockets.ts";

let udpSocket: i32 = 0;
const datagram = new Uint8Array(1472);

function udpEchoWorker(arg: u32): void {
  while (true) {
    const n = socketUdpReceive(udpSocket, datagram, 0, 1472, 50000);
    if (n === SOCKET_TIMEOUT) { write("t"); write(threadSelf()); print(" idle 50 ms"); continue; }
    write("t"); write(threadSelf()); write(" echoes "); write(n); write(" bytes to port "); print(socketUdpSourcePort());
    socketUdpSend(udpSocket, socketUdpSource(), socketUdpSourcePort(), datagram, 0, n);
  }
}

export function udpEchoMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  udpSocket = socketUdpOpen(7);
  threadCreate(udpEchoWorker, 0);
  threadCreate(udpEchoWorker, 0);
  print("udp echo up");
  threadsRun();
}
