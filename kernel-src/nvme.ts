// The NVMe disk driver: an NVMe controller on PCI (class 01h subclass 08h: QEMU's `-device nvme`, the M.2
// SSDs of today's PCs) as the swap disk, behind disk.ts's request interface: the first, in PCI order, whose
// namespace is marked for swap (disk.ts; the others are disabled again). One namespace (the first active
// one), the admin queue and one I/O queue pair; its interrupt by MSI-X or MSI where the controller offers
// it and the local APIC is in use (msi.ts; QEMU's offers MSI-X), else its pin interrupt (INTx, through the
// 8259, shared with whatever else is on the line). The kernel prints it at boot:
//   swap: nvme 00:04.0 64 MiB (131072 sectors), namespace 1, blocks of 512 bytes, queues 256, 128 requests
//   of up to 126 pages, irq msi-x vector 0x40, NVMe 1.4, model "QEMU NVMe Ctrl"
// (one line).
//
// How it works (NVM Express Base Specification 1.4, "NVMe 1.4"):
// - Bring-up at boot (§7.6.1 "Initialization"): the controller is disabled (CC.EN 0, wait CSTS.RDY 0), the
//   admin queues set (AQA, ASQ, ACQ), enabled with 4 KiB memory pages, 64-byte submission and 16-byte
//   completion entries (CC), then admin commands, each waited for (boot only, bounded by CAP.TO): Identify
//   the controller (its model, MDTS: the largest transfer) and the active namespaces, Identify the first
//   one (its size and block size), Set Features Number of Queues (one pair), Create I/O Completion Queue
//   (pin interrupt, vector 0) and Create I/O Submission Queue (§5.3, §5.4, §5.15, §5.21.1.7).
// - A request (nvmeStart, from diskSubmit) is one Read or Write command (§6.9, §6.15) in the next entry of
//   the I/O submission queue, its command identifier the disk.ts slot, its frames as PRPs (§4.3): PRP1 the
//   first frame, PRP2 the second, or for three or more the slot's own PRP list (up to 125 entries, in one
//   page); then the queue's tail doorbell. Nothing waits.
// - The interrupt (§7.5.1 pin-based: asserted while the completion queue holds entries the host has not
//   released; §7.5.2 MSI-X: a message when entries are posted, programmed before the controller is enabled,
//   as the queues are bound to their vector when made): each new completion queue entry (its phase tag the
//   expected one, §4.6) ends the request of its command identifier with its status; the head doorbell
//   releases them. At most COMPLETION_BATCH a time on the pin: the rest keep the line asserted and come with
//   the next interrupt (a `done` that submits more cannot hold the kernel here); with a message, which
//   comes once, batch after batch up to a queue's worth (an entry posted after that sends another). An
//   interrupt with no new entry checks CSTS: a controller gone (all ones: removed) or fatal (CFS) fails every
//   request in flight (BLK_ERROR_NO_DEVICE) and every later one.
// Results: status 0 is BLK_OK; Invalid Command Opcode / Invalid Field in Command BLK_ERROR_UNSUPPORTED;
// every other status (media errors such as Unrecovered Read Error, internal errors) BLK_ERROR_IO.
// Not handled: namespaces formatted with metadata or protection information (refused), blocks larger than
// a page (refused), a controller that stops answering without saying so (no watchdog; docs/swap.md).
// Invariants: sqTail is the next submission entry, cqHead/cqPhase the next completion entry expected; at
// most `slots` commands are outstanding, so neither queue overflows (entries >= slots + 1, and at most
// COMPLETION_BATCH completions are held unreleased while new commands go out).
import { bool, i32, u8, u32, load8, load32, store32, memoryFill, rdtsc } from "dsl";
import { pciDeviceAt, pciDeviceCount, pciEnable, pciClaim, BAR_MEMORY, INTERRUPT_MODE_MSIX } from "./pci.ts";
import { pagingMapDevice } from "./paging.ts";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrame, allocFrameRun, freeFrame } from "./frames.ts";
import {
  deviceInterruptAttachMessage, deviceInterruptAttachIntx, deviceInterruptWrite,
} from "./msi.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_DISK } from "./profile.ts";
import {
  diskAttach, diskDetach, diskAlreadyAttached, diskComplete, diskInterruptDone, diskFailInFlight, diskPoll,
  diskSetDriverReport, diskSetInterruptMode, diskWriteVersion,
  diskWriteDevice, diskWriteSize, BLK_OK, BLK_ERROR_IO, BLK_ERROR_UNSUPPORTED, BLK_ERROR_NO_DEVICE,
  BLK_REQUEST_FRAME_LIMIT, BLK_SLOT_LIMIT, BLK_SECTORS_PER_PAGE, NO_SIGNATURE,
} from "./disk.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleWriteByte, consoleNewLine,
} from "./console.ts";

/** PCI class code (base class 01h mass storage, subclass 08h non-volatile memory controller). */
const NVME_CLASS: u32 = 0x0108;

// Controller registers (§3.1 "Register Definition"), byte offsets into BAR0.
const REG_CAP_LOW = 0x00;        // CAP bits 31:0: MQES 15:0 (entries - 1), TO 31:24 (500 ms units)
const REG_CAP_HIGH = 0x04;       // CAP bits 63:32: DSTRD 35:32, CSS 44:37, MPSMIN 51:48
const REG_VS = 0x08;             // version: major 31:16, minor 15:8
const REG_INTMS = 0x0c;          // interrupt mask set (pin-based: bit 0)
const REG_INTMC = 0x10;          // interrupt mask clear
const REG_CC = 0x14;             // controller configuration
const REG_CSTS = 0x1c;           // controller status
const REG_AQA = 0x24;            // admin queue attributes: ACQS 27:16, ASQS 11:0 (entries - 1)
const REG_ASQ = 0x28;            // admin submission queue base (64-bit, page aligned)
const REG_ACQ = 0x30;            // admin completion queue base
const DOORBELLS = 0x1000;        // SQyTDBL at DOORBELLS + 2y * stride, CQyHDBL at DOORBELLS + (2y + 1) * stride
const CAP_MQES_MASK: u32 = 0xffff;
const CAP_TIMEOUT_SHIFT = 24;
const CAP_HIGH_DSTRD_MASK: u32 = 0xf;
const CAP_HIGH_CSS_NVM: u32 = 1 << 5;                 // CAP bit 37: the NVM command set
const CAP_HIGH_MPSMIN_SHIFT = 16;                     // CAP bits 51:48: 2^(12 + MPSMIN) bytes
const CC_ENABLE: u32 = 1 << 0;
const CC_IOSQES_64: u32 = 6 << 16;                    // 2^6-byte submission entries
const CC_IOCQES_16: u32 = 4 << 20;                    // 2^4-byte completion entries (CSS 0: NVM, MPS 0: 4 KiB)
const CSTS_READY: u32 = 1 << 0;
const CSTS_FATAL: u32 = 1 << 1;                       // CFS
const REGISTER_GONE: u32 = 0xffffffff;                // what reads of a removed device return

// Commands (§4.2 submission queue entry: 64 bytes; §4.6 completion queue entry: 16 bytes).
const SUBMISSION_BYTES: u32 = 64;
const COMPLETION_BYTES: u32 = 16;
const SQE_CDW0 = 0;              // opcode 7:0, command identifier 31:16 (PSDT 0: PRPs)
const SQE_NSID = 4;
const SQE_PRP1 = 24;
const SQE_PRP2 = 32;
const SQE_CDW10 = 40;
const SQE_CDW11 = 44;
const SQE_CDW12 = 48;
const CQE_DW0 = 0;               // command specific
const CQE_DW3 = 12;              // command identifier 15:0, phase tag 16, status field 31:17
const CQE_PHASE_SHIFT = 16;
const CQE_STATUS_SHIFT = 17;
const STATUS_CODE_MASK: u32 = 0xff;                   // SC; SCT is bits 10:8 of the status field
const STATUS_TYPE_SHIFT = 8;
const STATUS_TYPE_FIELD: u32 = 0x7;
const STATUS_TYPE_GENERIC: u32 = 0;
const STATUS_INVALID_OPCODE: u32 = 0x01;
const STATUS_INVALID_FIELD: u32 = 0x02;
const ADMIN_CREATE_SQ: u32 = 0x01;
const ADMIN_CREATE_CQ: u32 = 0x05;
const ADMIN_IDENTIFY: u32 = 0x06;
const ADMIN_SET_FEATURES: u32 = 0x09;
const FEATURE_NUMBER_OF_QUEUES: u32 = 0x07;
const IDENTIFY_NAMESPACE: u32 = 0x00;                 // CNS values (§5.15)
const IDENTIFY_CONTROLLER: u32 = 0x01;
const IDENTIFY_ACTIVE_NAMESPACES: u32 = 0x02;
const QUEUE_CONTIGUOUS: u32 = 1 << 0;                 // PC
const QUEUE_INTERRUPTS: u32 = 1 << 1;                 // IEN (vector 0 in bits 31:16)
const NVM_WRITE: u32 = 0x01;
const NVM_READ: u32 = 0x02;

// Identify data (§5.15.2): controller and namespace structures, byte offsets.
const ID_MODEL = 24;                                  // MN, 40 ASCII bytes, space padded
const ID_MODEL_BYTES: u32 = 40;
const ID_MDTS = 77;                                   // largest transfer: 2^MDTS minimum pages, 0 no limit
const ID_NAMESPACE_SIZE = 0;                          // NSZE, 64-bit, in blocks
const ID_FORMATTED_LBA_SIZE = 26;                     // FLBAS: the format in use, bits 3:0
const ID_LBA_FORMATS = 128;                           // LBAF[i] at 128 + 4i: MS 15:0, LBADS 23:16
const LBA_FORMAT_METADATA_MASK: u32 = 0xffff;
const LBA_FORMAT_SHIFT = 16;
const SECTOR_SHIFT: u32 = 9;

const ADMIN_ENTRIES: u32 = 16;
const IO_ENTRIES_LIMIT: u32 = 256;                    // 16 KiB of submission entries, 4 KiB of completions
const IO_QUEUE = 1;
const COMPLETION_BATCH: u32 = 64;
const PRP_LIST_BYTES: u32 = 1024;                     // BLK_REQUEST_FRAME_LIMIT - 1 entries of 8 bytes fit
const PRP_LISTS_PER_FRAME: u32 = PAGE_SIZE / PRP_LIST_BYTES;
const REGISTER_MAP_BYTES: u32 = 0x2000;               // registers and the first doorbells

let registers: u32 = 0;                               // kernel address of BAR0 (paging.ts device window)
let stride: u32 = 4;                                  // doorbell stride, 4 << CAP.DSTRD
let timeoutMs: u32 = 500;                             // CAP.TO
let adminSubmissions: u32 = 0;
let adminCompletions: u32 = 0;
let adminTail: u32 = 0;
let adminHead: u32 = 0;
let adminPhase: u32 = 1;
let adminCommandId: u32 = 0;
let adminStatus: u32 = 0;
let adminResult: u32 = 0;
let submissions: u32 = 0;                             // the I/O queue pair
let completions: u32 = 0;
let entries: u32 = 0;
let sqTail: u32 = 0;
let cqHead: u32 = 0;
let cqPhase: u32 = 1;
let namespace: u32 = 0;
let blockShift: u32 = 0;                              // a block is 512 << blockShift bytes
let capacity: u32 = 0;                                // 512-byte sectors
let slots: u32 = 0;
let frameLimit: u32 = 0;
let byMessage = false;                                // interrupts by MSI-X or MSI (msi.ts), not the pin
let interruptReady = false;                           // the swap disk attached: its messages are handled
let gone = false;
const prpLists = new Uint32Array(128);                // BLK_SLOT_LIMIT: slot s's PRP list
let errors: u32 = 0;
let lastErrorStatus: u32 = 0;
let deviceIndex: u32 = 0;                             // the controller's PCI function (pci.ts)

function fail(why: string): bool {
  consoleWriteString("disk: ");
  diskWriteDevice("nvme", pciDeviceAt(deviceIndex));
  consoleWriteString(": ");
  consoleWriteString(why);
  consoleWriteString(", not used");
  consoleNewLine();
  return false;
}

function register(offset: u32): u32 { return load32(registers + offset); }
function setRegister(offset: u32, value: u32): void { store32(registers + offset, value); }
/** The kernel address of queue `queue`'s submission tail (completion 0) or completion head (1) doorbell. */
function doorbell(queue: u32, completion: u32): u32 {
  return registers + DOORBELLS + (2 * queue + completion) * stride;
}

function controllerReady(): bool { return (register(REG_CSTS) & (CSTS_READY | CSTS_FATAL)) !== 0; }
function controllerStopped(): bool { return (register(REG_CSTS) & CSTS_READY) === 0; }
function adminAnswered(): bool {
  return ((load32(adminCompletions + adminHead * COMPLETION_BYTES + CQE_DW3) >>> CQE_PHASE_SHIFT) & 1) === adminPhase;
}

/**
 * One admin command, waited for (boot only): true when it completed with status 0 (adminResult holds its
 * DW0); false on an error status (adminStatus) or no answer within the controller's timeout.
 */
function adminCommand(opcode: u32, nsid: u32, prp1: u32, cdw10: u32, cdw11: u32): bool {
  const entry = adminSubmissions + adminTail * SUBMISSION_BYTES;
  memoryFill(entry, 0, SUBMISSION_BYTES);
  adminCommandId++;
  store32(entry + SQE_CDW0, opcode | ((adminCommandId & 0xffff) << 16));
  store32(entry + SQE_NSID, nsid);
  store32(entry + SQE_PRP1, prp1);
  store32(entry + SQE_CDW10, cdw10);
  store32(entry + SQE_CDW11, cdw11);
  adminTail = (adminTail + 1) % ADMIN_ENTRIES;
  store32(doorbell(0, 0), adminTail);
  if (!diskPoll(adminAnswered, timeoutMs)) { adminStatus = 0xffff; return false; }
  const completion = adminCompletions + adminHead * COMPLETION_BYTES;
  adminStatus = load32(completion + CQE_DW3) >>> CQE_STATUS_SHIFT;
  adminResult = load32(completion + CQE_DW0);
  adminHead++;
  if (adminHead === ADMIN_ENTRIES) { adminHead = 0; adminPhase ^= 1; }
  store32(doorbell(0, 1), adminHead);
  return adminStatus === 0;
}

/**
 * Brings up the first NVMe controller that can be the swap disk (the file's comment), trying each in PCI
 * order, and prints the `swap: nvme ...` line; false (silent) when there is none. A controller that cannot
 * be used gets a `disk: nvme ...: WHY, not used` line (and is disabled again if it was enabled), and every
 * one gets `disk: nvme ... found, not used` when another disk is the swap disk already.
 */
export function nvmeInit(): bool {
  let attached = false;
  for (let i: u32 = 0; i < pciDeviceCount(); i++) {
    const d = pciDeviceAt(i);
    if (d.classCode !== NVME_CLASS) continue;
    pciClaim(d);                                    // driven or not, it is not a device without a driver
    if (!diskAlreadyAttached("nvme", d) && bringUp(i)) attached = true;
  }
  return attached;
}

/** Controller `index` (a PCI function) as the swap disk, or false with its `disk:` line. */
function bringUp(index: u32): bool {
  deviceIndex = index;
  adminTail = 0;
  adminHead = 0;
  adminPhase = 1;
  sqTail = 0;
  cqHead = 0;
  cqPhase = 1;
  const device = pciDeviceAt(deviceIndex);
  if (device.barKind[0] !== BAR_MEMORY) return fail("BAR0 is not a memory BAR below 4 GiB");
  pciEnable(device);
  const mapBytes = device.barSize[0] < REGISTER_MAP_BYTES ? device.barSize[0] : REGISTER_MAP_BYTES;
  registers = pagingMapDevice(device.barAddress[0], mapBytes);
  if (registers === 0) return fail("no room to map its registers");
  if (register(REG_CSTS) === REGISTER_GONE) return fail("its registers read all ones");
  const capLow = register(REG_CAP_LOW), capHigh = register(REG_CAP_HIGH);
  stride = u32(4 << (capHigh & CAP_HIGH_DSTRD_MASK));
  timeoutMs = (capLow >>> CAP_TIMEOUT_SHIFT) * 500 + 500;
  if ((capHigh & CAP_HIGH_CSS_NVM) === 0) return fail("no NVM command set");
  if (((capHigh >>> CAP_HIGH_MPSMIN_SHIFT) & 0xf) !== 0) return fail("memory pages above 4 KiB");
  if (DOORBELLS + 4 * stride > mapBytes) {
    if (DOORBELLS + 4 * stride > device.barSize[0]) return fail("BAR0 too small for its doorbells");
    registers = pagingMapDevice(device.barAddress[0], DOORBELLS + 4 * stride);
    if (registers === 0) return fail("no room to map its registers");
  }
  const supported = u32(capLow & CAP_MQES_MASK) + 1;
  entries = supported < IO_ENTRIES_LIMIT ? supported : IO_ENTRIES_LIMIT;
  if (entries < 2) return fail("queues of one entry");
  interruptReady = false;
  byMessage = deviceInterruptAttachMessage(device, nvmeMessage);
  if (!enableController()) return false;
  if (!identify() || !createQueues() || !attach()) {
    setRegister(REG_CC, 0);                         // disabled: it holds on to none of the kernel's memory
    return false;
  }
  report();
  return true;
}

/** The swap disk if its first sector holds the signature (disk.ts), with its interrupt line from then on. */
function attach(): bool {
  if (!diskAttach(capacity, blockShift, slots, frameLimit, false, nvmeStart, nvmeInterrupt)) {
    return fail(NO_SIGNATURE);
  }
  const handler = profileOn() ? profiledInterrupt : nvmeInterrupt;
  if (!byMessage && !deviceInterruptAttachIntx(pciDeviceAt(deviceIndex), handler)) {
    diskDetach();
    return fail("no MSI-X and no interrupt line routed to the 8259 it can use");
  }
  diskSetDriverReport(nvmeReport);
  diskSetInterruptMode(pciDeviceAt(deviceIndex).interruptMode);
  interruptReady = true;
  // Vector 0 unmasked: completions interrupt from now (INTMS/INTMC are not for MSI-X, §3.1.3/§3.1.4).
  if (pciDeviceAt(deviceIndex).interruptMode !== INTERRUPT_MODE_MSIX) setRegister(REG_INTMC, 1);
  return true;
}

/** Disables the controller, sets the admin queues, enables it (§7.6.1 steps 1-6). */
function enableController(): bool {
  if ((register(REG_CC) & CC_ENABLE) !== 0) {
    setRegister(REG_CC, register(REG_CC) & ~CC_ENABLE);
    if (!diskPoll(controllerStopped, timeoutMs)) return fail("it does not stop (CSTS.RDY stays 1)");
  }
  if (adminSubmissions === 0) adminSubmissions = allocFrame();      // a controller tried before left them
  if (adminCompletions === 0) adminCompletions = allocFrame();
  if (adminSubmissions === FRAME_NONE || adminCompletions === FRAME_NONE) return fail("no memory for its queues");
  memoryFill(adminSubmissions, 0, PAGE_SIZE);
  memoryFill(adminCompletions, 0, PAGE_SIZE);
  setRegister(REG_INTMS, 1);                        // vector 0 masked while commands are waited for
  setRegister(REG_AQA, ((ADMIN_ENTRIES - 1) << 16) | (ADMIN_ENTRIES - 1));
  setRegister(REG_ASQ, adminSubmissions);
  setRegister(REG_ASQ + 4, 0);
  setRegister(REG_ACQ, adminCompletions);
  setRegister(REG_ACQ + 4, 0);
  setRegister(REG_CC, CC_IOSQES_64 | CC_IOCQES_16 | CC_ENABLE);
  if (!diskPoll(controllerReady, timeoutMs)) return fail("it does not become ready (CSTS.RDY)");
  if ((register(REG_CSTS) & CSTS_FATAL) !== 0) return fail("controller fatal status (CSTS.CFS)");
  return true;
}

const model = new Uint8Array(40);                     // ID_MODEL_BYTES

/** Identify: the controller (model, MDTS), the first active namespace, its size and block size. */
function identify(): bool {
  const data = allocFrame();
  if (data === FRAME_NONE) return fail("no memory for Identify");
  const ok = identifyInto(data);
  freeFrame(data);
  return ok;
}

function identifyInto(data: u32): bool {
  if (!adminCommand(ADMIN_IDENTIFY, 0, data, IDENTIFY_CONTROLLER, 0)) return fail("Identify Controller failed");
  for (let i: u32 = 0; i < ID_MODEL_BYTES; i++) model[i] = load8(data + ID_MODEL + i);
  const mdts = load8(data + ID_MDTS);
  frameLimit = BLK_REQUEST_FRAME_LIMIT;
  if (mdts !== 0 && mdts < 7 && (1 << mdts) < i32(frameLimit)) frameLimit = u32(1 << mdts);    // 2^MDTS pages
  memoryFill(data, 0, PAGE_SIZE);
  if (!adminCommand(ADMIN_IDENTIFY, 0, data, IDENTIFY_ACTIVE_NAMESPACES, 0)) {
    return fail("Identify Active Namespace List failed");
  }
  namespace = load32(data);
  if (namespace === 0) return fail("no active namespace");
  if (!adminCommand(ADMIN_IDENTIFY, namespace, data, IDENTIFY_NAMESPACE, 0)) return fail("Identify Namespace failed");
  const format = load32(data + ID_LBA_FORMATS + 4 * (load8(data + ID_FORMATTED_LBA_SIZE) & 0xf));
  const dataShift = (format >>> LBA_FORMAT_SHIFT) & 0xff;
  if ((format & LBA_FORMAT_METADATA_MASK) !== 0) return fail("its namespace has metadata");
  if (dataShift < SECTOR_SHIFT || dataShift > PAGE_SHIFT) return fail("blocks smaller than 512 bytes or over a page");
  blockShift = dataShift - SECTOR_SHIFT;
  // Sectors are u32 here: a namespace of 2^32 sectors (2 TiB) or more is used up to 2^32 - 8.
  const blocksLow = load32(data + ID_NAMESPACE_SIZE), blocksHigh = load32(data + ID_NAMESPACE_SIZE + 4);
  capacity = blocksHigh !== 0 || blocksLow > (0xfffffff8 >>> blockShift) ? 0xfffffff8 : blocksLow << blockShift;
  if (capacity < BLK_SECTORS_PER_PAGE) return fail("a namespace smaller than a page");
  return true;
}

/** One I/O queue pair: completion queue (vector 0), then submission queue; the slots' PRP lists. */
function createQueues(): bool {
  // The submission entries (up to 16 KiB) in adjacent frames: the queue is physically contiguous (PC 1).
  const submissionFrames = (entries * SUBMISSION_BYTES + PAGE_SIZE - 1) >>> PAGE_SHIFT;
  if (submissions === 0) submissions = allocFrameRun(IO_ENTRIES_LIMIT * SUBMISSION_BYTES >>> PAGE_SHIFT);
  if (completions === 0) completions = allocFrame();
  if (submissions === FRAME_NONE || completions === FRAME_NONE) return fail("no memory for its I/O queues");
  memoryFill(submissions, 0, submissionFrames << PAGE_SHIFT);
  memoryFill(completions, 0, PAGE_SIZE);
  slots = entries - 1 < BLK_SLOT_LIMIT ? entries - 1 : BLK_SLOT_LIMIT;
  let frame: u32 = FRAME_NONE;
  for (let s: u32 = 0; s < BLK_SLOT_LIMIT && prpLists[BLK_SLOT_LIMIT - 1] === 0; s++) {   // once, for any controller
    if (s % PRP_LISTS_PER_FRAME === 0) {
      frame = allocFrame();
      if (frame === FRAME_NONE) return fail("no memory for PRP lists");
    }
    prpLists[s] = frame + (s % PRP_LISTS_PER_FRAME) * PRP_LIST_BYTES;
  }
  // One submission and one completion queue (both counts 0-based); the controller may grant more.
  if (!adminCommand(ADMIN_SET_FEATURES, 0, 0, FEATURE_NUMBER_OF_QUEUES, 0)) return fail("Set Features (queues) failed");
  const size = (entries - 1) << 16;
  if (!adminCommand(ADMIN_CREATE_CQ, 0, completions, size | IO_QUEUE, QUEUE_INTERRUPTS | QUEUE_CONTIGUOUS)) {
    return fail("Create I/O Completion Queue failed");
  }
  if (!adminCommand(ADMIN_CREATE_SQ, 0, submissions, size | IO_QUEUE, (IO_QUEUE << 16) | QUEUE_CONTIGUOUS)) {
    return fail("Create I/O Submission Queue failed");
  }
  return true;
}

function writeModel(): void {
  let length = ID_MODEL_BYTES;
  while (length > 0 && (model[length - 1] === 32 || model[length - 1] === 0)) length--;
  for (let i: u32 = 0; i < length; i++) {
    const byte = model[i];
    consoleWriteByte(u8(byte >= 32 && byte < 127 ? byte : 63));        // "?" for what is not printable ASCII
  }
}

/** `swap: nvme 00:04.0 64 MiB (131072 sectors), namespace 1, blocks of 512 bytes, queues 256, ...` */
function report(): void {
  consoleWriteString("swap: ");
  diskWriteDevice("nvme", pciDeviceAt(deviceIndex));
  diskWriteSize(capacity);
  consoleWriteString(", namespace ");
  consoleWriteDecimal(namespace);
  consoleWriteString(", blocks of ");
  consoleWriteDecimal(512 << blockShift);
  consoleWriteString(" bytes, queues ");
  consoleWriteDecimal(entries);
  consoleWriteString(", ");
  consoleWriteDecimal(slots);
  consoleWriteString(" requests of up to ");
  consoleWriteDecimal(frameLimit);
  consoleWriteString(" pages, ");
  deviceInterruptWrite(pciDeviceAt(deviceIndex));
  diskWriteVersion("NVMe", register(REG_VS));
  writeModel();
  consoleWriteString("\"");
  consoleNewLine();
}

/**
 * disk.ts's DiskStart: the checked request in `slot` as one Read or Write command (interrupts disabled),
 * its command identifier the slot; BLK_ERROR_NO_DEVICE once the controller is gone.
 */
function nvmeStart(slot: u32, write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32): i32 {
  if (gone) return BLK_ERROR_NO_DEVICE;
  const entry = submissions + sqTail * SUBMISSION_BYTES;
  memoryFill(entry, 0, SUBMISSION_BYTES);
  store32(entry + SQE_CDW0, (write ? NVM_WRITE : NVM_READ) | (slot << 16));
  store32(entry + SQE_NSID, namespace);
  store32(entry + SQE_PRP1, frames[first]);
  if (count === 2) store32(entry + SQE_PRP2, frames[first + 1]);
  if (count > 2) {
    const list = prpLists[slot];
    for (let i: u32 = 1; i < count; i++) {
      store32(list + (i - 1) * 8, frames[first + i]);
      store32(list + (i - 1) * 8 + 4, 0);
    }
    store32(entry + SQE_PRP2, list);
  }
  store32(entry + SQE_CDW10, sector >>> blockShift);                 // SLBA (high half 0: sectors are u32)
  store32(entry + SQE_CDW12, ((count * BLK_SECTORS_PER_PAGE) >>> blockShift) - 1);   // NLB, 0-based
  sqTail++;
  if (sqTail === entries) sqTail = 0;
  store32(doorbell(IO_QUEUE, 0), sqTail);
  return BLK_OK;
}

/** A completion's status field (§4.6.1) as a disk.ts result. */
function resultOf(status: u32): i32 {
  if (status === 0) return BLK_OK;
  errors++;
  lastErrorStatus = status;
  const type = (status >>> STATUS_TYPE_SHIFT) & STATUS_TYPE_FIELD, code = status & STATUS_CODE_MASK;
  if (type === STATUS_TYPE_GENERIC && (code === STATUS_INVALID_OPCODE || code === STATUS_INVALID_FIELD)) {
    return BLK_ERROR_UNSUPPORTED;
  }
  return BLK_ERROR_IO;
}

/**
 * The controller's message (its vector is its own): ignored until it is the swap disk (the admin commands
 * at boot complete on vector 0 too, and are waited for), then the interrupt.
 */
function nvmeMessage(vector: u32): void {
  if (!interruptReady) return;
  if (profileOn()) profiledInterrupt(vector);
  else nvmeInterrupt(vector);
}

/** The interrupt in the profile's PROFILE_DISK (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(line: u32): void {
  const previous = profileEnter(PROFILE_DISK);
  nvmeInterrupt(line);
  profileLeave(previous);
}

/**
 * The controller's interrupt (its pin, possibly shared, or its message; interrupts disabled): up to
 * COMPLETION_BATCH new completion entries (with a message, batch after batch up to a queue's worth) end
 * their requests, then the head doorbell releases them. None new: not ours, or the
 * controller is gone or dead (CSTS): then every request in flight fails.
 */
function nvmeInterrupt(lineOrVector: u32): void {
  const start = rdtsc();
  const status = load32(completions + cqHead * COMPLETION_BYTES + CQE_DW3);
  if (((status >>> CQE_PHASE_SHIFT) & 1) !== cqPhase) {
    if (!gone) checkController();
    return;
  }
  // On the pin one batch; with a message, batches until the queue is empty or a queue's worth is done.
  let total: u32 = 0;
  let handled = completeBatch();
  total += handled;
  while (byMessage && handled === COMPLETION_BATCH && total < entries) {
    handled = completeBatch();
    total += handled;
  }
  diskInterruptDone(start);
}

/** Up to COMPLETION_BATCH new completion entries end their requests, then the head doorbell; how many. */
function completeBatch(): u32 {
  const queue = completions;
  let head = cqHead;
  let phase = cqPhase;
  let status = load32(queue + head * COMPLETION_BYTES + CQE_DW3);
  let handled: u32 = 0;
  while (handled < COMPLETION_BATCH && ((status >>> CQE_PHASE_SHIFT) & 1) === phase) {
    head++;
    if (head === entries) { head = 0; phase ^= 1; }
    handled++;
    cqHead = head;
    cqPhase = phase;
    diskComplete(status & 0xffff, resultOf(status >>> CQE_STATUS_SHIFT));   // an unknown identifier: counted
    status = load32(queue + head * COMPLETION_BYTES + CQE_DW3);
  }
  if (handled !== 0) store32(doorbell(IO_QUEUE, 1), head);
  return handled;
}

/** No completion behind an interrupt: a controller gone (all ones) or fatal (CFS) fails its requests. */
function checkController(): void {
  const csts = register(REG_CSTS);
  if (csts !== REGISTER_GONE && (csts & CSTS_FATAL) === 0) return;
  gone = true;
  if (csts !== REGISTER_GONE) setRegister(REG_CC, 0);   // disabled: it touches no frame again
  consoleWriteString("disk: ");
  diskWriteDevice("nvme", pciDeviceAt(deviceIndex));
  consoleWriteString(csts === REGISTER_GONE ? " gone (registers read all ones)" : " failed (CSTS.CFS)");
  consoleWriteString(": requests in flight and later ones fail");
  consoleNewLine();
  diskFailInFlight(BLK_ERROR_NO_DEVICE);
}

/** `nvme: errors E (last status 0xS)` after the `blk:` line. */
function nvmeReport(): void {
  consoleWriteString("nvme: errors ");
  consoleWriteDecimal(errors);
  consoleWriteString(" (last status 0x");
  consoleWriteHex(lastErrorStatus);
  consoleWriteString(")");
  if (gone) consoleWriteString(", controller gone");
  consoleNewLine();
}
