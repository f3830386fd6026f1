// The kernel's disk driver: QEMU's `-device virtio-blk-pci` through its legacy (virtio 0.9.5 /
// transitional 1.0) I/O-port interface (virtio.ts), the swap device of the paper's §3.2 ("swapping
// inactive VMs to disk"; `denali boot --swap SIZE` attaches it, docs/swap.md). The kernel uses the first
// virtio-blk function it finds on PCI as its swap disk and prints it at boot:
//   swap: virtio-blk 00:04.0 64 MiB (131072 sectors), queue 256, 128 requests of up to 126 pages, irq 11
//
// The contract (what later swap code builds on):
// - virtioBlkSubmit(write, sector, frames, first, count, done, tag) starts one transfer between `count`
//   page frames (frames[first..first+count): physical addresses of RAM the frame allocator manages,
//   page aligned, in any order: scatter-gather) and the `count * 8` sectors from `sector` on. It never
//   waits: it returns at once the slot number (>= 0) of the request in flight, or a negative BLK_ERROR_*
//   when nothing was started (no disk, past the end, bad arguments, a read-only disk, every slot in
//   flight). The frames' list is copied: the caller may reuse its array; the frames themselves belong to
//   the device until `done`.
// - Each started request ends exactly once with done(tag, status) from the disk's interrupt (interrupts
//   disabled, the slot already free, so `done` may submit again): BLK_OK, or BLK_ERROR_IO /
//   BLK_ERROR_UNSUPPORTED (the device's status byte) or BLK_ERROR_DEVICE (no status written). Errors
//   are the caller's to handle; the driver never panics for them.
// - Up to `slots` requests are in flight at once (128 with QEMU's 256-entry queue), completed in any
//   order; while they are, the kernel runs VMs (the scheduler idles only with nothing runnable). The
//   scheduler does not end the run while requests are in flight (virtioBlkInFlight).
// - Callable with interrupts on or off (kmain, a hypercall, an interrupt handler): the slot table
//   changes only with interrupts disabled.
//
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
// Invariants: a slot is on the free stack exactly when requests[slot].busy is false; inFlight = slots -
// freeCount; a busy slot's ring descriptor points at its table, whose status byte the device writes
// before it returns the descriptor on the used ring.
import { bool, i32, u8, u32, addressOf, rdtsc, structArray } from "dsl";
import { pciFind, pciDeviceAt, pciEnable, PciDevice, BAR_IO } from "./pci.ts";
import {
  Virtqueue, virtqueueSetup, virtqueueSetDescriptor, virtqueueOffer, virtqueuePublish, virtqueueUsedPending,
  virtqueueNextUsed, virtioWriteDescriptor, virtioReset, virtioAddStatus, virtioStatus, virtioRead32,
  virtioWrite32, virtioAcknowledgeInterrupt, VIRTIO_VENDOR_ID, VIRTIO_DEVICE_FEATURES, VIRTIO_DRIVER_FEATURES,
  VIRTIO_DEVICE_CONFIG, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED, VIRTIO_F_RING_INDIRECT_DESC, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
  VIRTQ_DESCRIPTOR_BYTES,
} from "./virtio.ts";
import { PAGE_SIZE, PAGE_OFFSET_MASK, LOW_MEMORY_END, FRAME_NONE, allocFrame, frameMemoryTop } from "./frames.ts";
import { irqRegisterShared, interruptsDisable, interruptsRestore } from "./trap.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_DISK, PROFILE_SWAP } from "./profile.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteByte, consoleNewLine } from "./console.ts";

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

const SECTOR_BYTES: u32 = 512;                         // the protocol's unit, whatever the disk's block size (§5.2.5)
export const BLK_SECTORS_PER_PAGE: u32 = PAGE_SIZE / SECTOR_BYTES;

// Results: BLK_OK, or why a request failed (done's status) or was not started (virtioBlkSubmit's result).
export const BLK_OK = 0;
export const BLK_ERROR_IO = -1;            // done: the device reported VIRTIO_BLK_S_IOERR
const BLK_ERROR_UNSUPPORTED = -2;   // done: the device reported VIRTIO_BLK_S_UNSUPP
const BLK_ERROR_DEVICE = -3;        // done: the device returned the request without a status
export const BLK_ERROR_NO_DEVICE = -4;     // submit: no disk (no --swap)
export const BLK_ERROR_RANGE = -5;         // submit: the sectors run past the end of the disk
export const BLK_ERROR_INVALID = -6;       // submit: no frames, too many, or a frame not aligned or not in RAM
const BLK_ERROR_READ_ONLY = -7;     // submit: a write to a read-only disk
export const BLK_ERROR_BUSY = -8;          // submit: every slot is in flight; submit again after a completion

/** What a result means, for log lines: `ok`, `I/O error`, `past the end of the disk`, ... */
export function virtioBlkResultName(result: i32): string {
  switch (result) {
    case BLK_OK: return "ok";
    case BLK_ERROR_IO: return "I/O error";
    case BLK_ERROR_UNSUPPORTED: return "unsupported request";
    case BLK_ERROR_DEVICE: return "no status from the device";
    case BLK_ERROR_NO_DEVICE: return "no disk";
    case BLK_ERROR_RANGE: return "past the end of the disk";
    case BLK_ERROR_INVALID: return "bad frames";
    case BLK_ERROR_READ_ONLY: return "read-only disk";
    case BLK_ERROR_BUSY: return "every request slot in flight";
  }
  return "unknown result";
}

/** The most frames one request may carry: its table of FRAME_LIMIT + 2 descriptors fills TABLE_BYTES. */
export const BLK_REQUEST_FRAME_LIMIT: u32 = 126;
const TABLE_BYTES: u32 = (BLK_REQUEST_FRAME_LIMIT + 2) * VIRTQ_DESCRIPTOR_BYTES;   // 2048: two tables a frame
const TABLES_PER_FRAME: u32 = PAGE_SIZE / TABLE_BYTES;
/** Requests in flight at most (fewer if the queue is smaller): 64 frames of tables. */
const SLOT_LIMIT: u32 = 128;

/** Called once per started request, from the disk's interrupt with interrupts disabled. */
type BlkCompletion = (tag: u32, status: i32) => void;
function noCompletion(tag: u32, status: i32): void {}

class BlkRequest {
  table: u32 = 0;                   // its indirect descriptor table (TABLE_BYTES, in a kernel frame)
  done: BlkCompletion = noCompletion;
  tag: u32 = 0;
  pages: u32 = 0;
  write: bool = false;
  busy: bool = false;
}

const queue = new Virtqueue();
const requests = structArray(BlkRequest, 128);        // SLOT_LIMIT
const headers = new Uint32Array(512);                 // SLOT_LIMIT * HEADER_WORDS: slot s's header at word 4s
const statuses = new Uint8Array(128);                 // SLOT_LIMIT: slot s's status byte
const freeSlots = new Uint32Array(128);               // a stack of free slots
let freeCount: u32 = 0;
let slots: u32 = 0;
let frameLimit: u32 = 0;
let present = false;
let readOnly = false;
let io: u32 = 0;
let irqLine: u32 = 0;
let capacity: u32 = 0;                                // sectors

// Statistics (the summary line, the self-test).
let interrupts: u32 = 0;
let reads: u32 = 0;
let writes: u32 = 0;
let pagesRead: u32 = 0;
let pagesWritten: u32 = 0;
let completed: u32 = 0;
let failed: u32 = 0;
let refusedBusy: u32 = 0;
let unknownUsed: u32 = 0;
let peakInFlight: u32 = 0;
/** Instructions (under -icount) spent in virtioBlkSubmit and in the interrupt, without the `done` callbacks. */
let driverInstructions: u32 = 0;

export function virtioBlkPresent(): bool { return present; }
export function virtioBlkInFlight(): u32 { return slots - freeCount; }
/** Requests that may be submitted now (0 without a disk). */
export function virtioBlkSlotsFree(): u32 { return freeCount; }
export function virtioBlkPeakInFlight(): u32 { return peakInFlight; }
export function virtioBlkCapacity(): u32 { return capacity; }
export function virtioBlkDriverInstructions(): u32 { return driverInstructions; }

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
  if (d.barKind[0] !== BAR_IO) return fail("BAR0 is not an I/O BAR (legacy interface disabled?)");
  pciEnable(d);
  io = d.barAddress[0];
  irqLine = d.interruptLine;
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
  const wanted = queue.size < SLOT_LIMIT ? queue.size : SLOT_LIMIT;
  slots = 0;
  freeCount = 0;
  let tables: u32 = FRAME_NONE;
  for (let s: u32 = 0; s < wanted; s++) {
    if (s % TABLES_PER_FRAME === 0) {
      tables = allocFrame();
      if (tables === FRAME_NONE) break;
    }
    const r = requests[s];
    r.table = tables + (s % TABLES_PER_FRAME) * TABLE_BYTES;
    r.busy = false;
    slots++;
  }
  if (slots === 0) return fail("no memory for request tables");
  for (let s: u32 = 0; s < slots; s++) { freeSlots[freeCount] = slots - 1 - s; freeCount++; }
  const handler = profileOn() ? profiledInterrupt : virtioBlkInterrupt;
  if (!irqRegisterShared(irqLine, handler)) return fail("its interrupt line has too many devices");
  present = true;
  virtioAddStatus(io, VIRTIO_STATUS_DRIVER_OK);
  report(d);
  return true;
}

function writeHexDigit(x: u32): void { consoleWriteByte(u8(x < 10 ? 48 + x : 87 + x)); }
function writeHexByte(x: u32): void { writeHexDigit((x >>> 4) & 15); writeHexDigit(x & 15); }

/** `swap: virtio-blk 00:04.0 64 MiB (131072 sectors), queue 256, 128 requests of up to 126 pages, irq 11`. */
function report(d: PciDevice): void {
  consoleWriteString("swap: virtio-blk ");
  writeHexByte(d.bus);
  consoleWriteString(":");
  writeHexByte(d.device);
  consoleWriteString(".");
  consoleWriteDecimal(d.func);
  consoleWriteString(" ");
  consoleWriteDecimal(capacity >>> 11);                // 2048 sectors a MiB
  consoleWriteString(" MiB (");
  consoleWriteDecimal(capacity);
  consoleWriteString(" sectors), queue ");
  consoleWriteDecimal(queue.size);
  consoleWriteString(", ");
  consoleWriteDecimal(slots);
  consoleWriteString(" requests of up to ");
  consoleWriteDecimal(frameLimit);
  consoleWriteString(" pages, irq ");
  consoleWriteDecimal(irqLine);
  if (readOnly) consoleWriteString(", read-only");
  consoleWriteString(", status ");
  consoleWriteDecimal(virtioStatus(io));
  consoleNewLine();
}

/**
 * Starts a read (write false: disk -> frames) or a write of frames[first..first+count) at `sector`;
 * `done(tag, status)` follows from the interrupt. Returns the request's slot (>= 0) or, when nothing
 * was started, BLK_ERROR_NO_DEVICE, BLK_ERROR_INVALID, BLK_ERROR_RANGE, BLK_ERROR_READ_ONLY or
 * BLK_ERROR_BUSY (the file's contract).
 */
export function virtioBlkSubmit(write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32,
  done: BlkCompletion, tag: u32): i32 {
  const start = rdtsc();
  if (!present) return BLK_ERROR_NO_DEVICE;
  if (count === 0 || count > frameLimit || first > frames.length) return BLK_ERROR_INVALID;
  if (count > frames.length - first) return BLK_ERROR_INVALID;
  const memoryTop = frameMemoryTop();
  for (let i: u32 = 0; i < count; i++) {
    const frame = frames[first + i];
    if (frame < LOW_MEMORY_END || frame >= memoryTop || (frame & PAGE_OFFSET_MASK) !== 0) return BLK_ERROR_INVALID;
  }
  const sectors = count * BLK_SECTORS_PER_PAGE;
  if (sectors > capacity || sector > capacity - sectors) return BLK_ERROR_RANGE;    // §5.2.6.1: never past capacity
  if (write && readOnly) return BLK_ERROR_READ_ONLY;
  const flags = interruptsDisable();
  if (freeCount === 0) {
    refusedBusy++;
    interruptsRestore(flags);
    return BLK_ERROR_BUSY;
  }
  freeCount--;
  const slot = freeSlots[freeCount];
  const r = requests[slot];
  r.done = done;
  r.tag = tag;
  r.pages = count;
  r.write = write;
  r.busy = true;
  const header = slot * HEADER_WORDS;
  headers[header] = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  headers[header + 1] = 0;                              // reserved (legacy: ioprio)
  headers[header + 2] = sector;
  headers[header + 3] = 0;
  statuses[slot] = STATUS_UNWRITTEN;
  // The indirect table: header (device-readable), the frames, the status (device-writable), chained by next.
  virtioWriteDescriptor(r.table, 0, addressOf(headers) + header * 4, HEADER_BYTES, VIRTQ_DESC_F_NEXT, 1);
  const dataFlags = VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE);
  for (let i: u32 = 0; i < count; i++) {
    virtioWriteDescriptor(r.table, 1 + i, frames[first + i], PAGE_SIZE, dataFlags, 2 + i);
  }
  virtioWriteDescriptor(r.table, count + 1, addressOf(statuses) + slot, 1, VIRTQ_DESC_F_WRITE, 0);
  virtqueueSetDescriptor(queue, slot, r.table, (count + 2) * VIRTQ_DESCRIPTOR_BYTES, VIRTQ_DESC_F_INDIRECT);
  virtqueueOffer(queue, slot);
  virtqueuePublish(queue);
  if (write) { writes++; pagesWritten += count; } else { reads++; pagesRead += count; }
  const inFlight = slots - freeCount;
  if (inFlight > peakInFlight) peakInFlight = inFlight;
  driverInstructions += rdtsc() - start;
  interruptsRestore(flags);
  return i32(slot);
}

/** The request's result from its status byte (§5.2.6). */
function resultOf(status: u32): i32 {
  if (status === VIRTIO_BLK_S_OK) return BLK_OK;
  if (status === VIRTIO_BLK_S_IOERR) return BLK_ERROR_IO;
  if (status === VIRTIO_BLK_S_UNSUPP) return BLK_ERROR_UNSUPPORTED;
  return BLK_ERROR_DEVICE;
}

/**
 * The disk's interrupt (its PCI line, possibly shared, through the 8259; interrupts disabled): reading
 * the ISR acknowledges it (virtio 1.0 §4.1.4.5), then each request on the used ring at that moment is
 * ended: its slot is freed first, then its `done` runs (which may submit again). Requests the device
 * completes meanwhile set the ISR again and are left to the next interrupt: a `done` that submits more
 * cannot keep the kernel here for ever while the VMs wait. The used length is ignored (§5.2.6.3).
 */
/** The interrupt in the profile's PROFILE_DISK (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(line: u32): void {
  const previous = profileEnter(PROFILE_DISK);
  virtioBlkInterrupt(line);
  profileLeave(previous);
}

function virtioBlkInterrupt(line: u32): void {
  const start = rdtsc();
  const isr = virtioAcknowledgeInterrupt(io);
  if (isr === 0) return;                      // the line is shared and it was not us
  interrupts++;
  let callbacks: u32 = 0;
  const pending = virtqueueUsedPending(queue);
  for (let k: u32 = 0; k < pending; k++) {
    const slot = virtqueueNextUsed(queue);
    if (slot >= slots || !requests[slot].busy) { unknownUsed++; continue; }
    const r = requests[slot];
    const result = resultOf(statuses[slot]);
    r.busy = false;
    freeSlots[freeCount] = slot;
    freeCount++;
    completed++;
    if (result !== BLK_OK) failed++;
    const callbackStart = rdtsc();
    // The completion is its client's work: in the profile, swapping's (swap.ts: the disk's only client).
    const category = profileOn() ? profileEnter(PROFILE_SWAP) : 0;
    r.done(r.tag, result);
    if (profileOn()) profileLeave(category);
    callbacks += rdtsc() - callbackStart;
  }
  driverInstructions += rdtsc() - start - callbacks;
}

/** `blk: reads R (P pages), writes W (P pages), completed C, failed F, ...` for the summaries. */
export function virtioBlkReport(): void {
  if (!present) return;
  consoleWriteString("blk: reads ");
  consoleWriteDecimal(reads);
  consoleWriteString(" (");
  consoleWriteDecimal(pagesRead);
  consoleWriteString(" pages), writes ");
  consoleWriteDecimal(writes);
  consoleWriteString(" (");
  consoleWriteDecimal(pagesWritten);
  consoleWriteString(" pages), completed ");
  consoleWriteDecimal(completed);
  consoleWriteString(", failed ");
  consoleWriteDecimal(failed);
  consoleWriteString(", in flight ");
  consoleWriteDecimal(slots - freeCount);
  consoleWriteString(" (peak ");
  consoleWriteDecimal(peakInFlight);
  consoleWriteString(", ");
  consoleWriteDecimal(refusedBusy);
  consoleWriteString(" refused busy), interrupts ");
  consoleWriteDecimal(interrupts);
  consoleWriteString(", unknown used ");
  consoleWriteDecimal(unknownUsed);
  consoleNewLine();
}
