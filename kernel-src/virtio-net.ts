// A NIC driver (nic.ts): QEMU's `-device virtio-net-pci` through its legacy (virtio 0.9.5 /
// transitional 1.0) I/O-port interface (virtio.ts). Receive is interrupt driven on the card's PCI
// interrupt line through the 8259; each received frame's buffer is handed to the switch (nic.ts)
// by reference and replaced on the ring by a fresh one, so the only copy of a received frame is the
// one into the VM (netReceive). Transmit takes a buffer the switch filled (the copy out of the sender
// VM) and returns it to the pool when the device has used it (reclaimed on the next send and on
// every interrupt; transmit interrupts themselves are suppressed). The device is told of a sent frame (the
// queue notify, unless it asked not to be) at once, or later while nic.ts defers doorbells.
// Receive interrupts are moderated (as Linux's NAPI): the first one after the kernel idled turns them
// off (VIRTQ_AVAIL_F_NO_INTERRUPT) and while the kernel is busy the used ring is polled, when a VM blocks
// and at every tick (nic.ts nicPoll: a frame waits at most a tick); before the kernel idles it turns them
// on again and looks once more (nicArm). Under QEMU each interrupt is the main loop handing its lock to
// the virtual CPU, which stood waiting for it a third of the time at bench:request's swap point.
// References (OASIS virtio 1.0, cs04): §4.1.2 "PCI Device Discovery" (vendor 0x1AF4, transitional
// network device 0x1000); §5.1 "Network Device": §5.1.2 "Virtqueues" (0 receiveq1, 1 transmitq1),
// §5.1.3 "Feature bits", §5.1.4 "Device configuration layout", §5.1.5 "Device Initialization",
// §5.1.6 "Device Operation" (struct virtio_net_hdr), §5.1.6.1 "Legacy Interface: Device Operation"
// (the 10-byte header without VIRTIO_NET_F_MRG_RXBUF), §5.1.6.3 "Setting Up Receive Buffers",
// §5.1.6.4 "Processing of Incoming Packets".
// Invariants: receive descriptor d (d < rxPosted) always holds rxBuffers[d] and is either on the
// available ring or being processed; a transmit descriptor is on txFree or holds txBuffers[d] in flight.
import { bool, u8, u32, memoryFill, rdtsc } from "dsl";
import { pciEnable, PciDevice, BAR_IO } from "./pci.ts";
import {
  Virtqueue, virtqueueSetup, virtqueueSetDescriptor, virtqueueOffer, virtqueuePublish, virtqueueSuppressInterrupts,
  virtqueueExpose, virtqueueNotify, virtqueueAllowInterrupts,
  virtqueueHasUsed, virtqueueNextUsed, virtioReset, virtioAddStatus, virtioStatus, virtioRead8, virtioRead16,
  virtioRead32,
  virtioWrite32, virtioAcknowledgeInterrupt, VIRTIO_VENDOR_ID, VIRTIO_DEVICE_FEATURES, VIRTIO_DRIVER_FEATURES,
  VIRTIO_DEVICE_CONFIG,
  VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FAILED, VIRTQ_DESC_F_WRITE,
} from "./virtio.ts";
import {
  netBufferAlloc, netBufferFree, netBufferSetLength, NET_BUFFER_VIRTIO_HEADER, VIRTIO_NET_HEADER_BYTES,
} from "./netbuf.ts";
import {
  NicCounters, nicAttach, nicReceiveHandler, nicReportCounters, nicBenchRecord, nicModerated, nicDoorbellsDeferred,
  NIC_DOORBELL_BATCH,
} from "./nic.ts";
import { FRAME_MIN, FRAME_MAX } from "../abi/hypercalls.ts";
import { deviceInterruptAttachIntx, deviceInterruptWrite } from "./msi.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_NIC } from "./profile.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteByte, consoleNewLine } from "./console.ts";

// PCI device id (virtio 1.0 §4.1.2: transitional devices 0x1000 + (device type - 1), network = 1).
const VIRTIO_NET_TRANSITIONAL_DEVICE_ID: u32 = 0x1000;

// Queues (virtio 1.0 §5.1.2).
const RECEIVE_QUEUE: u32 = 0;
const TRANSMIT_QUEUE: u32 = 1;

// Feature bits (virtio 1.0 §5.1.3): the device has a MAC address in its configuration; the link
// status field is valid. Nothing else is negotiated (no offloads, no mergeable buffers, no control queue).
const VIRTIO_NET_F_MAC: u32 = 1 << 5;
const VIRTIO_NET_F_STATUS: u32 = 1 << 16;

// Device configuration (virtio 1.0 §5.1.4): u8 mac[6], le16 status (bit 0 VIRTIO_NET_S_LINK_UP).
const CONFIG_MAC = 0;
const CONFIG_STATUS = 6;
const VIRTIO_NET_S_LINK_UP: u32 = 1;

/** Receive buffers kept on the ring (at most the queue size); the rest of the pool serves VM queues. */
const RECEIVE_BUFFERS: u32 = 128;
const RECEIVE_BUFFER_BYTES: u32 = VIRTIO_NET_HEADER_BYTES + FRAME_MAX;

const receiveQueue = new Virtqueue();
const transmitQueue = new Virtqueue();
const rxBuffers = new Uint32Array(1024);      // VIRTQUEUE_SIZE_LIMIT
const txBuffers = new Uint32Array(1024);
const txFree = new Uint32Array(1024);
let txFreeCount: u32 = 0;
let rxPosted: u32 = 0;
let spare: u32 = 0;                           // a buffer ready to replace the next one the switch keeps
let io: u32 = 0;
let features: u32 = 0;
const nicMac = new Uint8Array(6);
const counters = new NicCounters();

function linkUp(): bool {
  if ((features & VIRTIO_NET_F_STATUS) === 0) return true;   // no status field: the link is assumed up (§5.1.4)
  return (virtioRead16(io, VIRTIO_DEVICE_CONFIG + CONFIG_STATUS) & VIRTIO_NET_S_LINK_UP) !== 0;
}

function fail(d: PciDevice, why: string): bool {
  if (io !== 0) virtioAddStatus(io, VIRTIO_STATUS_FAILED);
  consoleWriteString("virtio-net: ");
  consoleWriteString(why);
  consoleNewLine();
  return false;
}

/** Receive descriptor d gets its buffer back on the available ring (device-writable, §5.1.6.3). */
function offerReceive(d: u32): void {
  virtqueueSetDescriptor(receiveQueue, d, rxBuffers[d] + NET_BUFFER_VIRTIO_HEADER, RECEIVE_BUFFER_BYTES, VIRTQ_DESC_F_WRITE);
  virtqueueOffer(receiveQueue, d);
}

/** True when the PCI function at `d` is a virtio-net card (its driver is this file). */
export function virtioNetMatches(d: PciDevice): bool {
  return d.vendorId === VIRTIO_VENDOR_ID && d.deviceId === VIRTIO_NET_TRANSITIONAL_DEVICE_ID;
}

/**
 * Brings up the virtio-net card at `d` (nic.ts's probe; virtio 1.0 §3.1.2 legacy initialization: reset,
 * ACKNOWLEDGE, DRIVER, features, queues, DRIVER_OK), with its receive ring full and its interrupt line
 * registered, and attaches it to the switch (nicAttach). False, with the reason printed, when it fails.
 */
export function virtioNetInit(d: PciDevice): bool {
  if (d.barKind[0] !== BAR_IO) return fail(d, "BAR0 is not an I/O BAR (legacy interface disabled?)");
  pciEnable(d);
  io = d.barAddress[0];
  virtioReset(io);
  virtioAddStatus(io, VIRTIO_STATUS_ACKNOWLEDGE);
  virtioAddStatus(io, VIRTIO_STATUS_DRIVER);
  const offered = virtioRead32(io, VIRTIO_DEVICE_FEATURES);
  features = offered & (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
  virtioWrite32(io, VIRTIO_DRIVER_FEATURES, features);
  if (!virtqueueSetup(receiveQueue, io, RECEIVE_QUEUE)) return fail(d, "no receive queue");
  if (!virtqueueSetup(transmitQueue, io, TRANSMIT_QUEUE)) return fail(d, "no transmit queue");
  for (let i: u32 = 0; i < 6; i++) nicMac[i] = (features & VIRTIO_NET_F_MAC) !== 0 ? virtioRead8(io, VIRTIO_DEVICE_CONFIG + CONFIG_MAC + i) : 0;
  // Transmit: every descriptor free; the device need not interrupt when it has sent (reclaimed lazily).
  virtqueueSuppressInterrupts(transmitQueue);
  txFreeCount = 0;
  for (let t: u32 = 0; t < transmitQueue.size; t++) { txFree[txFreeCount] = transmitQueue.size - 1 - t; txFreeCount++; txBuffers[t] = 0; }
  // Receive: RECEIVE_BUFFERS buffers on the ring, one spare.
  const wanted = receiveQueue.size < RECEIVE_BUFFERS ? receiveQueue.size : RECEIVE_BUFFERS;
  rxPosted = 0;
  for (let r: u32 = 0; r < wanted; r++) {
    const buffer = netBufferAlloc();
    if (buffer === 0) break;
    rxBuffers[r] = buffer;
    offerReceive(r);
    rxPosted++;
  }
  spare = netBufferAlloc();
  if (rxPosted === 0) return fail(d, "no receive buffers");
  const handler = profileOn() ? profiledInterrupt : virtioNetInterrupt;
  if (!deviceInterruptAttachIntx(d, handler)) return fail(d, "no interrupt line routed to the 8259 it can use");
  nicAttach(virtioNetTransmit, virtioNetReport, profileOn() ? profiledPoll : virtioNetPoll,
    profileOn() ? profiledArm : virtioNetArm, profileOn() ? profiledFlush : virtioNetFlush);
  virtioAddStatus(io, VIRTIO_STATUS_DRIVER_OK);
  virtqueuePublish(receiveQueue);
  report(d);
  return true;
}

function writeHexByte(x: u32): void {
  const high = (x >>> 4) & 15, low = x & 15;
  consoleWriteByte(u8(high < 10 ? 48 + high : 87 + high));
  consoleWriteByte(u8(low < 10 ? 48 + low : 87 + low));
}

/** `virtio-net 00:03.0 mac 52:54:00:12:34:56 link up irq 11 (INTx) io 0xc000 rx 256 (128 buffers) tx 256`. */
function report(d: PciDevice): void {
  consoleWriteString("virtio-net ");
  writeHexByte(d.bus);
  consoleWriteString(":");
  writeHexByte(d.device);
  consoleWriteString(".");
  consoleWriteDecimal(d.func);
  consoleWriteString(" mac ");
  for (let i: u32 = 0; i < 6; i++) {
    if (i !== 0) consoleWriteString(":");
    writeHexByte(nicMac[i]);
  }
  consoleWriteString(linkUp() ? " link up" : " link down");
  consoleWriteString(" ");
  deviceInterruptWrite(d);
  consoleWriteString(" io 0x");
  writeHexByte(io >>> 8);
  writeHexByte(io);
  consoleWriteString(" rx ");
  consoleWriteDecimal(receiveQueue.size);
  consoleWriteString(" (");
  consoleWriteDecimal(rxPosted);
  consoleWriteString(" buffers) tx ");
  consoleWriteDecimal(transmitQueue.size);
  consoleWriteString(" status ");
  consoleWriteDecimal(virtioStatus(io));
  consoleNewLine();
}

/** Returns the buffers of sent frames to the pool (virtio 1.0 §2.4.8: the used ring of transmitq1). */
function reclaimTransmitted(): void {
  while (virtqueueHasUsed(transmitQueue)) {
    const d = virtqueueNextUsed(transmitQueue);
    if (d >= transmitQueue.size || txBuffers[d] === 0) continue;
    netBufferFree(txBuffers[d]);
    txBuffers[d] = 0;
    txFree[txFreeCount] = d;
    txFreeCount++;
  }
}

/**
 * Sends the frame in `buffer` (netbuf.ts layout, `length` bytes at NET_BUFFER_FRAME). True: the
 * driver owns the buffer now (freed once sent); false: no card or the ring is full (the caller keeps it).
 */
function virtioNetTransmit(buffer: u32, length: u32): bool {
  reclaimTransmitted();
  if (txFreeCount === 0) { counters.txRingFull++; return false; }
  txFreeCount--;
  const d = txFree[txFreeCount];
  txBuffers[d] = buffer;
  // A zero header: no checksum offload, no segmentation (§5.1.6: flags 0, gso_type VIRTIO_NET_HDR_GSO_NONE).
  memoryFill(buffer + NET_BUFFER_VIRTIO_HEADER, 0, VIRTIO_NET_HEADER_BYTES);
  virtqueueSetDescriptor(transmitQueue, d, buffer + NET_BUFFER_VIRTIO_HEADER, VIRTIO_NET_HEADER_BYTES + length, 0);
  virtqueueOffer(transmitQueue, d);
  virtqueueExpose(transmitQueue);
  counters.txFrames++;
  counters.txBytes += length;
  untold++;
  if (untold >= NIC_DOORBELL_BATCH || !nicDoorbellsDeferred()) virtioNetFlush();
  return true;
}

/** Frames on the transmit ring the device has not been told of (nic.ts: doorbells). */
let untold: u32 = 0;

/** nicFlush: the device told of the frames put on the transmit ring since the last time (it may not want to be). */
function virtioNetFlush(): void {
  if (untold === 0) return;
  untold = 0;
  if (virtqueueNotify(transmitQueue)) counters.doorbells++;
}

/**
 * The card's interrupt (IRQ line from PCI, through the 8259, interrupts disabled): reading the ISR
 * acknowledges it (virtio 1.0 §4.1.4.5), then every used receive buffer goes to the switch
 * (§5.1.6.4) and its descriptor is refilled; sent frames are reclaimed.
 */
function virtioNetInterrupt(line: u32): void {
  const start = rdtsc();
  const isr = virtioAcknowledgeInterrupt(io);
  if (isr === 0) return;                      // the line is shared and it was not us
  counters.interrupts++;
  if (nicModerated()) {                       // busy: polled until the kernel idles
    virtqueueSuppressInterrupts(receiveQueue);
    quiet = true;
  }
  receiveUsed(start, true);
}

/** The receive queue's interrupts are off (moderated) until virtioNetArm. */
let quiet = false;

/** While the kernel is busy (nic.ts nicPoll): the frames the card received since, if any. */
function virtioNetPoll(): void {
  if (!virtqueueHasUsed(receiveQueue)) return;
  const before = counters.rxFrames;
  receiveUsed(rdtsc(), false);
  counters.rxPolled += counters.rxFrames - before;
}

/**
 * Before the kernel idles (nic.ts nicArm): interrupts on if off, then a last look; true when frames had come
 * (taken now: a VM may have woken). Reading the ISR is an I/O instruction, which waits for the flag's
 * store to reach memory (Intel SDM vol. 3 §8.2.5): a frame the card uses after this look interrupts.
 */
function virtioNetArm(): bool {
  if (!quiet) return false;                    // on already: a frame interrupts
  quiet = false;
  virtqueueAllowInterrupts(receiveQueue);
  virtioAcknowledgeInterrupt(io);
  if (!virtqueueHasUsed(receiveQueue)) return false;
  virtioNetPoll();
  return true;
}

/**
 * Every used receive buffer goes to the switch (§5.1.6.4) and its descriptor is refilled; sent frames
 * are reclaimed. `start`: the TSC when the interrupt began, for `bench net` (`timed`: not a poll, whose
 * frames wait for the kernel to get round to them).
 */
function receiveUsed(start: u32, timed: bool): void {
  let offered = false;
  let handled: u32 = 0, handlerTime: u32 = 0, lastLength: u32 = 0;
  while (virtqueueHasUsed(receiveQueue)) {
    const d = virtqueueNextUsed(receiveQueue);
    if (d >= rxPosted) { counters.rxBad++; continue; }
    const written = receiveQueue.usedLength;
    offered = true;
    if (written < VIRTIO_NET_HEADER_BYTES + FRAME_MIN || written > RECEIVE_BUFFER_BYTES) {
      counters.rxBad++;
      offerReceive(d);
      continue;
    }
    // To the switch (nic.ts's receive steps).
    const length = written - VIRTIO_NET_HEADER_BYTES;
    counters.rxFrames++;
    counters.rxBytes += length;
    if (spare === 0) spare = netBufferAlloc();
    if (spare === 0) { counters.rxNoBuffer++; offerReceive(d); continue; }
    const buffer = rxBuffers[d];
    netBufferSetLength(buffer, length);
    const handlerStart = rdtsc();
    const handler = nicReceiveHandler();
    const taken = handler(buffer, length);
    handlerTime += rdtsc() - handlerStart;
    handled++;
    lastLength = length;
    if (taken) {
      rxBuffers[d] = spare;
      spare = 0;
    } else {
      counters.rxRefused++;
    }
    offerReceive(d);
  }
  if (offered) virtqueuePublish(receiveQueue);
  reclaimTransmitted();
  if (handled === 1 && timed) nicBenchRecord(start, rdtsc(), handlerTime, lastLength);
}

/** The interrupt in the profile's PROFILE_NIC (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(line: u32): void {
  const previous = profileEnter(PROFILE_NIC);
  virtioNetInterrupt(line);
  profileLeave(previous);
}

function profiledPoll(): void {
  const previous = profileEnter(PROFILE_NIC);
  virtioNetPoll();
  profileLeave(previous);
}

function profiledFlush(): void {
  const previous = profileEnter(PROFILE_NIC);
  virtioNetFlush();
  profileLeave(previous);
}

function profiledArm(): bool {
  const previous = profileEnter(PROFILE_NIC);
  const came = virtioNetArm();
  profileLeave(previous);
  return came;
}

/** `nic: rx ...` (nic.ts's format) for the summaries. */
function virtioNetReport(): void { nicReportCounters(counters, "INTx"); }
