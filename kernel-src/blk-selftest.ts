// Self-tests of the swap disk (disk.ts and its driver: virtio-blk.ts, nvme.ts or ahci.ts) through the real
// device, run from kmain on request (test/kernel/blk.test.ts boots QEMU with a sparse raw image as the swap
// disk):
//   test=blk       without a disk: a submit is refused with BLK_ERROR_NO_DEVICE (`selftest blk-absent ok`).
//                  With one: requests the driver must refuse (past the end, no frames, too many, a frame
//                  not page aligned) come back as errors; then the exercise in the foreground: PAGES
//                  pages of distinct patterns written from a pool of POOL_FRAMES frames in requests of
//                  1-16 pages, as many in flight as the pool allows (about 120), then read back into
//                  other frames in requests grouped differently (1-13 pages) and compared; the page
//                  after them reads as zeros; the disk's last page is written and read back (or, when
//                  the host injects an error there, its read reports BLK_ERROR_IO and the kernel goes
//                  on). Prints `blk ...` figures, the driver's instructions per page and request (exact
//                  under -icount), and `selftest blk ok`.
//   test=blk-busy  the same exercise over BUSY_PAGES pages in the background while VMs run: started by
//                  a timer BUSY_START_MILLISECONDS after boot (later if no VM runs yet), driven from the
//                  completions alone; at the end one `blk busy: ...` line says how many completions
//                  arrived while VMs had the CPU (one running, or one runnable: the poll between two VMs
//                  under interrupt moderation) -- not while the kernel idled waiting for the disk -- and
//                  how many VM switches happened meanwhile, then the scheduler's summary (exit 0).
// The exercise is what swap code will do: submit, return, and carry on from the `done` callback, which
// verifies the data, gives the frames back and submits the next requests; nothing spins on the device
// (kmain's foreground wait is `hlt` until an interrupt; once VMs run, the completions come from the
// interrupt or from the scheduler's poll at a tick or between two VMs: disk.ts diskPollCompleted).
// Disk layout (the host test reads the image file): page p of the exercise at sector patternSector +
// 8p (not page aligned on the disk: sector arithmetic is checked), word i of it patternWord(p, i); the
// last page of the disk holds patternWord(LAST_PAGE_ID, i).
import { bool, i32, u32, load32, store32, memoryFill, hlt, structArray } from "dsl";
import { messageInterruptsReport } from "./msi.ts";
import { check, finish, failureCount } from "./selftest.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import { PAGE_SIZE, FRAME_NONE, allocFrame, freeFrame } from "./frames.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";
import { Nanoseconds, clockRead, nanosecondsAddMilliseconds } from "./clock.ts";
import { timerStart } from "./timer.ts";
import {
  schedulerCurrent, schedulerHasRunnable, schedulerSwitchCount, schedulerStop, VM_NONE_INDEX,
} from "./scheduler.ts";
import {
  diskSubmit, diskPresent, diskCapacity, diskPeakInFlight, diskDriverInstructions, diskResultName, diskReport,
  diskBlockSectors, diskFrameLimit,
  BLK_OK, BLK_ERROR_IO, BLK_ERROR_NO_DEVICE, BLK_ERROR_RANGE, BLK_ERROR_INVALID, BLK_ERROR_BUSY, BLK_ERROR_UNALIGNED,
  BLK_SECTORS_PER_PAGE, BLK_REQUEST_FRAME_LIMIT,
} from "./disk.ts";

/** Where the pattern pages start: this sector, or the next that begins one of the disk's blocks. */
const PATTERN_SECTOR: u32 = 3;
const PAGES: u32 = 4096;
const BUSY_PAGES: u32 = 8192;
const BUSY_START_MILLISECONDS: u32 = 50;
const BUSY_RETRY_MILLISECONDS: u32 = 10;
/** The pattern written to the disk's last page. */
const LAST_PAGE_ID: u32 = 0xfffff;
const POOL_FRAMES: u32 = 1024;
const TRANSFER_LIMIT: u32 = 128;         // transfers in flight at most (the driver's slots are the real bound)
const TRANSFER_PAGES: u32 = 16;          // pages of one transfer at most
const WORDS_PER_PAGE: u32 = PAGE_SIZE / 4;
const POISON: u32 = 0xa5;
/** A page-aligned address above the RAM of any machine the tests boot (3 GiB). */
const FRAME_BEYOND_MEMORY: u32 = 0xc0000000;
/** At least this many requests must have been in flight together (issue 15: queue depth >= 64). */
const DEPTH_REQUIRED: u32 = 64;

const PHASE_IDLE = 0;
const PHASE_WRITE = 1;
const PHASE_READ = 2;
const PHASE_DONE = 3;

/** Word `index` of pattern page `page` (the host test computes the same). */
function patternWord(page: u32, index: u32): u32 {
  return u32(Math.imul(i32(page + 1), i32(0x9e3779b1)) ^ Math.imul(i32(index + 1), i32(0x85ebca77)));
}

function fillPattern(frame: u32, page: u32): void {
  for (let i: u32 = 0; i < WORDS_PER_PAGE; i++) store32(frame + i * 4, patternWord(page, i));
}

function matchesPattern(frame: u32, page: u32): bool {
  for (let i: u32 = 0; i < WORDS_PER_PAGE; i++) if (load32(frame + i * 4) !== patternWord(page, i)) return false;
  return true;
}

function isZero(frame: u32): bool {
  for (let i: u32 = 0; i < WORDS_PER_PAGE; i++) if (load32(frame + i * 4) !== 0) return false;
  return true;
}

// ---- the exercise: write PAGES pattern pages, read them back, compare ----------------------------------

class Transfer {
  firstPage: u32 = 0;
  count: u32 = 0;
}

const transfers = structArray(Transfer, 128);           // TRANSFER_LIMIT
const transferFrames = new Uint32Array(2048);           // TRANSFER_LIMIT * TRANSFER_PAGES: transfer t's at 16t
const freeTransfers = new Uint32Array(128);
let freeTransferCount: u32 = 0;
const pool = new Uint32Array(1024);                     // POOL_FRAMES: a stack of free frames
let poolCount: u32 = 0;

let patternSector: u32 = PATTERN_SECTOR;
let transferLimit: u32 = TRANSFER_PAGES;   // pages of one transfer at most on this disk (diskFrameLimit)
let phase = PHASE_IDLE;
let background = false;
let pages: u32 = 0;
let submittedPages: u32 = 0;      // of the current phase
let donePages: u32 = 0;
let transferNumber: u32 = 0;      // of the current phase: chooses the transfer's size
let outstanding: u32 = 0;
let aborted = false;
let mismatches: u32 = 0;
let errors: u32 = 0;
let submitError: i32 = 0;
const requestCount = new Uint32Array(2);       // per phase (0 write, 1 read)
const instructionCount = new Uint32Array(2);
let phaseInstructionsStart: u32 = 0;
let completions: u32 = 0;
let completionsDuringVms: u32 = 0;   // with a VM running or runnable: the kernel did not wait
let switchesAtStart: u32 = 0;

/**
 * Where the pattern pages go on this disk and how large transfers may be; `blk: blocks of B bytes, pattern
 * pages from sector S, transfers of up to N pages`.
 */
function layoutInit(): void {
  const blockSectors = diskBlockSectors();
  patternSector = (PATTERN_SECTOR + blockSectors - 1) / blockSectors * blockSectors;
  transferLimit = diskFrameLimit() < TRANSFER_PAGES ? diskFrameLimit() : TRANSFER_PAGES;
  consoleWriteString("blk: blocks of ");
  consoleWriteDecimal(blockSectors * 512);
  consoleWriteString(" bytes, pattern pages from sector ");
  consoleWriteDecimal(patternSector);
  consoleWriteString(", transfers of up to ");
  consoleWriteDecimal(transferLimit);
  consoleWriteString(" pages");
  consoleNewLine();
}

/** Takes POOL_FRAMES frames and readies the transfer table; false when memory is short. */
function exerciseInit(pageCount: u32): bool {
  poolCount = 0;
  while (poolCount < POOL_FRAMES) {
    const frame = allocFrame();
    if (frame === FRAME_NONE) return false;
    pool[poolCount] = frame;
    poolCount++;
  }
  freeTransferCount = 0;
  for (let t: u32 = 0; t < TRANSFER_LIMIT; t++) {
    freeTransfers[freeTransferCount] = TRANSFER_LIMIT - 1 - t;
    freeTransferCount++;
  }
  pages = pageCount;
  aborted = false;
  mismatches = 0;
  errors = 0;
  completions = 0;
  completionsDuringVms = 0;
  return true;
}

function exerciseRelease(): void {
  while (poolCount > 0) { poolCount--; freeFrame(pool[poolCount]); }
}

function beginPhase(next: i32): void {
  phase = next;
  submittedPages = 0;
  donePages = 0;
  transferNumber = 0;
  phaseInstructionsStart = diskDriverInstructions();
}

function endPhase(): void {
  const index = phase === PHASE_WRITE ? 0 : 1;
  instructionCount[index] = diskDriverInstructions() - phaseInstructionsStart;
}

/** The pages of the next transfer: 1..16 when writing, 1..13 when reading (other request boundaries). */
function transferSize(): u32 {
  const readPages = transferLimit < 13 ? transferLimit : 13;
  const size = phase === PHASE_WRITE ? 1 + (transferNumber * 7) % transferLimit : 1 + (transferNumber * 5) % readPages;
  return size < pages - submittedPages ? size : pages - submittedPages;
}

function giveBack(t: u32): void {
  const transfer = transfers[t];
  for (let i: u32 = 0; i < transfer.count; i++) {
    pool[poolCount] = transferFrames[t * TRANSFER_PAGES + i];
    poolCount++;
  }
  freeTransfers[freeTransferCount] = t;
  freeTransferCount++;
}

/**
 * Starts transfers of the current phase while frames, transfer records and pages remain (interrupts
 * disabled: from the start functions and from `transferDone`). A refusal other than BLK_ERROR_BUSY
 * aborts the exercise.
 */
function pump(): void {
  while (!aborted && submittedPages < pages && freeTransferCount > 0) {
    const count = transferSize();
    if (poolCount < count) return;
    freeTransferCount--;
    const t = freeTransfers[freeTransferCount];
    const transfer = transfers[t];
    transfer.firstPage = submittedPages;
    transfer.count = count;
    for (let i: u32 = 0; i < count; i++) {
      poolCount--;
      const frame = pool[poolCount];
      transferFrames[t * TRANSFER_PAGES + i] = frame;
      if (phase === PHASE_WRITE) fillPattern(frame, transfer.firstPage + i); else memoryFill(frame, POISON, PAGE_SIZE);
    }
    const sector = patternSector + transfer.firstPage * BLK_SECTORS_PER_PAGE;
    const write = phase === PHASE_WRITE;
    const result = diskSubmit(write, sector, transferFrames, t * TRANSFER_PAGES, count, transferDone, t);
    if (result < 0) {
      giveBack(t);
      if (result === BLK_ERROR_BUSY) return;     // a completion will pump again
      submitError = result;
      aborted = true;
      if (outstanding === 0) exerciseFinished();
      return;
    }
    outstanding++;
    submittedPages += count;
    transferNumber++;
    requestCount[phase === PHASE_WRITE ? 0 : 1]++;
  }
}

/** A transfer ended (from the disk's interrupt): check a read, give the frames back, go on. */
function transferDone(t: u32, status: i32): void {
  completions++;
  if (schedulerCurrent() !== VM_NONE_INDEX || schedulerHasRunnable()) completionsDuringVms++;
  outstanding--;
  const transfer = transfers[t];
  if (status !== BLK_OK) errors++;
  else if (phase === PHASE_READ) {
    for (let i: u32 = 0; i < transfer.count; i++) {
      if (!matchesPattern(transferFrames[t * TRANSFER_PAGES + i], transfer.firstPage + i)) mismatches++;
    }
  }
  giveBack(t);
  donePages += transfer.count;
  if (aborted) { if (outstanding === 0) exerciseFinished(); return; }
  if (donePages < pages) { pump(); return; }
  endPhase();
  if (phase === PHASE_WRITE) { beginPhase(PHASE_READ); pump(); return; }
  exerciseFinished();
}

function exerciseFinished(): void {
  phase = PHASE_DONE;
  if (background) reportBusy();
}

/** Starts the write phase (interrupts disabled meanwhile, so the first batch goes out together). */
function exerciseStart(): void {
  const flags = interruptsDisable();
  beginPhase(PHASE_WRITE);
  pump();
  interruptsRestore(flags);
}

function writePhaseFigures(name: string, index: u32): void {
  consoleWriteString(name);
  consoleWriteDecimal(pages);
  consoleWriteString(" pages in ");
  consoleWriteDecimal(requestCount[index]);
  consoleWriteString(" requests, driver instructions ");
  consoleWriteDecimal(instructionCount[index]);
  consoleWriteString(" (");
  consoleWriteDecimal(instructionCount[index] / pages);
  consoleWriteString(" per page, ");
  consoleWriteDecimal(requestCount[index] === 0 ? 0 : instructionCount[index] / requestCount[index]);
  consoleWriteString(" per request)");
  consoleNewLine();
}

// ---- test=blk ------------------------------------------------------------------------------------------

let singleStatus: i32 = 0;
let singleDoneFlag = false;
const singleFrames = new Uint32Array(16);     // TRANSFER_PAGES

function singleDone(tag: u32, status: i32): void { singleStatus = status; singleDoneFlag = true; }

/** One request of singleFrames[0..count) at `sector`, waited for with hlt: its status, or the refusal. */
function transferOne(write: bool, sector: u32, count: u32): i32 {
  singleDoneFlag = false;
  const result = diskSubmit(write, sector, singleFrames, 0, count, singleDone, 0);
  if (result < 0) return result;
  while (!singleDoneFlag) hlt();       // the completion interrupt (or the next PIT tick) wakes us
  return singleStatus;
}

/** The driver's instructions for one request of `count` pages alone in flight (exact under -icount). */
function requestCost(write: bool, count: u32): u32 {
  const before = diskDriverInstructions();
  const result = transferOne(write, patternSector, count);
  check("blk", result === BLK_OK, "a request of the cost measurement failed");
  return diskDriverInstructions() - before;
}

/**
 * `blk cost: one request alone: read 1 page N, 16 pages M; write ...`: submit and interrupt, without the
 * trap entry and exit. Reads the first 16 pattern pages (fewer if the disk's requests are smaller) and
 * writes them back unchanged.
 */
function reportRequestCosts(): void {
  const read1 = requestCost(false, 1), read16 = requestCost(false, transferLimit);
  const write1 = requestCost(true, 1), write16 = requestCost(true, transferLimit);
  const lastRead = singleFrames[transferLimit - 1];
  check("blk", matchesPattern(lastRead, transferLimit - 1), "the cost requests read wrong data");
  consoleWriteString("blk cost: one request alone (driver instructions): read of 1 page ");
  consoleWriteDecimal(read1);
  consoleWriteString(", of ");
  consoleWriteDecimal(transferLimit);
  consoleWriteString(" pages ");
  consoleWriteDecimal(read16);
  consoleWriteString("; write of 1 page ");
  consoleWriteDecimal(write1);
  consoleWriteString(", of ");
  consoleWriteDecimal(transferLimit);
  consoleWriteString(" pages ");
  consoleWriteDecimal(write16);
  consoleNewLine();
}

function writeResult(what: string, result: i32): void {
  consoleWriteString("blk: ");
  consoleWriteString(what);
  consoleWriteString(": ");
  consoleWriteString(diskResultName(result));
  consoleNewLine();
}

export function runBlockSelfTest(): void {
  if (!diskPresent()) {
    const before = failureCount();
    const frame = allocFrame();
    singleFrames[0] = frame;
    const result = diskSubmit(false, 0, singleFrames, 0, 1, singleDone, 0);
    writeResult("submit without a disk", result);
    check("blk-absent", result === BLK_ERROR_NO_DEVICE, "a submit without a disk was not refused with no-device");
    freeFrame(frame);
    finish("blk-absent", before);
    return;
  }
  const name = "blk";
  const before = failureCount();
  layoutInit();
  const capacity = diskCapacity();
  const frame = allocFrame();
  const frames = new Uint32Array(128);          // BLK_REQUEST_FRAME_LIMIT + 2
  for (let i: u32 = 0; i < frames.length; i++) frames[i] = frame;
  // Requests the driver refuses: nothing is started, the caller hears why.
  const tail = diskSubmit(false, capacity - 4, frames, 0, 1, singleDone, 0);
  const end = diskSubmit(false, capacity, frames, 0, 1, singleDone, 0);
  const wrap = diskSubmit(false, 0xfffffff8, frames, 0, 1, singleDone, 0);
  const none = diskSubmit(false, 0, frames, 0, 0, singleDone, 0);
  const tooMany = diskSubmit(false, 0, frames, 0, BLK_REQUEST_FRAME_LIMIT + 1, singleDone, 0);
  const outside = diskSubmit(false, 0, frames, 127, 2, singleDone, 0);
  frames[0] = frame + 512;
  const unaligned = diskSubmit(false, 0, frames, 0, 1, singleDone, 0);
  frames[0] = FRAME_BEYOND_MEMORY;
  const beyond = diskSubmit(false, 0, frames, 0, 1, singleDone, 0);
  frames[0] = 0;
  const nullFrame = diskSubmit(false, 0, frames, 0, 1, singleDone, 0);
  // A sector inside one of the disk's blocks (on a disk of 4 KiB blocks, say): refused.
  frames[0] = frame;
  const inside = diskBlockSectors() > 1 ? diskSubmit(false, patternSector + 1, frames, 0, 1, singleDone, 0) : 0;
  writeResult("read past the end", end);
  if (diskBlockSectors() > 1) writeResult("read inside a block", inside);
  check(name, diskBlockSectors() === 1 || inside === BLK_ERROR_UNALIGNED, "a request inside a block was not refused");
  check(name, tail === BLK_ERROR_RANGE && end === BLK_ERROR_RANGE && wrap === BLK_ERROR_RANGE,
    "a request past the end was not refused");
  check(name, none === BLK_ERROR_INVALID && tooMany === BLK_ERROR_INVALID && outside === BLK_ERROR_INVALID
    && unaligned === BLK_ERROR_INVALID && beyond === BLK_ERROR_INVALID && nullFrame === BLK_ERROR_INVALID,
    "a request with bad frames was not refused");

  // The exercise, in the foreground.
  background = false;
  if (!check(name, exerciseInit(PAGES), "no memory for the frame pool")) {
    exerciseRelease();
    freeFrame(frame);
    return;
  }
  exerciseStart();
  while (phase !== PHASE_DONE) hlt();
  consoleWriteString("blk: ");
  consoleWriteDecimal(pages);
  consoleWriteString(" pages written and read back, ");
  consoleWriteDecimal(mismatches);
  consoleWriteString(" mismatches, ");
  consoleWriteDecimal(errors);
  consoleWriteString(" errors, peak in flight ");
  consoleWriteDecimal(diskPeakInFlight());
  consoleNewLine();
  writePhaseFigures("blk cost: write ", 0);
  writePhaseFigures("blk cost: read ", 1);
  check(name, !aborted, "a request of the exercise was refused");
  if (aborted) writeResult("exercise refused", submitError);
  check(name, errors === 0, "a request of the exercise failed");
  check(name, mismatches === 0, "a page read back differs from the page written");
  check(name, diskPeakInFlight() >= DEPTH_REQUIRED, "fewer than 64 requests were in flight at once");
  for (let i: u32 = 0; i < transferLimit; i++) singleFrames[i] = pool[i];
  if (!aborted) reportRequestCosts();
  exerciseRelease();

  // Right after the pattern pages the disk is still zero (sparse, never written).
  singleFrames[0] = frame;
  memoryFill(frame, POISON, PAGE_SIZE);
  const after = transferOne(false, patternSector + PAGES * BLK_SECTORS_PER_PAGE, 1);
  check(name, after === BLK_OK && isZero(frame), "the page after the pattern pages does not read as zeros");
  // The last page of the disk: the last request that fits.
  fillPattern(frame, LAST_PAGE_ID);
  const lastWrite = transferOne(true, capacity - BLK_SECTORS_PER_PAGE, 1);
  writeResult("write of the last page", lastWrite);
  memoryFill(frame, POISON, PAGE_SIZE);
  const lastRead = transferOne(false, capacity - BLK_SECTORS_PER_PAGE, 1);
  writeResult("read of the last page", lastRead);
  check(name, lastWrite === BLK_OK, "the write of the last page failed");
  check(name, lastRead === BLK_ERROR_IO || (lastRead === BLK_OK && matchesPattern(frame, LAST_PAGE_ID)),
    "the read of the last page neither matched nor failed with an I/O error");
  diskReport();
  messageInterruptsReport();
  freeFrame(frame);
  finish(name, before);
}

// ---- test=blk-busy --------------------------------------------------------------------------------------

const busyDeadline = new Nanoseconds();
const busyNow = new Nanoseconds();

/** The timer's callback: starts the exercise once a VM runs (else tries again BUSY_RETRY_MILLISECONDS on). */
function beginBusy(argument: u32): void {
  if (schedulerCurrent() === VM_NONE_INDEX) { armBusyTimer(BUSY_RETRY_MILLISECONDS); return; }
  switchesAtStart = schedulerSwitchCount();
  consoleWriteString("blk busy: start");
  consoleNewLine();
  exerciseStart();
}

function reportBusy(): void {
  consoleWriteString("blk busy: ");
  consoleWriteDecimal(pages);
  consoleWriteString(" pages written and read back in ");
  consoleWriteDecimal(requestCount[0] + requestCount[1]);
  consoleWriteString(" requests, ");
  consoleWriteDecimal(mismatches);
  consoleWriteString(" mismatches, ");
  consoleWriteDecimal(errors);
  consoleWriteString(" errors");
  if (aborted) { consoleWriteString(", refused: "); consoleWriteString(diskResultName(submitError)); }
  consoleWriteString("; completions ");
  consoleWriteDecimal(completions);
  consoleWriteString(", while VMs ran ");
  consoleWriteDecimal(completionsDuringVms);
  consoleWriteString("; VM switches meanwhile ");
  consoleWriteDecimal(schedulerSwitchCount() - switchesAtStart);
  consoleNewLine();
  schedulerStop();
}

/** test=blk-busy: takes the frame pool now (before the VMs reserve memory), starts the exercise later. */
export function startBlockExercise(): void {
  if (!diskPresent()) {
    consoleWriteString("blk busy: no disk");
    consoleNewLine();
    return;
  }
  background = true;
  layoutInit();
  if (!exerciseInit(BUSY_PAGES)) {
    consoleWriteString("blk busy: no memory for the frame pool");
    consoleNewLine();
    return;
  }
  armBusyTimer(BUSY_START_MILLISECONDS);
}

function armBusyTimer(milliseconds: u32): void {
  clockRead(busyNow);
  nanosecondsAddMilliseconds(busyDeadline, busyNow, milliseconds);
  if (timerStart(busyDeadline, beginBusy, 0) === 0) {
    consoleWriteString("blk busy: no timer slot");
    consoleNewLine();
  }
}
