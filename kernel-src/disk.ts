// The block-device interface: the kernel's swap disk (the paper's §3.2 backing store; docs/swap.md), behind
// one request interface whichever driver found it: virtio-blk.ts (QEMU's virtio-blk), nvme.ts (an NVMe
// controller) or ahci.ts (a SATA disk on an AHCI controller). The first disk a driver brings up at boot
// whose first sector begins with the swap signature (abi/swap-disk.ts: the kernel never writes a disk
// nobody marked for it) is the swap disk (kmain tries virtio-blk, NVMe, AHCI in turn); the others are
// listed, not used. This file
// owns what every driver shares: the results, the checks of a request, the request slots, the completions
// and their accounting, and the `blk:` summary line. A driver owns its device: its queues, its interrupt.
//
// The client's contract (swap.ts, blk-selftest.ts):
// - diskSubmit(write, sector, frames, first, count, done, tag) starts one transfer between `count` page
//   frames (frames[first..first+count): physical addresses of RAM the frame allocator manages, page
//   aligned, in any order: scatter-gather) and the `count * 8` sectors (512 bytes each) from `sector` on.
//   It never waits: it returns at once the slot (>= 0) of the request in flight, or a negative BLK_ERROR_*
//   when nothing was started (no disk, past the end, bad arguments, a read-only disk, every slot in flight,
//   a sector not on one of the disk's blocks, the disk gone). The frames' list is copied: the caller may
//   reuse its array; the frames themselves belong to the device until `done`.
// - Each started request ends exactly once with done(tag, status), from an interrupt (interrupts disabled,
//   the slot already free, so `done` may submit again): BLK_OK, or why it failed (BLK_ERROR_IO, ...). No
//   error panics the kernel; what to do about one is the caller's.
// - Up to diskSlots() requests (BLK_SLOT_LIMIT at most) of up to diskFrameLimit() frames each
//   (BLK_REQUEST_FRAME_LIMIT at most) are in flight at once, completed in any order; while they are, the
//   kernel runs VMs (the scheduler does not end a run while diskInFlight() is not 0).
// - Callable with interrupts on or off: the slot table changes only with interrupts disabled.
// The driver's contract:
// - Once its device works: diskAttach(capacity, blockShift, slots, frameLimit, readOnly, start, interrupt),
//   which reads the disk's first sector (at boot, calling the driver's interrupt handler until the read is
//   done) and takes the disk only if it begins with the swap signature; and diskSetDriverReport(report)
//   for a line of its own after the `blk:` summary.
// - start(slot, write, sector, frames, first, count) hands the device a request diskSubmit has checked
//   (interrupts disabled); it returns BLK_OK, or BLK_ERROR_NO_DEVICE when the device is gone (the slot is
//   freed again and the caller hears it).
// - From its interrupt (or a timer's, for a device-specific recovery): diskComplete(slot, status) for each
//   request the device finished, then diskInterruptDone(start) with the rdtsc() read at the interrupt's
//   entry: the driver's own instructions are counted without the completions' `done` callbacks.
// Invariants: a slot is on the free stack exactly when requests[slot].busy is false; inFlight = slots -
// freeCount.
import { bool, i32, u8, u32, rdtsc, pause, load8, memoryFill, structArray } from "dsl";
import { SWAP_SIGNATURE } from "../abi/swap-disk.ts";
import {
  PAGE_SIZE, PAGE_OFFSET_MASK, LOW_MEMORY_END, FRAME_NONE, allocFrame, freeFrame, frameMemoryTop,
} from "./frames.ts";
import { PciDevice, pciWriteLocation } from "./pci.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";
import { interruptModeName } from "./msi.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_SWAP } from "./profile.ts";
import { Nanoseconds, clockRead, nanosecondsAddMilliseconds, nanosecondsBefore } from "./clock.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteByte, consoleNewLine } from "./console.ts";

/** The interface's sector: 512 bytes, whatever the disk's own block (blockShift). */
const SECTOR_SHIFT: u32 = 9;
export const BLK_SECTORS_PER_PAGE: u32 = PAGE_SIZE >>> SECTOR_SHIFT;
/** The most frames one request may carry on any disk (a driver may allow fewer: diskFrameLimit). */
export const BLK_REQUEST_FRAME_LIMIT: u32 = 126;
/** The most requests in flight on any disk (a driver may allow fewer: diskSlots). */
export const BLK_SLOT_LIMIT: u32 = 128;

// Results: BLK_OK, or why a request failed (done's status) or was not started (diskSubmit's result).
export const BLK_OK = 0;
export const BLK_ERROR_IO = -1;            // done: the device reported a read or write error
export const BLK_ERROR_UNSUPPORTED = -2;   // done: the device refused the request as unsupported
export const BLK_ERROR_DEVICE = -3;        // done: the device ended the request without a valid status
export const BLK_ERROR_NO_DEVICE = -4;     // submit: no disk, or done/submit: the disk is gone
export const BLK_ERROR_RANGE = -5;         // submit: the sectors run past the end of the disk
export const BLK_ERROR_INVALID = -6;       // submit: no frames, too many, or a frame not aligned or not in RAM
const BLK_ERROR_READ_ONLY = -7;            // submit: a write to a read-only disk
export const BLK_ERROR_BUSY = -8;          // submit: every slot is in flight; submit again after a completion
export const BLK_ERROR_UNALIGNED = -9;     // submit: the sector is not the first of one of the disk's blocks

/** A driver's reason when diskAttach refuses its disk. */
export const NO_SIGNATURE = "no swap signature at the start of its first sector (docs/hardware.md)";

/** What a result means, for log lines: `ok`, `I/O error`, `past the end of the disk`, ... */
export function diskResultName(result: i32): string {
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
    case BLK_ERROR_UNALIGNED: return "not on a block of the disk";
  }
  return "unknown result";
}

/** Called once per started request, from an interrupt with interrupts disabled. */
type BlkCompletion = (tag: u32, status: i32) => void;
function noCompletion(tag: u32, status: i32): void {}
/** A driver's: hands the device the checked request in `slot`; BLK_OK or BLK_ERROR_NO_DEVICE. */
type DiskStart = (slot: u32, write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32) => i32;
function noStart(slot: u32, write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32): i32 {
  return BLK_ERROR_NO_DEVICE;
}
/** A driver's line (or nothing) after the `blk:` summary line: what is particular to its device. */
type DiskReport = () => void;
function noReport(): void {}

class DiskRequest {
  done: BlkCompletion = noCompletion;
  tag: u32 = 0;
  pages: u32 = 0;
  write: bool = false;
  busy: bool = false;
}

const requests = structArray(DiskRequest, 128);       // BLK_SLOT_LIMIT
const freeSlots = new Uint32Array(128);               // BLK_SLOT_LIMIT: a stack of free slots
let freeCount: u32 = 0;
let slots: u32 = 0;
let frameLimit: u32 = 0;
let present = false;
let readOnly = false;
let capacity: u32 = 0;                                // 512-byte sectors
let blockMask: u32 = 0;                               // sectors a disk block holds, less one
let start: DiskStart = noStart;
let driverReport: DiskReport = noReport;
let interruptMode: u32 = 0;                  // pci.ts INTERRUPT_MODE_*: how its interrupts arrive

// Statistics (the summary line, the self-test).
let interrupts: u32 = 0;
let polled: u32 = 0;                         // completions ended by diskPollCompleted, diskArm (moderated)
let reads: u32 = 0;
let writes: u32 = 0;
let pagesRead: u32 = 0;
let pagesWritten: u32 = 0;
let completed: u32 = 0;
let failed: u32 = 0;
let refusedBusy: u32 = 0;
let unknownCompletions: u32 = 0;
let peakInFlight: u32 = 0;
/** Instructions (under -icount) spent in diskSubmit and in the drivers' interrupts, without `done` callbacks. */
let driverInstructions: u32 = 0;
let callbackInstructions: u32 = 0;                    // of the interrupt being handled

export function diskPresent(): bool { return present; }
export function diskInFlight(): u32 { return slots - freeCount; }
/** Requests that may be submitted now (0 without a disk). */
export function diskSlotsFree(): u32 { return freeCount; }
export function diskFrameLimit(): u32 { return frameLimit; }
export function diskPeakInFlight(): u32 { return peakInFlight; }
export function diskCapacity(): u32 { return capacity; }
/** Sectors (512 bytes) in one of the disk's blocks: a request starts on a multiple of this. */
export function diskBlockSectors(): u32 { return blockMask + 1; }
export function diskDriverInstructions(): u32 { return driverInstructions; }

/** A driver's interrupt handler: called in a loop while diskAttach reads the signature, at boot. */
type DiskInterrupt = (line: u32) => void;

/**
 * The driver's device becomes the swap disk: `capacitySectors` of 512 bytes (at most 2^32 - 8: sectors
 * are u32 here), blocks of 512 << blockShift bytes (blockShift 0 to 3: at most a page), up to `slotCount`
 * requests in flight (at most BLK_SLOT_LIMIT) of up to `frames` frames (1 to BLK_REQUEST_FRAME_LIMIT) --
 * if its first sector begins with SWAP_SIGNATURE (read through `start`, completed by `interrupt` called in
 * a loop: boot only, interrupts disabled). False, and no disk, when it does not or cannot be read.
 */
export function diskAttach(capacitySectors: u32, blockShift: u32, slotCount: u32, frames: u32, writeProtected: bool,
  deviceStart: DiskStart, interrupt: DiskInterrupt): bool {
  blockMask = u32((1 << blockShift) - 1);
  capacity = u32(capacitySectors & ~blockMask);
  slots = slotCount < BLK_SLOT_LIMIT ? slotCount : BLK_SLOT_LIMIT;
  frameLimit = frames < BLK_REQUEST_FRAME_LIMIT ? frames : BLK_REQUEST_FRAME_LIMIT;
  readOnly = writeProtected;
  start = deviceStart;
  freeCount = 0;
  for (let s: u32 = 0; s < slots; s++) {
    requests[s].busy = false;
    freeSlots[freeCount] = slots - 1 - s;
    freeCount++;
  }
  present = true;
  if (!signaturePresent(interrupt)) {
    present = false;
    slots = 0;                                        // a read still in flight is forgotten with its frame
    freeCount = 0;
    return false;
  }
  reads = 0;                                          // the figures count the swap's requests only
  pagesRead = 0;
  completed = 0;
  interrupts = 0;
  polled = 0;
  peakInFlight = 0;
  driverInstructions = 0;
  return true;
}

const signatureFrames = new Uint32Array(1);
let signatureInterrupt: DiskInterrupt = noInterrupt;
let signatureDone = false;
let signatureStatus: i32 = 0;
function noInterrupt(line: u32): void {}
function signatureRead(tag: u32, status: i32): void { signatureDone = true; signatureStatus = status; }
function signatureArrived(): bool { signatureInterrupt(0); return signatureDone; }
/** How long the first read may take (a disk spinning up). */
const SIGNATURE_READ_MS: u32 = 5000;

/** Reads sector 0 (its page) through the new disk: true when it begins with SWAP_SIGNATURE. */
function signaturePresent(interrupt: DiskInterrupt): bool {
  const frame = allocFrame();
  if (frame === FRAME_NONE) return false;
  memoryFill(frame, 0, PAGE_SIZE);
  signatureFrames[0] = frame;
  signatureInterrupt = interrupt;
  signatureDone = false;
  const started = diskSubmit(false, 0, signatureFrames, 0, 1, signatureRead, 0) >= 0;
  if (started && !diskPoll(signatureArrived, SIGNATURE_READ_MS)) return false;     // the device may still write it
  let found = started && signatureStatus === BLK_OK;
  for (let i: u32 = 0; i < SWAP_SIGNATURE.length && found; i++) {
    found = load8(frame + i) === SWAP_SIGNATURE.charCodeAt(i);
  }
  freeFrame(frame);
  return found;
}

/** The attached disk is not the swap disk after all (its driver could not finish): no disk. */
export function diskDetach(): void {
  present = false;
  slots = 0;
  freeCount = 0;
}

/** `report` prints the driver's line after the `blk:` summary line. */
export function diskSetDriverReport(report: DiskReport): void { driverReport = report; }

/** How the disk's interrupts arrive (its PciDevice's interruptMode, msi.ts), for the `blk:` line. */
export function diskSetInterruptMode(mode: u32): void { interruptMode = mode; }

/**
 * Starts a read (write false: disk -> frames) or a write of frames[first..first+count) at `sector`;
 * `done(tag, status)` follows from an interrupt. Returns the request's slot (>= 0) or, when nothing was
 * started, BLK_ERROR_NO_DEVICE, BLK_ERROR_INVALID, BLK_ERROR_RANGE, BLK_ERROR_UNALIGNED,
 * BLK_ERROR_READ_ONLY or BLK_ERROR_BUSY (the file's contract).
 */
export function diskSubmit(write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32,
  done: BlkCompletion, tag: u32): i32 {
  const begin = rdtsc();
  if (!present) return BLK_ERROR_NO_DEVICE;
  if (count === 0 || count > frameLimit || first > frames.length) return BLK_ERROR_INVALID;
  if (count > frames.length - first) return BLK_ERROR_INVALID;
  const memoryTop = frameMemoryTop();
  for (let i: u32 = 0; i < count; i++) {
    const frame = frames[first + i];
    if (frame < LOW_MEMORY_END || frame >= memoryTop || (frame & PAGE_OFFSET_MASK) !== 0) return BLK_ERROR_INVALID;
  }
  const sectors = count * BLK_SECTORS_PER_PAGE;
  if (sectors > capacity || sector > capacity - sectors) return BLK_ERROR_RANGE;    // never sent to the device
  if ((sector & blockMask) !== 0) return BLK_ERROR_UNALIGNED;
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
  const started = start(slot, write, sector, frames, first, count);
  if (started !== BLK_OK) {
    r.busy = false;
    freeSlots[freeCount] = slot;
    freeCount++;
    interruptsRestore(flags);
    return started;
  }
  if (write) { writes++; pagesWritten += count; } else { reads++; pagesRead += count; }
  const inFlight = slots - freeCount;
  if (inFlight > peakInFlight) peakInFlight = inFlight;
  driverInstructions += rdtsc() - begin;
  interruptsRestore(flags);
  return i32(slot);
}

/**
 * The device finished the request in `slot` with `status` (from its interrupt): the slot is freed, then
 * the request's `done` runs (which may submit again). A slot not in flight is counted and ignored.
 */
export function diskComplete(slot: u32, status: i32): void {
  if (slot >= slots || !requests[slot].busy) { unknownCompletions++; return; }
  const r = requests[slot];
  r.busy = false;
  freeSlots[freeCount] = slot;
  freeCount++;
  completed++;
  if (status !== BLK_OK) failed++;
  const callbackStart = rdtsc();
  // The completion is its client's work: in the profile, swapping's (swap.ts: the disk's only client).
  const category = profileOn() ? profileEnter(PROFILE_SWAP) : 0;
  r.done(r.tag, status);
  if (profileOn()) profileLeave(category);
  callbackInstructions += rdtsc() - callbackStart;
}

/** The end of a driver's interrupt that was its device's, entered at rdtsc() `begin`: counted. */
export function diskInterruptDone(begin: u32): void {
  interrupts++;
  driverInstructions += rdtsc() - begin - callbackInstructions;
  callbackInstructions = 0;
}

/** The end of a driver's poll (diskPollCompleted, diskArm) that ended `ended` requests, begun at rdtsc() `begin`. */
export function diskPollDone(begin: u32, ended: u32): void {
  polled += ended;
  driverInstructions += rdtsc() - begin - callbackInstructions;
  callbackInstructions = 0;
}

// Interrupt moderation (nic.ts's, for the disk; from diskModerate on): a driver that offers it
// (virtio-blk.ts) turns its interrupts off at the first one after the kernel idled; while the kernel is
// busy the scheduler ends what completed when a VM blocks and the clock at every tick (diskPollCompleted),
// and before the kernel idles the driver turns them on and looks once more (diskArm: true when requests
// had completed, which may have woken a VM). Other drivers interrupt for every completion (their poll and
// arm do nothing).
type DiskPoll = () => void;
type DiskArm = () => bool;
function pollNothing(): void {}
function armNothing(): bool { return false; }
let poller: DiskPoll = pollNothing;
let armer: DiskArm = armNothing;

/** The driver's poll and arm (interrupt moderation, above). */
export function diskSetModeration(poll: DiskPoll, arm: DiskArm): void {
  poller = poll;
  armer = arm;
}

let moderating = false;
/** Interrupt moderation from now on (main.ts: once the boot's own waits are done, not under `bench`). */
export function diskModerate(): void { moderating = true; }
/** True when the driver may turn its interrupts off (from its interrupt). */
export function diskModerated(): bool { return moderating; }
export function diskPollCompleted(): void { if (moderating) poller(); }
export function diskArm(): bool { return moderating && armer(); }

/**
 * Fails every request in flight with `status` (from an interrupt or with interrupts disabled): a driver's
 * device is gone or dead, and will not touch their frames again.
 */
export function diskFailInFlight(status: i32): void {
  for (let slot: u32 = 0; slot < slots; slot++) if (requests[slot].busy) diskComplete(slot, status);
}

// ---- waiting for a device at boot ------------------------------------------------------------------------

/** A driver's test of its device's state, polled by diskPoll. */
type DiskCondition = () => bool;
const pollNow = new Nanoseconds();
const pollDeadline = new Nanoseconds();

/**
 * Polls `condition` until it holds (true) or `milliseconds` have passed (false): for a driver's steps
 * at boot, before any VM runs (resetting a controller, its first commands), and for none after.
 */
export function diskPoll(condition: DiskCondition, milliseconds: u32): bool {
  clockRead(pollNow);
  nanosecondsAddMilliseconds(pollDeadline, pollNow, milliseconds);
  while (!condition()) {
    clockRead(pollNow);
    if (!nanosecondsBefore(pollNow, pollDeadline)) return condition();
    pause();
  }
  return true;
}

// ---- what the drivers print ------------------------------------------------------------------------------

/** `NAME BB:DD.F` (a driver's lines about its device start so). */
export function diskWriteDevice(name: string, d: PciDevice): void {
  consoleWriteString(name);
  consoleWriteString(" ");
  pciWriteLocation(d);
}

/** ` N MiB (S sectors)` for a capacity of `sectors` of 512 bytes. */
export function diskWriteSize(sectors: u32): void {
  consoleWriteString(" ");
  consoleWriteDecimal(sectors >>> 11);                // 2048 sectors a MiB
  consoleWriteString(" MiB (");
  consoleWriteDecimal(sectors);
  consoleWriteString(" sectors)");
}

/**
 * `, STANDARD M.m, model "` of a controller's version register (major in bits 31:16, minor in 15:8: AHCI 1.3.1
 * §3.1.10, NVMe 2.0 §3.1.3.2); the caller writes the model and the closing quote.
 */
export function diskWriteVersion(standard: string, version: u32): void {
  consoleWriteString(", ");
  consoleWriteString(standard);
  consoleWriteString(" ");
  consoleWriteDecimal(version >>> 16);
  consoleWriteString(".");
  consoleWriteDecimal((version >>> 8) & 0xff);
  consoleWriteString(", model \"");
}

/**
 * `disk: NAME BB:DD.F found, not used: the swap disk is another` for a second disk (the kernel swaps to
 * one). True when the swap disk is already attached (the caller then leaves its device alone).
 */
export function diskAlreadyAttached(name: string, d: PciDevice): bool {
  if (!present) return false;
  consoleWriteString("disk: ");
  diskWriteDevice(name, d);
  consoleWriteString(" found, not used: the swap disk is another");
  consoleNewLine();
  return true;
}

/**
 * `blk: reads R (P pages), writes W (P pages), completed C, failed F, in flight N (peak P, B refused busy),
 * interrupts I (msi), unknown completions U, driver cycles D` (the interrupts' mode: msi, msi-x or INTx),
 * then the driver's own line, for the summaries (nothing without a disk). D: the TSC in diskSubmit and the
 * drivers' interrupts, without the completions' callbacks: instructions under -icount (bench:swap's per-page
 * driver cost), wrapping at 2^32.
 */
export function diskReport(): void {
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
  consoleWriteString(" (");
  consoleWriteString(interruptModeName(interruptMode));
  consoleWriteString("), completions polled ");
  consoleWriteDecimal(polled);
  consoleWriteString(", unknown completions ");
  consoleWriteDecimal(unknownCompletions);
  consoleWriteString(", driver cycles ");
  consoleWriteDecimal(driverInstructions);
  consoleNewLine();
  driverReport();
}
