// UDP (RFC 768): checksum with the IPv4 pseudo-header, a small table of bound ports with a handler
// each, and sending. Datagrams for unbound ports are counted and dropped.
import { i32, u32, bool, structArray, rdtsc } from "dsl";
import { get16, put16, copyBytes, checksumAdd, checksumFinish, pseudoHeaderSum } from "./bytes.ts";
import {
  txFrame, ourIp, netStats, STAT_UDP_DROP, STAT_UDP_NO_PORT, netifBenchEnabled, netifBenchHandler,
} from "./netif.ts";
import { ipv4Send, IP_PAYLOAD_OFFSET, IP_PROTOCOL_UDP } from "./ipv4.ts";

// ---- header (RFC 768 "Format") ------------------------------------------------------------------------
const UDP_SOURCE_PORT = 0;
const UDP_DESTINATION_PORT = 2;
/** Length: "the length in octets of this user datagram including this header and the data" (minimum 8). */
const UDP_LENGTH = 4;
/** Checksum over the pseudo-header, the header and the data; 0 means "none" (RFC 768 "Fields"). */
const UDP_CHECKSUM = 6;
const UDP_HEADER = 8;
/** The most data one datagram of ours carries (no fragmentation). */
export const UDP_MAX_DATA: i32 = 1472;   // IP_MAX_PAYLOAD - UDP_HEADER (a literal: constants across an import cycle)

/** Receives a datagram's data: `data[offset..offset+length)` from `source`:`sourcePort` to our `localPort`. */
type UdpHandler = (source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32) => void;

function noHandler(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {}

class UdpPort {
  port: i32 = 0;
  handler: UdpHandler = noHandler;
}

const UDP_PORTS = 8;
const ports = structArray(UdpPort, 8);

export function udpInit(): void {
  for (let i = 0; i < UDP_PORTS; i++) ports[i].port = 0;
}

/** Binds `port` (1..65535) to `handler`; false when it is taken or the table is full. */
export function udpBind(port: i32, handler: UdpHandler): bool {
  if (port <= 0 || port > 0xffff) return false;
  let free = -1;
  for (let i = 0; i < UDP_PORTS; i++) {
    if (ports[i].port === port) return false;
    if (ports[i].port === 0 && free < 0) free = i;
  }
  if (free < 0) return false;
  ports[free].port = port;
  ports[free].handler = handler;
  return true;
}

/** Handles the UDP datagram at `frame[offset..offset+length)` (`length`: the IP payload length). */
export function udpInput(frame: Uint8Array, offset: i32, length: i32, source: u32, destination: u32): void {
  if (length < UDP_HEADER) { netStats[STAT_UDP_DROP]++; return; }
  const udpLength = get16(frame, offset + UDP_LENGTH);
  // The UDP length must cover the header and fit in the IP payload (RFC 768; RFC 1122 §4.1.3.4: the
  // datagram's length is the IP's; a disagreeing UDP length is an error here rather than a trim).
  if (udpLength < UDP_HEADER || udpLength > length) { netStats[STAT_UDP_DROP]++; return; }
  const checksum = get16(frame, offset + UDP_CHECKSUM);
  if (checksum !== 0) {
    // RFC 768: sum of the pseudo-header (source, destination, zero, protocol, UDP length), header, data.
    const sum = checksumAdd(pseudoHeaderSum(source, destination, IP_PROTOCOL_UDP, udpLength), frame, offset, udpLength);
    if (checksumFinish(sum) !== 0) { netStats[STAT_UDP_DROP]++; return; }
  }
  const port = get16(frame, offset + UDP_DESTINATION_PORT);
  for (let i = 0; i < UDP_PORTS; i++) {
    if (ports[i].port === port && port !== 0) {
      const sourcePort = get16(frame, offset + UDP_SOURCE_PORT);
      const start = netifBenchEnabled() ? rdtsc() : 0;
      ports[i].handler(source, sourcePort, port, frame, offset + UDP_HEADER, udpLength - UDP_HEADER);
      if (netifBenchEnabled()) netifBenchHandler(rdtsc() - start);   // bench/net.ts: the application's share
      return;
    }
  }
  netStats[STAT_UDP_NO_PORT]++;
}

/** Sends `data[offset..offset+length)` from our `sourcePort` to `destination`:`destinationPort`. */
export function udpSend(destination: u32, destinationPort: i32, sourcePort: i32, data: Uint8Array, offset: i32, length: i32): bool {
  if (length < 0 || length > UDP_MAX_DATA) return false;
  const p = IP_PAYLOAD_OFFSET;
  const udpLength = UDP_HEADER + length;
  put16(txFrame, p + UDP_SOURCE_PORT, sourcePort);
  put16(txFrame, p + UDP_DESTINATION_PORT, destinationPort);
  put16(txFrame, p + UDP_LENGTH, udpLength);
  put16(txFrame, p + UDP_CHECKSUM, 0);
  copyBytes(txFrame, p + UDP_HEADER, data, offset, length);
  let checksum = checksumFinish(checksumAdd(pseudoHeaderSum(ourIp, destination, IP_PROTOCOL_UDP, udpLength), txFrame, p, udpLength));
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  if (checksum === 0) checksum = 0xffff;
  put16(txFrame, p + UDP_CHECKSUM, checksum);
  return ipv4Send(destination, IP_PROTOCOL_UDP, udpLength);
}
