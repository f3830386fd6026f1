// ICMP (RFC 792) for a host: echo replies (RFC 792 "Echo or Echo Reply Message"; RFC 1122 §3.2.2.6:
// "Every host MUST implement an ICMP Echo server"). Other messages are counted and ignored.
import { i32, u32 } from "dsl";
import { put16, copyBytes, internetChecksum } from "./bytes.ts";
import { txFrame, netStats, STAT_ICMP_DROP } from "./netif.ts";
import { ipv4Send, IP_PAYLOAD_OFFSET, IP_MAX_PAYLOAD, IP_PROTOCOL_ICMP } from "./ipv4.ts";

// ---- message header (RFC 792, every message: type, code, checksum; echo: identifier, sequence) --------
const ICMP_TYPE = 0;
const ICMP_CODE = 1;
/**
 * "The checksum is the 16-bit ones's complement of the one's complement sum of the ICMP message starting with the ICMP
 * Type."
 */
const ICMP_CHECKSUM = 2;
/** Echo: Identifier (2) and Sequence Number (2) follow; then the data, returned unchanged. */
const ICMP_IDENTIFIER = 4;
const ICMP_SEQUENCE = 6;
const ICMP_HEADER = 8;

const ICMP_TYPE_ECHO_REPLY = 0;
const ICMP_TYPE_DESTINATION_UNREACHABLE = 3;
const ICMP_TYPE_ECHO_REQUEST = 8;

/** Handles the ICMP message at `frame[offset..offset+length)` from `source` (addressed to our unicast address). */
export function icmpInput(frame: Uint8Array, offset: i32, length: i32, source: u32): void {
  if (length < ICMP_HEADER || internetChecksum(frame, offset, length) !== 0) { netStats[STAT_ICMP_DROP]++; return; }
  if (frame[offset + ICMP_TYPE] !== ICMP_TYPE_ECHO_REQUEST || frame[offset + ICMP_CODE] !== 0) return;
  if (length > IP_MAX_PAYLOAD) { netStats[STAT_ICMP_DROP]++; return; }
  // RFC 792 Echo: "the source and destination addresses are simply reversed, the type code changed to
  // 0, and the checksum recomputed"; identifier, sequence number and data are returned as received.
  const p = IP_PAYLOAD_OFFSET;
  copyBytes(txFrame, p, frame, offset, length);
  txFrame[p + ICMP_TYPE] = ICMP_TYPE_ECHO_REPLY;
  txFrame[p + ICMP_CODE] = 0;
  put16(txFrame, p + ICMP_CHECKSUM, 0);
  put16(txFrame, p + ICMP_CHECKSUM, internetChecksum(txFrame, p, length));
  ipv4Send(source, IP_PROTOCOL_ICMP, length);
}
