// The network tests' guest (test/kernel/net*.test.ts): raw Ethernet frames through netSend /
// netReceive, its behaviour chosen by the manifest argument (BootInfo.argument): argument & 0xff = mode,
// argument >> 8 = a parameter. Modes:
//   0 gateway: ARP request for <own network>.2 (QEMU user networking's 10.0.2.2), prints
//     "vm ID arp A.B.C.D is-at MAC", then an ICMP echo to it and "vm ID echo reply from A.B.C.D seq N"
//   1 responder: answers ARP requests for its IP and ICMP echo requests; exits after `param` echo replies
//   2 peer: ARP request for the next VM's IP (own IP + 1), prints the reply's MAC, pings it once
//   3 listener: for `param` x 10 ms counts the frames it receives, prints "vm ID heard N frames"
//   4 spoofer: sends to VM id+1 frames with VM id+1's source MAC, with its IP as IPv4 source, as ARP
//     sender, and an IPv6 frame (all must be dropped), then one honest frame; "vm ID spoofer sent 5".
//     With a parameter p > 0 the victim is VM p-1 (its IP: own IP + victim - id, same /24), and three
//     more spoofed frames follow, broadcast (for the wire): an ARP reply claiming the victim's IP, an ARP
//     reply with the victim's MAC as sender, a VLAN-tagged frame; it prints "vm ID spoofer sent 8" and
//     stays up, discarding what it receives (net-hostile.test.ts)
//   5 flooder: sends `param` frames of 1514 bytes to a MAC on the wire (0a:00:00:00:00:01) as fast as it
//     can, trying each again while netSend says EAGAIN (the NIC's transmit ring is full); prints
//     "vm ID flood sent S eagain E other O" and exits
// References: RFC 826 (ARP), RFC 791 (IPv4 header, checksum), RFC 792 (ICMP echo), RFC 1071 (checksum).
import { bool, i32, u8, u32, print, write, exit, hypercall, addressOf, overlay } from "dsl";
import {
  HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_ACKNOWLEDGE,
  HYPERCALL_YIELD, EAGAIN, INTERRUPT_TIMER, FRAME_MAX,
} from "../../../abi/hypercalls.ts";
import { BootInfo, MAC_BYTES, macOfVm } from "../../../abi/boot.ts";

let vmId: u32 = 0;
const myMac = new Uint8Array(6);
const myIp = new Uint8Array(4);
const tx = new Uint8Array(FRAME_MAX);
const rx = new Uint8Array(FRAME_MAX);

export function guestMain(magic: u32, bootInfo: u32): void {
  const info = overlay(BootInfo, bootInfo);
  vmId = info.vmId;
  for (let i = 0; i < 6; i++) myMac[i] = info.mac[i];
  for (let i = 0; i < 4; i++) myIp[i] = u8(info.ipAddress >>> (8 * i));   // network order: a.b.c.d in memory
  const argument = info.argument;
  const mode = argument & 0xff, param = argument >>> 8;
  if (mode === 0) gateway();
  else if (mode === 1) responder(param);
  else if (mode === 2) peer();
  else if (mode === 3) listener(param);
  else if (mode === 4) spoofer(param);
  else if (mode === 5) flooder(param);
  exit(0);
}

// ---- frames ----------------------------------------------------------------------------------------

function put16(at: i32, v: u32): void { tx[at] = v >>> 8; tx[at + 1] = v; }
function get16(at: i32): u32 { return (u32(rx[at]) << 8) | u32(rx[at + 1]); }

/** RFC 1071 one's complement sum of tx[from, from + length), folded, complemented. */
function checksum(from: i32, length: i32): u32 {
  let sum: u32 = 0;
  for (let i = 0; i + 1 < length; i += 2) sum += (u32(tx[from + i]) << 8) | u32(tx[from + i + 1]);
  if ((length & 1) !== 0) sum += u32(tx[from + length - 1]) << 8;
  while ((sum >>> 16) !== 0) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum) & 0xffff;
}

function ethernet(type: u32): void {
  for (let i = 0; i < 6; i++) tx[6 + i] = myMac[i];
  put16(12, type);
}

/** An ARP request (RFC 826) for ip[0..3], broadcast. */
function arpRequest(a: u32, b: u32, c: u32, d: u32): void {
  for (let i = 0; i < 6; i++) tx[i] = 0xff;
  ethernet(0x0806);
  put16(14, 1); put16(16, 0x0800); tx[18] = 6; tx[19] = 4; put16(20, 1);
  for (let i = 0; i < 6; i++) { tx[22 + i] = myMac[i]; tx[32 + i] = 0; }
  for (let i = 0; i < 4; i++) tx[28 + i] = myIp[i];
  tx[38] = a; tx[39] = b; tx[40] = c; tx[41] = d;
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 42, 0, 0);
}

/** An ICMP echo request (RFC 792) to `mac`/ip with sequence `seq` and 32 bytes of payload, sent. */
function echoRequest(mac: Uint8Array, a: u32, b: u32, c: u32, d: u32, seq: u32): void {
  buildEcho(mac, a, b, c, d, seq);
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), ECHO_FRAME, 0, 0);
}

const ECHO_FRAME: u32 = 74;

/** Builds the echo request in tx (ECHO_FRAME bytes) without sending it. */
function buildEcho(mac: Uint8Array, a: u32, b: u32, c: u32, d: u32, seq: u32): void {
  for (let i = 0; i < 6; i++) tx[i] = mac[i];
  ethernet(0x0800);
  const total = 20 + 8 + 32;
  tx[14] = 0x45; tx[15] = 0; put16(16, total); put16(18, seq); put16(20, 0); tx[22] = 64; tx[23] = 1; put16(24, 0);
  for (let i = 0; i < 4; i++) tx[26 + i] = myIp[i];
  tx[30] = a; tx[31] = b; tx[32] = c; tx[33] = d;
  put16(24, checksum(14, 20));
  tx[34] = 8; tx[35] = 0; put16(36, 0); put16(38, 0x1234); put16(40, seq);
  for (let i = 0; i < 32; i++) tx[42 + i] = 0x61 + i % 23;
  put16(36, checksum(34, 8 + 32));
}

/** The next frame within `microseconds` (its length), or 0. */
function receiveWithin(microseconds: u32): i32 {
  hypercall(HYPERCALL_SET_ALARM, microseconds, 0, 0, 0);
  while (true) {
    const n = hypercall(HYPERCALL_NET_RECEIVE, addressOf(rx), FRAME_MAX, 0, 0);
    if (n !== 0) { hypercall(HYPERCALL_SET_ALARM, 0, 0, 0, 0); return n; }
    const got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
    hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
    if ((got & INTERRUPT_TIMER) !== 0) return hypercall(HYPERCALL_NET_RECEIVE, addressOf(rx), FRAME_MAX, 0, 0);
  }
}

/** The next frame, polling netReceive at most `polls` times without idling (its length), or 0. */
function pollWithin(polls: u32): i32 {
  for (let i: u32 = 0; i < polls; i++) {
    const n = hypercall(HYPERCALL_NET_RECEIVE, addressOf(rx), FRAME_MAX, 0, 0);
    if (n !== 0) return n;
  }
  return 0;
}

function writeMac(at: i32): void {
  for (let i = 0; i < 6; i++) {
    if (i !== 0) write(":");
    const b = u32(rx[at + i]);
    writeHexDigit(b >>> 4); writeHexDigit(b & 15);
  }
}
function writeHexDigit(d: u32): void {
  switch (d) {
    case 10: write("a"); break; case 11: write("b"); break; case 12: write("c"); break;
    case 13: write("d"); break; case 14: write("e"); break; case 15: write("f"); break;
    default: write(d);
  }
}
function writeIp(at: i32): void { write(rx[at]); write("."); write(rx[at + 1]); write("."); write(rx[at + 2]); write("."); print(rx[at + 3]); }

function isArpReplyFrom(n: i32, a: u32, b: u32, c: u32, d: u32): bool {
  return n >= 42 && get16(12) === 0x0806 && get16(20) === 2 && rx[28] === a && rx[29] === b && rx[30] === c && rx[31] === d;
}
function isEchoReply(n: i32): bool { return n >= 42 && get16(12) === 0x0800 && rx[23] === 1 && rx[34] === 0; }

/**
 * ARP for a.b.c.d (tries 50 ms apart for 1.5 s: QEMU's e1000 holds back what it receives for 1 s of
 * virtual time after the driver writes its receive control), print its MAC, ping it.
 */
function resolveAndPing(a: u32, b: u32, c: u32, d: u32): void {
  const mac = new Uint8Array(6);
  let resolved = false;
  for (let attempt = 0; attempt < 30 && !resolved; attempt++) {
    arpRequest(a, b, c, d);
    for (let k = 0; k < 4 && !resolved; k++) {
      const n = receiveWithin(50000);
      if (n === 0) break;
      if (isArpReplyFrom(n, a, b, c, d)) {
        resolved = true;
        for (let i = 0; i < 6; i++) mac[i] = rx[22 + i];
        write("vm "); write(vmId); write(" arp "); write(a); write("."); write(b); write("."); write(c); write("."); write(d);
        write(" is-at "); writeMac(22); print("");
      }
    }
  }
  if (!resolved) { write("vm "); write(vmId); print(" arp: no reply"); return; }
  for (let seq: u32 = 1; seq <= 5; seq++) {
    echoRequest(mac, a, b, c, d, seq);
    for (let k = 0; k < 4; k++) {
      // The reply is awaited by polling (not idle) first: it then always finds this VM running, so the
      // kernel's `bench net-rx-*` figures of this last frame take the same path on every run.
      const n = k === 0 ? pollWithin(2000000) : receiveWithin(100000);
      if (n === 0) break;
      if (isEchoReply(n)) {
        write("vm "); write(vmId); write(" echo reply seq "); write(get16(40)); write(" from "); writeIp(26);
        return;
      }
    }
  }
  write("vm "); write(vmId); print(" echo: no reply");
}

function gateway(): void { resolveAndPing(myIp[0], myIp[1], myIp[2], 2); }

function peer(): void { resolveAndPing(myIp[0], myIp[1], myIp[2], myIp[3] + 1); }

/** Answers ARP for its IP and ICMP echo requests; returns after `echoes` echo replies. */
function responder(echoes: u32): void {
  let answered: u32 = 0;
  write("vm "); write(vmId); print(" responder ready");
  while (answered < echoes) {
    const n = receiveWithin(1000000);
    if (n <= 0) continue;
    const type = get16(12);
    if (type === 0x0806 && n >= 42 && get16(20) === 1 && rx[38] === myIp[0] && rx[39] === myIp[1] && rx[40] === myIp[2] && rx[41] === myIp[3]) {
      for (let i = 0; i < 6; i++) { tx[i] = rx[6 + i]; tx[32 + i] = rx[22 + i]; tx[22 + i] = myMac[i]; }
      ethernet(0x0806);
      put16(14, 1); put16(16, 0x0800); tx[18] = 6; tx[19] = 4; put16(20, 2);
      for (let i = 0; i < 4; i++) { tx[38 + i] = rx[28 + i]; tx[28 + i] = myIp[i]; }
      hypercall(HYPERCALL_NET_SEND, addressOf(tx), 42, 0, 0);
      write("vm "); write(vmId); write(" answered arp from "); writeIp(28);
    } else if (type === 0x0800 && n >= 42 && rx[23] === 1 && rx[34] === 8 && rx[30] === myIp[0] && rx[31] === myIp[1] && rx[32] === myIp[2] && rx[33] === myIp[3]) {
      const total = i32(get16(16));
      const headerLength = i32(rx[14] & 15) * 4;
      if (total > n - 14 || headerLength < 20) continue;
      for (let i = 0; i < n; i++) tx[i] = rx[i];
      for (let i = 0; i < 6; i++) tx[i] = rx[6 + i];
      ethernet(0x0800);
      for (let i = 0; i < 4; i++) { tx[26 + i] = myIp[i]; tx[30 + i] = rx[26 + i]; }
      put16(24, 0);
      put16(24, checksum(14, headerLength));
      const icmp = 14 + headerLength;
      tx[icmp] = 0;
      put16(icmp + 2, 0);
      put16(icmp + 2, checksum(icmp, total - headerLength));
      hypercall(HYPERCALL_NET_SEND, addressOf(tx), u32(14 + total), 0, 0);
      answered++;
      write("vm "); write(vmId); write(" answered echo "); write(answered); write(" from "); writeIp(26);
    }
  }
}

function listener(tens: u32): void {
  let heard: u32 = 0;
  for (let i: u32 = 0; i < tens; i++) {
    hypercall(HYPERCALL_SET_ALARM, 10000, 0, 0, 0);
    while (true) {
      const got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
      hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
      while (hypercall(HYPERCALL_NET_RECEIVE, addressOf(rx), FRAME_MAX, 0, 0) > 0) {
        heard++;
        write("vm "); write(vmId); write(" heard type "); write(get16(12)); write(" from "); writeMac(6); print("");
      }
      if ((got & INTERRUPT_TIMER) !== 0) break;
    }
  }
  write("vm "); write(vmId); write(" heard "); write(heard); print(" frames");
}

/** An ARP reply (RFC 826) to broadcast with sender `sha` and sender IP a.b.c.d, for a.b.c.(d+1). */
function arpReply(sha: Uint8Array, a: u32, b: u32, c: u32, d: u32): void {
  for (let i = 0; i < 6; i++) tx[i] = 0xff;
  ethernet(0x0806);
  put16(14, 1); put16(16, 0x0800); tx[18] = 6; tx[19] = 4; put16(20, 2);
  for (let i = 0; i < 6; i++) { tx[22 + i] = sha[i]; tx[32 + i] = 0xff; }
  tx[28] = a; tx[29] = b; tx[30] = c; tx[31] = d;
  tx[38] = a; tx[39] = b; tx[40] = c; tx[41] = d + 1;
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 42, 0, 0);
}

/** Frames to the victim (VM id+1, or VM param-1) that pretend to come from it (all dropped), then one honest frame. */
function spoofer(param: u32): void {
  const victim = param === 0 ? vmId + 1 : param - 1;
  const victimMac = new Uint8Array(MAC_BYTES);
  macOfVm(victimMac, 0, victim);
  const a = myIp[0], b = myIp[1], c = myIp[2], d = myIp[3] + victim - vmId;
  // 1: the victim's source MAC on an IPv4 frame.
  buildEcho(victimMac, a, b, c, d, 1);
  for (let i = 0; i < 6; i++) tx[6 + i] = victimMac[i];
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 74, 0, 0);
  // 2: its own MAC, the victim's IP as the IPv4 source.
  buildEcho(victimMac, a, b, c, d, 2);
  tx[29] = d; put16(24, 0); put16(24, checksum(14, 20));
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 74, 0, 0);
  // 3: ARP spoofing: a request claiming the victim's IP as sender, broadcast (gratuitous ARP).
  const own = myIp[3];
  myIp[3] = d;
  arpRequest(a, b, c, own);
  myIp[3] = own;
  // 4: an EtherType it may not send (IPv6).
  buildEcho(victimMac, a, b, c, d, 4);
  put16(12, 0x86dd);
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 74, 0, 0);
  // 5: honest.
  echoRequest(victimMac, a, b, c, d, 5);
  if (param === 0) { write("vm "); write(vmId); print(" spoofer sent 5"); return; }
  // 6: an ARP reply claiming the victim's IP with our own MAC (to poison the wire's caches).
  arpReply(myMac, a, b, c, d);
  // 7: an ARP reply with our IP but the victim's MAC as the sender hardware address.
  arpReply(victimMac, a, b, c, own);
  // 8: a VLAN-tagged frame (the tag would hide a spoofed header from the switch).
  buildEcho(victimMac, a, b, c, d, 8);
  put16(12, 0x8100);
  hypercall(HYPERCALL_NET_SEND, addressOf(tx), 74, 0, 0);
  write("vm "); write(vmId); print(" spoofer sent 8");
  while (true) {
    const got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
    hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
    while (hypercall(HYPERCALL_NET_RECEIVE, addressOf(rx), FRAME_MAX, 0, 0) > 0) {}
  }
}

/** `count` full-size frames to the wire, each retried while the transmit ring is full. */
function flooder(count: u32): void {
  for (let i = 0; i < 6; i++) tx[i] = 0;
  tx[0] = 0x0a; tx[5] = 1;
  ethernet(0x88b5);                                   // IEEE 802 local experimental EtherType
  for (let i = 14; i < FRAME_MAX; i++) tx[i] = i;
  let sent: u32 = 0, eagain: u32 = 0, other: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    tx[14] = k; tx[15] = k >>> 8;
    while (true) {
      const r = hypercall(HYPERCALL_NET_SEND, addressOf(tx), FRAME_MAX, 0, 0);
      if (r === 0) { sent++; break; }
      if (r !== EAGAIN || eagain >= 1000000) { other++; break; }
      eagain++;
      hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
    }
  }
  write("vm "); write(vmId); write(" flood sent "); write(sent); write(" eagain "); write(eagain); write(" other "); print(other);
}
