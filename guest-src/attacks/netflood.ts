// Hostile guest: emptying the shared network-buffer pool (issue 11, item 4). Two roles, by the
// manifest's argument = MODE * 10^9 + FIRST_SINK * 10^5 + PARAM:
//   MODE 1, flooder: sends 60-byte frames (EtherType 0x88B5, its own MAC: nothing the switch refuses as
//     spoofed) round-robin to VMs FIRST_SINK .. vmCount - 1 as fast as it can, never yielding, PARAM
//     thousand times (0: for ever). The sinks never read, so every frame it gets queued holds a
//     buffer of the kernel's pool. If its first 1,024 sends are all accepted, one VM has pinned half of
//     the 2,048-buffer pool: `attack netflood: NOT CONTAINED`. Otherwise, at the end,
//     `attack netflood: vm N accepted A, refused R` (refused: EAGAIN) and exit 0.
//   MODE 2, sink: listens only to its alarm, never reads its queue, and after PARAM ms (0: never) prints
//     `vm N sink done` and exits 0.
// The kernel must throttle the flooder alone (EAGAIN beyond its budget, the sinks' oldest frames dropped
// while the pool runs low) and count it (`vm N net: ... refused R, evicted E`).
import { u32, u8, print, write, exit, addressOf } from "dsl";
import { bootInit, vmId, vmCount, argument, boot } from "../runtime/boot.ts";
import { macOfVm } from "../../abi/boot.ts";
import { netSend, setAlarm, interruptMask } from "../runtime/hypercalls.ts";
import { EAGAIN, INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import { waitForEvents } from "../runtime/events.ts";
import { announce, notContained } from "./common.ts";

const MODE_UNIT: u32 = 1000000000;
const SINK_UNIT: u32 = 100000;
const MODE_FLOODER: u32 = 1;
const MODE_SINK: u32 = 2;
const FRAME_BYTES: u32 = 60;
const ETHERTYPE_LOCAL_1: u32 = 0x88b5;   // IEEE Std 802 local experimental
/** Half the kernel's pool (2,048 buffers, docs/virtual-architecture.md): no VM may pin that much. */
const POOL_HALF: u32 = 1024;

const frame = new Uint8Array(60);

function flooder(firstSink: u32, thousands: u32): void {
  announce("netflood", "frames to VMs that never read, until the buffer pool is empty");
  const count = vmCount();
  if (firstSink >= count) { print("netflood: no sinks"); exit(1); }
  const mac = boot().mac;
  for (let i = 0; i < 6; i++) frame[6 + i] = mac[i];
  frame[12] = u8(ETHERTYPE_LOCAL_1 >>> 8);
  frame[13] = u8(ETHERTYPE_LOCAL_1);
  let accepted: u32 = 0, refused: u32 = 0;
  let target = firstSink;
  for (let attempt: u32 = 0; thousands === 0 || attempt < thousands * 1000; attempt++) {
    macOfVm(frame, 0, target);
    frame[14] = attempt; frame[15] = attempt >>> 8;
    const r = netSend(addressOf(frame), FRAME_BYTES);
    if (r === 0) accepted++;
    else if (r === EAGAIN) refused++;
    else { write("netflood: netSend "); print(r); exit(1); }
    if (refused === 0 && accepted >= POOL_HALF) notContained("netflood");
    target = target + 1 === count ? firstSink : target + 1;
  }
  write("attack netflood: vm "); write(vmId());
  write(" accepted "); write(accepted); write(", refused "); print(refused);
  exit(0);
}

function sink(milliseconds: u32): void {
  interruptMask(INTERRUPT_TIMER);      // NET is never wanted: the queue is never read
  if (milliseconds !== 0) setAlarm(milliseconds * 1000);
  waitForEvents(INTERRUPT_TIMER);
  write("vm "); write(vmId()); print(" sink done");
  exit(0);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const mode = argument() / MODE_UNIT;
  const firstSink = (argument() % MODE_UNIT) / SINK_UNIT;
  const parameter = argument() % SINK_UNIT;
  if (mode === MODE_FLOODER) flooder(firstSink, parameter);
  else if (mode === MODE_SINK) sink(parameter);
  write("netflood: bad argument "); print(argument());
  exit(1);
}
