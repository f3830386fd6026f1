// Hostile guest: EtherTypes the switch cannot see into (issue 11, item 8). It sends, with its own
// source MAC, frames whose EtherType is off the switch's allow-list (IPv4, ARP, 0x88B5/0x88B6): MPLS,
// PPPoE, RARP, IPv6, VLAN tags, LLDP, unknown types and 802.3 length fields (raw LLC and LLC/SNAP
// carrying IPv4), each with an IPv4 header inside whose source is another host's address — once to
// itself (the switch's loopback) and once toward the wire. Then one frame of an allowed type to itself,
// the control. Every refused frame must be dropped (counted as spoofed by the kernel): if one of them
// arrives in its queue (frames from other VMs are skipped), `attack ethertype: NOT CONTAINED`; else
// `attack ethertype: refused N, control ok`.
import { bool, i32, u32, u8, print, write, exit, addressOf } from "dsl";
import { bootInit, vmId, boot } from "../runtime/boot.ts";
import { macOfVm } from "../../abi/boot.ts";
import { netSend, netReceive } from "../runtime/hypercalls.ts";
import { FRAME_MAX } from "../../abi/hypercalls.ts";
import { announce, notContained } from "./common.ts";

const FRAME_BYTES: u32 = 60;
const ETHERTYPE_ALLOWED: u32 = 0x88b5;     // IEEE Std 802 local experimental 1: the control
const LENGTH_FIELD_LLC: u32 = 0x002e;      // an 802.3 length (46): raw LLC
const LENGTH_FIELD_SNAP: u32 = 0x0030;     // an 802.3 length (48): LLC/SNAP (AA AA 03 000000 0800) + IPv4
const refusedTypes: u32[] = [
  0x8847, 0x8848,                          // MPLS unicast, multicast
  0x8863, 0x8864,                          // PPPoE discovery, session
  0x8035,                                  // RARP
  0x86dd,                                  // IPv6
  0x8100, 0x88a8, 0x9100,                  // 802.1Q, 802.1ad, pre-standard double tag
  0x88cc,                                  // LLDP
  0x0600, 0xffff,                          // XNS IDP, reserved
  LENGTH_FIELD_LLC, LENGTH_FIELD_SNAP,
];

const frame = new Uint8Array(60);
const received = new Uint8Array(FRAME_MAX);

/** A frame of `type` from our MAC to `destination` (a VM id, or the wire's MAC when `wire`). */
function build(type: u32, destination: u32, wire: bool): void {
  if (wire) { for (let i = 0; i < 6; i++) frame[i] = 0; frame[0] = 0x0a; frame[5] = 1; }
  else macOfVm(frame, 0, destination);
  const mac = boot().mac;
  for (let i = 0; i < 6; i++) frame[6 + i] = mac[i];
  frame[12] = u8(type >>> 8);
  frame[13] = u8(type);
  let at: i32 = 14;
  if (type === LENGTH_FIELD_SNAP) {
    frame[14] = 0xaa; frame[15] = 0xaa; frame[16] = 3;                       // LLC: SNAP, UI
    frame[17] = 0; frame[18] = 0; frame[19] = 0; frame[20] = 8; frame[21] = 0;   // SNAP: OUI 0, IPv4
    at = 22;
  }
  // An IPv4 header (RFC 791) from 192.0.2.66 (not ours) to 192.0.2.1.
  frame[at] = 0x45; frame[at + 8] = 64; frame[at + 9] = 17;
  frame[at + 12] = 192; frame[at + 13] = 0; frame[at + 14] = 2; frame[at + 15] = 66;
  frame[at + 16] = 192; frame[at + 17] = 0; frame[at + 18] = 2; frame[at + 19] = 1;
}

function send(): void {
  const r = netSend(addressOf(frame), FRAME_BYTES);
  if (r !== 0) { write("ethertype: netSend "); print(r); exit(1); }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  announce("ethertype", "MPLS, PPPoE, RARP, IPv6, VLAN, LLC/SNAP frames with a forged inner source");
  const self = vmId();
  for (let i = 0; i < refusedTypes.length; i++) { build(refusedTypes[i], self, false); send(); }
  for (let i = 0; i < refusedTypes.length; i++) { build(refusedTypes[i], self, true); send(); }
  build(ETHERTYPE_ALLOWED, self, false);
  send();
  let control: u32 = 0;
  while (true) {
    const length = netReceive(addressOf(received), FRAME_MAX);
    if (length <= 0) break;
    const type = (u32(received[12]) << 8) | received[13];
    if (u32((received[9] << 16) | (received[10] << 8) | received[11]) !== self) continue;   // another VM's frame
    if (type !== ETHERTYPE_ALLOWED) { write("ethertype: received type "); print(type); notContained("ethertype"); }
    control++;
  }
  if (control !== 1) { write("ethertype: control frames received "); print(control); exit(1); }
  write("attack ethertype: refused "); write(2 * refusedTypes.length); print(", control ok");
  exit(0);
}
