// POST /vms's body (guest-src/apps/control.ts): a JSON object (RFC 8259) of these members, each at most
// once, in any order, nothing else:
//   "image": K (required), "count": N (1), "memoryKiB": M (256), "guaranteedKiB": G (64, at most M),
//   "argument": A (0), "ip": "a.b.c.d" (the control VM picks free ones), "netmask": "a.b.c.d" and
//   "gateway": "a.b.c.d" (the control VM's own when netmask is absent), "cpuWeight": W (1..10000;
//   absent: the kernel's default, 100), "cpuCapPercent": P (1..100; absent: no cap), the network rate
//   limits "txPacketsPerSecond", "txBytesPerSecond", "rxPacketsPerSecond", "rxBytesPerSecond" (absent or 0:
//   none; a byte rate at least NET_BYTE_RATE_MIN), "memoryCapKiB": C (absent or 0: none; a multiple of 4:
//   the kernel refuses one below the VMs' reservation).
// Numbers are non-negative integers below 2^32; addresses are dotted quads, kept in network byte order
// (what VmCreateRequest takes). parseCreate fills createFields; false for anything else (the client is
// answered 400). Contract: it reads only buffer[base .. base + length).
import { i32, u32, bool } from "dsl";
import {
  SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_CAP_MAX, NET_BYTE_RATE_MIN,
} from "../../../abi/hypercalls.ts";

export const FIELD_IMAGE = 0;
export const FIELD_COUNT = 1;
export const FIELD_MEMORY = 2;
export const FIELD_GUARANTEED = 3;
export const FIELD_ARGUMENT = 4;
export const FIELD_IP = 5;
export const FIELD_NETMASK = 6;
export const FIELD_GATEWAY = 7;
export const FIELD_WEIGHT = 8;
export const FIELD_CAP = 9;
export const FIELD_TX_PACKETS = 10;
export const FIELD_TX_BYTES = 11;
export const FIELD_RX_PACKETS = 12;
export const FIELD_RX_BYTES = 13;
export const FIELD_MEMORY_CAP = 14;
const FIELD_COUNT_ALL = 15;
/** The members' values after parseCreate (defaults for those absent; weight, caps and limits absent: 0). */
export const createFields = new Uint32Array(15);
const seen = new Uint8Array(15);

const DEFAULT_MEMORY_KIB: u32 = 256;
const DEFAULT_GUARANTEED_KIB: u32 = 64;

/** The body being parsed (copied here: at most BODY_LIMIT bytes). */
const BODY_LIMIT = 1024;
const buffer = new Uint8Array(1024);    // BODY_LIMIT
let at: i32 = 0;
let limit: i32 = 0;

function skipSpace(): void {
  while (at < limit && (buffer[at] === 32 || buffer[at] === 9 || buffer[at] === 10 || buffer[at] === 13)) at++;
}

/** Consumes `c` (after white space); false when it is not next. */
function expect(c: i32): bool {
  skipSpace();
  if (at >= limit || buffer[at] !== c) return false;
  at++;
  return true;
}

/** A member name: which field, or -1. */
function memberName(): i32 {
  if (!expect(34)) return -1;
  const start = at;
  while (at < limit && buffer[at] !== 34) at++;
  if (at >= limit) return -1;
  const end = at;
  at++;
  if (named(start, end, "image")) return FIELD_IMAGE;
  if (named(start, end, "count")) return FIELD_COUNT;
  if (named(start, end, "memoryKiB")) return FIELD_MEMORY;
  if (named(start, end, "guaranteedKiB")) return FIELD_GUARANTEED;
  if (named(start, end, "argument")) return FIELD_ARGUMENT;
  if (named(start, end, "ip")) return FIELD_IP;
  if (named(start, end, "netmask")) return FIELD_NETMASK;
  if (named(start, end, "gateway")) return FIELD_GATEWAY;
  if (named(start, end, "cpuWeight")) return FIELD_WEIGHT;
  if (named(start, end, "cpuCapPercent")) return FIELD_CAP;
  if (named(start, end, "txPacketsPerSecond")) return FIELD_TX_PACKETS;
  if (named(start, end, "txBytesPerSecond")) return FIELD_TX_BYTES;
  if (named(start, end, "rxPacketsPerSecond")) return FIELD_RX_PACKETS;
  if (named(start, end, "rxBytesPerSecond")) return FIELD_RX_BYTES;
  if (named(start, end, "memoryCapKiB")) return FIELD_MEMORY_CAP;
  return -1;
}

function named(start: i32, end: i32, s: string): bool {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (buffer[start + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** A non-negative integer below 2^32 into createFields[field]; false otherwise. */
function integer(field: i32): bool {
  skipSpace();
  const start = at;
  let value: u32 = 0;
  while (at < limit && buffer[at] >= 48 && buffer[at] <= 57) {
    const digit = u32(buffer[at] - 48);
    if (value > (0xffffffff - digit) / 10) return false;
    value = value * 10 + digit;
    at++;
  }
  if (at === start || (at - start > 1 && buffer[start] === 48)) return false;    // no leading zeros (RFC 8259 §6)
  createFields[field] = value;
  return true;
}

/** A dotted quad in quotes into createFields[field], in network byte order (a in the low byte). */
function address(field: i32): bool {
  if (!expect(34)) return false;
  let value: u32 = 0;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) { if (at >= limit || buffer[at] !== 46) return false; at++; }
    const start = at;
    let part: u32 = 0;
    while (at < limit && buffer[at] >= 48 && buffer[at] <= 57 && at - start < 3) {
      part = part * 10 + u32(buffer[at] - 48);
      at++;
    }
    if (at === start || part > 255) return false;
    value = value | (part << (8 * octet));
  }
  if (at >= limit || buffer[at] !== 34) return false;
  at++;
  createFields[field] = value;
  return true;
}

/** Parses POST /vms's body at bytes[base .. base + length); false when it is not as the header says. */
export function parseCreate(bytes: Uint8Array, base: i32, length: i32): bool {
  if (length > BODY_LIMIT) return false;
  for (let i = 0; i < length; i++) buffer[i] = bytes[base + i];
  at = 0;
  limit = length;
  for (let f = 0; f < FIELD_COUNT_ALL; f++) { seen[f] = 0; createFields[f] = 0; }
  createFields[FIELD_COUNT] = 1;
  createFields[FIELD_MEMORY] = DEFAULT_MEMORY_KIB;
  if (!expect(123)) return false;                  // {
  skipSpace();
  if (at < limit && buffer[at] === 125) { at++; return false; }    // {}: no image
  while (true) {
    const field = memberName();
    if (field < 0 || seen[field] !== 0 || !expect(58)) return false;
    seen[field] = 1;
    const dotted = field === FIELD_IP || field === FIELD_NETMASK || field === FIELD_GATEWAY;
    const ok = dotted ? address(field) : integer(field);
    if (!ok) return false;
    if (expect(44)) continue;                      // ,
    if (!expect(125)) return false;                // }
    break;
  }
  skipSpace();
  if (at !== limit || seen[FIELD_IMAGE] === 0) return false;
  const weight = createFields[FIELD_WEIGHT], cap = createFields[FIELD_CAP];
  if (seen[FIELD_WEIGHT] !== 0 && (weight < SHARE_WEIGHT_MIN || weight > SHARE_WEIGHT_MAX)) return false;
  if (seen[FIELD_CAP] !== 0 && (cap === 0 || cap > SHARE_CAP_MAX)) return false;
  const txBytes = createFields[FIELD_TX_BYTES], rxBytes = createFields[FIELD_RX_BYTES];
  if ((txBytes !== 0 && txBytes < NET_BYTE_RATE_MIN) || (rxBytes !== 0 && rxBytes < NET_BYTE_RATE_MIN)) return false;
  if ((createFields[FIELD_MEMORY_CAP] & 3) !== 0) return false;
  if (seen[FIELD_GUARANTEED] === 0) {
    const memory = createFields[FIELD_MEMORY];
    createFields[FIELD_GUARANTEED] = memory < DEFAULT_GUARANTEED_KIB ? memory : DEFAULT_GUARANTEED_KIB;
  }
  return true;
}
