// The virtual Ethernet switch behind netSend/netReceive (hypercalls 5 and 6) and the NIC
// (nic.ts: whichever card is present). Each VM's virtual NIC has the MAC 02:00:00 + 24-bit vmId (vm.ts) and the IPv4
// address of the manifest (vm.ipAddress). Rules:
//   - from a VM: the source MAC must be the VM's, and the EtherType one of an allow-list: IPv4 and ARP
//     (what the libos sends; the source address of IPv4 and the sender addresses of ARP must be the
//     VM's) and the two IEEE 802 local experimental types 0x88B5/0x88B6 (raw frames between VMs, no
//     address inside). Every other frame — IPv6 (a VM has no IPv6 address), VLAN tags, MPLS, PPPoE,
//     RARP, an 802.3 length field (LLC/SNAP), anything unknown — may carry any inner source: it is
//     dropped and counted (vm.txSpoofed, the switch's `spoofed` and `refused ethertype`), toward the
//     wire and between VMs alike. A frame for a VM's MAC goes to that VM; an ARP request (broadcast)
//     for a VM's IP goes to that VM alone; anything else goes out on the wire (or is dropped without a NIC).
//   - from the wire: a frame for a VM's MAC goes to that VM; a broadcast ARP request for a VM's IP
//     goes to that VM alone (never to every VM: at 10,000 VMs that would wake each one); every other
//     frame (other broadcasts, multicast, unknown MACs) is dropped and counted. A wire frame that
//     claims to come from a VM — a VM's MAC as its source (or as an ARP sender), a VM's IP as its
//     IPv4 source or ARP sender address — is spoofed (the VMs live behind this switch, never on the
//     wire): dropped and counted (droppedWireSpoofed), so the host side cannot poison a VM's ARP cache with
//     another VM's address.
//   - a VM's frame for the wire when the NIC's transmit ring is full: netSend returns EAGAIN (the
//     frame is not taken; the guest tries again), never a silent drop.
// Copies: a frame from a VM is copied once, into a network buffer (netbuf.ts) — the kernel decides on
// its copy, so the guest cannot change it afterwards — and that buffer is what the receiving VM's
// queue or the NIC's transmit ring holds. A frame from the wire is queued in the very buffer the NIC
// wrote. netReceive then copies the frame into the VM's memory: the one copy isolation requires.
// Buffer quotas (the pool is shared: no VM, nor the wire, may empty it for the others):
//   - a receiver: at most NET_QUEUE_BURST frames wait on a VM's queue (a burst: a thousand clients' frames
//     at once), NET_QUEUE_LIMIT while the pool runs low (fewer than NET_POOL_LOW free); beyond, a VM sender
//     gets EAGAIN and a wire frame is dropped (vm.rxDropped);
//   - a sender: at most NET_SEND_BUDGET frames a VM sent wait on VMs' queues (charged to it until the
//     receiver reads them or they are dropped: vm.netSent), NET_SEND_SHARE_LOW while the pool runs low
//     (fewer than NET_POOL_LOW free); beyond, netSend returns EAGAIN;
//   - the wire's reserve: a VM's netSend never takes the pool below NET_WIRE_RESERVE free buffers
//     (EAGAIN), so the NIC can always refill its receive ring and frames from the wire get in;
//   - drop-oldest: while fewer than NET_POOL_LOW buffers are free, each frame queued for a VM first
//     drops the oldest frame (netbuf.ts's age list, at most EVICT_SCAN looked at) whose receiver does
//     not read it: the receiver had the CPU since the frame was queued and left it there, or it is
//     idle without waiting for NET (its mask leaves NET out), or it has ended. A VM that is only
//     waiting for the CPU keeps its frames. Counted as the receiver's rxEvicted (in netlimit.ts's slot).
// Rate limits (netlimit.ts): a VM's packets/s and bytes/s on send and on receive. A frame over the sender's
// send limits is dropped before it is copied, first of all the checks above (netSend returns 0), counted in
// its txLimited and the switch's `send limit`; a frame over the receiver's receive limits (from a VM or the
// wire) is dropped instead of queued, counted in its rxLimited and the switch's `receive limit` (the
// sender's frame was taken: counted in its txPackets, charged to its send limits).
// Lazy ACKs: a VM whose enabled mask has INTERRUPT_LAZY_ACKS is not woken by a bare TCP acknowledgement
// (bareAck) while fewer than LAZY_ACK_QUEUE frames wait for it: NET is only marked pending (acksHeld).
// A refused netSend is counted in the sender's vm.txRefused. Per-VM packet, byte and drop counters are
// printed with the VM summary (switchReportVm), the switch's with switchReport.
// References: IEEE 802.3 (destination MAC at 0, source at 6, EtherType at 12, 14-byte header, 1514
// bytes without FCS); IEEE 802-2014 §8.2 (bit 0 of the first address byte: group address);
// RFC 826 (ARP: htype, ptype, hlen, plen, oper, sha, spa, tha, tpa); RFC 791 §3.1 (IPv4 header:
// source address at offset 12, destination at 16); RFC 894 (EtherTypes 0x0800 IPv4, 0x0806 ARP).
import { bool, i32, u32, load8, load32, store32, memoryCopy, rdtsc } from "dsl";
import {
  Vm, vmAt, vmCount, vmRangeValid, vmPrepareRange, vmQueuePut, vmQueueTake, byteSwap32,
  VM_ENDED, VM_RUNNABLE, VM_RUNNING,
} from "./vm.ts";
import {
  EFAULT, EAGAIN, EMSGSIZE, INTERRUPT_NET, INTERRUPT_LAZY_ACKS, LAZY_ACK_QUEUE, FRAME_MIN, FRAME_MAX,
} from "../abi/hypercalls.ts";
import { MAC_PREFIX_BYTE0 } from "../abi/boot.ts";
import { virqPost } from "./vinterrupt.ts";
import { groupVmOfAddress } from "./groups.ts";
import {
  netBufferInit, netBufferAlloc, netBufferFree, netBufferFreeCount, netBufferLength, netBufferSetLength,
  netBufferOldest, netBufferYounger, netBufferReport, NET_BUFFER_FRAME, NET_BUFFER_ORIGIN, NET_BUFFER_RECEIVER,
  NET_BUFFER_QUEUED_SWITCHES, NET_BUFFER_NEXT,
  NET_ORIGIN_VM, NET_ORIGIN_WIRE, NET_SENDER_WIRE,
} from "./netbuf.ts";
import {
  nicSetReceiveHandler, nicPresent, nicTransmit, nicBenchDriver, nicBenchSwitch, nicBenchLength, nicBenchEndCount,
  nicBenchEnd, nicBenchEndLength,
} from "./nic.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_SWITCH } from "./profile.ts";
import { netLimitAt, netLimitSendAllowed, netLimitSendTaken, netLimitReceiveAllowed } from "./netlimit.ts";

/** Frames queued per receiving VM while the pool runs low; beyond, netSend returns EAGAIN (a wire frame is dropped). */
const NET_QUEUE_LIMIT: u32 = 64;
/** Frames queued per receiving VM otherwise: a NIC's receive ring's worth and more, for bursts. */
const NET_QUEUE_BURST: u32 = 256;
/** Frames a VM sent that may wait on VMs' queues at once; beyond that netSend returns EAGAIN. */
const NET_SEND_BUDGET: u32 = 64;
/** Free buffers a VM's netSend never takes: the NIC's receive ring (128) refilled twice over. */
const NET_WIRE_RESERVE: u32 = 256;
/** Below this many free buffers, each newly queued frame drops the oldest unread one. */
const NET_POOL_LOW: u32 = 512;
/** A sender's budget while the pool runs low. */
const NET_SEND_SHARE_LOW: u32 = 8;
/** Queued frames drop-oldest looks at, oldest first, for one whose receiver does not read it. */
const EVICT_SCAN: u32 = 64;

// Hypercall results: 0, or the ABI's error codes (abi/hypercalls.ts).
const NET_OK = 0;

// Ethernet (IEEE 802.3): offsets in the frame.
const ETHERNET_DESTINATION = 0;
const ETHERNET_SOURCE = 6;
const ETHERNET_TYPE = 12;
const MAC_GROUP_BIT: u32 = 1;                 // IEEE 802-2014 §8.2
const ETHERTYPE_IPV4: u32 = 0x0800;           // RFC 894
const ETHERTYPE_ARP: u32 = 0x0806;            // RFC 826
const ETHERTYPE_LOCAL_1: u32 = 0x88b5;        // IEEE Std 802 local experimental EtherType 1
const ETHERTYPE_LOCAL_2: u32 = 0x88b6;        // IEEE Std 802 local experimental EtherType 2
// IPv4 header (RFC 791 §3.1), after the Ethernet header.
const IPV4_SOURCE = 14 + 12;
const IPV4_MINIMUM_FRAME: u32 = 14 + 20;
const IPV4_VERSION_IHL = 14;                  // version 4 in the high nibble, header length in words in the low
const IPV4_TOTAL_LENGTH = 14 + 2;
const IPV4_FRAGMENT = 14 + 6;                 // flags and fragment offset: MF and the offset 0x3fff
const IPV4_PROTOCOL = 14 + 9;
const IP_PROTOCOL_TCP: u32 = 6;
/** Bytes 12..15 of an IPv4 frame read as a little-endian word, masked by 0xf0ffff: EtherType 0x0800, version 4. */
const IPV4_TYPE_AND_VERSION: u32 = 0x400008;
// TCP header (RFC 9293 §3.1), after the IPv4 header.
const TCP_DATA_OFFSET = 12;                   // header length in words in the high nibble
const TCP_FLAGS = 13;
const TCP_HEADER_MINIMUM: u32 = 20;
const TCP_ACK: u32 = 0x10;
const TCP_NOT_BARE: u32 = 0x27;               // URG, RST, SYN, FIN
// ARP for IPv4 over Ethernet (RFC 826), after the Ethernet header.
const ARP_OPERATION = 14 + 6;                 // u16: 1 request, 2 reply
const ARP_SENDER_MAC = 14 + 8;
const ARP_SENDER_IP = 14 + 14;
const ARP_TARGET_IP = 14 + 24;
const ARP_FRAME: u32 = 14 + 28;
const ARP_REQUEST: u32 = 1;

const NO_VM = -1;
/** A frame for an ended VM (its MAC or IP is still ours): dropped, never sent out. */
const ENDED_VM = -2;

// Statistics.
let vmToVm: u32 = 0;
let vmToWire: u32 = 0;
let wireToVm: u32 = 0;
let arpDirected: u32 = 0;                     // ARP requests delivered to one VM instead of broadcast
let acksHeld: u32 = 0;                        // bare TCP ACKs queued without waking their VM (INTERRUPT_LAZY_ACKS)
let acksDropped: u32 = 0;                     // of those, dropped as their VM went to the disk (switchDropHeldAcks)
let droppedSpoofed: u32 = 0;
let droppedNoRoute: u32 = 0;                  // from a VM: for the wire without a NIC, or for an ended VM
let droppedWire: u32 = 0;                     // from the wire: not for a VM (multicast, broadcast, other MACs)
let droppedQueueFull: u32 = 0;
let droppedNoBuffer: u32 = 0;
let droppedWireSpoofed: u32 = 0;              // from the wire: a VM's MAC or IP as the source
let droppedEtherType: u32 = 0;                // from a VM: an EtherType off the allow-list (also in droppedSpoofed)
let droppedEvicted: u32 = 0;                  // queued, unread, dropped as the oldest while the pool ran low
let transmitRingFull: u32 = 0;                // from a VM: EAGAIN, the NIC's transmit ring was full
let refusedBudget: u32 = 0;                   // from a VM: EAGAIN, NET_SEND_BUDGET frames of it already queued
let refusedReceiverFull: u32 = 0;             // from a VM: EAGAIN, the receiver's queue was full (queueLimit)
let refusedReserve: u32 = 0;                  // from a VM: EAGAIN, only the wire's reserve was left
let droppedSendLimit: u32 = 0;                // from a VM: over its send rate limits (netlimit.ts)
let droppedReceiveLimit: u32 = 0;             // for a VM: over its receive rate limits

// `bench net` (with `bench` on the command line): receive-path costs in instructions under -icount of
// the last frame from the wire — driver and switch (nic.ts), the copy into the VM (here).
let benchEnabled = false;
let benchCopy: u32 = 0;
let benchCopyLength: u32 = 0;
export function switchSetBench(enabled: bool): void { benchEnabled = enabled; }


/** The buffer pool and the NIC's receive handler: before nicInit, and when VMs start (idempotent). */
export function switchInit(): void {
  netBufferInit();
  nicSetReceiveHandler(profileOn() ? profiledFromWire : switchFromWire);
}

/** switchFromWire in the profile's PROFILE_SWITCH (profile.ts): the NIC's handler when the kernel profiles. */
function profiledFromWire(buffer: u32, length: u32): bool {
  const previous = profileEnter(PROFILE_SWITCH);
  const taken = switchFromWire(buffer, length);
  profileLeave(previous);
  return taken;
}

function etherType(frame: u32): u32 { return (load8(frame + ETHERNET_TYPE) << 8) | load8(frame + ETHERNET_TYPE + 1); }

/** True when the 6 bytes at `at` are VM `id`'s MAC (02:00:00:id2:id1:id0). */
function isVmMac(at: u32, id: u32): bool {
  return load8(at) === MAC_PREFIX_BYTE0 && load8(at + 1) === 0 && load8(at + 2) === 0
    && load8(at + 3) === ((id >>> 16) & 0xff) && load8(at + 4) === ((id >>> 8) & 0xff) && load8(at + 5) === (id & 0xff);
}

/** The VM whose MAC is at `at`; NO_VM when it is not one of ours, ENDED_VM for an ended VM's. */
function vmOfMac(at: u32): i32 {
  if (load8(at) !== MAC_PREFIX_BYTE0 || load8(at + 1) !== 0 || load8(at + 2) !== 0) return NO_VM;
  const id = (u32(load8(at + 3)) << 16) | (u32(load8(at + 4)) << 8) | u32(load8(at + 5));
  if (id >= vmCount()) return NO_VM;
  return vmAt(id).state === VM_ENDED ? ENDED_VM : i32(id);
}

/** The VM holding IPv4 address `ip` (network byte order): from the VM groups (groups.ts), O(groups). */
function vmOfIp(ip: u32): i32 {
  const id = groupVmOfAddress(byteSwap32(ip));
  if (id < 0) return NO_VM;
  return vmAt(u32(id)).state === VM_ENDED ? ENDED_VM : id;
}

/** An ARP request (RFC 826, oper 1) for a VM's address: that VM, else NO_VM / ENDED_VM. */
function arpRequestTarget(frame: u32, length: u32): i32 {
  if (length < ARP_FRAME || etherType(frame) !== ETHERTYPE_ARP) return NO_VM;
  if (((load8(frame + ARP_OPERATION) << 8) | load8(frame + ARP_OPERATION + 1)) !== ARP_REQUEST) return NO_VM;
  return vmOfIp(load32(frame + ARP_TARGET_IP));
}

/** True when VM `id` may send this frame: its own source MAC, and its own IP in IPv4 and ARP. */
function sourceAllowed(vm: Vm, id: u32, frame: u32, length: u32): bool {
  if (!isVmMac(frame + ETHERNET_SOURCE, id)) return false;
  const type = etherType(frame);
  if (type === ETHERTYPE_IPV4) return length >= IPV4_MINIMUM_FRAME && load32(frame + IPV4_SOURCE) === vm.ipAddress;
  if (type === ETHERTYPE_ARP) return length >= ARP_FRAME && isVmMac(frame + ARP_SENDER_MAC, id) && load32(frame + ARP_SENDER_IP) === vm.ipAddress;
  return etherTypeAllowed(type);
}

/**
 * The allow-list beyond IPv4 and ARP: the local experimental types, which carry no address. Everything
 * else is refused, since the switch cannot see the source inside it: IPv6, VLAN tags (802.1Q/ad, which
 * hide the real EtherType), MPLS, PPPoE, RARP, an 802.3 length (< 0x600: LLC/SNAP), unknown types.
 */
function etherTypeAllowed(type: u32): bool {
  if (type === ETHERTYPE_LOCAL_1 || type === ETHERTYPE_LOCAL_2) return true;
  droppedEtherType++;
  return false;
}

/**
 * True when a frame from the wire claims to come from one of our VMs (a VM's MAC as the Ethernet or
 * ARP sender, a VM's IP as the IPv4 source or ARP sender): no VM is on the wire, so it is spoofed.
 */
function claimsVm(frame: u32, length: u32): bool {
  if (vmOfMac(frame + ETHERNET_SOURCE) !== NO_VM) return true;
  const type = etherType(frame);
  if (type === ETHERTYPE_IPV4) return length >= IPV4_MINIMUM_FRAME && vmOfIp(load32(frame + IPV4_SOURCE)) !== NO_VM;
  if (type === ETHERTYPE_ARP) return length >= ARP_FRAME && (vmOfMac(frame + ARP_SENDER_MAC) !== NO_VM || vmOfIp(load32(frame + ARP_SENDER_IP)) !== NO_VM);
  return false;
}

/**
 * Queues `buffer` (checked against the quotas by the caller) on VM `target`, charged to `sender`, and
 * posts NET. While the pool runs low, the oldest frame waiting anywhere is dropped first. A bare TCP
 * acknowledgement for a VM that asked for them lazily (INTERRUPT_LAZY_ACKS) with fewer than
 * LAZY_ACK_QUEUE frames queued is only marked pending: it does not wake the VM.
 */
function enqueue(target: u32, buffer: u32, length: u32, sender: u32): void {
  if (netBufferFreeCount() < NET_POOL_LOW) evictOldest();
  const receiver = vmAt(target);
  vmQueuePut(target, buffer, sender);
  receiver.rxPackets++;
  receiver.rxBytes += length;
  const frame = buffer + NET_BUFFER_FRAME;
  if ((receiver.mask & INTERRUPT_LAZY_ACKS) !== 0 && ipv4Tcp(frame) && bareAck(frame, length)
    && receiver.netCount < LAZY_ACK_QUEUE) {
    receiver.pending = receiver.pending | INTERRUPT_NET;
    acksHeld++;
    return;
  }
  virqPost(target, INTERRUPT_NET);
}

/**
 * Frees the frames queued for VM `index` and takes NET off its pending events when every one is a bare TCP ACK
 * (held for it: INTERRUPT_LAZY_ACKS); true then, false (nothing changed) when another frame waits. For a VM
 * written out with no alarm (swap-out.ts): nothing of its own waits for what the ACKs acknowledge.
 */
export function switchDropHeldAcks(index: u32): bool {
  const vm = vmAt(index);
  for (let buffer = vm.netHead; buffer !== 0; buffer = load32(buffer + NET_BUFFER_NEXT)) {
    const frame = buffer + NET_BUFFER_FRAME;
    if (!ipv4Tcp(frame) || !bareAck(frame, netBufferLength(buffer))) return false;
  }
  let dropped: u32 = 0;
  for (let buffer = vmQueueTake(vm); buffer !== 0; buffer = vmQueueTake(vm)) { netBufferFree(buffer); dropped++; }
  vm.pending = vm.pending & ~INTERRUPT_NET;
  acksDropped += dropped;
  return true;
}

/** What rejects most frames early: the EtherType and IP version in one load (bytes 12..15), then the protocol. */
function ipv4Tcp(frame: u32): bool {
  if (u32(load32(frame + ETHERNET_TYPE) & 0xf0ffff) !== IPV4_TYPE_AND_VERSION) return false;
  return u32(load8(frame + IPV4_PROTOCOL)) === IP_PROTOCOL_TCP;
}

/**
 * True when the frame (ipv4Tcp) is a whole IPv4 TCP segment with ACK, none of URG, RST, SYN, FIN, and no data (options
 * such as timestamps or SACK blocks allowed): it tells its receiver only what the peer has received.
 */
function bareAck(frame: u32, length: u32): bool {
  if (length < IPV4_MINIMUM_FRAME + TCP_HEADER_MINIMUM) return false;
  const versionIhl = load8(frame + IPV4_VERSION_IHL);
  if (((load8(frame + IPV4_FRAGMENT) << 8 | load8(frame + IPV4_FRAGMENT + 1)) & 0x3fff) !== 0) return false;
  const ipHeader = (versionIhl & 0xf) << 2;
  const total = (load8(frame + IPV4_TOTAL_LENGTH) << 8) | load8(frame + IPV4_TOTAL_LENGTH + 1);
  const tcp = frame + 14 + ipHeader;
  if (ipHeader < 20 || 14 + ipHeader + TCP_HEADER_MINIMUM > length) return false;
  const flags = load8(tcp + TCP_FLAGS);
  if ((flags & TCP_ACK) === 0 || (flags & TCP_NOT_BARE) !== 0) return false;
  return total === ipHeader + ((load8(tcp + TCP_DATA_OFFSET) >>> 4) << 2);
}

/**
 * Drop-oldest: frees the oldest queued frame whose receiver does not read it (the contract above) and
 * every older frame of that receiver (the FIFO queue's head up to it: older still, unread as well).
 */
function evictOldest(): void {
  let candidate = netBufferOldest();
  for (let scanned: u32 = 0; candidate !== 0 && scanned < EVICT_SCAN; scanned++) {
    const receiver = load32(candidate + NET_BUFFER_RECEIVER), owner = vmAt(receiver);
    const runs = owner.state === VM_RUNNABLE || owner.state === VM_RUNNING;
    if (!runs || owner.switchIns !== load32(candidate + NET_BUFFER_QUEUED_SWITCHES)) {
      while (true) {                       // its queue is FIFO: the candidate is reached from the head
        const buffer = vmQueueTake(owner);
        if (buffer === 0) return;
        netBufferFree(buffer);
        netLimitAt(receiver).rxEvicted++;
        droppedEvicted++;
        if (buffer === candidate) return;
      }
    }
    candidate = netBufferYounger(candidate);
  }
}

/** netSend's EAGAIN for a buffer quota, counted for the sender. */
function refuse(sender: Vm, buffer: u32): i32 {
  if (buffer !== 0) netBufferFree(buffer);
  sender.txRefused++;
  return EAGAIN;
}

/** netSend from VM `from`: the frame at [address, address + length). */
export function switchSend(from: u32, address: u32, length: u32): i32 {
  const sender = vmAt(from);
  if (length < FRAME_MIN || length > FRAME_MAX) return EMSGSIZE;
  if (!vmRangeValid(sender, address, length) || !vmPrepareRange(sender, address, length, false)) return EFAULT;
  if (!netLimitSendAllowed(from, length)) { droppedSendLimit++; return NET_OK; }
  if (netBufferFreeCount() <= NET_WIRE_RESERVE) { refusedReserve++; return refuse(sender, 0); }
  const buffer = netBufferAlloc();
  if (buffer === 0) { droppedNoBuffer++; return EAGAIN; }
  // Copy once, then decide from the kernel's copy (the guest cannot change it under us).
  const frame = buffer + NET_BUFFER_FRAME;
  memoryCopy(frame, address, length);
  netBufferSetLength(buffer, length);
  store32(buffer + NET_BUFFER_ORIGIN, NET_ORIGIN_VM);
  if (!sourceAllowed(sender, from, frame, length)) {
    netBufferFree(buffer);
    sender.txSpoofed++;
    droppedSpoofed++;
    return NET_OK;
  }
  let target: i32 = NO_VM;
  if ((load8(frame + ETHERNET_DESTINATION) & MAC_GROUP_BIT) !== 0) {
    target = arpRequestTarget(frame, length);
    if (target >= 0) arpDirected++;
  } else {
    target = vmOfMac(frame + ETHERNET_DESTINATION);
  }
  if (target >= 0) {
    const budget = netBufferFreeCount() < NET_POOL_LOW ? NET_SEND_SHARE_LOW : NET_SEND_BUDGET;
    if (sender.netSent >= budget) { refusedBudget++; return refuse(sender, buffer); }
    if (vmAt(u32(target)).netCount >= queueLimit()) { refusedReceiverFull++; return refuse(sender, buffer); }
    if (netLimitReceiveAllowed(u32(target), length)) {
      enqueue(u32(target), buffer, length, from);
      vmToVm++;
    } else {
      netBufferFree(buffer);
      droppedReceiveLimit++;
    }
  } else if (target === NO_VM && nicTransmit(buffer, length)) {
    vmToWire++;
  } else if (target === NO_VM && nicPresent()) {
    // The transmit ring is full: the guest keeps its frame and tries again (EAGAIN), nothing is lost silently.
    netBufferFree(buffer);
    transmitRingFull++;
    return EAGAIN;
  } else {
    netBufferFree(buffer);
    droppedNoRoute++;
    return NET_OK;
  }
  sender.txPackets++;
  sender.txBytes += length;
  netLimitSendTaken(from, length);
  return NET_OK;
}

/** How many frames a VM's queue may hold now. */
function queueLimit(): u32 {
  return netBufferFreeCount() < NET_POOL_LOW ? NET_QUEUE_LIMIT : NET_QUEUE_BURST;
}

/**
 * A frame from the wire (nic.ts, in the card's interrupt): `buffer` holds it (netbuf.ts layout).
 * True: a VM's queue took the buffer; false: dropped, the driver reuses the buffer.
 */
function switchFromWire(buffer: u32, length: u32): bool {
  const frame = buffer + NET_BUFFER_FRAME;
  let target: i32 = NO_VM;
  if ((load8(frame + ETHERNET_DESTINATION) & MAC_GROUP_BIT) !== 0) {
    target = arpRequestTarget(frame, length);
    if (target >= 0) arpDirected++;
  } else {
    target = vmOfMac(frame + ETHERNET_DESTINATION);
  }
  if (target < 0) { droppedWire++; return false; }
  if (claimsVm(frame, length)) { droppedWireSpoofed++; return false; }
  if (vmAt(u32(target)).netCount >= queueLimit()) {
    vmAt(u32(target)).rxDropped++;
    droppedQueueFull++;
    return false;
  }
  if (!netLimitReceiveAllowed(u32(target), length)) { droppedReceiveLimit++; return false; }
  enqueue(u32(target), buffer, length, NET_SENDER_WIRE);
  store32(buffer + NET_BUFFER_ORIGIN, NET_ORIGIN_WIRE);
  wireToVm++;
  return true;
}

/** netReceive for VM `index`: the oldest frame into [address, address + capacity); its length, or 0. */
export function switchReceive(index: u32, address: u32, capacity: u32): i32 {
  const vm = vmAt(index);
  if (!vmRangeValid(vm, address, capacity)) return EFAULT;
  const head = vm.netHead;
  if (head === 0) return 0;
  const length = netBufferLength(head);
  if (capacity < length) return EMSGSIZE;
  if (!vmPrepareRange(vm, address, length, true)) return EFAULT;
  const start = rdtsc();
  memoryCopy(address, head + NET_BUFFER_FRAME, length);
  const copied = rdtsc() - start;
  if (load32(head + NET_BUFFER_ORIGIN) === NET_ORIGIN_WIRE) { benchCopy = copied; benchCopyLength = length; }
  netBufferFree(vmQueueTake(vm));
  return i32(length);
}

/**
 * `vm N net: rx P packets B bytes, tx P packets B bytes, dropped D, spoofed S, refused R, evicted E`
 * when the VM used the network (refused: netSend EAGAINs from the quotas; evicted: dropped unread).
 */
export function switchReportVm(index: u32): void {
  const vm = vmAt(index);
  const used = vm.rxPackets | vm.txPackets | vm.rxDropped | vm.txSpoofed | vm.txRefused;
  if (used === 0) return;
  consoleWriteString("vm ");
  consoleWriteDecimal(index);
  consoleWriteString(" net: rx ");
  consoleWriteDecimal(vm.rxPackets);
  consoleWriteString(" packets ");
  consoleWriteDecimal(vm.rxBytes);
  consoleWriteString(" bytes, tx ");
  consoleWriteDecimal(vm.txPackets);
  consoleWriteString(" packets ");
  consoleWriteDecimal(vm.txBytes);
  consoleWriteString(" bytes, dropped ");
  consoleWriteDecimal(vm.rxDropped);
  consoleWriteString(", spoofed ");
  consoleWriteDecimal(vm.txSpoofed);
  consoleWriteString(", refused ");
  consoleWriteDecimal(vm.txRefused);
  consoleWriteString(", evicted ");
  consoleWriteDecimal(netLimitAt(index).rxEvicted);
  consoleNewLine();
}

/**
 * `switch: vm-to-vm N, vm-to-wire N, wire-to-vm N, arp directed N, acks held N (D dropped at write-out); dropped:
 * spoofed N, refused ethertype N (of the spoofed), ..., evicted N, send limit N, receive limit N; eagain: sender
 * budget N, receiver full N, wire reserve N, transmit ring full N`.
 */
export function switchReport(): void {
  consoleWriteString("switch: vm-to-vm ");
  consoleWriteDecimal(vmToVm);
  consoleWriteString(", vm-to-wire ");
  consoleWriteDecimal(vmToWire);
  consoleWriteString(", wire-to-vm ");
  consoleWriteDecimal(wireToVm);
  consoleWriteString(", arp directed ");
  consoleWriteDecimal(arpDirected);
  consoleWriteString(", acks held ");
  consoleWriteDecimal(acksHeld);
  consoleWriteString(" (");
  consoleWriteDecimal(acksDropped);
  consoleWriteString(" dropped at write-out)");
  consoleWriteString("; dropped: spoofed ");
  consoleWriteDecimal(droppedSpoofed);
  consoleWriteString(", refused ethertype ");
  consoleWriteDecimal(droppedEtherType);
  consoleWriteString(", no route ");
  consoleWriteDecimal(droppedNoRoute);
  consoleWriteString(", from wire ");
  consoleWriteDecimal(droppedWire);
  consoleWriteString(", queue full ");
  consoleWriteDecimal(droppedQueueFull);
  consoleWriteString(", no buffer ");
  consoleWriteDecimal(droppedNoBuffer);
  consoleWriteString(", spoofed from wire ");
  consoleWriteDecimal(droppedWireSpoofed);
  consoleWriteString(", evicted ");
  consoleWriteDecimal(droppedEvicted);
  consoleWriteString(", send limit ");
  consoleWriteDecimal(droppedSendLimit);
  consoleWriteString(", receive limit ");
  consoleWriteDecimal(droppedReceiveLimit);
  consoleWriteString("; eagain: sender budget ");
  consoleWriteDecimal(refusedBudget);
  consoleWriteString(", receiver full ");
  consoleWriteDecimal(refusedReceiverFull);
  consoleWriteString(", wire reserve ");
  consoleWriteDecimal(refusedReserve);
  consoleWriteString(", transmit ring full ");
  consoleWriteDecimal(transmitRingFull);
  consoleNewLine();
  netBufferReport();
  if (!benchEnabled || wireToVm === 0) return;
  benchLine("net-rx-driver", nicBenchDriver(), nicBenchLength());
  benchLine("net-rx-switch", nicBenchSwitch(), nicBenchLength());
  benchLine("net-rx-copy", benchCopy, benchCopyLength);
  // `bench-tsc net-rx-interrupt-end T bytes B`: raw TSC values (not costs, different on every run) where
  // the last single-frame interrupts ended, oldest first (bench/net.ts: the start of the VM's wake-up).
  for (let i: u32 = 0; i < nicBenchEndCount(); i++) {
    consoleWriteString("bench-tsc net-rx-interrupt-end ");
    consoleWriteDecimal(nicBenchEnd(i));
    consoleWriteString(" bytes ");
    consoleWriteDecimal(nicBenchEndLength(i));
    consoleNewLine();
  }
}

/** `bench NAME N bytes B`: instructions of one receive-path stage for a frame of B bytes. */
function benchLine(name: string, instructions: u32, bytes: u32): void {
  consoleWriteString("bench ");
  consoleWriteString(name);
  consoleWriteString(" ");
  consoleWriteDecimal(instructions);
  consoleWriteString(" bytes ");
  consoleWriteDecimal(bytes);
  consoleNewLine();
}
