// Network buffers: one fixed-size buffer per Ethernet frame, from a pool of frames allocated once at
// boot (never from an interrupt handler: the NIC's receive interrupt takes and gives buffers here, so
// the pool is its own free list, not kalloc's). Every frame in the kernel lives in one of these, with
// the same layout wherever it is — on the NIC's receive or transmit ring (virtio-net.ts; e1000.ts, whose
// descriptors point at the frame itself), on a VM's receive queue (switch.ts) — so a frame moves between
// them by reference, never by copy:
//
//   +0   u32 next      link of the queue the buffer is on (0: last)
//   +4   u32 length    bytes of the Ethernet frame
//   +8   struct virtio_net_hdr (10 bytes, legacy layout without VIRTIO_NET_F_MRG_RXBUF: virtio 1.0
//        §5.1.6 "Device Operation" and §5.1.6.1 "Legacy Interface: Device Operation")
//   +18  the Ethernet frame, at most 1514 bytes (IEEE 802.3 without FCS); its IP header lands 4-aligned
//   +2028 u32 the receiver's switch-in count when it was queued (switch.ts: has the receiver run since?)
//   +2032 u32 sender     while on a VM's queue: the VM that sent it (charged for it), NET_SENDER_WIRE
//   +2036 u32 receiver   while on a VM's queue: that VM
//   +2040 u32 previous, +2044 u32 next: the age list (below); past the frame, where no device writes
//
// The age list links every buffer on any VM's receive queue, oldest first, in the order they were
// queued: since each VM's queue is first in, first out, the oldest buffer of the list is always the
// head of its receiver's queue, so the switch's drop-oldest (switch.ts) finds old frames from its head.
// Invariants: a buffer is on exactly one of: the free list, a ring, a VM's queue (and then on the age
// list), or in the hands of the code that just took it; `freeCount` counts the free list. No locking:
// uniprocessor, and after boot every caller runs in a trap with interrupts disabled.
import { u32, load32, store32 } from "dsl";
import { FRAME_NONE, allocFrame, framesFree } from "./frames.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

const NET_BUFFER_BYTES: u32 = 2048;
const BUFFERS_PER_FRAME: u32 = 2;               // PAGE_SIZE (4096) / NET_BUFFER_BYTES
export const NET_BUFFER_NEXT: u32 = 0;
const NET_BUFFER_LENGTH: u32 = 4;
export const NET_BUFFER_VIRTIO_HEADER: u32 = 8;
export const VIRTIO_NET_HEADER_BYTES: u32 = 10;
export const NET_BUFFER_FRAME: u32 = 18;        // NET_BUFFER_VIRTIO_HEADER + VIRTIO_NET_HEADER_BYTES
/** Where a queued frame came from (for `bench net`): overlays the virtio header, unused once received. */
export const NET_BUFFER_ORIGIN: u32 = 8;
export const NET_ORIGIN_VM: u32 = 0;
export const NET_ORIGIN_WIRE: u32 = 1;
export const NET_BUFFER_QUEUED_SWITCHES: u32 = 2028;
export const NET_BUFFER_SENDER: u32 = 2032;
export const NET_BUFFER_RECEIVER: u32 = 2036;
const NET_BUFFER_AGE_PREVIOUS: u32 = 2040;
const NET_BUFFER_AGE_NEXT: u32 = 2044;
/** The sender of a frame from the wire: no VM is charged for it. */
export const NET_SENDER_WIRE: u32 = 0xffffffff;

/**
 * Buffers in the pool at boot: 4 MiB. The NIC's receive ring holds 128, VM queues and the transmit ring the rest.
 * When VMs start the pool grows by NET_BUFFERS_PER_VM each (netBufferGrow), up to NET_BUFFER_POOL_MAX (16 MiB):
 * a client that closes its connections to every VM at once sends each a frame or two in one burst, which
 * a pool sized for 64 busy VMs could not hold (the switch then drops the oldest: lost FINs and retries).
 */
const NET_BUFFER_POOL: u32 = 2048;
const NET_BUFFERS_PER_VM: u32 = 2;
const NET_BUFFER_POOL_MAX: u32 = 8192;
/** The growth takes at most this fraction of the free frames (1 GiB: 16 MiB, the maximum). */
const NET_GROWTH_SHARE: u32 = 64;

let freeHead: u32 = 0;
let freeCount: u32 = 0;
let poolCount: u32 = 0;
let allocationFailures: u32 = 0;
let lowestFree: u32 = 0xffffffff;              // the fewest free buffers there have been
let queuedCount: u32 = 0;                       // buffers on the age list: queued for VMs, unread
let ageHead: u32 = 0;                           // the oldest queued buffer (0: none)
let ageTail: u32 = 0;

export function netBufferFreeCount(): u32 { return freeCount; }

/** Builds the pool (idempotent); the number of buffers it holds. */
export function netBufferInit(): u32 {
  if (poolCount === 0) grow(NET_BUFFER_POOL);
  return poolCount;
}

/**
 * Grows the pool for `vms` VMs (vmstart.ts, before admission: the VMs get what is left), by at most a
 * 1/NET_GROWTH_SHARE of the free memory, so a small machine keeps its frames for its VMs; the number of
 * buffers the pool holds.
 */
export function netBufferGrow(vms: u32): u32 {
  let wanted = vms < (NET_BUFFER_POOL_MAX - NET_BUFFER_POOL) / NET_BUFFERS_PER_VM
    ? NET_BUFFER_POOL + vms * NET_BUFFERS_PER_VM : NET_BUFFER_POOL_MAX;
  const affordable = poolCount + (framesFree() / NET_GROWTH_SHARE) * BUFFERS_PER_FRAME;
  if (wanted > affordable) wanted = affordable;
  if (wanted > poolCount) grow(wanted);
  return poolCount;
}

/** Adds frames of buffers until the pool holds `buffers` or memory runs out (it keeps what it got). */
function grow(buffers: u32): void {
  while (poolCount < buffers) {
    const frame = allocFrame();
    if (frame === FRAME_NONE) return;
    for (let b: u32 = 0; b < BUFFERS_PER_FRAME; b++) {
      netBufferFree(frame + b * NET_BUFFER_BYTES);
      poolCount++;
    }
  }
}

/** A buffer (its address), or 0 when the pool is empty. */
export function netBufferAlloc(): u32 {
  const buffer = freeHead;
  if (buffer === 0) { allocationFailures++; return 0; }
  freeHead = load32(buffer + NET_BUFFER_NEXT);
  freeCount--;
  if (freeCount < lowestFree) lowestFree = freeCount;
  store32(buffer + NET_BUFFER_NEXT, 0);
  return buffer;
}

export function netBufferFree(buffer: u32): void {
  store32(buffer + NET_BUFFER_NEXT, freeHead);
  freeHead = buffer;
  freeCount++;
}

export function netBufferLength(buffer: u32): u32 { return load32(buffer + NET_BUFFER_LENGTH); }
export function netBufferSetLength(buffer: u32, length: u32): void { store32(buffer + NET_BUFFER_LENGTH, length); }

/** Appends a buffer that was just queued on a VM to the age list (the newest). */
export function netBufferAgeAppend(buffer: u32): void {
  store32(buffer + NET_BUFFER_AGE_PREVIOUS, ageTail);
  store32(buffer + NET_BUFFER_AGE_NEXT, 0);
  if (ageTail === 0) ageHead = buffer; else store32(ageTail + NET_BUFFER_AGE_NEXT, buffer);
  ageTail = buffer;
  queuedCount++;
}

/** Takes a buffer that leaves its VM's queue off the age list. */
export function netBufferAgeRemove(buffer: u32): void {
  const previous = load32(buffer + NET_BUFFER_AGE_PREVIOUS), next = load32(buffer + NET_BUFFER_AGE_NEXT);
  if (previous === 0) ageHead = next; else store32(previous + NET_BUFFER_AGE_NEXT, next);
  if (next === 0) ageTail = previous; else store32(next + NET_BUFFER_AGE_PREVIOUS, previous);
  queuedCount--;
}

/**
 * `netpool: P buffers, F free (fewest L), Q queued for VMs, A allocations failed`: the rest are the
 * NIC's (its receive ring, frames on the transmit ring not yet reclaimed).
 */
export function netBufferReport(): void {
  consoleWriteString("netpool: ");
  consoleWriteDecimal(poolCount);
  consoleWriteString(" buffers, ");
  consoleWriteDecimal(freeCount);
  consoleWriteString(" free (fewest ");
  consoleWriteDecimal(lowestFree === 0xffffffff ? freeCount : lowestFree);
  consoleWriteString("), ");
  consoleWriteDecimal(queuedCount);
  consoleWriteString(" queued for VMs, ");
  consoleWriteDecimal(allocationFailures);
  consoleWriteString(" allocations failed");
  consoleNewLine();
}

/** The buffer queued longest ago on any VM's queue, or 0 when no VM has a frame waiting. */
export function netBufferOldest(): u32 { return ageHead; }
/** The next younger queued buffer after `buffer` on the age list, or 0. */
export function netBufferYounger(buffer: u32): u32 { return load32(buffer + NET_BUFFER_AGE_NEXT); }
