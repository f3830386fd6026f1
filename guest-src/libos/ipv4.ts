// IPv4 (RFC 791) for a host (RFC 1122 §3): header validation on receive, dispatch to ICMP, UDP and
// TCP, and sending with a header checksum (RFC 1071) through ARP. No reassembly: fragments are
// counted and dropped (a host MAY do so only if it cannot reassemble; we document it as a limit).
import { i32, u32, bool } from "dsl";
import { get16, get32, put16, put32, internetChecksum } from "./bytes.ts";
import {
  ETH_HEADER, txFrame, ourIp, ourNetmask, ourGateway, netStats, STAT_IP_DROP, STAT_IP_FRAGMENT, STAT_IP_NOT_OURS,
  STAT_IP_PROTOCOL,
} from "./netif.ts";
import { arpOutput } from "./arp.ts";
import { icmpInput } from "./icmp.ts";
import { udpInput } from "./udp.ts";
import { tcpInput } from "./tcp.ts";

// ---- header (RFC 791 §3.1 "Internet Header Format") ----------------------------------------------------
/** Version (high 4 bits, = 4) and IHL (low 4 bits: header length in 32-bit words, >= 5). */
const IP_VERSION_IHL = 0;
/** Type of Service (RFC 791 §3.1; now DSCP/ECN, RFC 2474, RFC 3168). */
const IP_TOS = 1;
/** Total Length: header and data in octets. */
const IP_TOTAL_LENGTH = 2;
/** Identification: for reassembling fragments. */
const IP_IDENTIFICATION = 4;
/** Flags (3 high bits: 0, DF, MF) and Fragment Offset (13 bits, in 8-octet units). */
const IP_FLAGS_FRAGMENT = 6;
/** Time to Live. */
const IP_TTL = 8;
/** Protocol (RFC 790 "Assigned Numbers"). */
const IP_PROTOCOL = 9;
/** Header Checksum (RFC 791 §3.1; computed as RFC 1071). */
const IP_CHECKSUM = 10;
const IP_SOURCE = 12;
const IP_DESTINATION = 16;
/** The header without options (IHL = 5). */
const IP_HEADER = 20;

const IP_VERSION = 4;
/** Flags: Don't Fragment (RFC 791 §3.1 "Bit 1"). */
const IP_FLAG_DF = 0x4000;
/** Flags: More Fragments (RFC 791 §3.1 "Bit 2"). */
const IP_FLAG_MF = 0x2000;
const IP_FRAGMENT_OFFSET_MASK = 0x1fff;

export const IP_PROTOCOL_ICMP = 1;
export const IP_PROTOCOL_TCP = 6;
export const IP_PROTOCOL_UDP = 17;

/** TTL of the datagrams we send (RFC 1700 / IANA's recommended default, 64). */
const IP_DEFAULT_TTL = 64;
const IP_BROADCAST: u32 = 0xffffffff;

/** The room for a transport header and data after the IP header in one frame. */
export const IP_MAX_PAYLOAD: i32 = 1480;   // ETH_MTU - IP_HEADER (a literal: /tmp/compiler-requests.md, constants across an import cycle)
/** Offset in txFrame where the transport layer writes its header. */
export const IP_PAYLOAD_OFFSET: i32 = 34;   // ETH_HEADER + IP_HEADER (a literal, as above)

let identification: i32 = 0;

/** Whether `address` is one a datagram may be addressed to us with: ours, limited or directed broadcast. */
function forUs(address: u32): bool {
  if (address === ourIp) return true;
  if (address === IP_BROADCAST) return true;
  return ourNetmask !== 0 && ourNetmask !== 0xffffffff && address === (ourIp | ~ourNetmask);
}

/**
 * Handles the IPv4 datagram at `frame[offset]`; `length` is what the frame holds after the Ethernet
 * header (possibly more than the datagram: Ethernet pads short frames).
 */
export function ipv4Input(frame: Uint8Array, offset: i32, length: i32): void {
  if (length < IP_HEADER) { netStats[STAT_IP_DROP]++; return; }
  const versionIhl = frame[offset + IP_VERSION_IHL];
  const headerLength = (versionIhl & 15) * 4;
  const totalLength = get16(frame, offset + IP_TOTAL_LENGTH);
  // RFC 1122 §3.2.1.1: a datagram whose version is not 4 MUST be silently discarded. RFC 791 §3.1:
  // IHL "minimum value for a correct header is 5"; the header must fit in the total length, and the
  // total length in what we received (RFC 1122 §3.2.1.2 as well for the checksum).
  if ((versionIhl >>> 4) !== IP_VERSION || headerLength < IP_HEADER
      || totalLength < headerLength || totalLength > length) {
    netStats[STAT_IP_DROP]++;
    return;
  }
  // RFC 1122 §3.2.1.2: "A host MUST verify the IP header checksum on every received datagram and
  // silently discard every datagram that has a bad checksum."
  if (internetChecksum(frame, offset, headerLength) !== 0) { netStats[STAT_IP_DROP]++; return; }
  // RFC 791 §3.1 Time to Live: "If this field contains the value zero, then the datagram must be
  // destroyed." (A host may still accept TTL 1, RFC 1122 §3.2.1.7.)
  if (frame[offset + IP_TTL] === 0) { netStats[STAT_IP_DROP]++; return; }
  const source = get32(frame, offset + IP_SOURCE);
  const destination = get32(frame, offset + IP_DESTINATION);
  // RFC 1122 §3.2.1.3: a host MUST silently discard datagrams not addressed to it, and (MUST NOT
  // accept a broadcast, multicast or loopback source: (a), (c), (g)) sources that are not unicast.
  if (!forUs(destination)) { netStats[STAT_IP_NOT_OURS]++; return; }
  if (source === IP_BROADCAST || (source >>> 28) >= 14 || (source >>> 24) === 127) { netStats[STAT_IP_DROP]++; return; }
  // RFC 791 §3.2 "Fragmentation and Reassembly": MF set or a non-zero offset is a fragment. We do not
  // reassemble (RFC 1122 §3.3.2 asks for it; it is a documented limit) and drop every fragment.
  if ((get16(frame, offset + IP_FLAGS_FRAGMENT) & (IP_FLAG_MF | IP_FRAGMENT_OFFSET_MASK)) !== 0) {
    netStats[STAT_IP_FRAGMENT]++;
    return;
  }
  // Options (RFC 791 §3.1 "Options"; RFC 1122 §3.2.1.8) are skipped: none changes what a host does here.
  const protocol = frame[offset + IP_PROTOCOL];
  const payload = offset + headerLength;
  const payloadLength = totalLength - headerLength;
  const unicast = destination === ourIp;
  if (protocol === IP_PROTOCOL_TCP) { if (unicast) tcpInput(frame, payload, payloadLength, source, destination); }
  else if (protocol === IP_PROTOCOL_UDP) udpInput(frame, payload, payloadLength, source, destination);
  else if (protocol === IP_PROTOCOL_ICMP) { if (unicast) icmpInput(frame, payload, payloadLength, source); }
  else netStats[STAT_IP_PROTOCOL]++;
}

/** The next hop for `destination`: itself on our subnet (or for broadcasts), else the gateway. */
function nextHop(destination: u32): u32 {
  if (destination === IP_BROADCAST) return destination;
  if (ourGateway === 0 || ((destination ^ ourIp) & ourNetmask) === 0) return destination;
  return ourGateway;
}

/**
 * Sends the `payloadLength` bytes already at txFrame[IP_PAYLOAD_OFFSET] to `destination` as one
 * datagram of `protocol`. Returns false when the frame could not go out now (ARP pending, queue full).
 */
export function ipv4Send(destination: u32, protocol: i32, payloadLength: i32): bool {
  const h = ETH_HEADER;
  txFrame[h + IP_VERSION_IHL] = (IP_VERSION << 4) | (IP_HEADER / 4);
  txFrame[h + IP_TOS] = 0;
  put16(txFrame, h + IP_TOTAL_LENGTH, IP_HEADER + payloadLength);
  identification = (identification + 1) & 0xffff;
  put16(txFrame, h + IP_IDENTIFICATION, identification);
  // DF: we never fragment (RFC 1191 path MTU discovery sets it; our segments fit in the MTU).
  put16(txFrame, h + IP_FLAGS_FRAGMENT, IP_FLAG_DF);
  txFrame[h + IP_TTL] = IP_DEFAULT_TTL;
  txFrame[h + IP_PROTOCOL] = protocol;
  put16(txFrame, h + IP_CHECKSUM, 0);
  put32(txFrame, h + IP_SOURCE, ourIp);
  put32(txFrame, h + IP_DESTINATION, destination);
  put16(txFrame, h + IP_CHECKSUM, internetChecksum(txFrame, h, IP_HEADER));
  return arpOutput(nextHop(destination), txFrame, IP_HEADER + payloadLength);
}
