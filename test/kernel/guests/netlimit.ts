// The guest of test/kernel/limits.test.ts (the switch's rate limits: kernel-src/netlimit.ts). Times are
// the kernel clock's (readClock) since boot, in milliseconds; a run lasts under 4.29 s (the clock's low
// word). argument = role | target << 2 | perMillisecond << 8 | frameWords << 14 | start << 22 (bits: 2, 6,
// 6, 8, 10; start in units of 10 ms, frames of frameWords x 8 bytes):
//   role 0 pinger: sends a 60-byte ping to `target` and idles until its echo, again and again, counting
//     the echoes of each WINDOW_MS window of the clock; until WINDOWS windows have passed it prints `echo
//     window W exchanges E` for each, then tells `target` to stop and exits.
//   role 1 responder: answers each ping with an echo to its sender; drops any other frame; exits on stop.
//   role 2 flooder: from `start` for FLOOD_MS, sends frames of frameWords x 8 bytes (at least 60)
//     to `target`: `perMillisecond` of them on each 1 ms alarm, or (0) as fast as it can, never idling.
//     Then `flood attempts N accepted A refused R first F last L` (accepted: netSend returned 0;
//     refused: EAGAIN; F, L: the clock, in microseconds, at the first and last attempt) and exits.
//   role 3 sink: reads every frame for it until `start`, then `sink received N` and exits.
// Frames carry EtherType 0x88B5 (IEEE 802 local experimental: on the switch's allow-list) and a kind byte.
import { i32, u32, print, write, exit, hypercall, addressOf, overlay } from "dsl";
import {
  HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_READ_CLOCK, HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE,
  INTERRUPT_TIMER, FRAME_MAX, EAGAIN,
} from "../../../abi/hypercalls.ts";
import { BootInfo, GUEST_MAGIC, macOfVm } from "../../../abi/boot.ts";

const WINDOW_MS: u32 = 50;
const WINDOWS: u32 = 20;
const FLOOD_MS: u32 = 500;
const FRAME_MIN_BYTES: u32 = 60;
const KIND = 14;                  // the payload's first byte
const KIND_PING: u32 = 1;
const KIND_ECHO: u32 = 2;
const KIND_STOP: u32 = 3;
const KIND_FLOOD: u32 = 4;

let vmId: u32 = 0;
const outgoing = new Uint8Array(1514);   // FRAME_MAX
const incoming = new Uint8Array(1514);
const clock = new Uint32Array(2);

export function guestMain(magic: u32, bootInfo: u32): void {
  if (magic !== GUEST_MAGIC) { print("bad magic"); exit(1); }
  const info = overlay(BootInfo, bootInfo);
  vmId = info.vmId;
  const a = info.argument;
  const role = u32(a & 3), target = u32((a >>> 2) & 63), perMillisecond = u32((a >>> 8) & 63);
  const frameBytes = u32((a >>> 14) & 255) * 8, start = (a >>> 22) * 10;
  if (role === 0) pinger(target);
  else if (role === 1) responder();
  else if (role === 2) {
    flooder(target, perMillisecond, frameBytes > FRAME_MIN_BYTES ? frameBytes : FRAME_MIN_BYTES, start);
  }
  else if (role === 3) sink(start);
  exit(0);
}

/** The kernel clock in microseconds (the run is shorter than the low word's 4.29 s). */
function nowMicroseconds(): u32 {
  hypercall(HYPERCALL_READ_CLOCK, addressOf(clock), 0, 0, 0);
  if (clock[1] !== 0) { print("clock past 4.29 s"); exit(1); }
  return clock[0] / 1000;
}

function send(to: u32, kind: u32, length: u32): i32 {
  macOfVm(outgoing, 0, to);
  macOfVm(outgoing, 6, vmId);
  outgoing[12] = 0x88; outgoing[13] = 0xb5;
  outgoing[KIND] = kind;
  return hypercall(HYPERCALL_NET_SEND, addressOf(outgoing), length, 0, 0);
}

/** Sends until the switch takes the frame (EAGAIN: a queue is full, idle a moment). */
function sendSurely(to: u32, kind: u32): void {
  while (send(to, kind, FRAME_MIN_BYTES) === EAGAIN) {
    hypercall(HYPERCALL_SET_ALARM, 1000, 0, 0, 0);
    hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0);
  }
}

/** The next frame's kind, idling until one comes (0 never: frames carry a kind). */
function receive(): u32 {
  while (true) {
    const length = hypercall(HYPERCALL_NET_RECEIVE, addressOf(incoming), FRAME_MAX, 0, 0);
    if (length > 0) return incoming[KIND];
    hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0);
  }
}

function pinger(target: u32): void {
  let window = nowMicroseconds() / (WINDOW_MS * 1000), exchanges: u32 = 0;
  while (window < WINDOWS) {
    sendSurely(target, KIND_PING);
    while (receive() !== KIND_ECHO) {}
    const now = nowMicroseconds() / (WINDOW_MS * 1000);
    exchanges++;
    if (now === window) continue;
    write("echo window "); write(window); write(" exchanges "); print(exchanges);
    window = now;
    exchanges = 0;
  }
  sendSurely(target, KIND_STOP);
}

function responder(): void {
  while (true) {
    const kind = receive();
    if (kind === KIND_STOP) return;
    if (kind === KIND_PING) sendSurely(u32((incoming[9] << 16) | (incoming[10] << 8) | incoming[11]), KIND_ECHO);
  }
}

function flooder(target: u32, perMillisecond: u32, length: u32, startMs: u32): void {
  sleepUntil(startMs * 1000);
  let attempts: u32 = 0, accepted: u32 = 0, refused: u32 = 0;
  const first = nowMicroseconds(), end = (startMs + FLOOD_MS) * 1000;
  let last = first;
  while (last < end) {
    const burst = perMillisecond === 0 ? 64 : perMillisecond;
    for (let i: u32 = 0; i < burst; i++) {
      const r = send(target, KIND_FLOOD, length);
      attempts++;
      if (r === 0) accepted++;
      else if (r === EAGAIN) refused++;
      else { write("flood netSend "); print(r); exit(1); }
    }
    last = nowMicroseconds();
    if (perMillisecond !== 0) {
      hypercall(HYPERCALL_SET_ALARM, 1000, 0, 0, 0);
      let got: u32 = 0;
      while ((got & INTERRUPT_TIMER) === 0) got = u32(hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0));
    }
  }
  write("flood attempts "); write(attempts); write(" accepted "); write(accepted); write(" refused "); write(refused);
  write(" first "); write(first); write(" last "); print(last);
}

function sleepUntil(microseconds: u32): void {
  let now = nowMicroseconds();
  while (now < microseconds) {
    hypercall(HYPERCALL_SET_ALARM, microseconds - now, 0, 0, 0);
    hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0);
    now = nowMicroseconds();
  }
}

function sink(endMs: u32): void {
  let received: u32 = 0;
  let now = nowMicroseconds();
  while (now < endMs * 1000) {
    if (hypercall(HYPERCALL_NET_RECEIVE, addressOf(incoming), FRAME_MAX, 0, 0) > 0) received++;
    else {
      hypercall(HYPERCALL_SET_ALARM, endMs * 1000 - now, 0, 0, 0);
      hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0);
    }
    now = nowMicroseconds();
  }
  while (hypercall(HYPERCALL_NET_RECEIVE, addressOf(incoming), FRAME_MAX, 0, 0) > 0) received++;
  write("sink received "); print(received);
}
