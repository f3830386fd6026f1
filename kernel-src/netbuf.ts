// Network buffers: one fixed-size buffer per Ethernet frame, from a pool of frames allocated once at
// boot (never from an interrupt handler: the NIC's receive interrupt takes and gives buffers here, so
// the pool is its own free list, not kalloc's). Every frame in the kernel lives in one of these, with
// the same layout wherever it is — on the NIC's receive or transmit ring (virtio-net.ts), on a VM's
// receive queue (switch.ts) — so a frame moves between them by reference, never by copy:
//
//   +0   u32 next      link of the queue the buffer is on (0: last)
//   +4   u32 length    bytes of the Ethernet frame
//   +8   struct virtio_net_hdr (10 bytes, legacy layout without VIRTIO_NET_F_MRG_RXBUF: virtio 1.0
//        §5.1.6 "Device Operation" and §5.1.6.1 "Legacy Interface: Device Operation")
//   +18  the Ethernet frame, at most 1514 bytes (IEEE 802.3 without FCS); its IP header lands 4-aligned
//
// Invariants: a buffer is on exactly one of: the free list, a ring, a VM's queue, or in the hands of
// the code that just took it; `freeCount` counts the free list. No locking: uniprocessor, and after
// boot every caller runs in a trap with interrupts disabled.
import { u32, load32, store32 } from "dsl";
import { FRAME_NONE, allocFrame } from "./frames.ts";

export const NET_BUFFER_BYTES: u32 = 2048;
const BUFFERS_PER_FRAME: u32 = 2;               // PAGE_SIZE (4096) / NET_BUFFER_BYTES
export const NET_BUFFER_NEXT: u32 = 0;
export const NET_BUFFER_LENGTH: u32 = 4;
export const NET_BUFFER_VIRTIO_HEADER: u32 = 8;
export const VIRTIO_NET_HEADER_BYTES: u32 = 10;
export const NET_BUFFER_FRAME: u32 = 18;        // NET_BUFFER_VIRTIO_HEADER + VIRTIO_NET_HEADER_BYTES
/** Where a queued frame came from (for `bench net`): overlays the virtio header, unused once received. */
export const NET_BUFFER_ORIGIN: u32 = 8;
export const NET_ORIGIN_VM: u32 = 0;
export const NET_ORIGIN_WIRE: u32 = 1;
export const ETHERNET_FRAME_LIMIT: u32 = 1514;
export const ETHERNET_HEADER_BYTES: u32 = 14;

/** Buffers in the pool: 4 MiB. The NIC's receive ring holds 128, VM queues and the transmit ring the rest (1,000 busy VMs hold a few each). */
export const NET_BUFFER_POOL: u32 = 2048;

let freeHead: u32 = 0;
let freeCount: u32 = 0;
let poolCount: u32 = 0;
let allocationFailures: u32 = 0;

export function netBufferFreeCount(): u32 { return freeCount; }
export function netBufferPoolCount(): u32 { return poolCount; }
export function netBufferFailures(): u32 { return allocationFailures; }

/** Builds the pool (idempotent); the number of buffers it holds. */
export function netBufferInit(): u32 {
  if (poolCount !== 0) return poolCount;
  for (let f: u32 = 0; f < NET_BUFFER_POOL / BUFFERS_PER_FRAME; f++) {
    const frame = allocFrame();
    if (frame === FRAME_NONE) break;
    for (let b: u32 = 0; b < BUFFERS_PER_FRAME; b++) {
      netBufferFree(frame + b * NET_BUFFER_BYTES);
      poolCount++;
    }
  }
  return poolCount;
}

/** A buffer (its address), or 0 when the pool is empty. */
export function netBufferAlloc(): u32 {
  const buffer = freeHead;
  if (buffer === 0) { allocationFailures++; return 0; }
  freeHead = load32(buffer + NET_BUFFER_NEXT);
  freeCount--;
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
export function netBufferFrame(buffer: u32): u32 { return buffer + NET_BUFFER_FRAME; }
