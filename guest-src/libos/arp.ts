// ARP, the Address Resolution Protocol (RFC 826) for IPv4 over Ethernet: answers requests for our
// address, keeps a small cache of IPv4 -> MAC mappings with expiry, resolves next hops for ipv4.ts and
// holds up to ARP_QUEUE outgoing packets while resolutions are under way (RFC 1122 §2.3.2.2: "SHOULD save
// (rather than discard) at least one ... packet"; more than one, so that two connections opened at once to
// an unresolved peer both keep their SYN), sent in order when the reply comes; when full, the oldest goes.
import { i32, u32, u8, bool, structArray } from "dsl";
import { get16, get32, put16, put32, copyBytes, equal6 } from "./bytes.ts";
import {
  ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, ourMac, ourIp, broadcastMac, txFrame, ethernetSend, netStats, netNow,
  STAT_ARP_DROP, STAT_ARP_QUEUE_DROP,
} from "./netif.ts";
import { FRAME_MAX } from "../../abi/hypercalls.ts";

// ---- packet format (RFC 826 "Packet format") --------------------------------------------------------
/** ar$hrd: hardware address space (Ethernet = 1, RFC 826 "ares_hrd$Ethernet"). */
const ARP_HRD = 0;
/** ar$pro: protocol address space (an EtherType: IPv4 0x0800). */
const ARP_PRO = 2;
/** ar$hln: byte length of each hardware address (6). */
const ARP_HLN = 4;
/** ar$pln: byte length of each protocol address (4). */
const ARP_PLN = 5;
/** ar$op: opcode (ares_op$REQUEST = 1, ares_op$REPLY = 2). */
const ARP_OP = 6;
/** ar$sha: sender hardware address. */
const ARP_SHA = 8;
/** ar$spa: sender protocol address. */
const ARP_SPA = 14;
/** ar$tha: target hardware address. */
const ARP_THA = 18;
/** ar$tpa: target protocol address. */
const ARP_TPA = 24;
/** Length of an Ethernet/IPv4 ARP packet. */
const ARP_PACKET = 28;

const ARP_HRD_ETHERNET = 1;
const ARP_OP_REQUEST = 1;
const ARP_OP_REPLY = 2;

// ---- the cache -------------------------------------------------------------------------------------------
const ENTRY_FREE: u8 = 0;
/** A request was sent; no answer yet. */
const ENTRY_PENDING: u8 = 1;
const ENTRY_RESOLVED: u8 = 2;

const ARP_CACHE_SIZE = 16;
/** A resolved entry is forgotten after this long (RFC 1122 §2.3.2.1: entries MUST time out; Linux-like 60 s). */
const ARP_ENTRY_LIFETIME_US: u32 = 60000000;
/** A pending request is repeated this often (RFC 1122 §2.3.2.1: at most one request per second per address). */
const ARP_RETRY_US: u32 = 1000000;
/** After this many requests without an answer the entry and its queued packets are dropped. */
const ARP_MAX_REQUESTS = 3;

class ArpEntry {
  ip: u32 = 0;
  /** Resolved: when the entry expires; pending: when to send the next request (clock microseconds). */
  deadline: u32 = 0;
  state: u8 = 0;
  requests: u8 = 0;
}

const cache = structArray(ArpEntry, 16);
/** Entry i's MAC is macs[6 * i .. 6 * i + 6) (an array field of a struct cannot be passed as a value). */
const macs = new Uint8Array(16 * 6);

/** Packets waiting for a resolution, oldest first: whole Ethernet frames (header to be filled in). */
const ARP_QUEUE = 4;
const queuedFrames = new Uint8Array(4 * 1514);   // ARP_QUEUE * FRAME_MAX
const queuedLengths = new Int32Array(4);
const queuedIps = new Uint32Array(4);
let queuedCount: i32 = 0;
/** A queued frame is copied here to be sent (ethernetSend writes the header at offset 0). */
const releaseFrame = new Uint8Array(FRAME_MAX);

/** Removes queued packet `k` (keeping the order of the others). */
function dequeue(k: i32): void {
  for (let j = k; j + 1 < queuedCount; j++) {
    copyBytes(queuedFrames, j * FRAME_MAX, queuedFrames, (j + 1) * FRAME_MAX, queuedLengths[j + 1] + ETH_HEADER);
    queuedLengths[j] = queuedLengths[j + 1];
    queuedIps[j] = queuedIps[j + 1];
  }
  queuedCount--;
}

/** Sends (`index` >= 0: to that entry's MAC) or drops (-1) every packet queued for `ip`. */
function releaseQueued(ip: u32, index: i32): void {
  let k = 0;
  while (k < queuedCount) {
    if (queuedIps[k] !== ip) { k++; continue; }
    if (index >= 0) {
      copyBytes(releaseFrame, ETH_HEADER, queuedFrames, k * FRAME_MAX + ETH_HEADER, queuedLengths[k]);
      ethernetSend(releaseFrame, macs, 6 * index, ETHERTYPE_IPV4, queuedLengths[k]);
    } else {
      netStats[STAT_ARP_QUEUE_DROP]++;
    }
    dequeue(k);
  }
}


export function arpInit(): void {
  for (let i = 0; i < ARP_CACHE_SIZE; i++) cache[i].state = ENTRY_FREE;
  queuedCount = 0;
}

function find(ip: u32): i32 {
  for (let i = 0; i < ARP_CACHE_SIZE; i++) if (cache[i].state !== ENTRY_FREE && cache[i].ip === ip) return i;
  return -1;
}

/** A free entry, or else the one closest to its deadline (the least useful resolved one). */
function allocate(): i32 {
  let victim = 0;
  for (let i = 0; i < ARP_CACHE_SIZE; i++) {
    if (cache[i].state === ENTRY_FREE) return i;
    if (i32(cache[i].deadline - cache[victim].deadline) < 0) victim = i;
  }
  return victim;
}

/** Sets the mapping and sends the packet that waited for it, if any. */
function update(index: i32, frame: Uint8Array, shaOffset: i32): void {
  const entry = cache[index];
  copyBytes(macs, 6 * index, frame, shaOffset, 6);
  entry.state = ENTRY_RESOLVED;
  entry.deadline = netNow + ARP_ENTRY_LIFETIME_US;
  entry.requests = 0;
  releaseQueued(entry.ip, index);
}

/** Builds an ARP packet in txFrame and sends it to `destinationMac`. */
function send(op: i32, targetMac: Uint8Array, targetMacOffset: i32, targetIp: u32, destinationMac: Uint8Array, destinationOffset: i32): void {
  const p = ETH_HEADER;
  put16(txFrame, p + ARP_HRD, ARP_HRD_ETHERNET);
  put16(txFrame, p + ARP_PRO, ETHERTYPE_IPV4);
  txFrame[p + ARP_HLN] = 6;
  txFrame[p + ARP_PLN] = 4;
  put16(txFrame, p + ARP_OP, op);
  copyBytes(txFrame, p + ARP_SHA, ourMac, 0, 6);
  put32(txFrame, p + ARP_SPA, ourIp);
  copyBytes(txFrame, p + ARP_THA, targetMac, targetMacOffset, 6);
  put32(txFrame, p + ARP_TPA, targetIp);
  ethernetSend(txFrame, destinationMac, destinationOffset, ETHERTYPE_ARP, ARP_PACKET);
}

const zeroMac = new Uint8Array(6);

function sendRequest(ip: u32): void {
  // RFC 826 "Packet Generation": ar$tha is "don't care" in a request; we send zeros (as RFC 5227 §2.1.1 does).
  send(ARP_OP_REQUEST, zeroMac, 0, ip, broadcastMac, 0);
}

/** The entry arpHeard confirmed last: checked first (a VM's traffic is mostly with one neighbour). */
let lastHeard: i32 = 0;

/**
 * An IPv4 frame arrived from the hardware address at `frame[sourceOffset..+6)`: a resolved entry of that
 * address is confirmed, its lifetime started again (RFC 1122 §2.3.2.1 leaves the method of validating an
 * entry open; this is RFC 4861 §7.3.1's confirmation by traffic from the neighbour). The mapping itself changes
 * only by ARP. Without it an entry of a peer heard from all along expires after 60 s: a VM idle that long (a
 * web server swapped out for minutes) queued its first answer behind a resolution, an ARP exchange more and
 * the queue's page touched again.
 */
export function arpHeard(frame: Uint8Array, sourceOffset: i32): void {
  if (cache[lastHeard].state === ENTRY_RESOLVED && equal6(macs, 6 * lastHeard, frame, sourceOffset)) {
    cache[lastHeard].deadline = netNow + ARP_ENTRY_LIFETIME_US;
    return;
  }
  for (let i = 0; i < ARP_CACHE_SIZE; i++) {
    if (cache[i].state !== ENTRY_RESOLVED || !equal6(macs, 6 * i, frame, sourceOffset)) continue;
    cache[i].deadline = netNow + ARP_ENTRY_LIFETIME_US;
    lastHeard = i;
  }
}

/** Handles an ARP packet at `frame[offset..offset+length)` (RFC 826 "Packet Reception"). */
export function arpInput(frame: Uint8Array, offset: i32, length: i32): void {
  if (length < ARP_PACKET
      || get16(frame, offset + ARP_HRD) !== ARP_HRD_ETHERNET
      || get16(frame, offset + ARP_PRO) !== ETHERTYPE_IPV4
      || frame[offset + ARP_HLN] !== 6 || frame[offset + ARP_PLN] !== 4) {
    netStats[STAT_ARP_DROP]++;
    return;
  }
  const op = get16(frame, offset + ARP_OP);
  const spa = get32(frame, offset + ARP_SPA);
  const tpa = get32(frame, offset + ARP_TPA);
  // A sender claiming our address, a broadcast or multicast hardware address, or no address at all
  // (RFC 5227 §2.1.1 probes use spa 0) never enters the cache.
  const shaBad = (frame[offset + ARP_SHA] & 1) !== 0 || equal6(frame, offset + ARP_SHA, ourMac, 0);
  const spaBad = spa === 0 || spa === ourIp || spa === 0xffffffff;
  // "?Do I have the hardware type in ar$hrd? ... ?Is the pair <protocol type, sender protocol address>
  // already in my translation table? If yes, update the sender hardware address field of the entry".
  let merged = false;
  if (!shaBad && !spaBad) {
    const index = find(spa);
    if (index >= 0) { update(index, frame, offset + ARP_SHA); merged = true; }
  }
  // "?Am I the target protocol address?"
  if (tpa !== ourIp || ourIp === 0) return;
  // "If Merge_flag is false, add the triplet <protocol type, sender protocol address, sender hardware address>".
  if (!merged && !shaBad && !spaBad) {
    const index = allocate();
    cache[index].ip = spa;
    cache[index].state = ENTRY_PENDING;
    update(index, frame, offset + ARP_SHA);
  }
  // "?Is the opcode ares_op$REQUEST? If yes: swap hardware and protocol fields ... send the packet to
  // the (new) target hardware address on the same hardware on which the request was received."
  if (op === ARP_OP_REQUEST && !shaBad) {
    send(ARP_OP_REPLY, frame, offset + ARP_SHA, spa, frame, offset + ARP_SHA);
  }
}

/**
 * Sends the IPv4 packet in `frame` (`payloadLength` bytes after the Ethernet header) to next hop `ip`.
 * When the MAC is unknown the frame is queued (the oldest waiting one dropped when the queue is full) and a
 * resolution starts (or continues); it is sent when the reply comes. Returns true when it went out now.
 */
export function arpOutput(ip: u32, frame: Uint8Array, payloadLength: i32): bool {
  if (ip === 0xffffffff) return ethernetSend(frame, broadcastMac, 0, ETHERTYPE_IPV4, payloadLength);
  let index = find(ip);
  if (index >= 0 && cache[index].state === ENTRY_RESOLVED) {
    if (i32(netNow - cache[index].deadline) < 0) return ethernetSend(frame, macs, 6 * index, ETHERTYPE_IPV4, payloadLength);
    cache[index].state = ENTRY_FREE;   // expired: resolve it again
    index = -1;
  }
  // Queue first: the request is built in txFrame, which may be `frame`. A full queue loses its oldest.
  if (queuedCount === ARP_QUEUE) { netStats[STAT_ARP_QUEUE_DROP]++; dequeue(0); }
  copyBytes(queuedFrames, queuedCount * FRAME_MAX + ETH_HEADER, frame, ETH_HEADER, payloadLength);
  queuedLengths[queuedCount] = payloadLength;
  queuedIps[queuedCount] = ip;
  queuedCount++;
  if (index < 0) {
    index = allocate();
    const entry = cache[index];
    entry.ip = ip;
    entry.state = ENTRY_PENDING;
    entry.requests = 1;
    entry.deadline = netNow + ARP_RETRY_US;
    sendRequest(ip);
  }
  return false;
}

/** Repeats pending requests, gives up on silent ones; returns microseconds until the next deadline. */
export function arpTimer(): u32 {
  let next: u32 = 0xffffffff;
  for (let i = 0; i < ARP_CACHE_SIZE; i++) {
    const entry = cache[i];
    if (entry.state !== ENTRY_PENDING) continue;
    if (i32(netNow - entry.deadline) >= 0) {
      if (entry.requests >= ARP_MAX_REQUESTS) {
        entry.state = ENTRY_FREE;
        releaseQueued(entry.ip, -1);
        continue;
      }
      entry.requests++;
      entry.deadline = netNow + ARP_RETRY_US;
      sendRequest(entry.ip);
    }
    const left = u32(entry.deadline - netNow);
    if (left < next) next = left;
  }
  return next;
}
