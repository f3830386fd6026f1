// The kernel's disk driver: QEMU's `-device virtio-blk-pci` through its legacy (virtio 0.9.5 /
// transitional 1.0) I/O-port interface (virtio.ts), the swap device of the paper's §3.2 ("swapping
// inactive VMs to disk"; `denali boot --swap SIZE` attaches it, docs/swap.md). The kernel uses the first
// virtio-blk function it finds on PCI as its swap disk and prints it at boot:
//   swap: virtio-blk 00:04.0 64 MiB (131072 sectors), queue 256, 128 requests of up to 126 pages, irq 11 (INTx)
//
// The request interface, its checks, slots and accounting are disk.ts's (the block-device interface every
// disk driver serves); this file hands the device each request diskSubmit has checked (virtioBlkStart) and
// reports each completion from the interrupt (diskComplete). Up to 128 requests in flight (the queue's
// size if smaller), of up to 126 pages (fewer if seg_max says so), completed in any order. Interrupts are
// moderated (disk.ts, as virtio-net.ts's): off while the kernel is busy, the completions polled then.
// How a request is laid out (virtio 1.0 §5.2.6 "Device Operation", §5.2.6.4 "Legacy Interface: Framing
// Requirements"): one descriptor in the ring with VIRTQ_DESC_F_INDIRECT (§2.4.5.3) pointing at the
// slot's own table of count + 2 descriptors: the 16-byte header {u32 type, u32 reserved, u64 sector}
// (device-readable; the spec's "single 8-byte descriptor" means this header, whose size is 16), one
// 4096-byte descriptor per frame (device-writable for a read), and the 1-byte status (device-writable).
// One ring descriptor per request is why many requests of many pages fit in flight at once; the slot
// number is that descriptor's index, which the used ring returns (§2.4.8).
// Features (§5.2.3, §6): INDIRECT_DESC (required), SEG_MAX and SIZE_MAX (limits read and checked), RO
// (writes refused), FLUSH (the legacy WCE: accepted so that QEMU keeps its writeback cache; swap
// contents need not survive a crash, so no flush is ever sent, §5.2.6.2). The capacity (§5.2.4, u64
// sectors) is read once at initialization; sectors are u32 here (2 TiB, more than `--swap` allows).
// References (OASIS virtio 1.0, cs04): §4.1.2 "PCI Device Discovery" (transitional block device
// 0x1001); §5.2 "Block Device": §5.2.2 "Virtqueues" (0 requestq), §5.2.3 "Feature bits", §5.2.4
// "Device configuration layout", §5.2.5 "Device Initialization", §5.2.6 "Device Operation", §5.2.6.3
// "Legacy Interface: Device Operation" (ignore the used length), §5.2.6.4 "Legacy Interface: Framing
// Requirements"; §2.4.5.3 "Indirect Descriptors" (a chain no longer than the queue size).
// Invariant: the ring descriptor of a slot in flight (disk.ts) points at its table, whose status byte the
// device writes before it returns the descriptor on the used ring.
import { bool, i32, u32, addressOf, rdtsc } from "dsl";
import { pciFind, pciDeviceAt, pciEnable, PciDevice, BAR_IO } from "./pci.ts";
import {
  Virtqueue, virtqueueSetup, virtqueueSetDescriptor, virtqueueOffer, virtqueuePublish, virtqueueUsedPending,
  virtqueueHasUsed, virtqueueSuppressInterrupts, virtqueueAllowInterrupts,
  virtqueueNextUsed, virtioWriteDescriptor, virtioReset, virtioAddStatus, virtioStatus, virtioRead32,
  virtioWrite32, virtioAcknowledgeInterrupt, VIRTIO_VENDOR_ID, VIRTIO_DEVICE_FEATURES, VIRTIO_DRIVER_FEATURES,
  VIRTIO_DEVICE_CONFIG, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED, VIRTIO_F_RING_INDIRECT_DESC, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
  VIRTQ_DESCRIPTOR_BYTES,
} from "./virtio.ts";
import { PAGE_SIZE, FRAME_NONE, allocFrame } from "./frames.ts";
import { deviceInterruptAttachIntx, deviceInterruptWrite } from "./msi.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_DISK } from "./profile.ts";
import {
  diskAttach, diskAlreadyAttached, diskComplete, diskInterruptDone, diskPollDone, diskSetModeration, diskModerated,
  diskWriteDevice,
  diskWriteSize, NO_SIGNATURE,
  diskSetInterruptMode,
  BLK_OK, BLK_ERROR_IO, BLK_ERROR_UNSUPPORTED, BLK_ERROR_DEVICE, BLK_REQUEST_FRAME_LIMIT, BLK_SLOT_LIMIT,
} from "./disk.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

// PCI device id (virtio 1.0 §4.1.2: transitional devices 0x1000 + (device type - 1), block = 2).
const VIRTIO_BLK_TRANSITIONAL_DEVICE_ID: u32 = 0x1001;
const REQUEST_QUEUE: u32 = 0;                          // §5.2.2

// Feature bits (§5.2.3, §5.2.3.1).
const VIRTIO_BLK_F_SIZE_MAX: u32 = 1 << 1;             // size_max: the largest segment, in bytes
const VIRTIO_BLK_F_SEG_MAX: u32 = 1 << 2;              // seg_max: the most data segments in a request
const VIRTIO_BLK_F_RO: u32 = 1 << 5;                   // the disk is read-only
const VIRTIO_BLK_F_FLUSH: u32 = 1 << 9;                // legacy name VIRTIO_BLK_F_WCE: a writeback cache

// Device configuration (§5.2.4; legacy: native endian, §5.2.4.1): le64 capacity, le32 size_max, le32 seg_max.
const CONFIG_CAPACITY_LOW = 0;
const CONFIG_CAPACITY_HIGH = 4;
const CONFIG_SIZE_MAX = 8;
const CONFIG_SEG_MAX = 12;

// struct virtio_blk_req (§5.2.6): the header's type, and the status byte the device writes.
const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_S_OK: u32 = 0;
const VIRTIO_BLK_S_IOERR: u32 = 1;
const VIRTIO_BLK_S_UNSUPP: u32 = 2;
/** Written to the status byte before a request starts: a device that returns it unchanged never wrote it. */
const STATUS_UNWRITTEN: u32 = 0xff;
const HEADER_BYTES: u32 = 16;                          // u32 type, u32 reserved, u64 sector
const HEADER_WORDS: u32 = 4;

/** A request's indirect table: BLK_REQUEST_FRAME_LIMIT + 2 descriptors. */
const TABLE_BYTES: u32 = (BLK_REQUEST_FRAME_LIMIT + 2) * VIRTQ_DESCRIPTOR_BYTES;   // 2048: two tables a frame
const TABLES_PER_FRAME: u32 = PAGE_SIZE / TABLE_BYTES;

const queue = new Virtqueue();
const tables = new Uint32Array(128);                  // BLK_SLOT_LIMIT: slot s's indirect descriptor table
const headers = new Uint32Array(512);                 // BLK_SLOT_LIMIT * HEADER_WORDS: slot s's header at word 4s
const statuses = new Uint8Array(128);                 // BLK_SLOT_LIMIT: slot s's status byte
let slots: u32 = 0;
let frameLimit: u32 = 0;
let readOnly = false;
let io: u32 = 0;
let capacity: u32 = 0;                                // sectors

function fail(why: string): bool {
  if (io !== 0) virtioAddStatus(io, VIRTIO_STATUS_FAILED);
  consoleWriteString("swap: virtio-blk: ");
  consoleWriteString(why);
  consoleNewLine();
  return false;
}

/**
 * Finds the first virtio-blk disk and brings it up (virtio 1.0 §3.1.2 legacy initialization: reset,
 * ACKNOWLEDGE, DRIVER, features, the queue, DRIVER_OK; §5.2.5), with its slots' tables allocated and
 * its interrupt line registered; prints the `swap:` line. False (and silent) when there is no disk;
 * false with a `swap: virtio-blk: WHY` line when the disk cannot be used.
 */
export function virtioBlkInit(): bool {
  const found = pciFind(VIRTIO_VENDOR_ID, VIRTIO_BLK_TRANSITIONAL_DEVICE_ID);
  if (found < 0) return false;
  const d = pciDeviceAt(u32(found));
  if (diskAlreadyAttached("virtio-blk", d)) return false;
  if (d.barKind[0] !== BAR_IO) return fail("BAR0 is not an I/O BAR (legacy interface disabled?)");
  pciEnable(d);
  io = d.barAddress[0];
  virtioReset(io);
  virtioAddStatus(io, VIRTIO_STATUS_ACKNOWLEDGE);
  virtioAddStatus(io, VIRTIO_STATUS_DRIVER);
  const offered = virtioRead32(io, VIRTIO_DEVICE_FEATURES);
  if ((offered & VIRTIO_F_RING_INDIRECT_DESC) === 0) return fail("no indirect descriptors (RING_INDIRECT_DESC)");
  const features = offered & (VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX
    | VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH);
  virtioWrite32(io, VIRTIO_DRIVER_FEATURES, features);
  readOnly = (features & VIRTIO_BLK_F_RO) !== 0;
  // Above 2^32 sectors (2 TiB) only the first 2^32 - 8 are used: sectors are u32 here.
  const high = virtioRead32(io, VIRTIO_DEVICE_CONFIG + CONFIG_CAPACITY_HIGH);
  capacity = high !== 0 ? 0xfffffff8 : virtioRead32(io, VIRTIO_DEVICE_CONFIG + CONFIG_CAPACITY_LOW);
  const sizeMax = virtioRead32(io, VIRTIO_DEVICE_CONFIG + CONFIG_SIZE_MAX);
  if ((features & VIRTIO_BLK_F_SIZE_MAX) !== 0 && sizeMax < PAGE_SIZE) return fail("segments under a page (size_max)");
  if (!virtqueueSetup(queue, io, REQUEST_QUEUE)) return fail("no request queue");
  // A request's chain is count + 2 descriptors, no longer than the queue (§2.4.5.3.1), count <= seg_max.
  frameLimit = queue.size - 2 < BLK_REQUEST_FRAME_LIMIT ? queue.size - 2 : BLK_REQUEST_FRAME_LIMIT;
  if ((features & VIRTIO_BLK_F_SEG_MAX) !== 0) {
    const segMax = virtioRead32(io, VIRTIO_DEVICE_CONFIG + CONFIG_SEG_MAX);
    if (segMax < frameLimit) frameLimit = segMax;
  }
  if (frameLimit === 0) return fail("requests of no page (seg_max 0)");
  const wanted = queue.size < BLK_SLOT_LIMIT ? queue.size : BLK_SLOT_LIMIT;
  slots = 0;
  let frame: u32 = FRAME_NONE;
  for (let s: u32 = 0; s < wanted; s++) {
    if (s % TABLES_PER_FRAME === 0) {
      frame = allocFrame();
      if (frame === FRAME_NONE) break;
    }
    tables[s] = frame + (s % TABLES_PER_FRAME) * TABLE_BYTES;
    slots++;
  }
  if (slots === 0) return fail("no memory for request tables");
  const handler = profileOn() ? profiledInterrupt : virtioBlkInterrupt;
  if (!deviceInterruptAttachIntx(d, handler)) return fail("no interrupt line routed to the 8259 it can use");
  virtioAddStatus(io, VIRTIO_STATUS_DRIVER_OK);
  if (!diskAttach(capacity, 0, slots, frameLimit, readOnly, virtioBlkStart, virtioBlkInterrupt)) {
    return fail(NO_SIGNATURE);
  }
  diskSetInterruptMode(d.interruptMode);
  diskSetModeration(profileOn() ? profiledPoll : virtioBlkPoll, profileOn() ? profiledArm : virtioBlkArm);
  report(d);
  return true;
}

/**
 * `swap: virtio-blk 00:04.0 64 MiB (131072 sectors), queue 256, 128 requests of up to 126 pages, irq 11 (INTx)`
 * (MSI-X is not used: it moves the legacy device configuration, msi.ts).
 */
function report(d: PciDevice): void {
  consoleWriteString("swap: ");
  diskWriteDevice("virtio-blk", d);
  diskWriteSize(capacity);
  consoleWriteString(", queue ");
  consoleWriteDecimal(queue.size);
  consoleWriteString(", ");
  consoleWriteDecimal(slots);
  consoleWriteString(" requests of up to ");
  consoleWriteDecimal(frameLimit);
  consoleWriteString(" pages, ");
  deviceInterruptWrite(d);
  if (readOnly) consoleWriteString(", read-only");
  consoleWriteString(", status ");
  consoleWriteDecimal(virtioStatus(io));
  consoleNewLine();
}

/**
 * disk.ts's DiskStart: the request in `slot` (checked; interrupts disabled) goes on the ring as one
 * descriptor pointing at the slot's indirect table: header (device-readable), the frames, the status
 * (device-writable), chained by next.
 */
function virtioBlkStart(slot: u32, write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32): i32 {
  const table = tables[slot];
  const header = slot * HEADER_WORDS;
  headers[header] = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  headers[header + 1] = 0;                              // reserved (legacy: ioprio)
  headers[header + 2] = sector;
  headers[header + 3] = 0;
  statuses[slot] = STATUS_UNWRITTEN;
  virtioWriteDescriptor(table, 0, addressOf(headers) + header * 4, HEADER_BYTES, VIRTQ_DESC_F_NEXT, 1);
  const dataFlags = VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE);
  for (let i: u32 = 0; i < count; i++) {
    virtioWriteDescriptor(table, 1 + i, frames[first + i], PAGE_SIZE, dataFlags, 2 + i);
  }
  virtioWriteDescriptor(table, count + 1, addressOf(statuses) + slot, 1, VIRTQ_DESC_F_WRITE, 0);
  virtqueueSetDescriptor(queue, slot, table, (count + 2) * VIRTQ_DESCRIPTOR_BYTES, VIRTQ_DESC_F_INDIRECT);
  virtqueueOffer(queue, slot);
  virtqueuePublish(queue);
  return BLK_OK;
}

/** The request's result from its status byte (§5.2.6). */
function resultOf(status: u32): i32 {
  if (status === VIRTIO_BLK_S_OK) return BLK_OK;
  if (status === VIRTIO_BLK_S_IOERR) return BLK_ERROR_IO;
  if (status === VIRTIO_BLK_S_UNSUPP) return BLK_ERROR_UNSUPPORTED;
  return BLK_ERROR_DEVICE;
}

/** The interrupt in the profile's PROFILE_DISK (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(line: u32): void {
  const previous = profileEnter(PROFILE_DISK);
  virtioBlkInterrupt(line);
  profileLeave(previous);
}

/**
 * The disk's interrupt (its PCI line, possibly shared, through the 8259; interrupts disabled): reading
 * the ISR acknowledges it (virtio 1.0 §4.1.4.5), then each request on the used ring at that moment is
 * ended (diskComplete: its slot is freed first, then its `done` runs, which may submit again). Requests
 * the device completes meanwhile set the ISR again and are left to the next interrupt: a `done` that
 * submits more cannot keep the kernel here for ever while the VMs wait. The used length is ignored
 * (§5.2.6.3).
 */
function virtioBlkInterrupt(line: u32): void {
  const start = rdtsc();
  const isr = virtioAcknowledgeInterrupt(io);
  if (isr === 0) return;                      // the line is shared and it was not us
  if (diskModerated()) {                       // busy: polled until the kernel idles (disk.ts)
    virtqueueSuppressInterrupts(queue);
    quiet = true;
  }
  endUsed();
  diskInterruptDone(start);
}

/** The queue's interrupts are off (moderated) until virtioBlkArm. */
let quiet = false;

/** Ends each request on the used ring at this moment (the interrupt's comment). */
function endUsed(): u32 {
  const pending = virtqueueUsedPending(queue);
  for (let k: u32 = 0; k < pending; k++) {
    const slot = virtqueueNextUsed(queue);
    diskComplete(slot, slot < slots ? resultOf(statuses[slot]) : BLK_ERROR_DEVICE);   // an unknown slot: counted
  }
  return pending;
}

/** While the kernel is busy (disk.ts diskPollCompleted): the requests completed since, if any. */
function virtioBlkPoll(): void {
  if (!virtqueueHasUsed(queue)) return;
  const start = rdtsc();
  diskPollDone(start, endUsed());
}

/**
 * Before the kernel idles (disk.ts diskArm): interrupts on if off, then a last look; true when requests had
 * completed (ended now). Reading the ISR, an I/O instruction, waits for the flag's store (virtio-net.ts).
 */
function virtioBlkArm(): bool {
  if (!quiet) return false;                    // on already: a completion interrupts
  quiet = false;
  virtqueueAllowInterrupts(queue);
  virtioAcknowledgeInterrupt(io);
  if (!virtqueueHasUsed(queue)) return false;
  virtioBlkPoll();
  return true;
}

function profiledPoll(): void {
  const previous = profileEnter(PROFILE_DISK);
  virtioBlkPoll();
  profileLeave(previous);
}

function profiledArm(): bool {
  const previous = profileEnter(PROFILE_DISK);
  const came = virtioBlkArm();
  profileLeave(previous);
  return came;
}
