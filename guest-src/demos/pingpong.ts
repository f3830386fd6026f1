// Demo: a pair of VMs exchanging Ethernet frames through the loopback (netSend / netReceive).
// VM 2k (the pinger) sends `ping I` frames to its partner VM 2k+1 (MAC 02:00:00 + vmId, the ABI's
// rule); the ponger idles until NET, receives, prints `vm B got ping I from vm A` and answers with
// `pong I`; the pinger prints `vm A got pong I from vm B` and sends the next ping. Both stop after N
// exchanges (N: the manifest's argument, 5 when it is 0) and exit with status 0. Pairs are (even, odd)
// vm ids: give a pingpong group an even count and an even first vm id (put it first, or after groups
// of even counts). A lost ping (partner not started yet, queue full) is sent again after a timeout.
//
// Frame: destination MAC (6), source MAC (6), EtherType 0x88B5 (local experimental, 2),
// then the payload: kind (u8: 1 ping, 2 pong), 3 zero bytes, sequence number (u32 little-endian),
// zero padding up to the 60-byte Ethernet minimum.
import { i32, u32, u8, print, write, exit, panic, addressOf } from "dsl";
import { bootInit, vmId, vmCount, argument, boot } from "../runtime/boot.ts";
import { macOfVm } from "../../abi/boot.ts";
import { netSend, netReceive, setAlarm, yieldCpu } from "../runtime/hypercalls.ts";
import { EAGAIN, INTERRUPT_NET, INTERRUPT_TIMER, FRAME_MAX } from "../../abi/hypercalls.ts";
import { enableInterrupts, waitForEvents } from "../runtime/events.ts";

const DEFAULT_EXCHANGES: u32 = 5;
const FRAME_BYTES = 60;
const ETHERTYPE = 0x88b5;
const KIND_PING = 1;
const KIND_PONG = 2;
const OFFSET_KIND = 14;
const OFFSET_SEQUENCE = 18;
/** The pinger sends the ping again when no pong came back within this time. */
const RETRY_MICROSECONDS: u32 = 50000;

const outgoing = new Uint8Array(FRAME_BYTES);
const incoming = new Uint8Array(FRAME_MAX);

function readU32(frame: Uint8Array, offset: i32): u32 {
  return u32(frame[offset] | (frame[offset + 1] << 8) | (frame[offset + 2] << 16) | (frame[offset + 3] << 24));
}

function writeU32At(frame: Uint8Array, offset: i32, value: u32): void {
  frame[offset] = value; frame[offset + 1] = value >>> 8; frame[offset + 2] = value >>> 16; frame[offset + 3] = value >>> 24;
}

/** The vm id in a frame's source MAC (its last three bytes). */
function sourceVm(frame: Uint8Array): u32 { return u32((frame[9] << 16) | (frame[10] << 8) | frame[11]); }

function send(to: u32, kind: i32, sequence: u32): void {
  macOfVm(outgoing, 0, to);
  const mac = boot().mac;
  for (let i = 0; i < 6; i++) outgoing[6 + i] = mac[i];
  outgoing[12] = u8(ETHERTYPE >>> 8);
  outgoing[13] = u8(ETHERTYPE);
  outgoing[OFFSET_KIND] = kind;
  writeU32At(outgoing, OFFSET_SEQUENCE, sequence);
  while (true) {
    const r = netSend(addressOf(outgoing), FRAME_BYTES);
    if (r === 0) return;
    if (r !== EAGAIN) { write("netSend failed: "); print(r); panic("netSend"); }
    yieldCpu();   // the partner's queue is full: let it run
  }
}

/** Receives one frame of ours; returns its kind, or 0 when no frame is queued. Skips foreign frames. */
function receive(): i32 {
  while (true) {
    const length = netReceive(addressOf(incoming), FRAME_MAX);
    if (length < 0) { write("netReceive failed: "); print(length); panic("netReceive"); }
    if (length === 0) return 0;
    if (length < OFFSET_SEQUENCE + 4 || incoming[12] !== (ETHERTYPE >>> 8) || incoming[13] !== (ETHERTYPE & 255)) continue;
    return incoming[OFFSET_KIND];
  }
}

function pinger(id: u32, partner: u32, exchanges: u32): void {
  let sequence: u32 = 1;
  send(partner, KIND_PING, sequence);
  setAlarm(RETRY_MICROSECONDS);
  while (sequence <= exchanges) {
    const events = waitForEvents(INTERRUPT_NET | INTERRUPT_TIMER);
    let answered = false;
    while (true) {
      const kind = receive();
      if (kind === 0) break;
      if (kind !== KIND_PONG || readU32(incoming, OFFSET_SEQUENCE) !== sequence) continue;   // a late duplicate
      write("vm "); write(id); write(" got pong "); write(sequence); write(" from vm "); print(sourceVm(incoming));
      sequence++;
      answered = true;
      if (sequence <= exchanges) send(partner, KIND_PING, sequence);
    }
    if (answered || (events & INTERRUPT_TIMER) !== 0) {
      if (!answered && sequence <= exchanges) send(partner, KIND_PING, sequence);   // lost: again
      setAlarm(sequence <= exchanges ? RETRY_MICROSECONDS : 0);
    }
  }
}

function ponger(id: u32, exchanges: u32): void {
  let answered: u32 = 0;   // the highest ping answered (pings come in order; a resent one is answered again)
  while (answered < exchanges) {
    waitForEvents(INTERRUPT_NET);
    while (true) {
      const kind = receive();
      if (kind === 0) break;
      if (kind !== KIND_PING) continue;
      const sequence = readU32(incoming, OFFSET_SEQUENCE);
      const from = sourceVm(incoming);
      if (sequence > answered) {
        write("vm "); write(id); write(" got ping "); write(sequence); write(" from vm "); print(from);
        answered = sequence;
      }
      send(from, KIND_PONG, sequence);
    }
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  const id = vmId();
  const exchanges = argument() === 0 ? DEFAULT_EXCHANGES : argument();
  if ((id & 1) === 0) {
    if (id + 1 >= vmCount()) { write("vm "); write(id); print(" has no partner"); exit(1); }
    pinger(id, id + 1, exchanges);
  } else {
    ponger(id, exchanges);
  }
  write("vm "); write(id); write(" done "); print(exchanges);
  exit(0);
}
