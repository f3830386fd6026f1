// expect: 275
// expect: 36
// expect: 2048
// expect: 4
// expect: 20
// expect: 3232235796
// expect: 10
// expect: 36
// expect: 63
// expect: 170
// expect: 48879
// expect: 2040
// expect: 64
// Nested structs and inline typed-array fields: an Ethernet/IPv4-like header built in place.
import { i32, u8, u16, u32, print } from "dsl";

class MacAddress { bytes = new Uint8Array(6); }

class EthernetHeader {
  destination = new MacAddress();
  source = new MacAddress();
  etherType: u16 = 0;
}

class Ipv4Header {
  versionAndLength: u8 = 0x45;
  tos: u8 = 0;
  totalLength: u16 = 0;
  ttl: u8 = 64;
  protocol: u8 = 0;
  sourceAddress: u32 = 0;
  destinationAddress: u32 = 0;
}

class Frame {
  ethernet = new EthernetHeader();
  ip = new Ipv4Header();
  payload = new Uint8Array(16);
  checksums = new Uint16Array(2);
}

const frame = new Frame();

function setMac(mac: MacAddress, last: u8): void {
  for (let i = 0; i < 5; i++) mac.bytes[i] = 0x02 + i;
  mac.bytes[5] = last;
}

function macSum(mac: MacAddress): i32 {
  let sum: i32 = 0;
  for (let i = 0; i < mac.bytes.length; i++) sum += mac.bytes[i];
  return sum;
}

function ipv4(a: u32, b: u32, c: u32, d: u32): u32 {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function main(): i32 {
  setMac(frame.ethernet.destination, 0xff);
  setMac(frame.ethernet.source, 0x10);
  frame.ethernet.etherType = 0x0800;
  print(macSum(frame.ethernet.destination));
  print(macSum(frame.ethernet.source));
  print(frame.ethernet.etherType);
  print(frame.ip.versionAndLength >> 4);
  print((frame.ip.versionAndLength & 15) * 4);
  frame.ip.protocol = 17;
  frame.ip.sourceAddress = ipv4(192, 168, 1, 20);
  frame.ip.destinationAddress = ipv4(10, 0, 0, 1);
  print(frame.ip.sourceAddress);
  print(frame.ip.destinationAddress >>> 24);
  for (let i = 0; i < frame.payload.length; i++) frame.payload[i] = i * 17;
  frame.ip.totalLength = 20 + frame.payload.length;
  print(frame.ip.totalLength);
  const ip = frame.ip;
  ip.ttl = ip.ttl - 1;
  print(frame.ip.ttl);
  const source = frame.ethernet.source;
  source.bytes[0] = 0xaa;
  print(frame.ethernet.source.bytes[0]);
  frame.checksums[1] = 0xbeef;
  print(frame.checksums[0] + frame.checksums[1]);
  let payloadSum: i32 = 0;
  for (let i = 0; i < frame.payload.length; i++) payloadSum += frame.payload[i];
  print(payloadSum);
  const local = new Frame();
  print(local.ip.ttl + local.payload[3] + local.ethernet.destination.bytes[5]);
  return 0;
}
