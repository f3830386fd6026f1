// The AHCI disk driver: a SATA disk on an AHCI controller on PCI (class 01h subclass 06h: QEMU's ich9-ahci,
// `-device ahci` or the q35 machine's own; the SATA controller of nearly every PC) as the swap disk, behind
// disk.ts's request interface. One port: the first with an ATA disk marked for swap (disk.ts), controllers
// in PCI order, each one's ports in order. The kernel prints:
//   swap: ahci 00:04.0 port 0 64 MiB (131072 sectors), blocks of 512 bytes, ncq 32 commands, 128 requests
//   of up to 126 pages, irq msi vector 0x40, AHCI 1.0, model "QEMU HARDDISK"
// (one line).
//
// How it works (Serial ATA AHCI 1.3, "AHCI 1.3"; the commands from ATA8-ACS):
// - Bring-up at boot (§10.1.2 "System Software Specific Initialization"): AHCI mode (GHC.AE), the firmware
//   asked to hand the controller over if it holds it (§10.6 BOHC), every implemented port stopped (PxCMD.ST
//   and FRE cleared, CR and FR awaited), then each port with a disk in turn (PxSSTS.DET 3: a device and a
//   link; PxSIG an ATA disk) gets the command list and received-FIS area, FIS receive on, PxSERR and PxIS
//   cleared, and is started (PxCMD.ST) once the device is not busy; IDENTIFY DEVICE, waited for (boot only,
//   bounded), gives the size (LBA48), the block size and whether the disk queues commands (NCQ); then its
//   interrupts are enabled (PxIE, GHC.IE) and its first sector read (disk.ts): unmarked, it is stopped again.
// - Requests: disk.ts gives up to 128 in flight; the device takes up to 32 (NCQ: READ/WRITE FPDMA QUEUED,
//   each command's tag its command slot, §5.6.4 / SATA "First-party DMA") or one at a time without NCQ
//   (READ/WRITE DMA EXT). Each request has its own command table (its H2D register FIS and one PRD per
//   frame, §4.2.3); a request that finds every command slot busy waits in a queue in the driver and is
//   issued from the interrupt that frees a slot. Nothing waits.
// - The interrupt (msi.ts: MSI where the controller offers it, as QEMU's ich9-ahci does, and the local APIC
//   is in use; else its PCI line, possibly shared; enabled once the disk is attached; a message comes again
//   for events left in IS after the clear): the port's PxIS is read and cleared; the commands the
//   device finished (their bits cleared in PxSACT, or in PxCI without NCQ) end with BLK_OK and the queued
//   requests take their command slots.
// - Errors (§6.2.2 "Software Error Recovery"): a task-file error (PxIS.TFES, PxTFD.STS.ERR), a fatal
//   interface or host-bus error, or a PxSERR bit ends normal operation: the commands the device finished
//   complete, the others go back to the driver's queue, and the port is recovered by a state machine that a
//   1 ms timer drives (the kernel runs VMs meanwhile): PxCMD.ST cleared and CR awaited, COMRESET (PxSCTL.DET
//   1, then 0, §10.4.2), the link and the device awaited, PxSERR cleared, ST set. The requests sent back are
//   then issued one at a time, so a failure names its request: that one ends with BLK_ERROR_IO (after its
//   own recovery), the others complete. A device that does not come back within the bounds, or a link lost
//   (PxSSTS.DET not 3 after a PhyRdy or connect change), fails every request in flight and every later one
//   with BLK_ERROR_NO_DEVICE.
// Not handled: port multipliers, ATAPI, disks without LBA48, a device that stops answering without an error
// (no watchdog; docs/swap.md).
// Invariants: a command slot h is busy (issued bit h) exactly while slotRequest[h] holds the disk.ts slot of
// its request; a disk.ts slot in flight is in exactly one place: issued, the retry queue or the queue.
import { bool, i32, u8, u32, load8, load16, load32, store32, memoryFill, rdtsc } from "dsl";
import { pciDeviceAt, pciDeviceCount, pciEnable, pciClaim, BAR_MEMORY } from "./pci.ts";
import { pagingMapDevice } from "./paging.ts";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrame, allocFrameRun, freeFrame } from "./frames.ts";
import { deviceInterruptAttach, deviceInterruptWrite } from "./msi.ts";
import { Nanoseconds, clockRead, nanosecondsAddMilliseconds } from "./clock.ts";
import { timerStart } from "./timer.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_DISK } from "./profile.ts";
import {
  diskAttach, diskDetach, diskAlreadyAttached, diskComplete, diskInterruptDone, diskFailInFlight, diskPoll,
  diskSetDriverReport, diskSetInterruptMode, diskWriteVersion,
  diskWriteDevice, diskWriteSize, BLK_OK, BLK_ERROR_IO, BLK_ERROR_NO_DEVICE, BLK_REQUEST_FRAME_LIMIT, BLK_SLOT_LIMIT,
  BLK_SECTORS_PER_PAGE, NO_SIGNATURE,
} from "./disk.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleWriteByte, consoleNewLine,
} from "./console.ts";

/** PCI class code (base class 01h mass storage, subclass 06h Serial ATA). */
const AHCI_CLASS: u32 = 0x0106;
const ABAR = 5;                                   // the AHCI base address (§2.1.11: BAR5)
const ABAR_MAP_LIMIT: u32 = 0x1100;               // the generic registers and 32 ports' (§3)

// Generic host control (§3.1), byte offsets into ABAR.
const HBA_CAP = 0x00;
const HBA_GHC = 0x04;
const HBA_IS = 0x08;
const HBA_PI = 0x0c;
const HBA_VS = 0x10;
const HBA_CAP2 = 0x24;
const HBA_BOHC = 0x28;
const CAP_PORTS_MASK: u32 = 0x1f;                 // NP: ports - 1
const CAP_SLOTS_SHIFT = 8;                        // NCS: command slots - 1, bits 12:8
const CAP_SLOTS_MASK: u32 = 0x1f;
const CAP_NCQ: u32 = 1 << 30;                     // SNCQ
const CAP_AHCI_ONLY: u32 = 1 << 18;               // SAM
const CAP_STAGGERED_SPIN_UP: u32 = 1 << 27;       // SSS
const GHC_INTERRUPTS: u32 = 1 << 1;               // IE
const GHC_AHCI: u32 = 0x80000000;                 // AE
const CAP2_HANDOFF: u32 = 1 << 0;                 // BOH
const BOHC_BIOS_OWNED: u32 = 1 << 0;              // BOS
const BOHC_OS_OWNED: u32 = 1 << 1;                // OOS
const BOHC_BIOS_BUSY: u32 = 1 << 4;               // BB

// Port registers (§3.3): port p's at 0x100 + 0x80 p.
const PORTS = 0x100;
const PORT_BYTES: u32 = 0x80;
const PX_CLB = 0x00;
const PX_CLBU = 0x04;
const PX_FB = 0x08;
const PX_FBU = 0x0c;
const PX_IS = 0x10;
const PX_IE = 0x14;
const PX_CMD = 0x18;
const PX_TFD = 0x20;
const PX_SIG = 0x24;
const PX_SSTS = 0x28;
const PX_SCTL = 0x2c;
const PX_SERR = 0x30;
const PX_SACT = 0x34;
const PX_CI = 0x38;
const CMD_START: u32 = 1 << 0;                    // ST
const CMD_SPIN_UP: u32 = 1 << 1;                  // SUD
const CMD_POWER_ON: u32 = 1 << 2;                 // POD
const CMD_FIS_RECEIVE: u32 = 1 << 4;              // FRE
const CMD_FIS_RUNNING: u32 = 1 << 14;             // FR
const CMD_LIST_RUNNING: u32 = 1 << 15;            // CR
const TFD_ERROR: u32 = 1 << 0;                    // STS.ERR
const TFD_DATA_REQUEST: u32 = 1 << 3;             // STS.DRQ
const TFD_BUSY: u32 = 1 << 7;                     // STS.BSY
const SSTS_DETECT_MASK: u32 = 0xf;
const SSTS_DEVICE_AND_LINK: u32 = 3;              // DET 3: device present, Phy communication established
const SCTL_DETECT_MASK: u32 = 0xf;
const SCTL_COMRESET: u32 = 1;                     // DET 1: send COMRESET
const SIGNATURE_ATA: u32 = 0x00000101;
// PxIS / PxIE bits (§3.3.5, §3.3.6).
const IS_D2H_REGISTER: u32 = 1 << 0;              // DHRS: a non-queued command ended
const IS_SET_DEVICE_BITS: u32 = 1 << 3;           // SDBS: queued commands ended
const IS_PORT_CONNECT: u32 = 1 << 6;              // PCS
const IS_PHY_READY: u32 = 1 << 22;                // PRCS
const IS_OVERFLOW: u32 = 1 << 24;                 // OFS
const IS_INTERFACE_NONFATAL: u32 = 1 << 26;       // INFS
const IS_INTERFACE_FATAL: u32 = 1 << 27;          // IFS
const IS_HOST_DATA: u32 = 1 << 28;                // HBDS
const IS_HOST_FATAL: u32 = 1 << 29;               // HBFS
const IS_TASK_FILE: u32 = 1 << 30;                // TFES
const IS_ERRORS: u32 = IS_OVERFLOW | IS_INTERFACE_NONFATAL | IS_INTERFACE_FATAL | IS_HOST_DATA | IS_HOST_FATAL
  | IS_TASK_FILE;
const IS_LINK: u32 = IS_PORT_CONNECT | IS_PHY_READY;
const IS_ENABLED: u32 = IS_D2H_REGISTER | IS_SET_DEVICE_BITS | IS_LINK | IS_ERRORS;

// Memory structures (§4.2): the command list (32 headers of 32 bytes, 1 KiB aligned), the received-FIS
// area (256 bytes, 256 aligned), a command table per request (128 aligned): the command FIS at 0, the PRDT
// at 0x80 (16 bytes a PRD).
const LIST_BYTES: u32 = 1024;
const HEADER_BYTES: u32 = 32;
const HEADER_FIS_DWORDS: u32 = 5;                 // CFL: an H2D register FIS is 20 bytes
const HEADER_WRITE: u32 = 1 << 6;                 // W: host to device
const HEADER_PRDT_SHIFT = 16;                     // PRDTL
const TABLE_PRDT = 0x80;
const PRD_BYTES: u32 = 16;
const TABLE_BYTES: u32 = 0x880;                   // 0x80 + 126 PRDs, rounded up to 128 bytes
const TABLE_FRAMES: u32 = 68;                     // 128 tables (BLK_SLOT_LIMIT) of TABLE_BYTES
// H2D register FIS (SATA 3.x §10.5.5): type 27h, C bit, command, features, LBA, device, count.
const FIS_REGISTER_H2D: u32 = 0x27;
const FIS_COMMAND_BIT: u32 = 0x80;
const DEVICE_LBA: u32 = 0x40;
const ATA_IDENTIFY: u32 = 0xec;
const ATA_READ_DMA_EXT: u32 = 0x25;
const ATA_WRITE_DMA_EXT: u32 = 0x35;
const ATA_READ_FPDMA: u32 = 0x60;
const ATA_WRITE_FPDMA: u32 = 0x61;
const NCQ_TAG_SHIFT = 3;                          // the tag in count bits 7:3
// IDENTIFY DEVICE data (ATA8-ACS §7.16.7), word offsets.
const ID_MODEL = 27;                              // words 27-46: 40 characters, two a word, high byte first
const ID_MODEL_WORDS: u32 = 20;
const ID_QUEUE_DEPTH = 75;                        // bits 4:0: depth - 1
const ID_SATA_CAPABILITIES = 76;                  // bit 8: NCQ
const ID_COMMAND_SETS = 83;                       // bit 10: 48-bit addresses
const ID_SECTORS_48 = 100;                        // words 100-103
const ID_SECTOR_SIZE = 106;                       // bit 14 valid (bit 15 0), bit 12: words 117-118 hold it
const ID_LOGICAL_SECTOR_WORDS = 117;
const SECTOR_SHIFT: u32 = 9;

// Bounds of the waits (milliseconds).
const STOP_MS: u32 = 500;                         // ST or FRE cleared: CR or FR clear (§10.1.2)
const HANDOFF_MS: u32 = 2000;
const DEVICE_MS: u32 = 5000;                      // a device busy after power-up or reset
const COMMAND_MS: u32 = 5000;                     // IDENTIFY
const LINK_MS: u32 = 1000;                        // COMRESET: the link back (DET 3)

let abar: u32 = 0;                                // kernel address of the registers (paging.ts device window)
let port: u32 = 0;
let portStarted = false;                          // bringing up `port`: fail() names it
let portRegisters: u32 = 0;
let deviceIndex: u32 = 0;
let commandList: u32 = 0;
let tables: u32 = 0;                              // request s's command table at tables + s * TABLE_BYTES
let ncq = false;
let ncqRefused = false;                           // `ahci=no-ncq` on the command line: as on a disk without NCQ
let commandSlots: u32 = 1;                        // what the device is given at once
let blockShift: u32 = 0;
let capacity: u32 = 0;
let gone = false;

// Requests (disk.ts slots): how each is issued; command slots: which request each carries.
const requestWrite = new Uint8Array(128);         // BLK_SLOT_LIMIT
const requestBlock = new Uint32Array(128);        // the first block
const requestBlocks = new Uint32Array(128);
const requestPrds = new Uint32Array(128);
const slotRequest = new Uint32Array(32);
let issued: u32 = 0;                              // command slots in use (bit h)
let issuedCount: u32 = 0;                         // bits set in `issued`
const freeCommandSlots = new Uint32Array(32);     // a stack of the command slots not in use
let freeCommandCount: u32 = 0;
/** Bit h of a word holding only bit h: BIT_INDEX[(bit * DE_BRUIJN) >>> 27] is h (a de Bruijn sequence). */
const DE_BRUIJN: u32 = 0x077cb531;
const BIT_INDEX: u8[] = [0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8, 31, 27, 13, 23, 21, 19, 16, 7, 26,
  12, 18, 6, 11, 5, 10, 9];
// Requests waiting for a command slot, in order: the queue, and those sent back by an error (served first,
// one at a time).
const waiting = new Uint32Array(128);
let waitingHead: u32 = 0;
let waitingCount: u32 = 0;
const retry = new Uint32Array(128);
let retryHead: u32 = 0;
let retryCount: u32 = 0;
let isolating = false;                            // a request sent back is issued alone

// Statistics (the driver's report line).
let commands: u32 = 0;
let peakIssued: u32 = 0;
let errors: u32 = 0;
let recoveries: u32 = 0;
let retried: u32 = 0;

function fail(why: string): bool {
  consoleWriteString("disk: ");
  diskWriteDevice("ahci", pciDeviceAt(deviceIndex));
  if (portStarted) { consoleWriteString(" port "); consoleWriteDecimal(port); }
  consoleWriteString(": ");
  consoleWriteString(why);
  consoleWriteString(", not used");
  consoleNewLine();
  return false;
}

function hba(offset: u32): u32 { return load32(abar + offset); }
function setHba(offset: u32, value: u32): void { store32(abar + offset, value); }
function reg(offset: u32): u32 { return load32(portRegisters + offset); }
function setReg(offset: u32, value: u32): void { store32(portRegisters + offset, value); }

function handedOver(): bool { return (hba(HBA_BOHC) & (BOHC_BIOS_OWNED | BOHC_BIOS_BUSY)) === 0; }
function listStopped(): bool { return (reg(PX_CMD) & CMD_LIST_RUNNING) === 0; }
function fisStopped(): bool { return (reg(PX_CMD) & CMD_FIS_RUNNING) === 0; }
function deviceIdle(): bool { return (reg(PX_TFD) & (TFD_BUSY | TFD_DATA_REQUEST)) === 0; }
function linkUp(): bool { return (reg(PX_SSTS) & SSTS_DETECT_MASK) === SSTS_DEVICE_AND_LINK; }
function firstSlotDone(): bool { return (reg(PX_CI) & 1) === 0 || (reg(PX_IS) & IS_ERRORS) !== 0; }

/**
 * Finds the first AHCI controller with an ATA disk and brings that disk up as the swap disk (the file's
 * comment), printing the `swap: ahci ...` line; false (silent) without a controller, false with a `disk:
 * ahci ...` line when it cannot be used or another disk is the swap disk. `noNcq`: one command at a time
 * even when the disk queues them (the path of disks without NCQ, tested in QEMU, whose disks all have it).
 */
export function ahciInit(noNcq: bool): bool {
  ncqRefused = noNcq;
  let attached = false;
  for (let i: u32 = 0; i < pciDeviceCount(); i++) {
    const d = pciDeviceAt(i);
    if (d.classCode !== AHCI_CLASS) continue;
    pciClaim(d);                                    // driven or not, it is not a device without a driver
    if (!diskAlreadyAttached("ahci", d) && bringUp(i)) attached = true;
  }
  return attached;
}

/** Controller `index` (a PCI function) with the swap disk on one of its ports, or false with a `disk:` line. */
function bringUp(index: u32): bool {
  deviceIndex = index;
  const d = pciDeviceAt(deviceIndex);
  if (d.barKind[ABAR] !== BAR_MEMORY) return fail("BAR5 (ABAR) is not a memory BAR below 4 GiB");
  pciEnable(d);
  abar = pagingMapDevice(d.barAddress[ABAR], d.barSize[ABAR] < ABAR_MAP_LIMIT ? d.barSize[ABAR] : ABAR_MAP_LIMIT);
  if (abar === 0) return fail("no room to map its registers");
  if (!takeController()) return false;
  if (!portsReady()) return false;
  const implemented = hba(HBA_PI);
  let ports: u32 = 0;
  let disks: u32 = 0;
  for (let p: u32 = 0; p < 32; p++) {
    if ((implemented & (1 << p)) === 0) continue;
    ports++;
    port = p;
    portRegisters = abar + PORTS + p * PORT_BYTES;
    if (!linkUp()) continue;
    if (!startPort(p)) { stopPort(); continue; }
    disks++;
    portStarted = true;
    const ok = identify() && attach();
    portStarted = false;
    if (ok) { report(); return true; }
    setReg(PX_IE, 0);
    stopPort();                                   // it holds on to none of the kernel's memory
  }
  if (disks === 0) noDisk(ports);
  return false;
}

/** The swap disk if its first sector holds the signature (disk.ts), with its interrupt line from then on. */
function attach(): bool {
  setReg(PX_IS, 0xffffffff);
  setReg(PX_IE, IS_ENABLED);
  setHba(HBA_IS, 1 << port);
  setHba(HBA_GHC, hba(HBA_GHC) | GHC_INTERRUPTS);
  if (!diskAttach(capacity, blockShift, BLK_SLOT_LIMIT, BLK_REQUEST_FRAME_LIMIT, false, ahciStart, ahciInterrupt)) {
    return fail(NO_SIGNATURE);
  }
  const handler = profileOn() ? profiledInterrupt : ahciInterrupt;
  if (!deviceInterruptAttach(pciDeviceAt(deviceIndex), handler)) {
    diskDetach();
    return fail("no MSI and no interrupt line routed to the 8259 it can use");
  }
  diskSetDriverReport(ahciReport);
  diskSetInterruptMode(pciDeviceAt(deviceIndex).interruptMode);
  return true;
}

/** AHCI mode, the firmware's hand-over (§10.6.3), every implemented port stopped (§10.1.2 step 3). */
function takeController(): bool {
  if ((hba(HBA_CAP) & CAP_AHCI_ONLY) === 0) setHba(HBA_GHC, hba(HBA_GHC) | GHC_AHCI);
  if ((hba(HBA_CAP2) & CAP2_HANDOFF) !== 0) {
    setHba(HBA_BOHC, hba(HBA_BOHC) | BOHC_OS_OWNED);
    if (!diskPoll(handedOver, HANDOFF_MS)) return fail("the firmware does not hand it over (BOHC)");
  }
  setHba(HBA_GHC, hba(HBA_GHC) & ~GHC_INTERRUPTS);
  const implemented = hba(HBA_PI);
  for (let p: u32 = 0; p < 32; p++) {
    if ((implemented & (1 << p)) === 0) continue;
    portRegisters = abar + PORTS + p * PORT_BYTES;
    if (!stopPort()) return fail("a port does not stop (PxCMD.CR or FR stays 1)");
  }
  return true;
}

/** Clears PxCMD.ST and FRE and waits for CR and FR (§10.3.2); false when they stay set. */
function stopPort(): bool {
  if ((reg(PX_CMD) & CMD_START) !== 0) setReg(PX_CMD, reg(PX_CMD) & ~CMD_START);
  if (!diskPoll(listStopped, STOP_MS)) return false;
  if ((reg(PX_CMD) & CMD_FIS_RECEIVE) !== 0) setReg(PX_CMD, reg(PX_CMD) & ~CMD_FIS_RECEIVE);
  return diskPoll(fisStopped, STOP_MS);
}

function anyLinkUp(): bool {
  const implemented = hba(HBA_PI);
  for (let p: u32 = 0; p < 32; p++) {
    if ((implemented & (1 << p)) === 0) continue;
    if ((load32(abar + PORTS + p * PORT_BYTES + PX_SSTS) & SSTS_DETECT_MASK) === SSTS_DEVICE_AND_LINK) return true;
  }
  return false;
}

/** The devices spun up (when the HBA staggers spin-up) and the command list and tables in memory. */
function portsReady(): bool {
  const implemented = hba(HBA_PI);
  if ((hba(HBA_CAP) & CAP_STAGGERED_SPIN_UP) !== 0) {        // spin the devices up, give the links time
    for (let p: u32 = 0; p < 32; p++) {
      if ((implemented & (1 << p)) === 0) continue;
      portRegisters = abar + PORTS + p * PORT_BYTES;
      setReg(PX_CMD, reg(PX_CMD) | CMD_SPIN_UP | CMD_POWER_ON);
    }
    diskPoll(anyLinkUp, LINK_MS);
  }
  if (commandList === FRAME_NONE) commandList = allocFrame();         // a controller tried before left them
  if (tables === FRAME_NONE) tables = allocFrameRun(TABLE_FRAMES);
  if (commandList === FRAME_NONE || tables === FRAME_NONE) return fail("no memory for its command tables");
  return true;
}

/** `disk: ahci BB:DD.F: no ATA disk on its N ports, not used`. */
function noDisk(ports: u32): void {
  consoleWriteString("disk: ");
  diskWriteDevice("ahci", pciDeviceAt(deviceIndex));
  consoleWriteString(": no ATA disk on its ");
  consoleWriteDecimal(ports);
  consoleWriteString(" ports, not used");
  consoleNewLine();
}

/** `disk: ahci BB:DD.F port P: WHY` for a port with a device the kernel does not use; false. */
function skipPort(p: u32, why: string, value: u32): bool {
  consoleWriteString("disk: ");
  diskWriteDevice("ahci", pciDeviceAt(deviceIndex));
  consoleWriteString(" port ");
  consoleWriteDecimal(p);
  consoleWriteString(": ");
  consoleWriteString(why);
  consoleWriteString(" 0x");
  consoleWriteHex(value);
  consoleNewLine();
  return false;
}

/**
 * Port `p` (portRegisters) with its command list and received-FIS area (one frame: the list, then the FIS
 * area), FIS receive on, errors cleared, the device awaited and checked (an ATA disk), ST set; false with
 * a `disk: ... port P:` line when its device is busy or not an ATA disk.
 */
function startPort(p: u32): bool {
  memoryFill(commandList, 0, PAGE_SIZE);
  memoryFill(tables, 0, TABLE_FRAMES << PAGE_SHIFT);
  setReg(PX_CLB, commandList);
  setReg(PX_CLBU, 0);
  setReg(PX_FB, commandList + LIST_BYTES);        // 256-byte aligned, after the 1 KiB list
  setReg(PX_FBU, 0);
  setReg(PX_CMD, reg(PX_CMD) | CMD_FIS_RECEIVE);
  setReg(PX_SERR, 0xffffffff);
  setReg(PX_IS, 0xffffffff);
  if (!diskPoll(deviceIdle, DEVICE_MS)) return skipPort(p, "its device stays busy, PxTFD", reg(PX_TFD));
  if (reg(PX_SIG) !== SIGNATURE_ATA) return skipPort(p, "not an ATA disk (an ATAPI drive?), signature", reg(PX_SIG));
  setReg(PX_CMD, reg(PX_CMD) | CMD_START);
  return true;
}

/** IDENTIFY DEVICE in command slot 0, waited for: capacity, block size, NCQ, model (printed by report). */
function identify(): bool {
  const data = allocFrame();
  if (data === FRAME_NONE) return fail("no memory for IDENTIFY");
  const table = tables;
  writeFis(table, ATA_IDENTIFY, 0, 0, 0, 0);
  store32(table + TABLE_PRDT, data);
  store32(table + TABLE_PRDT + 4, 0);
  store32(table + TABLE_PRDT + 12, 512 - 1);      // DBC: bytes - 1
  writeHeader(0, table, false, 1);
  setReg(PX_CI, 1);
  const answered = diskPoll(firstSlotDone, COMMAND_MS);
  const ok = answered && (reg(PX_CI) & 1) === 0 && (reg(PX_TFD) & TFD_ERROR) === 0;
  setReg(PX_IS, 0xffffffff);
  const result = ok ? identified(data) : fail("IDENTIFY DEVICE failed");
  freeFrame(data);
  return result;
}

const model = new Uint8Array(40);

function identified(data: u32): bool {
  if ((load16(data + 2 * ID_COMMAND_SETS) & (1 << 10)) === 0) return fail("no 48-bit addresses (LBA48)");
  const sizeWord = load16(data + 2 * ID_SECTOR_SIZE);
  blockShift = 0;
  if ((sizeWord & 0xc000) === 0x4000 && (sizeWord & (1 << 12)) !== 0) {
    const bytes = load32(data + 2 * ID_LOGICAL_SECTOR_WORDS) * 2;
    if (bytes !== 512 && bytes !== 1024 && bytes !== 2048 && bytes !== PAGE_SIZE) return fail("an unusual sector size");
    while ((512 << blockShift) < i32(bytes)) blockShift++;
  }
  const low = load32(data + 2 * ID_SECTORS_48), high = load32(data + 2 * ID_SECTORS_48 + 4);
  capacity = high !== 0 || low > (0xfffffff8 >>> blockShift) ? 0xfffffff8 : low << blockShift;
  if (capacity < BLK_SECTORS_PER_PAGE) return fail("a disk smaller than a page");
  const hbaSlots = ((hba(HBA_CAP) >>> CAP_SLOTS_SHIFT) & CAP_SLOTS_MASK) + 1;
  ncq = (hba(HBA_CAP) & CAP_NCQ) !== 0 && (load16(data + 2 * ID_SATA_CAPABILITIES) & (1 << 8)) !== 0 && !ncqRefused;
  const depth = (load16(data + 2 * ID_QUEUE_DEPTH) & 0x1f) + 1;
  commandSlots = ncq ? (hbaSlots < depth ? hbaSlots : depth) : 1;
  freeCommandCount = 0;
  for (let h: u32 = 0; h < commandSlots; h++) {
    freeCommandSlots[freeCommandCount] = commandSlots - 1 - h;
    freeCommandCount++;
  }
  for (let w: u32 = 0; w < ID_MODEL_WORDS; w++) {
    const word = load16(data + 2 * (ID_MODEL + w));
    model[2 * w] = u8(word >>> 8);
    model[2 * w + 1] = u8(word);
  }
  return true;
}

/** Command header `h`: the table, the direction, the PRDs (§4.2.2). */
function writeHeader(h: u32, table: u32, write: bool, prds: u32): void {
  const header = commandList + h * HEADER_BYTES;
  store32(header, HEADER_FIS_DWORDS | (write ? HEADER_WRITE : 0) | (prds << HEADER_PRDT_SHIFT));
  store32(header + 4, 0);                         // PRDBC: the HBA counts bytes here
  store32(header + 8, table);
  store32(header + 12, 0);
}

/** The H2D register FIS at `table`: command, features (16 bits), LBA (32 bits), count (16 bits). */
function writeFis(table: u32, command: u32, features: u32, block: u32, count: u32, device: u32): void {
  store32(table, FIS_REGISTER_H2D | (FIS_COMMAND_BIT << 8) | (command << 16) | ((features & 0xff) << 24));
  store32(table + 4, (block & 0xffffff) | (device << 24));
  store32(table + 8, (block >>> 24) | (((features >>> 8) & 0xff) << 24));     // LBA 47:32 are 0
  store32(table + 12, count & 0xffff);
  store32(table + 16, 0);
}

function writeModel(): void {
  let length: u32 = 40;
  while (length > 0 && (model[length - 1] === 32 || model[length - 1] === 0)) length--;
  for (let i: u32 = 0; i < length; i++) {
    const byte = model[i];
    consoleWriteByte(u8(byte >= 32 && byte < 127 ? byte : 63));        // "?" for what is not printable ASCII
  }
}

/** `swap: ahci 00:04.0 port 0 64 MiB (131072 sectors), blocks of 512 bytes, ncq 32 commands, ...` */
function report(): void {
  consoleWriteString("swap: ");
  diskWriteDevice("ahci", pciDeviceAt(deviceIndex));
  consoleWriteString(" port ");
  consoleWriteDecimal(port);
  diskWriteSize(capacity);
  consoleWriteString(", blocks of ");
  consoleWriteDecimal(512 << blockShift);
  consoleWriteString(ncq ? " bytes, ncq " : " bytes, no ncq: ");
  consoleWriteDecimal(commandSlots);
  consoleWriteString(ncq ? " commands, " : " command, ");
  consoleWriteDecimal(BLK_SLOT_LIMIT);
  consoleWriteString(" requests of up to ");
  consoleWriteDecimal(BLK_REQUEST_FRAME_LIMIT);
  consoleWriteString(" pages, ");
  deviceInterruptWrite(pciDeviceAt(deviceIndex));
  diskWriteVersion("AHCI", hba(HBA_VS));
  writeModel();
  consoleWriteString("\"");
  consoleNewLine();
}

// ---- requests ----------------------------------------------------------------------------------------------

/**
 * disk.ts's DiskStart (interrupts disabled): the checked request in `slot` gets its PRDs in its own
 * command table, then a command slot now, or a place in the queue; BLK_ERROR_NO_DEVICE once the disk is gone.
 */
function ahciStart(slot: u32, write: bool, sector: u32, frames: Uint32Array, first: u32, count: u32): i32 {
  if (gone) return BLK_ERROR_NO_DEVICE;
  const prdt = tables + slot * TABLE_BYTES + TABLE_PRDT;
  for (let i: u32 = 0; i < count; i++) {
    const prd = prdt + i * PRD_BYTES;
    store32(prd, frames[first + i]);
    store32(prd + 4, 0);
    store32(prd + 12, PAGE_SIZE - 1);             // DBC: bytes - 1, no interrupt on this PRD
  }
  requestWrite[slot] = write ? 1 : 0;
  requestBlock[slot] = sector >>> blockShift;
  requestBlocks[slot] = (count * BLK_SECTORS_PER_PAGE) >>> blockShift;
  requestPrds[slot] = count;
  waiting[(waitingHead + waitingCount) % BLK_SLOT_LIMIT] = slot;
  waitingCount++;
  issueWaiting();
  return BLK_OK;
}

/** Issues waiting requests while command slots are free: those sent back by an error first, one at a time. */
function issueWaiting(): void {
  while (retryCount > 0 || waitingCount > 0) {
    isolating = isolating || retryCount > 0;
    if (recovery !== RECOVERY_NONE || issuedCount >= (isolating ? 1 : commandSlots)) return;
    freeCommandCount--;
    const h = freeCommandSlots[freeCommandCount];
    let slot: u32 = 0;
    if (retryCount > 0) {
      slot = retry[retryHead];
      retryHead = (retryHead + 1) % BLK_SLOT_LIMIT;
      retryCount--;
    } else {
      slot = waiting[waitingHead];
      waitingHead = (waitingHead + 1) % BLK_SLOT_LIMIT;
      waitingCount--;
    }
    issue(h, slot);
  }
}

/** Request `slot` to the device in command slot `h` (§5.5.1: PxSACT before PxCI for a queued command). */
function issue(h: u32, slot: u32): void {
  const table = tables + slot * TABLE_BYTES;
  const write = requestWrite[slot] !== 0;
  const blocks = requestBlocks[slot];
  if (ncq) {
    const command = write ? ATA_WRITE_FPDMA : ATA_READ_FPDMA;
    writeFis(table, command, blocks, requestBlock[slot], h << NCQ_TAG_SHIFT, DEVICE_LBA);      // count: the tag
  } else {
    writeFis(table, write ? ATA_WRITE_DMA_EXT : ATA_READ_DMA_EXT, 0, requestBlock[slot], blocks, DEVICE_LBA);
  }
  writeHeader(h, table, write, requestPrds[slot]);
  slotRequest[h] = slot;
  issued = issued | (1 << h);
  issuedCount++;
  commands++;
  if (issuedCount > peakIssued) peakIssued = issuedCount;
  if (ncq) setReg(PX_SACT, 1 << h);
  setReg(PX_CI, 1 << h);
}

/** The commands the device has finished without error: not active (PxSACT) or, without NCQ, not issued (PxCI). */
function finishedCommands(): u32 {
  return u32(issued & ~(ncq ? reg(PX_SACT) : reg(PX_CI)));
}

/** Frees command slot `h` (in `issued`); its request's disk.ts slot. */
function release(h: u32): u32 {
  issued = issued & ~(1 << h);
  issuedCount--;
  freeCommandSlots[freeCommandCount] = h;
  freeCommandCount++;
  if (isolating && retryCount === 0 && issuedCount === 0) isolating = false;
  return slotRequest[h];
}

/** The lowest command slot in `set` (not 0). */
function lowestSlot(set: u32): u32 { return BIT_INDEX[u32(Math.imul(i32(set & (0 - set)), i32(DE_BRUIJN))) >>> 27]; }

/** Ends the requests of the command slots in `finished` with BLK_OK (their `done` may submit more). */
function completeCommands(finished: u32): void {
  let left = finished;
  while (left !== 0) {
    const h = lowestSlot(left);
    left = left & ~(1 << h);
    diskComplete(release(h), BLK_OK);
  }
}

/** The interrupt in the profile's PROFILE_DISK (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(line: u32): void {
  const previous = profileEnter(PROFILE_DISK);
  ahciInterrupt(line);
  profileLeave(previous);
}

/**
 * The controller's interrupt (possibly shared; interrupts disabled): the port's events are read and
 * cleared (PxIS, then IS), errors start a recovery, a lost link ends the disk, finished commands end their
 * requests and free their slots for the queue. Events after the read raise the interrupt again.
 */
function ahciInterrupt(line: u32): void {
  const start = rdtsc();
  if ((hba(HBA_IS) & (1 << port)) === 0) return;  // the line is shared and it was not us (or a late message)
  const events = reg(PX_IS);
  setReg(PX_IS, events);
  setHba(HBA_IS, 1 << port);
  if (!gone && recovery === RECOVERY_NONE) {
    if ((events & IS_LINK) !== 0 && !linkUp()) diskGone("the link is lost (PxSSTS.DET)");
    else if ((events & IS_ERRORS) !== 0 || (reg(PX_TFD) & TFD_ERROR) !== 0 || reg(PX_SERR) !== 0) recover();
    else {
      completeCommands(finishedCommands());
      issueWaiting();
    }
  }
  diskInterruptDone(start);
}

// ---- errors ------------------------------------------------------------------------------------------------

const RECOVERY_NONE = 0;
const RECOVERY_STOPPING = 1;                      // PxCMD.ST cleared, waiting for CR
const RECOVERY_RESETTING = 2;                     // COMRESET sent (PxSCTL.DET 1)
const RECOVERY_LINK = 3;                          // waiting for the link and the device
let recovery = RECOVERY_NONE;
let recoveryWaited: u32 = 0;                      // milliseconds in this step
const recoveryNow = new Nanoseconds();
const recoveryDeadline = new Nanoseconds();

/**
 * An error (§6.2.2): the port is stopped (the recovery steps follow from a timer) and nothing is issued
 * until it is back. Then the commands the device finished complete; while isolating, the one command
 * issued is the one that failed: it ends with BLK_ERROR_IO; otherwise every unfinished one goes back to be
 * issued alone. (Completions may submit more: those wait in the queue.)
 */
function recover(): void {
  errors++;
  recoveries++;
  const finished = finishedCommands();
  const unfinished = u32(issued & ~finished);
  setReg(PX_CMD, reg(PX_CMD) & ~CMD_START);
  recovery = RECOVERY_STOPPING;
  recoveryWaited = 0;
  const alone = isolating;
  let left = unfinished;
  while (left !== 0) {
    const h = lowestSlot(left);
    left = left & ~(1 << h);
    const slot = release(h);
    if (alone) { diskComplete(slot, BLK_ERROR_IO); continue; }
    retry[(retryHead + retryCount) % BLK_SLOT_LIMIT] = slot;
    retryCount++;
    retried++;
  }
  completeCommands(finished);
  armRecovery();
}

function armRecovery(): void {
  clockRead(recoveryNow);
  nanosecondsAddMilliseconds(recoveryDeadline, recoveryNow, 1);
  if (timerStart(recoveryDeadline, recoveryStep, 0) === 0) diskGone("no timer for its recovery");
}

/**
 * One step of the recovery (a timer's callback, interrupts disabled): move on, wait a millisecond more, or
 * give up (the disk is gone). Its completions are counted as an interrupt's.
 */
function recoveryStep(argument: u32): void {
  const start = rdtsc();
  recoveryWaited++;
  if (recovery === RECOVERY_STOPPING) {
    if (listStopped()) {
      setReg(PX_SCTL, (reg(PX_SCTL) & ~SCTL_DETECT_MASK) | SCTL_COMRESET);
      recovery = RECOVERY_RESETTING;
      recoveryWaited = 0;
    } else if (recoveryWaited > STOP_MS) diskGone("the port does not stop (PxCMD.CR)");
  } else if (recovery === RECOVERY_RESETTING) {
    setReg(PX_SCTL, reg(PX_SCTL) & ~SCTL_DETECT_MASK);      // held 1 ms (§10.4.2), released
    recovery = RECOVERY_LINK;
    recoveryWaited = 0;
  } else if (linkUp() && deviceIdle()) {
    setReg(PX_SERR, 0xffffffff);
    setReg(PX_IS, 0xffffffff);
    setReg(PX_CMD, reg(PX_CMD) | CMD_START);
    recovery = RECOVERY_NONE;
    issueWaiting();
  } else if (recoveryWaited > LINK_MS + DEVICE_MS) diskGone("it does not come back after COMRESET");
  if (recovery === RECOVERY_NONE) diskInterruptDone(start);
  else armRecovery();
}

/** The disk is gone or dead: the port stopped, every request in flight and every later one fails. */
function diskGone(why: string): void {
  gone = true;
  recovery = RECOVERY_NONE;
  setReg(PX_CMD, reg(PX_CMD) & ~(CMD_START | CMD_FIS_RECEIVE));
  consoleWriteString("disk: ");
  diskWriteDevice("ahci", pciDeviceAt(deviceIndex));
  consoleWriteString(" gone: ");
  consoleWriteString(why);
  consoleWriteString(": requests in flight and later ones fail");
  consoleNewLine();
  while (issued !== 0) release(lowestSlot(issued));
  waitingCount = 0;
  retryCount = 0;
  diskFailInFlight(BLK_ERROR_NO_DEVICE);
}

/** `ahci: commands C (peak P at the device), errors E, recoveries R, requests retried T` after `blk:`. */
function ahciReport(): void {
  consoleWriteString("ahci: commands ");
  consoleWriteDecimal(commands);
  consoleWriteString(" (peak ");
  consoleWriteDecimal(peakIssued);
  consoleWriteString(" at the device), errors ");
  consoleWriteDecimal(errors);
  consoleWriteString(", recoveries ");
  consoleWriteDecimal(recoveries);
  consoleWriteString(", requests retried ");
  consoleWriteDecimal(retried);
  if (gone) consoleWriteString(", disk gone");
  consoleNewLine();
}
