// The virtual NIC (docs/virtual-architecture.md, "Hypercalls": netSend / netReceive carry whole
// Ethernet frames, 14..1514 bytes, without the FCS) and Ethernet II framing (RFC 894, "A Standard
// for the Transmission of IP Datagrams over Ethernet Networks"; IEEE 802.3 §3.2 for the field layout).
//
// Receive: `netifPoll()` is called after a NET virtual interrupt and takes frames with netReceive
// until it returns 0; each frame lands in `rxFrame` and is dispatched on its EtherType. Transmit: a
// protocol builds its packet in `txFrame` after the Ethernet header and calls `ethernetSend`.
// One frame at a time: a reply is built in txFrame while the request is still in rxFrame.
import { i32, u32, bool, addressOf, rdtsc, write, print } from "dsl";
import { netSend, netReceive, yieldCpu } from "../runtime/hypercalls.ts";
import { lastClockHigh, lastClockLow, clockMilliseconds } from "../runtime/events.ts";
import { EAGAIN, FRAME_MAX } from "../../abi/hypercalls.ts";
import { get16, put16, equal6, fillBytes } from "./bytes.ts";
import { arpInput, arpHeard } from "./arp.ts";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_NETIF } from "../../abi/boot.ts";
import { ipv4Input } from "./ipv4.ts";

// ---- Ethernet II header (RFC 894 "Frame Format"; IEEE 802.3 §3.2.3-§3.2.6) ---------------------------
/** Destination MAC address, 6 bytes. */
const ETH_DESTINATION = 0;
/** Source MAC address, 6 bytes. */
const ETH_SOURCE = 6;
/** EtherType, 2 bytes (RFC 894: "type field"). */
const ETH_TYPE = 12;
/** Header length: the payload (an IP datagram or an ARP packet) starts here. */
export const ETH_HEADER = 14;
/**
 * Minimum frame without the 4-byte FCS: 64 - 4 (IEEE 802.3 §4.4.2 minFrameSize; RFC 894 "the data field ... padded").
 */
const ETH_MIN_FRAME = 60;
/** Maximum payload (RFC 894: "the maximum length of an IP datagram sent over an Ethernet is 1500 octets"). */
const ETH_MTU = 1500;

/** EtherType of IPv4 (RFC 894; IEEE registry). */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP (RFC 826 "Packet format": ether_type$ADDRESS_RESOLUTION). */
export const ETHERTYPE_ARP = 0x0806;

// ---- counters ----------------------------------------------------------------------------------------
const STAT_RX_FRAMES = 0;
const STAT_TX_FRAMES = 1;
const STAT_RX_DROP_SHORT = 2;       // shorter than an Ethernet header
const STAT_RX_DROP_NOT_OURS = 3;    // destination neither our MAC nor broadcast
const STAT_RX_DROP_ETHERTYPE = 4;   // neither IPv4 nor ARP
const STAT_TX_DROP = 5;             // netSend failed (queue full after retries, bad size)
export const STAT_ARP_DROP = 6;            // malformed or foreign ARP packets
export const STAT_IP_DROP = 7;             // malformed IPv4 headers (length, version, checksum)
export const STAT_IP_FRAGMENT = 8;         // fragments (dropped: no reassembly)
export const STAT_IP_NOT_OURS = 9;         // datagrams for another address
export const STAT_IP_PROTOCOL = 10;        // unknown protocol
export const STAT_ICMP_DROP = 11;
export const STAT_UDP_DROP = 12;           // bad length or checksum
export const STAT_UDP_NO_PORT = 13;
export const STAT_TCP_DROP = 14;           // bad length, offset or checksum
export const STAT_TCP_RESET_SENT = 15;
export const STAT_TCP_RETRANSMIT = 16;      // segments sent again (any cause)
export const STAT_ARP_QUEUE_DROP = 17;     // a packet waiting for ARP replaced or expired
export const STAT_TCP_TIMEOUT = 18;        // retransmission timer expirations (not window probes)
export const STAT_TCP_RECOVERY = 19;       // fast retransmits: NewReno or SACK recoveries entered
export const STAT_TCP_OUT_OF_ORDER = 20;   // segments held out of order
export const STAT_TCP_TAIL_PROBE = 21;     // tail loss probes sent (RFC 8985 §7)
export const STAT_TCP_UNDONE = 22;         // recoveries undone as spurious (Eifel, RFC 3522)
export const STAT_TCP_NO_MEMORY = 23;      // segment text dropped: no receive ring could be had (tcp-buffers.ts)
export const STAT_TCP_COOKIE_SENT = 24;    // SYN,ACKs with a SYN cookie (RFC 4987 §3.6): the SYN queue was full
export const STAT_TCP_COOKIE_OK = 25;      // connections made from a valid cookie's ACK
export const STAT_TCP_COOKIE_BAD = 26;     // ACKs to a listener whose cookie did not validate (answered with RST)
const STAT_COUNT = 27;
export const netStats = new Uint32Array(STAT_COUNT);

// ---- the interface's configuration (boot information: MAC, IPv4 address, netmask, gateway) ------------
/** Our MAC address. */
export const ourMac = new Uint8Array(6);
/** The broadcast MAC address ff:ff:ff:ff:ff:ff. */
export const broadcastMac = new Uint8Array(6);
/** IPv4 address, netmask and gateway as numbers (10.0.0.1 is 0x0A000001), not in memory byte order. */
export let ourIp: u32 = 0;
/**
 * The VM's secret (BootInfo.entropy, drawn by the kernel: kernel-src/entropy.ts), copied by stack.ts before the
 * layers start: the keys of what off-path attackers must not guess (tcp.ts). Zero when not given (the tests'
 * simulated kernel): the keys then come from the clock and the address alone.
 */
export const netSecret = new Uint32Array(4);    // ENTROPY_WORDS
export let ourNetmask: u32 = 0;
export let ourGateway: u32 = 0;

/** The clock (microseconds, wrapping) as of the current event batch: stack.ts sets it before any work. */
export let netNow: u32 = 0;
/** The same clock as u64 nanoseconds (events.ts's last conversion), and its milliseconds once asked for. */
let netClockHigh: u32 = 0;
let netClockLow: u32 = 0;
let netMillis: u32 = 0;
let netMillisKnown = false;

/** Sets the clock of the batch: `microseconds`, converted by events.ts from its lastClockHigh/Low. */
export function netifSetClock(microseconds: u32): void {
  netNow = microseconds;
  netClockHigh = lastClockHigh;
  netClockLow = lastClockLow;
  netMillisKnown = false;
}

/**
 * The same clock in milliseconds (wrapping after 49.7 days): TCP's timestamps (RFC 7323 §5.4). Converted on
 * the first use in a batch, not at every wake-up: most batches of most VMs stamp nothing.
 */
export function netMilliseconds(): u32 {
  if (!netMillisKnown) {
    netMillis = clockMilliseconds(netClockHigh, netClockLow);
    netMillisKnown = true;
  }
  return netMillis;
}

/** The frame being received and the frame being built for sending. */
const rxFrame = new Uint8Array(FRAME_MAX);
export const txFrame = new Uint8Array(FRAME_MAX);

/** netSend attempts on EAGAIN (the receiver's queue is full) before the frame is dropped. */
const SEND_RETRIES = 8;

export function netifInit(mac: Uint8Array, macOffset: i32, ip: u32, netmask: u32, gateway: u32): void {
  for (let i = 0; i < 6; i++) { ourMac[i] = mac[macOffset + i]; broadcastMac[i] = 0xff; }
  ourIp = ip;
  ourNetmask = netmask;
  ourGateway = gateway;
  for (let i = 0; i < STAT_COUNT; i++) netStats[i] = 0;
}

// ---- bench (bench/net.ts): receive-path costs under -icount, where rdtsc counts instructions --------
// Per received frame with a UDP handler: the netReceive hypercall (vnic: trap, checks, the copy into
// the VM), the stack's processing (ethernetInput without the handler) and the handler (the application);
// and the TSC when netReceive was called (vnic-start), which ends the VM's wake-up.
let benchEnabled = false;
let benchHandler: u32 = 0;
let benchHandlerRan = false;
export function netifSetBench(enabled: bool): void { benchEnabled = enabled; }
/** udp.ts: a handler ran for `instructions` (rdtsc difference) on the frame being received. */
export function netifBenchHandler(instructions: u32): void { benchHandler = instructions; benchHandlerRan = true; }
export function netifBenchEnabled(): bool { return benchEnabled; }

function benchLine(name: string, instructions: u32, length: i32): void {
  write("bench "); write(name); write(" "); write(instructions); write(" bytes "); print(length);
}

/** Receives and handles every queued frame; returns how many there were. */
export function netifPoll(): i32 {
  if (!profileActive()) return pollFrames();
  const previous = profileEnter(PROFILE_GUEST_NETIF);
  const result = pollFrames();
  profileLeave(previous);
  return result;
}

function pollFrames(): i32 {
  let count = 0;
  while (true) {
    const start = benchEnabled ? rdtsc() : 0;
    const length = netReceive(addressOf(rxFrame), FRAME_MAX);
    if (length <= 0) return count;   // 0: the queue is empty; < 0 cannot happen with our own buffer
    count++;
    if (!benchEnabled) { ethernetInput(rxFrame, length); continue; }
    const received = rdtsc();
    benchHandlerRan = false;
    ethernetInput(rxFrame, length);
    const handled = rdtsc();
    if (benchHandlerRan) {
      write("bench-tsc net-rx-vnic-start "); write(start); write(" bytes "); print(length);   // a raw TSC value: where the wake-up ends
      benchLine("net-rx-vnic", received - start, length);
      benchLine("net-rx-stack", handled - received - benchHandler, length);
      benchLine("net-rx-app", benchHandler, length);
    }
  }
}

/** Dispatches one received frame on its EtherType (RFC 894). */
function ethernetInput(frame: Uint8Array, length: i32): void {
  netStats[STAT_RX_FRAMES]++;
  if (length < ETH_HEADER || length > FRAME_MAX) { netStats[STAT_RX_DROP_SHORT]++; return; }
  if (!equal6(frame, ETH_DESTINATION, ourMac, 0) && !equal6(frame, ETH_DESTINATION, broadcastMac, 0)) {
    netStats[STAT_RX_DROP_NOT_OURS]++;
    return;
  }
  const type = get16(frame, ETH_TYPE);
  if (type === ETHERTYPE_IPV4) {
    arpHeard(frame, ETH_SOURCE);
    ipv4Input(frame, ETH_HEADER, length - ETH_HEADER);
  }
  else if (type === ETHERTYPE_ARP) arpInput(frame, ETH_HEADER, length - ETH_HEADER);
  else netStats[STAT_RX_DROP_ETHERTYPE]++;
}

/**
 * Sends the frame whose payload (`payloadLength` bytes) is already at `frame[ETH_HEADER]`: writes the
 * header (destination `destination[destinationOffset..+6]`, our source MAC, `ethertype`), pads to the
 * minimum frame with zeros (RFC 894) and hands it to netSend. Returns false when it was dropped.
 */
export function ethernetSend(frame: Uint8Array, destination: Uint8Array, destinationOffset: i32, ethertype: i32, payloadLength: i32): bool {
  if (!profileActive()) return sendFrame(frame, destination, destinationOffset, ethertype, payloadLength);
  const previous = profileEnter(PROFILE_GUEST_NETIF);
  const result = sendFrame(frame, destination, destinationOffset, ethertype, payloadLength);
  profileLeave(previous);
  return result;
}

function sendFrame(
  frame: Uint8Array, destination: Uint8Array, destinationOffset: i32, ethertype: i32, payloadLength: i32,
): bool {
  for (let i = 0; i < 6; i++) {
    frame[ETH_DESTINATION + i] = destination[destinationOffset + i];
    frame[ETH_SOURCE + i] = ourMac[i];
  }
  put16(frame, ETH_TYPE, ethertype);
  let length = ETH_HEADER + payloadLength;
  if (length < ETH_MIN_FRAME) {
    fillBytes(frame, length, 0, ETH_MIN_FRAME - length);
    length = ETH_MIN_FRAME;
  }
  for (let attempt = 0; attempt < SEND_RETRIES; attempt++) {
    const r = netSend(addressOf(frame), u32(length));
    if (r === 0) { netStats[STAT_TX_FRAMES]++; return true; }
    if (r !== EAGAIN) break;
    yieldCpu();   // the receiver's queue is full: let it run, then try again
  }
  netStats[STAT_TX_DROP]++;
  return false;
}
