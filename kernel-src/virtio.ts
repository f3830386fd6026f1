// The virtio transport of QEMU's transitional PCI devices, legacy interface (virtio 0.9.5, and virtio
// 1.0 "Legacy Interface" sections): device registers in the I/O-port BAR0, split virtqueues in
// physically contiguous frames the driver allocates (physical = virtual under the kernel's identity
// map, paging.ts). Device-specific drivers (virtio-net.ts, virtio-blk.ts) sit on top.
// References (OASIS virtio 1.0, cs04): §2.1 "Device Status Field"; §2.2 "Feature Bits"; §2.4
// "Virtqueues", §2.4.2 "Legacy Interfaces: A Note on Virtqueue Layout", §2.4.5 "The Virtqueue
// Descriptor Table", §2.4.5.3 "Indirect Descriptors", §2.4.6 "The Virtqueue Available Ring", §2.4.8
// "The Virtqueue Used Ring"; §3.1.2 "Legacy Interface: Device Initialization"; §4.1.2 "PCI Device
// Discovery"; §4.1.4.8 "Legacy Interfaces: A Note on PCI Device Layout" (the register block below);
// §6 "Reserved Feature Bits"; Virtio PCI Card Specification 0.9.5 §2.3 and App. C.
// Invariants: a Virtqueue's frames are zeroed and given to the device before DRIVER_OK; `lastUsed`
// is the used-ring index up to which the driver has consumed entries; avail.idx only grows.
import { bool, u8, u16, u32, inb, inw, inl, outb, outw, outl, load16, load32, store16, store32, memoryFill } from "dsl";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrame, freeFrame } from "./frames.ts";

/** Every virtio PCI function has this vendor id (virtio 1.0 §4.1.2); the device id says which device. */
export const VIRTIO_VENDOR_ID: u32 = 0x1af4;

// Legacy register block at the start of the I/O BAR (virtio 1.0 §4.1.4.8; 0.9.5 §2.3).
export const VIRTIO_DEVICE_FEATURES = 0x00;   // u32 R: features bits 0..31 the device offers
export const VIRTIO_DRIVER_FEATURES = 0x04;   // u32 RW: the subset the driver accepts
const VIRTIO_QUEUE_ADDRESS = 0x08;     // u32 RW: physical page number (address >> 12) of the selected queue
const VIRTIO_QUEUE_SIZE = 0x0c;        // u16 R: entries of the selected queue (0: no such queue)
const VIRTIO_QUEUE_SELECT = 0x0e;      // u16 RW
const VIRTIO_QUEUE_NOTIFY = 0x10;      // u16 W: the queue index with new available buffers
const VIRTIO_DEVICE_STATUS = 0x12;     // u8 RW: writing 0 resets the device
const VIRTIO_ISR_STATUS = 0x13;        // u8 R: reading returns and clears it, and deasserts INTx#
/** Device-specific configuration without MSI-X (MSI-X is never enabled here; with it, 0x18). */
export const VIRTIO_DEVICE_CONFIG = 0x14;

// Device status bits (virtio 1.0 §2.1).
export const VIRTIO_STATUS_ACKNOWLEDGE: u32 = 1;
export const VIRTIO_STATUS_DRIVER: u32 = 2;
export const VIRTIO_STATUS_DRIVER_OK: u32 = 4;
export const VIRTIO_STATUS_FAILED: u32 = 128;

// ISR status bits (virtio 1.0 §4.1.4.5 "ISR status capability", the same in the legacy block).
const VIRTIO_ISR_QUEUE: u32 = 1;
const VIRTIO_ISR_CONFIG: u32 = 2;

// Virtqueue descriptor (virtio 1.0 §2.4.5): u64 addr, u32 len, u16 flags, u16 next = 16 bytes, in the
// ring's table and in an indirect table alike.
export const VIRTQ_DESCRIPTOR_BYTES: u32 = 16;
const DESCRIPTOR_BYTES = VIRTQ_DESCRIPTOR_BYTES;
const DESCRIPTOR_ADDRESS = 0;
const DESCRIPTOR_LENGTH = 8;
const DESCRIPTOR_FLAGS = 12;
const DESCRIPTOR_NEXT = 14;
export const VIRTQ_DESC_F_NEXT: u32 = 1;
export const VIRTQ_DESC_F_WRITE: u32 = 2;      // device writes (receive buffers)
/** The descriptor's buffer is a table of descriptors (§2.4.5.3); needs VIRTIO_F_RING_INDIRECT_DESC. */
export const VIRTQ_DESC_F_INDIRECT: u32 = 4;
/** Device-independent feature bit (§6): the driver may use VIRTQ_DESC_F_INDIRECT. */
export const VIRTIO_F_RING_INDIRECT_DESC: u32 = 1 << 28;

// Available ring (virtio 1.0 §2.4.6): u16 flags, u16 idx, u16 ring[size], u16 used_event.
const AVAILABLE_FLAGS = 0;
const AVAILABLE_INDEX = 2;
const AVAILABLE_RING = 4;
/** Asks the device not to interrupt when it consumes a buffer of this queue (§2.4.7). */
const VIRTQ_AVAIL_F_NO_INTERRUPT: u32 = 1;

// Used ring (virtio 1.0 §2.4.8): u16 flags, u16 idx, {u32 id, u32 len}[size], u16 avail_event.
const USED_FLAGS = 0;
const USED_INDEX = 2;
const USED_RING = 4;
const USED_ELEMENT_BYTES: u32 = 8;
/** The device asks not to be notified of new available buffers (§2.4.8). */
const VIRTQ_USED_F_NO_NOTIFY: u32 = 1;

/** Legacy alignment of the used ring and of the queue address (virtio 1.0 §2.4.2: 4096 for PCI). */
const QUEUE_ALIGN: u32 = 4096;
/** The largest queue this driver accepts: 8 contiguous frames hold a 1024-entry queue. */
const VIRTQUEUE_SIZE_LIMIT: u32 = 1024;

export class Virtqueue {
  io: u32 = 0;               // the device's I/O BAR base
  index: u32 = 0;            // queue number (virtio-net: 0 receive, 1 transmit)
  size: u32 = 0;             // entries (a power of two, from the device)
  descriptors: u32 = 0;      // physical = virtual address of the descriptor table
  available: u32 = 0;
  used: u32 = 0;
  pages: u32 = 0;
  availableIndex: u32 = 0;   // our copy of avail.idx (free-running, 16 bits on the ring)
  lastUsed: u32 = 0;         // used entries consumed so far (free-running)
  usedLength: u32 = 0;       // the length of the entry virtqueueNextUsed returned
}

function align(x: u32, to: u32): u32 { return (x + to - 1) & ~(to - 1); }

/** Bytes of a legacy queue of `size` entries (virtio 1.0 §2.4.2). */
function queueBytes(size: u32): u32 {
  const usedOffset = align(DESCRIPTOR_BYTES * size + AVAILABLE_RING + 2 * size + 2, QUEUE_ALIGN);
  return align(usedOffset + USED_RING + USED_ELEMENT_BYTES * size + 2, QUEUE_ALIGN);
}

/**
 * `pages` physically contiguous frames (allocFrame hands out the lowest free frame, so successive
 * frames are contiguous unless a hole interrupts them; frames before a hole go back). FRAME_NONE on failure.
 */
function allocContiguous(pages: u32): u32 {
  let start = allocFrame();
  if (start === FRAME_NONE) return FRAME_NONE;
  let count: u32 = 1;
  while (count < pages) {
    const next = allocFrame();
    if (next === FRAME_NONE) { for (let i: u32 = 0; i < count; i++) freeFrame(start + (i << PAGE_SHIFT)); return FRAME_NONE; }
    if (next === start + (count << PAGE_SHIFT)) { count++; continue; }
    for (let i: u32 = 0; i < count; i++) freeFrame(start + (i << PAGE_SHIFT));
    start = next;
    count = 1;
  }
  return start;
}

export function virtioRead8(io: u32, register: u32): u32 { return inb(u16(io + register)); }
export function virtioRead16(io: u32, register: u32): u32 { return inw(u16(io + register)); }
export function virtioRead32(io: u32, register: u32): u32 { return inl(u16(io + register)); }
function virtioWrite8(io: u32, register: u32, value: u32): void { outb(u16(io + register), u8(value)); }
export function virtioWrite32(io: u32, register: u32, value: u32): void { outl(u16(io + register), value); }

/** Writing 0 to the status resets the device (virtio 1.0 §2.1, §3.1.2 step 1). */
export function virtioReset(io: u32): void { virtioWrite8(io, VIRTIO_DEVICE_STATUS, 0); }

/** Adds `bits` to the device status (the initialization sequence sets them one by one, §3.1.2). */
export function virtioAddStatus(io: u32, bits: u32): void {
  virtioWrite8(io, VIRTIO_DEVICE_STATUS, virtioRead8(io, VIRTIO_DEVICE_STATUS) | bits);
}

export function virtioStatus(io: u32): u32 { return virtioRead8(io, VIRTIO_DEVICE_STATUS); }

/**
 * Reads and clears the ISR status (virtio 1.0 §4.1.4.5): this acknowledges the interrupt and
 * deasserts the level-triggered INTx# line.
 */
export function virtioAcknowledgeInterrupt(io: u32): u32 { return virtioRead8(io, VIRTIO_ISR_STATUS); }

/**
 * Selects queue `index`, reads its size, allocates and zeroes its frames and gives their page number
 * to the device (virtio 1.0 §4.1.5.1.3 legacy "Virtqueue Configuration"). False: no such queue, too
 * large, or no memory.
 */
export function virtqueueSetup(q: Virtqueue, io: u32, index: u32): bool {
  outw(u16(io + VIRTIO_QUEUE_SELECT), u16(index));
  const size = virtioRead16(io, VIRTIO_QUEUE_SIZE);
  if (size === 0 || size > VIRTQUEUE_SIZE_LIMIT || (size & (size - 1)) !== 0) return false;
  const bytes = queueBytes(size);
  const pages = bytes >>> PAGE_SHIFT;
  const base = allocContiguous(pages);
  if (base === FRAME_NONE) return false;
  memoryFill(base, 0, bytes);
  q.io = io;
  q.index = index;
  q.size = size;
  q.pages = pages;
  q.descriptors = base;
  q.available = base + DESCRIPTOR_BYTES * size;
  q.used = base + align(DESCRIPTOR_BYTES * size + AVAILABLE_RING + 2 * size + 2, QUEUE_ALIGN);
  q.availableIndex = 0;
  q.lastUsed = 0;
  virtioWrite32(io, VIRTIO_QUEUE_ADDRESS, base >>> PAGE_SHIFT);
  return true;
}

/**
 * Writes descriptor `d` of the table at `table` (the ring's or an indirect one, §2.4.5): the buffer
 * [address, address + length) below 4 GiB, `flags`, and `next` (read by the device with VIRTQ_DESC_F_NEXT).
 */
export function virtioWriteDescriptor(table: u32, d: u32, address: u32, length: u32, flags: u32, next: u32): void {
  const at = table + d * DESCRIPTOR_BYTES;
  store32(at + DESCRIPTOR_ADDRESS, address);
  store32(at + DESCRIPTOR_ADDRESS + 4, 0);
  store32(at + DESCRIPTOR_LENGTH, length);
  store16(at + DESCRIPTOR_FLAGS, u16(flags));
  store16(at + DESCRIPTOR_NEXT, u16(next));
}

/** Descriptor `d` of the ring describes [address, address + length) with `flags` (§2.4.5; no chaining). */
export function virtqueueSetDescriptor(q: Virtqueue, d: u32, address: u32, length: u32, flags: u32): void {
  virtioWriteDescriptor(q.descriptors, d, address, length, flags, 0);
}

/** Puts descriptor `d` on the available ring; the device sees it after virtqueuePublish (§2.4.6). */
export function virtqueueOffer(q: Virtqueue, d: u32): void {
  store16(q.available + AVAILABLE_RING + 2 * (q.availableIndex % q.size), u16(d));
  q.availableIndex = (q.availableIndex + 1) & 0xffff;
}

/**
 * Makes the offered descriptors visible (avail.idx written after the ring entries: x86 keeps stores in
 * order) and notifies the device unless it asked not to be (§2.4.8 VIRTQ_USED_F_NO_NOTIFY).
 */
export function virtqueuePublish(q: Virtqueue): void {
  virtqueueExpose(q);
  virtqueueNotify(q);
}

/** Makes the offered descriptors visible without notifying the device: virtqueueNotify does, later. */
export function virtqueueExpose(q: Virtqueue): void { store16(q.available + AVAILABLE_INDEX, u16(q.availableIndex)); }

/** Notifies the device of what virtqueueExpose made visible, unless it asked not to be (§2.4.8): true if it did. */
export function virtqueueNotify(q: Virtqueue): bool {
  if ((load16(q.used + USED_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) !== 0) return false;
  outw(u16(q.io + VIRTIO_QUEUE_NOTIFY), u16(q.index));
  return true;
}

export function virtqueueSuppressInterrupts(q: Virtqueue): void {
  store16(q.available + AVAILABLE_FLAGS, u16(VIRTQ_AVAIL_F_NO_INTERRUPT));
}

/** Asks the device to interrupt again when it uses a buffer (§2.4.7: the flag is a hint it may ignore). */
export function virtqueueAllowInterrupts(q: Virtqueue): void { store16(q.available + AVAILABLE_FLAGS, 0); }

/** True when the device has returned buffers not yet consumed. */
export function virtqueueHasUsed(q: Virtqueue): bool {
  return (load16(q.used + USED_INDEX) & 0xffff) !== (q.lastUsed & 0xffff);
}

/**
 * How many used entries wait now (§2.4.8): a bound for a handler that must not chase entries the device
 * adds while it runs (those raise the interrupt again once the ISR has been read).
 */
export function virtqueueUsedPending(q: Virtqueue): u32 {
  return (load16(q.used + USED_INDEX) - q.lastUsed) & 0xffff;
}

/** The descriptor of the next used entry (its written length in q.usedLength); call after virtqueueHasUsed
 * or within virtqueueUsedPending. */
export function virtqueueNextUsed(q: Virtqueue): u32 {
  const at = q.used + USED_RING + USED_ELEMENT_BYTES * (q.lastUsed % q.size);
  q.usedLength = load32(at + 4);
  q.lastUsed = (q.lastUsed + 1) & 0xffff;
  return load32(at);
}
