// Frames built and parsed by the tests, independently of the guest's code: Ethernet II (RFC 894),
// ARP (RFC 826), IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768), TCP (RFC 9293), checksums (RFC 1071).
import { ipBytes } from './harness.ts';

export const GUEST_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x05];
export const PEER_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
export const OTHER_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x77];
export const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
export const GUEST_IP = '10.0.0.2', PEER_IP = '10.0.0.1', OTHER_IP = '10.0.0.3', REMOTE_IP = '192.0.2.9';
export const CONFIG = { mac: GUEST_MAC, ip: GUEST_IP, netmask: '255.255.255.0', gateway: PEER_IP };

export const u16 = (x: number): number[] => [(x >>> 8) & 255, x & 255];
const u32 = (x: number): number[] => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
export const get16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const get32 = (b: Uint8Array, o: number): number =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** RFC 1071 over `bytes` (plus an initial sum). */
function checksum(bytes: ArrayLike<number>, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** Pads to the Ethernet minimum of 60 bytes, as the guest does. */
const pad60 = (frame: number[]): number[] =>
  frame.length >= 60 ? frame : [...frame, ...new Array(60 - frame.length).fill(0)];

export function ethernet(dst: number[], src: number[], type: number, payload: number[], pad = true): Uint8Array {
  const frame = [...dst, ...src, ...u16(type), ...payload];
  return Uint8Array.from(pad ? pad60(frame) : frame);
}

export function arp(op: number, sha: number[], spa: string, tha: number[], tpa: string): number[] {
  return [...u16(1), ...u16(0x0800), 6, 4, ...u16(op), ...sha, ...ipBytes(spa), ...tha, ...ipBytes(tpa)];
}

interface IpOptions {
  ttl?: number; id?: number; flags?: number; fragmentOffset?: number; totalLength?: number; badChecksum?: boolean;
  version?: number; ihl?: number; options?: number[];
}

export function ipv4(src: string, dst: string, protocol: number, payload: number[], o: IpOptions = {}): number[] {
  const options = o.options ?? [];
  const ihl = o.ihl ?? 5 + options.length / 4;
  const header = [((o.version ?? 4) << 4) | ihl, 0, ...u16(o.totalLength ?? 20 + options.length + payload.length), ...u16(o.id ?? 1),
    ...u16(((o.flags ?? 0) << 13) | (o.fragmentOffset ?? 0)), o.ttl ?? 64, protocol, 0, 0, ...ipBytes(src), ...ipBytes(dst), ...options];
  const sum = checksum(header) ^ (o.badChecksum ? 0x1111 : 0);
  header[10] = sum >>> 8; header[11] = sum & 255;
  return [...header, ...payload];
}

function pseudoSum(src: string, dst: string, protocol: number, length: number): number {
  const words = [...ipBytes(src), ...ipBytes(dst), 0, protocol, ...u16(length)];
  let sum = 0;
  for (let i = 0; i < words.length; i += 2) sum += (words[i] << 8) | words[i + 1];
  return sum;
}

/** Checksum of a transport segment with its pseudo-header (RFC 768, RFC 9293 §3.1). */
function transportChecksum(src: string, dst: string, protocol: number, segment: ArrayLike<number>): number {
  return checksum(segment, pseudoSum(src, dst, protocol, segment.length));
}

export function udp(src: string, dst: string, sport: number, dport: number, data: number[], o: { checksum?: number; length?: number } = {}): number[] {
  const seg = [...u16(sport), ...u16(dport), ...u16(o.length ?? 8 + data.length), 0, 0, ...data];
  let sum = o.checksum ?? transportChecksum(src, dst, 17, seg);
  if (o.checksum === undefined && sum === 0) sum = 0xffff;
  seg[6] = sum >>> 8; seg[7] = sum & 255;
  return seg;
}

export function icmpEcho(type: number, id: number, seq: number, data: number[]): number[] {
  const msg = [type, 0, 0, 0, ...u16(id), ...u16(seq), ...data];
  const sum = checksum(msg);
  msg[2] = sum >>> 8; msg[3] = sum & 255;
  return msg;
}

export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 } as const;
export interface TcpFields { sport: number; dport: number; seq: number; ack?: number; flags: number; window?: number; options?: number[]; data?: number[]; badChecksum?: boolean; dataOffset?: number }

export function tcp(src: string, dst: string, f: TcpFields): number[] {
  const options = f.options ?? [];
  const seg = [...u16(f.sport), ...u16(f.dport), ...u32(f.seq >>> 0), ...u32((f.ack ?? 0) >>> 0),
    ((f.dataOffset ?? 5 + options.length / 4) << 4), f.flags, ...u16(f.window ?? 65535), 0, 0, 0, 0, ...options, ...(f.data ?? [])];
  const sum = transportChecksum(src, dst, 6, seg) ^ (f.badChecksum ? 0x0101 : 0);
  seg[16] = sum >>> 8; seg[17] = sum & 255;
  return seg;
}

/** A frame from the peer to the guest carrying an IPv4 datagram. */
export const toGuest = (datagram: number[], src: number[] = PEER_MAC): Uint8Array => ethernet(GUEST_MAC, src, 0x0800, datagram);

interface ParsedIp {
  src: string; dst: string; protocol: number; id: number; ttl: number; flags: number; headerChecksumOk: boolean;
  payload: Uint8Array; totalLength: number;
}

export function parseIpv4Frame(frame: Uint8Array): ParsedIp {
  const ip = frame.subarray(14);
  const ihl = (ip[0] & 15) * 4;
  const totalLength = get16(ip, 2);
  return {
    src: Array.from(ip.subarray(12, 16)).join('.'), dst: Array.from(ip.subarray(16, 20)).join('.'),
    protocol: ip[9], id: get16(ip, 4), ttl: ip[8], flags: ip[6] >>> 5,
    headerChecksumOk: checksum(ip.subarray(0, ihl)) === 0, payload: ip.slice(ihl, totalLength), totalLength,
  };
}

interface ParsedTcp {
  sport: number; dport: number; seq: number; ack: number; flags: number; window: number; options: Uint8Array;
  data: Uint8Array; checksumOk: boolean;
}

export function parseTcpFrame(frame: Uint8Array): ParsedTcp & { ip: ParsedIp } {
  const ip = parseIpv4Frame(frame);
  const s = ip.payload;
  const offset = (s[12] >>> 4) * 4;
  return {
    ip, sport: get16(s, 0), dport: get16(s, 2), seq: get32(s, 4), ack: get32(s, 8), flags: s[13], window: get16(s, 14),
    options: s.slice(20, offset), data: s.slice(offset), checksumOk: transportChecksum(ip.src, ip.dst, 6, s) === 0,
  };
}
