// A NIC driver (nic.ts) for Intel's gigabit family: the 82540EM (PCI; QEMU's `-device e1000`, its
// default card) and the 82574L (PCIe; QEMU's `-device e1000e`), real cards of real PCs. Both are driven
// the same way, through their memory-mapped registers (BAR0, mapped uncached by paging.ts's device
// window: QEMU's 82540EM does not implement the I/O-port window), with legacy descriptors:
//   - receive: a ring of RX_RING descriptors, each holding a network buffer (netbuf.ts) whose frame
//     offset is the descriptor's address; the card writes a frame there and sets DD. The interrupt
//     hands each good frame to the switch (nic.ts's receive steps: a buffer the switch keeps is replaced
//     by the spare) and gives the descriptor back, then moves the tail (RDT) behind the last one it gave
//     back: the card always owns RX_RING - 1.
//     Unicast promiscuous (every VM has its own MAC) and broadcast (ARP) are accepted, multicast is not;
//     the CRC is stripped; long packets are off, so the card never writes more than 1,522 bytes (a
//     VLAN-tagged frame), well inside the 2,030 bytes a buffer has from its frame offset.
//   - transmit: the switch's buffer goes on the next descriptor (EOP, insert FCS, report status), the tail
//     (TDT) moves, at once or later while nic.ts defers doorbells; a descriptor whose DD is set has been
//     sent and its buffer goes back to the pool (reclaimed on the next send and on every interrupt; transmit
//     interrupts are not enabled). One slot stays empty, so head = tail means an empty ring.
//   - interrupts (msi.ts): MSI where the card offers it (the 82574L; QEMU's 82540EM has no MSI capability)
//     and the local APIC is in use, a vector of its own; else legacy INTx# through the 8259 (the line may
//     be shared: ICR says whether the card asked). For a received frame (RXT0, no delay timer), a receiver
//     overrun, the ring running low and a link change (printed). The 82574L's MSI-X (causes routed to
//     vectors through IVAR) is not used: MSI comes first.
//   - no checksum offload either way: RXCSUM off, legacy transmit descriptors without IC.
//   - the MAC address from the EEPROM (words 0-2, through EERD), else from receive address 0 (RAL0/RAH0,
//     which the card loads from the EEPROM at reset); written back to RAL0/RAH0 as valid.
// Every wait on the card (reset, an EEPROM read) is bounded in time: a card that does not answer is
// reported and left, never waited for.
// References: PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual (the 8254x
// SDM, 317453006, rev. 4.0): §3.2 "Packet Reception" (the receive descriptor, Tables 3-1..3-3), §3.3
// "Packet Transmission" (the legacy transmit descriptor, its command and status, Tables 3-8..3-11), §5.3.1
// "Software Access" (EERD), §5.6 "EEPROM Address Map" (words 00h-02h: the Ethernet address), §13.4 the
// registers by name (CTRL, STATUS, EERD, ICR §13.4.17, IMS, IMC, RCTL, FCAL/FCAH/FCT/FCTTV, RDBAL..RDT,
// RDTR §13.4.30, TCTL, TIPG §13.4.34 (Table 13-77), TDBAL..TDT §13.4.36-40, RXCSUM, MTA, RAL/RAH), §14
// "General Initialization and Reset Operation" (general configuration, receive and transmit
// initialization); Intel 82574 GbE Controller Family Datasheet (317694): its register chapter, with the
// same offsets and bits for everything used here except EERD's layout (DONE bit 1, address bits 15:2)
// and ICR's INT_ASSERTED (bit 31).
// Invariants: receive descriptor i always holds rxBuffers[i]; rxNext is the next descriptor the card
// completes; transmit descriptors txClean..txTail-1 (mod TX_RING) are in flight with txBuffers set, the
// others free with txBuffers 0.
import { bool, u8, u32, load8, load16, load32, store32, memoryFill, rdtsc, pause } from "dsl";
import { pciEnable, PciDevice, BAR_MEMORY, pciWriteLocation } from "./pci.ts";
import { pagingMapDevice } from "./paging.ts";
import { FRAME_NONE, allocFrame } from "./frames.ts";
import { netBufferAlloc, netBufferFree, netBufferSetLength, NET_BUFFER_FRAME } from "./netbuf.ts";
import {
  NicCounters, nicAttach, nicReceiveHandler, nicReportCounters, nicBenchRecord, pollNothing, armNothing,
  nicDoorbellsDeferred, NIC_DOORBELL_BATCH,
} from "./nic.ts";
import { FRAME_MIN, FRAME_MAX } from "../abi/hypercalls.ts";
import { deviceInterruptAttach, deviceInterruptIsMessage, interruptModeName, deviceInterruptWrite } from "./msi.ts";
import { clockTscKiloHertz } from "./clock.ts";
import { profileOn, profileEnter, profileLeave, PROFILE_NIC } from "./profile.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteByte, consoleWriteHex, consoleNewLine,
} from "./console.ts";

// PCI ids (8254x SDM §5.6.x "Device ID" and Table 5-1; 82574 datasheet "PCI Device ID").
const INTEL_VENDOR_ID: u32 = 0x8086;
const DEVICE_82540EM: u32 = 0x100e;
const DEVICE_82574L: u32 = 0x10d3;
export const E1000_MODEL_NONE: u32 = 0;
const MODEL_82540EM: u32 = 1;
const MODEL_82574L: u32 = 2;

// Registers: byte offsets in BAR0 (8254x SDM Table 13-2; the 82574's §10.2 has the same).
const CTRL = 0x0000;
const STATUS = 0x0008;
const EERD = 0x0014;
const ICR = 0x00c0;
const IMS = 0x00d0;
const IMC = 0x00d8;
const RCTL = 0x0100;
const FCAL = 0x0028;
const FCAH = 0x002c;
const FCT = 0x0030;
const FCTTV = 0x0170;
const TCTL = 0x0400;
const TIPG = 0x0410;
const RDBAL = 0x2800;
const RDBAH = 0x2804;
const RDLEN = 0x2808;
const RDH = 0x2810;
const RDT = 0x2818;
const RDTR = 0x2820;
const TDBAL = 0x3800;
const TDBAH = 0x3804;
const TDLEN = 0x3808;
const TDH = 0x3810;
const TDT = 0x3818;
const RXCSUM = 0x5000;
const MTA = 0x5200;                 // the multicast table: 128 dwords
const MTA_ENTRIES: u32 = 128;
const RAL0 = 0x5400;
const RAH0 = 0x5404;

// CTRL (§13.4.1): set link up, auto-speed detection; reset; the bits that must be clear for normal
// operation with the internal PHY (link reset, PHY reset, invert loss-of-signal, VLAN mode, forced speed
// and duplex).
const CTRL_LRST: u32 = 1 << 3;
const CTRL_ASDE: u32 = 1 << 5;
const CTRL_SLU: u32 = 1 << 6;
const CTRL_ILOS: u32 = 1 << 7;
const CTRL_FRCSPD: u32 = 1 << 11;
const CTRL_FRCDPLX: u32 = 1 << 12;
const CTRL_RST: u32 = 1 << 26;
const CTRL_VME: u32 = 1 << 30;
const CTRL_PHY_RST: u32 = 0x80000000;

// STATUS (§13.4.2): full duplex, link up, speed (bits 7:6: 00 10, 01 100, 1x 1000 Mb/s).
const STATUS_FD: u32 = 1 << 0;
const STATUS_LU: u32 = 1 << 1;
const STATUS_SPEED_SHIFT = 6;

// EERD (§13.4.4; 82574 §10.2.2.x): START bit 0, data bits 31:16; DONE and the word address differ.
const EERD_START: u32 = 1;
const EERD_DATA_SHIFT = 16;
const EERD_DONE_82540: u32 = 1 << 4;
const EERD_ADDRESS_SHIFT_82540 = 8;
const EERD_DONE_82574: u32 = 1 << 1;
const EERD_ADDRESS_SHIFT_82574 = 2;
/** EEPROM words 00h-02h: the Ethernet address, low byte first in each word (§5.6.1). */
const EEPROM_ETHERNET_ADDRESS = 0;

// Interrupt causes (ICR/IMS/IMC, §13.4.17): a receive timer (a frame is in memory: with RDTR 0, at
// once), receiver overrun, receive descriptors at the minimum threshold, link status change.
const INTERRUPT_LSC: u32 = 1 << 2;
const INTERRUPT_RXDMT0: u32 = 1 << 4;
const INTERRUPT_RXO: u32 = 1 << 6;
const INTERRUPT_RXT0: u32 = 1 << 7;
const INTERRUPTS_ENABLED: u32 = INTERRUPT_LSC | INTERRUPT_RXDMT0 | INTERRUPT_RXO | INTERRUPT_RXT0;
/** 82574 ICR bit 31, INT_ASSERTED: this card drives its interrupt (a shared line: not ours when clear). */
const ICR_INT_ASSERTED: u32 = 0x80000000;

// RCTL (§13.4.22): receiver enable, unicast promiscuous, broadcast accept, strip CRC; BSIZE 00 with
// BSEX 0 is 2,048-byte buffers; LPE (long packets), multicast promiscuous, loopback, VLAN filter and
// (82574) the descriptor type stay 0: legacy descriptors.
const RCTL_EN: u32 = 1 << 1;
const RCTL_UPE: u32 = 1 << 3;
const RCTL_BAM: u32 = 1 << 15;
const RCTL_SECRC: u32 = 1 << 26;

// TCTL (§13.4.33): transmit enable, pad short packets, collision threshold 0Fh, collision distance 40h
// (full duplex), the manual's recommended values. TIPG (§13.4.34): IPGT 10 on the 82540's copper PHY
// (8 on the 82574, which adds its own 4), IPGR1 8, IPGR2 6.
const TCTL_EN: u32 = 1 << 1;
const TCTL_PSP: u32 = 1 << 3;
const TCTL_CT: u32 = 0x0f << 4;
const TCTL_COLD: u32 = 0x40 << 12;
const TIPG_82540: u32 = 10 | (8 << 10) | (6 << 20);
const TIPG_82574: u32 = 8 | (8 << 10) | (6 << 20);

// RAH (§13.4.x "Receive Address High"): address valid.
const RAH_AV: u32 = 0x80000000;

// Descriptors: 16 bytes. Receive (§3.2.3, Table 3-1): u64 buffer address, u16 length, u16 checksum,
// u8 status, u8 errors, u16 special. Transmit, legacy (§3.3.3, Table 3-8): u64 buffer address, u16
// length, u8 CSO, u8 command, u8 status (low nibble), u8 CSS, u16 special.
const DESCRIPTOR_BYTES: u32 = 16;
const DESCRIPTOR_ADDRESS = 0;
const RX_LENGTH = 8;
const RX_STATUS = 12;
const RX_ERRORS = 13;
const RX_STATUS_DD: u32 = 1 << 0;                 // descriptor done (Table 3-2)
const RX_STATUS_EOP: u32 = 1 << 1;                // end of packet
// Frame errors (Table 3-3): CRC/alignment, symbol, sequence, carrier extension, RX data error. TCPE and
// IPE (checksum errors) are left out: checksum offload is off, the guests check their checksums.
const RX_ERRORS_FRAME: u32 = 0x01 | 0x02 | 0x04 | 0x10 | 0x80;
const TX_LENGTH = 8;                              // u16 length, u8 CSO, u8 command: one dword
const TX_STATUS = 12;                             // u8 status, u8 CSS, u16 special: one dword
const TX_COMMAND_SHIFT = 24;
// Command (Table 3-10): end of packet, insert FCS, report status (DD is written back); IC, DEXT, VLE,
// IDE clear: no checksum insertion, a legacy descriptor, no VLAN tag, no interrupt delay.
const TX_COMMAND: u32 = 0x01 | 0x02 | 0x08;
const TX_STATUS_DD: u32 = 1 << 0;

/** Ring sizes: RDLEN and TDLEN must be multiples of 128 bytes (8 descriptors); powers of two here. */
const RX_RING: u32 = 128;                         // the buffers the wire's reserve in switch.ts counts on
const TX_RING: u32 = 256;

// Bounded waits, in milliseconds of the TSC (clock.ts).
const RESET_SETTLE_MS: u32 = 2;
const RESET_TIMEOUT_MS: u32 = 20;
const EEPROM_TIMEOUT_MS: u32 = 10;

let model: u32 = E1000_MODEL_NONE;
let registers: u32 = 0;                           // BAR0's virtual address in the device window
let registersPhysical: u32 = 0;
let interruptMode: u32 = 0;                      // how its interrupt arrives (pci.ts INTERRUPT_MODE_*)
let byMessage = false;                            // its interrupt is a message (MSI): never shared
let rxRing: u32 = 0;                              // descriptor rings: frames, physical = virtual
let txRing: u32 = 0;
const rxBuffers = new Uint32Array(128);           // RX_RING
const txBuffers = new Uint32Array(256);           // TX_RING
let rxNext: u32 = 0;
let spare: u32 = 0;                               // a buffer ready to replace the next one the switch keeps
let rxDiscarding = false;                         // inside a frame that spans descriptors (dropped)
let txTail: u32 = 0;
let txClean: u32 = 0;
let linkUp = false;
let macFromEeprom = false;
const mac = new Uint8Array(6);
const counters = new NicCounters();

function readRegister(register: u32): u32 { return load32(registers + register); }
function writeRegister(register: u32, value: u32): void { store32(registers + register, value); }

/** The model of the PCI function at `d` this driver knows, or E1000_MODEL_NONE. */
export function e1000Model(d: PciDevice): u32 {
  if (d.vendorId !== INTEL_VENDOR_ID) return E1000_MODEL_NONE;
  if (d.deviceId === DEVICE_82540EM) return MODEL_82540EM;
  if (d.deviceId === DEVICE_82574L) return MODEL_82574L;
  return E1000_MODEL_NONE;
}

function modelName(m: u32): string { return m === MODEL_82574L ? "82574L" : "82540EM"; }
/** The name Linux and QEMU give the driver of each model. */
function driverName(m: u32): string { return m === MODEL_82574L ? "e1000e" : "e1000"; }

/** True once `milliseconds` of the TSC have passed since `start` (rdtsc). */
function elapsed(start: u32, milliseconds: u32): bool { return rdtsc() - start >= clockTscKiloHertz() * milliseconds; }

/** Waits until register & mask is `expected`, at most `milliseconds`; false on timeout. */
function waitRegister(register: u32, mask: u32, expected: u32, milliseconds: u32): bool {
  const start = rdtsc();
  while ((readRegister(register) & mask) !== expected) {
    if (elapsed(start, milliseconds)) return false;
    pause();
  }
  return true;
}

function fail(d: PciDevice, why: string): bool {
  if (registers !== 0) writeRegister(IMC, 0xffffffff);
  consoleWriteString(driverName(model));
  consoleWriteString(" ");
  pciWriteLocation(d);
  consoleWriteString(": ");
  consoleWriteString(why);
  consoleNewLine();
  return false;
}

/** EEPROM word `address` through EERD (§5.3.1 "Software Access"); 0xffffffff when it does not answer. */
function eepromRead(address: u32): u32 {
  const done = model === MODEL_82574L ? EERD_DONE_82574 : EERD_DONE_82540;
  const shift = model === MODEL_82574L ? EERD_ADDRESS_SHIFT_82574 : EERD_ADDRESS_SHIFT_82540;
  writeRegister(EERD, (address << shift) | EERD_START);
  if (!waitRegister(EERD, done, done, EEPROM_TIMEOUT_MS)) return 0xffffffff;
  return readRegister(EERD) >>> EERD_DATA_SHIFT;
}

/** The MAC: EEPROM words 0-2, else RAL0/RAH0 when valid; written back to RAL0/RAH0 as valid. False: none. */
function readMac(): bool {
  macFromEeprom = true;
  for (let w: u32 = 0; w < 3; w++) {
    const word = eepromRead(EEPROM_ETHERNET_ADDRESS + w);
    if (word === 0xffffffff) { macFromEeprom = false; break; }
    mac[2 * w] = word & 0xff;
    mac[2 * w + 1] = word >>> 8;
  }
  if (!macFromEeprom) {
    const low = readRegister(RAL0), high = readRegister(RAH0);
    if ((high & RAH_AV) === 0) return false;
    for (let i: u32 = 0; i < 4; i++) mac[i] = low >>> (8 * i);
    mac[4] = high;
    mac[5] = high >>> 8;
  }
  if ((mac[0] & 1) !== 0) return false;          // a group address cannot be a card's
  writeRegister(RAL0, mac[0] | (mac[1] << 8) | (mac[2] << 16) | (mac[3] << 24));
  writeRegister(RAH0, mac[4] | (mac[5] << 8) | RAH_AV);
  return true;
}

/** Software reset (CTRL.RST, self-clearing; §14) with every interrupt masked before and after. */
function reset(): bool {
  writeRegister(IMC, 0xffffffff);
  writeRegister(CTRL, readRegister(CTRL) | CTRL_RST);
  const start = rdtsc();
  while (!elapsed(start, RESET_SETTLE_MS)) pause();
  if (!waitRegister(CTRL, CTRL_RST, 0, RESET_TIMEOUT_MS)) return false;
  writeRegister(IMC, 0xffffffff);
  readRegister(ICR);
  return true;
}

/** Receive (§14.4): the ring full of buffers, RDTR 0, no checksum offload, then the receiver on. */
function setUpReceive(): bool {
  rxRing = allocFrame();
  if (rxRing === FRAME_NONE) return false;
  memoryFill(rxRing, 0, RX_RING * DESCRIPTOR_BYTES);
  for (let i: u32 = 0; i < RX_RING; i++) {
    const buffer = netBufferAlloc();
    if (buffer === 0) return false;
    rxBuffers[i] = buffer;
    offerReceive(i);
  }
  rxNext = 0;
  spare = netBufferAlloc();
  for (let i: u32 = 0; i < MTA_ENTRIES; i++) writeRegister(MTA + 4 * i, 0);
  writeRegister(RDBAL, rxRing);
  writeRegister(RDBAH, 0);
  writeRegister(RDLEN, RX_RING * DESCRIPTOR_BYTES);
  writeRegister(RDH, 0);
  writeRegister(RDT, RX_RING - 1);
  writeRegister(RDTR, 0);
  writeRegister(RXCSUM, 0);
  writeRegister(RCTL, RCTL_EN | RCTL_UPE | RCTL_BAM | RCTL_SECRC);
  return true;
}

/** Transmit (§14.5): an empty ring, then the transmitter on. */
function setUpTransmit(): bool {
  txRing = allocFrame();
  if (txRing === FRAME_NONE) return false;
  memoryFill(txRing, 0, TX_RING * DESCRIPTOR_BYTES);
  for (let i: u32 = 0; i < TX_RING; i++) txBuffers[i] = 0;
  txTail = 0;
  txTold = 0;
  txClean = 0;
  writeRegister(TDBAL, txRing);
  writeRegister(TDBAH, 0);
  writeRegister(TDLEN, TX_RING * DESCRIPTOR_BYTES);
  writeRegister(TDH, 0);
  writeRegister(TDT, 0);
  writeRegister(TIPG, model === MODEL_82574L ? TIPG_82574 : TIPG_82540);
  writeRegister(TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
  return true;
}

/**
 * Brings up the 82540EM or 82574L at `d` (nic.ts's probe): registers mapped, reset, link set up (§14.3),
 * MAC, flow control off, receive and transmit rings, its interrupt line; attaches it to the switch.
 * False, with the reason printed, when it fails.
 */
export function e1000Init(d: PciDevice): bool {
  model = e1000Model(d);
  registers = 0;
  if (d.barKind[0] !== BAR_MEMORY) return fail(d, "BAR0 is not a memory BAR");
  pciEnable(d);
  registersPhysical = d.barAddress[0];
  registers = pagingMapDevice(registersPhysical, d.barSize[0]);
  if (registers === 0) return fail(d, "no room to map its registers");
  if (!reset()) return fail(d, "it did not come out of reset");
  const control = readRegister(CTRL) & ~(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_VME | CTRL_FRCSPD | CTRL_FRCDPLX);
  writeRegister(CTRL, control | CTRL_SLU | CTRL_ASDE);
  // No flow control (§14.3): its address, type and timer registers 0.
  writeRegister(FCAL, 0);
  writeRegister(FCAH, 0);
  writeRegister(FCT, 0);
  writeRegister(FCTTV, 0);
  if (!readMac()) return fail(d, "no MAC address in its EEPROM or receive address registers");
  if (!setUpReceive()) return fail(d, "no memory for its receive ring");
  if (!setUpTransmit()) return fail(d, "no memory for its transmit ring");
  const handler = profileOn() ? profiledInterrupt : e1000Interrupt;
  if (!deviceInterruptAttach(d, handler)) return fail(d, "no MSI and no interrupt line routed to the 8259 it can use");
  byMessage = deviceInterruptIsMessage(d);
  interruptMode = d.interruptMode;
  linkUp = (readRegister(STATUS) & STATUS_LU) !== 0;
  writeRegister(IMS, INTERRUPTS_ENABLED);
  nicAttach(e1000Transmit, e1000Report, pollNothing, armNothing, e1000Flush);
  report(d);
  return true;
}

function writeHexByte(x: u32): void {
  const high = (x >>> 4) & 15, low = x & 15;
  consoleWriteByte(u8(high < 10 ? 48 + high : 87 + high));
  consoleWriteByte(u8(low < 10 ? 48 + low : 87 + low));
}

/** `link up 1000 Mb/s full duplex` or `link down`, from STATUS. */
function writeLink(): void {
  const status = readRegister(STATUS);
  if ((status & STATUS_LU) === 0) { consoleWriteString("link down"); return; }
  const speed = (status >>> STATUS_SPEED_SHIFT) & 3;
  consoleWriteString(speed === 0 ? "link up 10 Mb/s" : speed === 1 ? "link up 100 Mb/s" : "link up 1000 Mb/s");
  consoleWriteString((status & STATUS_FD) !== 0 ? " full duplex" : " half duplex");
}

/**
 * `e1000 00:03.0 82540EM mac 52:54:00:12:34:56 (eeprom) link up 1000 Mb/s full duplex irq 11 (INTx) mem
 * 0xfebc0000 rx 128 tx 256` (`irq msi vector 0x40` for an 82574L with MSI).
 */
function report(d: PciDevice): void {
  consoleWriteString(driverName(model));
  consoleWriteString(" ");
  pciWriteLocation(d);
  consoleWriteString(" ");
  consoleWriteString(modelName(model));
  consoleWriteString(" mac ");
  for (let i: u32 = 0; i < 6; i++) {
    if (i !== 0) consoleWriteString(":");
    writeHexByte(mac[i]);
  }
  consoleWriteString(macFromEeprom ? " (eeprom) " : " (registers) ");
  writeLink();
  consoleWriteString(" ");
  deviceInterruptWrite(d);
  consoleWriteString(" mem 0x");
  consoleWriteHex(registersPhysical);
  consoleWriteString(" rx ");
  consoleWriteDecimal(RX_RING);
  consoleWriteString(" tx ");
  consoleWriteDecimal(TX_RING);
  consoleNewLine();
}

/** Receive descriptor i gets its buffer back: address, status cleared (the card owns it after RDT moves). */
function offerReceive(i: u32): void {
  const descriptor = rxRing + i * DESCRIPTOR_BYTES;
  store32(descriptor + DESCRIPTOR_ADDRESS, rxBuffers[i] + NET_BUFFER_FRAME);
  store32(descriptor + DESCRIPTOR_ADDRESS + 4, 0);
  store32(descriptor + RX_STATUS, 0);
}

/** Returns the buffers of sent frames (DD written back) to the pool, oldest first. */
function reclaimTransmitted(): void {
  while (txClean !== txTail && (load8(txRing + txClean * DESCRIPTOR_BYTES + TX_STATUS) & TX_STATUS_DD) !== 0) {
    netBufferFree(txBuffers[txClean]);
    txBuffers[txClean] = 0;
    txClean = (txClean + 1) & (TX_RING - 1);
  }
}

/** nicTransmit: the frame in `buffer` on the next descriptor; false when the ring is full. */
function e1000Transmit(buffer: u32, length: u32): bool {
  reclaimTransmitted();
  const tail = txTail;
  const next = (tail + 1) & (TX_RING - 1);
  if (next === txClean) { counters.txRingFull++; return false; }
  const descriptor = txRing + tail * DESCRIPTOR_BYTES;
  store32(descriptor + DESCRIPTOR_ADDRESS, buffer + NET_BUFFER_FRAME);
  store32(descriptor + DESCRIPTOR_ADDRESS + 4, 0);
  store32(descriptor + TX_LENGTH, length | (TX_COMMAND << TX_COMMAND_SHIFT));
  store32(descriptor + TX_STATUS, 0);
  txBuffers[tail] = buffer;
  txTail = next;
  counters.txFrames++;
  counters.txBytes += length;
  if (((next - txTold) & (TX_RING - 1)) >= NIC_DOORBELL_BATCH || !nicDoorbellsDeferred()) e1000Flush();
  return true;
}

/** The tail the card was last told of (TDT): descriptors from it to txTail wait for e1000Flush. */
let txTold: u32 = 0;

/** nicFlush: TDT moves to the descriptors written since (after them: x86 keeps stores in order). */
function e1000Flush(): void {
  if (txTold === txTail) return;
  txTold = txTail;
  writeRegister(TDT, txTold);
  counters.doorbells++;
}

// Receive-path figures of the interrupt being handled (`bench net`: nic.ts's nicBenchRecord).
let handled: u32 = 0;
let handlerTime: u32 = 0;
let lastLength: u32 = 0;

/**
 * Every descriptor the card has completed (at most a ring's worth: a flood cannot keep the interrupt
 * going), oldest first: good frames to the switch, the rest dropped and counted; each descriptor goes
 * back with its buffer, and RDT moves once.
 */
function receiveCompleted(): void {
  let next = rxNext;
  let completed: u32 = 0;
  while (completed < RX_RING) {
    const descriptor = rxRing + next * DESCRIPTOR_BYTES;
    const status = load8(descriptor + RX_STATUS);
    if ((status & RX_STATUS_DD) === 0) break;
    const length = load16(descriptor + RX_LENGTH);
    const errors = load8(descriptor + RX_ERRORS);
    if ((status & RX_STATUS_EOP) === 0) {
      if (!rxDiscarding) counters.rxBad++;        // a frame longer than a buffer: each part dropped
      rxDiscarding = true;
    } else if (rxDiscarding) {
      rxDiscarding = false;                       // its last part
    } else if ((errors & RX_ERRORS_FRAME) !== 0 || length < FRAME_MIN || length > FRAME_MAX) {
      counters.rxBad++;
    } else {
      toSwitch(next, length);
    }
    offerReceive(next);
    next = (next + 1) & (RX_RING - 1);
    completed++;
  }
  if (completed === 0) return;
  rxNext = next;
  writeRegister(RDT, (next - 1) & (RX_RING - 1));
}

/** The good frame in descriptor `i`'s buffer to the switch (nic.ts's receive steps). */
function toSwitch(i: u32, length: u32): void {
  counters.rxFrames++;
  counters.rxBytes += length;
  if (spare === 0) spare = netBufferAlloc();
  if (spare === 0) { counters.rxNoBuffer++; return; }
  const buffer = rxBuffers[i];
  netBufferSetLength(buffer, length);
  const handlerStart = rdtsc();
  const handler = nicReceiveHandler();
  const taken = handler(buffer, length);
  handlerTime += rdtsc() - handlerStart;
  handled++;
  lastLength = length;
  if (taken) {
    rxBuffers[i] = spare;
    spare = 0;
  } else {
    counters.rxRefused++;
  }
}

/** A link status change: printed, from STATUS. */
function linkChanged(): void {
  const up = (readRegister(STATUS) & STATUS_LU) !== 0;
  if (up === linkUp) return;
  linkUp = up;
  consoleWriteString(driverName(model));
  consoleWriteString(": ");
  writeLink();
  consoleNewLine();
}

/**
 * The card's interrupt (its message, or its PCI line through the 8259; interrupts disabled): reading ICR
 * returns the causes and clears them on the 82540; the 82574's are written back as well (ICR bits are
 * write-one-to-clear on both) so its INTx# drops whatever its auto-clear setting, and a cause that comes
 * later sends a new message. Then the receive ring, a link change, and the sent frames.
 */
function e1000Interrupt(lineOrVector: u32): void {
  const start = rdtsc();
  const causes = readRegister(ICR);
  if (model === MODEL_82574L) {
    if (!byMessage && (causes & ICR_INT_ASSERTED) === 0) return;   // the line is shared and it was not us
    writeRegister(ICR, causes);
  } else if ((causes & INTERRUPTS_ENABLED) === 0) {
    return;
  }
  counters.interrupts++;
  handled = 0;
  handlerTime = 0;
  receiveCompleted();
  if ((causes & INTERRUPT_LSC) !== 0) linkChanged();
  reclaimTransmitted();
  if (handled === 1) nicBenchRecord(start, rdtsc(), handlerTime, lastLength);
}

/** The interrupt in the profile's PROFILE_NIC (profile.ts): the handler when the kernel profiles. */
function profiledInterrupt(lineOrVector: u32): void {
  const previous = profileEnter(PROFILE_NIC);
  e1000Interrupt(lineOrVector);
  profileLeave(previous);
}

/** `nic: rx ...` (nic.ts's format) for the summaries. */
function e1000Report(): void { nicReportCounters(counters, interruptModeName(interruptMode)); }
