// The guest of test/kernel/lazy-acks.test.ts (the switch's bare-ACK holding: kernel-src/switch.ts bareAck,
// abi/hypercalls.ts INTERRUPT_LAZY_ACKS). argument = role | target << 2 (bits: 2, 6):
//   role 0 sender: sends `target` the frames of SCRIPT, one every GAP_US (so the receiver is idle at each),
//     each an IPv4 frame whose identification field is its tag (or the stop frame, EtherType 0x88B5), then
//     exits;
//   role 1 lazy receiver: asks for INTERRUPT_LAZY_ACKS; role 2 receiver: does not. Each idles until an event,
//     then reads every frame queued and prints `wake T1 T2 ...` (the tags, `stop` for the stop frame) and
//     exits after the stop frame.
// The frames: bare ACKs (with and without TCP options, IP options, PSH, Ethernet padding) and segments or
// datagrams that are not (data, SYN, FIN, RST, URG, a fragment, UDP, an IP length with data the frame says
// it has), then 16 bare ACKs in a row (LAZY_ACK_QUEUE: the 16th wakes the VM) and one more before the stop.
// With SWAP_SCRIPT (bit 8) the sender sends two bare ACKs (tags 1, 2), sleeps SWAP_WAIT_US while role 3 (a
// hog: after HOG_DELAY_US it touches every page of its memory, then exits) makes the kernel write idle VMs out,
// then a segment with data (3) and the stop; a receiver with ALARM (bit 9) keeps an alarm ALARM_US ahead.
import { i32, u32, bool, print, write, exit, hypercall, addressOf, overlay, store32 } from "dsl";
import {
  HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_MASK,
  INTERRUPT_TIMER, INTERRUPT_ALL, INTERRUPT_LAZY_ACKS, FRAME_MAX,
} from "../../../abi/hypercalls.ts";
import { BootInfo, GUEST_MAGIC, macOfVm } from "../../../abi/boot.ts";

const GAP_US: u32 = 5000;
// TCP flags (RFC 9293 §3.1).
const FIN: u32 = 0x01;
const SYN: u32 = 0x02;
const RST: u32 = 0x04;
const PSH: u32 = 0x08;
const ACK: u32 = 0x10;
const URG: u32 = 0x20;
// A script step: flags | optionWords << 8 | ipOptionWords << 12 | dataBytes << 16 | FRAGMENT | UDP | PAD | LIE.
const FRAGMENT: u32 = 0x01000000;   // IPv4 MF set
const UDP: u32 = 0x02000000;        // a UDP datagram instead
const PAD: u32 = 0x04000000;        // the frame padded to 60 bytes, as on an Ethernet wire
const LIE: u32 = 0x08000000;        // the IP total length counts 4 bytes of data the frame does not have
const SWAP_SCRIPT: u32 = 0x100;
const ALARM: u32 = 0x200;
const SWAP_WAIT_US: u32 = 2000000;
const HOG_DELAY_US: u32 = 100000;
const ALARM_US: u32 = 60000000;
/** The hog's first page: past the image (code, data, stack). */
const HOG_FIRST: u32 = 0x10000;
const SCRIPT_LENGTH: u32 = 13;
const script = new Uint32Array(13);

let vmId: u32 = 0;
let ourIp: u32 = 0;
const outgoing = new Uint8Array(1514);   // FRAME_MAX
const incoming = new Uint8Array(1514);

export function guestMain(magic: u32, bootInfo: u32): void {
  if (magic !== GUEST_MAGIC) { print("bad magic"); exit(1); }
  const info = overlay(BootInfo, bootInfo);
  vmId = info.vmId;
  ourIp = info.ipAddress;
  const role = u32(info.argument & 3), target = u32((info.argument >>> 2) & 63);
  if (role === 0 && (info.argument & SWAP_SCRIPT) !== 0) swapSender(target);
  else if (role === 0) sender(target);
  else if (role === 3) hog(info.memoryBase, info.memorySize);
  else receiver(role === 1, (info.argument & ALARM) !== 0);
  exit(0);
}

function sender(target: u32): void {
  script[0] = ACK;                                    // 1: bare
  script[1] = ACK | (3 << 8);                         // 2: bare, 12 bytes of options (timestamps)
  script[2] = ACK | PSH | (10 << 16);                 // 3: 10 bytes of data
  script[3] = SYN;                                    // 4
  script[4] = FIN | ACK;                              // 5
  script[5] = RST | ACK;                              // 6
  script[6] = URG | ACK;                              // 7
  script[7] = PSH | ACK | PAD;                        // 8: bare (PSH without data), padded
  script[8] = ACK | FRAGMENT;                         // 9: a fragment
  script[9] = UDP;                                    // 10
  script[10] = ACK | (1 << 12);                       // 11: bare, with 4 bytes of IP options
  script[11] = ACK | LIE;                             // 12: its IP length says it carries data
  script[12] = ACK | PAD;                             // 13: bare, padded
  sleep(GAP_US);                                      // the receiver has set its mask and idles
  let tag: u32 = 1;
  for (let k: u32 = 0; k < SCRIPT_LENGTH; k++) { sendStep(target, tag, script[k]); tag++; }
  for (let k: u32 = 0; k < 16; k++) { sendStep(target, tag, ACK); tag++; }   // 14..29: the 16th wakes
  sendStep(target, tag, ACK);                                                 // 30: held until the stop
  sendStop(target);
}

/** Two bare ACKs, a long sleep (the hog's time), data, the stop. */
function swapSender(target: u32): void {
  sleep(GAP_US);
  sendStep(target, 1, ACK);
  sendStep(target, 2, ACK);
  sleep(SWAP_WAIT_US);
  sendStep(target, 3, ACK | PSH | (10 << 16));
  sendStop(target);
}

/** Touches every page of its memory from HOG_FIRST up to the boot page (the last), after HOG_DELAY_US. */
function hog(base: u32, size: u32): void {
  sleep(HOG_DELAY_US);
  for (let page: u32 = HOG_FIRST; page + 4096 < size; page += 4096) store32(base + page, page);
  print("hog done");
}

/** Sends one frame of the script to `target`, then sleeps GAP_US. */
function sendStep(target: u32, tag: u32, step: u32): void {
  const udp = (step & UDP) !== 0;
  const ipHeader = 20 + ((step >>> 12) & 15) * 4;
  const transportHeader = udp ? 8 : 20 + ((step >>> 8) & 15) * 4;
  const data = (step >>> 16) & 255;
  let length = 14 + ipHeader + transportHeader + data;
  for (let i: u32 = 0; i < 128; i++) outgoing[i] = 0;
  macOfVm(outgoing, 0, target);
  macOfVm(outgoing, 6, vmId);
  outgoing[12] = 0x08; outgoing[13] = 0x00;
  const ip: u32 = 14;
  outgoing[ip] = u32(0x40 | (ipHeader >>> 2));
  const total = ipHeader + transportHeader + data + ((step & LIE) !== 0 ? 4 : 0);
  outgoing[ip + 2] = total >>> 8; outgoing[ip + 3] = total & 255;
  outgoing[ip + 4] = tag >>> 8; outgoing[ip + 5] = tag & 255;
  if ((step & FRAGMENT) !== 0) outgoing[ip + 6] = 0x20;
  outgoing[ip + 8] = 64;
  outgoing[ip + 9] = udp ? 17 : 6;
  outgoing[ip + 12] = ourIp & 255; outgoing[ip + 13] = (ourIp >>> 8) & 255;     // network order in memory
  outgoing[ip + 14] = (ourIp >>> 16) & 255; outgoing[ip + 15] = ourIp >>> 24;
  outgoing[ip + 16] = 10; outgoing[ip + 19] = 9;
  const tcp = ip + ipHeader;
  outgoing[tcp + 1] = 80; outgoing[tcp + 3] = 80;
  if (!udp) {
    outgoing[tcp + 12] = u32((transportHeader >>> 2) << 4);
    outgoing[tcp + 13] = step & 255;
  }
  if ((step & PAD) !== 0 && length < 60) length = 60;
  hypercall(HYPERCALL_NET_SEND, addressOf(outgoing), length, 0, 0);
  sleep(GAP_US);
}

function sendStop(target: u32): void {
  macOfVm(outgoing, 0, target);
  macOfVm(outgoing, 6, vmId);
  outgoing[12] = 0x88; outgoing[13] = 0xb5;
  hypercall(HYPERCALL_NET_SEND, addressOf(outgoing), 60, 0, 0);
}

function sleep(microseconds: u32): void {
  hypercall(HYPERCALL_SET_ALARM, microseconds, 0, 0, 0);
  let got: u32 = 0;
  while ((got & INTERRUPT_TIMER) === 0) got = u32(hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0));
}

function receiver(lazy: bool, alarm: bool): void {
  if (alarm) hypercall(HYPERCALL_SET_ALARM, ALARM_US, 0, 0, 0);
  let mask = INTERRUPT_ALL;
  if (lazy) mask = INTERRUPT_ALL | INTERRUPT_LAZY_ACKS;
  hypercall(HYPERCALL_INTERRUPT_MASK, mask, 0, 0, 0);
  let stopped = false;
  while (!stopped) {
    hypercall(HYPERCALL_IDLE, 0xffffffff, 0, 0, 0);
    let any = false;
    while (true) {
      const length: i32 = hypercall(HYPERCALL_NET_RECEIVE, addressOf(incoming), FRAME_MAX, 0, 0);
      if (length <= 0) break;
      if (!any) write("wake");
      any = true;
      if (incoming[12] === 0x88) { write(" stop"); stopped = true; continue; }
      write(" "); write(u32((incoming[18] << 8) | incoming[19]));
    }
    if (any) print("");
  }
}
