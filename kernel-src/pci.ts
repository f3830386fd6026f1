// PCI configuration space through configuration mechanism #1 (ports 0xCF8/0xCFC): a brute-force scan
// of every bus, device and function at boot, recording each function's vendor and device ids, class,
// base address registers (with their sizes) and interrupt line, and listing them on the console:
//   pci 00:03.0 1af4:1000 class 0200 bar0 io 0xc000 size 32 bar1 mem 0xfebf1000 size 4096 irq 11
// Drivers (virtio-net.ts, e1000.ts, ...) look their device up with pciFind or pciDeviceAt and enable it
// with pciEnable, which marks it driven; after the drivers, pciReportUnsupported lists every function no
// driver took (bridges aside) with its ids and class, so a PC's missing driver shows on the console.
// References: PCI Local Bus Specification 3.0 (PCI LB 3.0): §3.2.2.3.2 "Software Generation of
// Configuration Transactions" (CONFIG_ADDRESS/CONFIG_DATA, mechanism #1); §6.1 "Configuration Space
// Organization" (Figure 6-1, the type 0 header); §6.2.1 "Device Identification"; §6.2.2 "Device
// Control" (Command register, Figure 6-2); §6.2.4 "Miscellaneous Registers" (Interrupt Line/Pin);
// §6.2.5.1 "Address Maps" (BARs, Figures 6-4/6-5, and how to size them); §6.7 "Capabilities List"
// (Status bit 4, the pointer at 34h); §6.8.1 "MSI Capability Structure" (Figures 6-9, 6-10: Message
// Control, Address, Upper Address, Data, Mask Bits); §6.8.2 "MSI-X Capability and Table Structure"
// (Figures 6-11..6-13: Message Control, Table Offset/BIR, the table's 16-byte entries) (PCI LB 3.0 with
// the MSI-X ECN; PCI Express Base 3.0 §7.7 and §7.8.x has the same structures).
// Each function's capability list is walked at the scan: where it offers MSI (id 05h) or MSI-X (id 11h),
// the listing says so (`... irq 11 msi msi-x`) and pciEnableMsi/pciEnableMsix program a vector for
// msi.ts (which chooses between them and INTx#).
// Invariant: the table holds each present function once, in scan order; deviceTotal entries.
import { bool, i32, u8, u32, inl, outl, store32, structArray } from "dsl";
import { pagingMapDevice } from "./paging.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteByte, consoleWriteHexShort, consoleNewLine,
} from "./console.ts";

// PCI LB 3.0 §3.2.2.3.2: CONFIG_ADDRESS (0xCF8): bit 31 enable, 23:16 bus, 15:11 device, 10:8 function,
// 7:2 register (dword); CONFIG_DATA (0xCFC) then reads or writes that dword.
const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
const CONFIG_ENABLE: u32 = 0x80000000;
const BUS_SHIFT = 16;
const DEVICE_SHIFT = 11;
const FUNCTION_SHIFT = 8;
const REGISTER_MASK: u32 = 0xfc;

const PCI_BUSES: u32 = 256;
const PCI_DEVICES_PER_BUS: u32 = 32;
const PCI_FUNCTIONS_PER_DEVICE: u32 = 8;

// The type 0 configuration header (PCI LB 3.0 §6.1, Figure 6-1): byte offsets.
const PCI_VENDOR_ID = 0x00;          // u16; 0xFFFF: no function here (§6.2.1)
const PCI_DEVICE_ID = 0x02;          // u16
const PCI_COMMAND = 0x04;            // u16 (§6.2.2)
const PCI_STATUS = 0x06;             // u16
// revision (7:0), programming interface (15:8), subclass (23:16), base class (31:24)
const PCI_REVISION_CLASS = 0x08;
const PCI_HEADER_TYPE = 0x0e;        // u8: bit 7 multi-function, 6:0 layout (0: device, 1: PCI-PCI bridge)
const PCI_BAR0 = 0x10;               // six u32 BARs at 0x10..0x24 (type 0 header)
const PCI_INTERRUPT_LINE = 0x3c;     // u8: the 8259 input the firmware routed INTx# to (§6.2.4)
const PCI_INTERRUPT_PIN = 0x3d;      // u8: 0 none, 1..4 INTA#..INTD#
const PCI_CAPABILITIES_POINTER = 0x34;   // u8: the first capability (§6.7), type 0 and type 1 headers alike
const STATUS_CAPABILITIES_LIST: u32 = 1 << 4;
const CAPABILITY_POINTER_MASK: u32 = 0xfc;   // the bottom two bits are reserved
const CAPABILITY_FIRST_OFFSET: u32 = 0x40;   // capabilities live after the 64-byte header
/** A bound on the walk: a looping or corrupt list (hostile hardware) ends here (48 dwords after the header). */
const CAPABILITY_WALK_LIMIT: u32 = 48;
const CAPABILITY_ID_MSI: u32 = 0x05;
const CAPABILITY_ID_MSIX: u32 = 0x11;

// MSI capability (§6.8.1): Message Control at +2 (bit 0 enable, 6:4 multiple message enable, bit 7 64-bit
// address capable, bit 8 per-vector masking capable), Message Address at +4, then for a 64-bit one the
// Upper Address at +8 and Data at +0Ch (Mask Bits at +10h), else Data at +8 (Mask Bits at +0Ch).
const MSI_CONTROL = 2;
const MSI_ADDRESS = 4;
const MSI_CONTROL_ENABLE: u32 = 1 << 0;
const MSI_CONTROL_MULTIPLE_ENABLE_MASK: u32 = 7 << 4;
const MSI_CONTROL_64_BIT: u32 = 1 << 7;
const MSI_CONTROL_PER_VECTOR_MASK: u32 = 1 << 8;

// MSI-X capability (§6.8.2): Message Control at +2 (10:0 table size - 1, bit 14 function mask, bit 15
// enable), Table Offset/BIR at +4 (2:0 the BAR, 31:3 the offset in it). A table entry: address low, high,
// data, vector control (bit 0 masked).
const MSIX_CONTROL = 2;
const MSIX_TABLE = 4;
const MSIX_CONTROL_TABLE_SIZE_MASK: u32 = 0x7ff;
const MSIX_CONTROL_FUNCTION_MASK: u32 = 1 << 14;
const MSIX_CONTROL_ENABLE: u32 = 1 << 15;
const MSIX_TABLE_BIR_MASK: u32 = 7;
const MSIX_ENTRY_BYTES: u32 = 16;
const MSIX_ENTRY_ADDRESS = 0;
const MSIX_ENTRY_UPPER_ADDRESS = 4;
const MSIX_ENTRY_DATA = 8;
const MSIX_ENTRY_VECTOR_CONTROL = 12;
const MSIX_VECTOR_MASKED: u32 = 1;

const VENDOR_NONE: u32 = 0xffff;
const HEADER_MULTI_FUNCTION: u32 = 0x80;
const HEADER_LAYOUT_MASK: u32 = 0x7f;
const HEADER_LAYOUT_DEVICE: u32 = 0;
const HEADER_LAYOUT_BRIDGE: u32 = 1;
const PCI_BAR_COUNT: u32 = 6;
const BRIDGE_BAR_COUNT: u32 = 2;            // a type 1 header has only BAR0 and BAR1

// Command register bits (PCI LB 3.0 §6.2.2, Figure 6-2).
const PCI_COMMAND_IO_SPACE: u32 = 1 << 0;
const PCI_COMMAND_MEMORY_SPACE: u32 = 1 << 1;
const PCI_COMMAND_BUS_MASTER: u32 = 1 << 2;
const PCI_COMMAND_INTERRUPT_DISABLE: u32 = 1 << 10;

// BAR encoding (PCI LB 3.0 §6.2.5.1, Figures 6-4 and 6-5): bit 0 = 1 I/O space (address 31:2);
// bit 0 = 0 memory space, bits 2:1 type (00 32-bit, 10 64-bit: the next BAR holds the high half),
// bit 3 prefetchable, address 31:4.
const BAR_IO_SPACE: u32 = 1 << 0;
const BAR_IO_ADDRESS_MASK: u32 = 0xfffffffc;
const BAR_MEMORY_TYPE_MASK: u32 = 0x6;
const BAR_MEMORY_TYPE_64: u32 = 0x4;
const BAR_MEMORY_ADDRESS_MASK: u32 = 0xfffffff0;
/** I/O addresses on x86 are 16 bits: a sized I/O BAR's upper bits may read back as 0 (§6.2.5.1). */
const IO_SIZE_MASK: u32 = 0xffff;

const BAR_NONE = 0;
export const BAR_IO = 1;
export const BAR_MEMORY = 2;
/** A 64-bit memory BAR the firmware placed above 4 GiB: listed, never mapped. */
const BAR_ABOVE_4G = 3;

export class PciDevice {
  bus: u32 = 0;
  device: u32 = 0;
  func: u32 = 0;
  vendorId: u32 = 0;
  deviceId: u32 = 0;
  classCode: u32 = 0;       // base class << 8 | subclass
  headerType: u32 = 0;
  interruptLine: u32 = 0;
  interruptPin: u32 = 0;
  barKind = new Uint32Array(6);      // BAR_NONE, BAR_IO, BAR_MEMORY, BAR_ABOVE_4G
  barAddress = new Uint32Array(6);   // the base (low 32 bits for a 64-bit BAR)
  barSize = new Uint32Array(6);      // bytes the BAR decodes
  claimed: bool = false;             // a driver took it (pciEnable, pciClaim)
  msiCapability: u32 = 0;            // config offset of its MSI capability, 0: none
  msixCapability: u32 = 0;           // config offset of its MSI-X capability, 0: none
  interruptMode: u32 = 0;            // how its driver's interrupt arrives (msi.ts): INTERRUPT_MODE_*
  interruptVector: u32 = 0;          // the vector of its messages (MSI, MSI-X)
}

/** How a driven function interrupts (msi.ts sets it): not yet, its INTx# line, MSI, MSI-X. */
const INTERRUPT_MODE_NONE: u32 = 0;
export const INTERRUPT_MODE_INTX: u32 = 1;
export const INTERRUPT_MODE_MSI: u32 = 2;
export const INTERRUPT_MODE_MSIX: u32 = 3;

const PCI_DEVICE_LIMIT: u32 = 128;                 // a PC often has more than 32 (QEMU: under 16)
const devices = structArray(PciDevice, 128);       // PCI_DEVICE_LIMIT
let deviceTotal: u32 = 0;

export function pciDeviceAt(index: u32): PciDevice { return devices[index]; }
export function pciDeviceCount(): u32 { return deviceTotal; }

function configAddress(bus: u32, device: u32, func: u32, offset: u32): u32 {
  return CONFIG_ENABLE | (bus << BUS_SHIFT) | (device << DEVICE_SHIFT) | (func << FUNCTION_SHIFT) | (offset & REGISTER_MASK);
}

/** The configuration dword holding byte `offset`. */
function pciRead32(bus: u32, device: u32, func: u32, offset: u32): u32 {
  outl(CONFIG_ADDRESS, configAddress(bus, device, func, offset));
  return inl(CONFIG_DATA);
}

function pciWrite32(bus: u32, device: u32, func: u32, offset: u32, value: u32): void {
  outl(CONFIG_ADDRESS, configAddress(bus, device, func, offset));
  outl(CONFIG_DATA, value);
}

/** Writes the u16 at `offset` (2-aligned) by read-modify-write of its dword: only for registers whose other
 * half has no write-one-to-clear bits (a capability's id and next pointer are read-only). */
function pciWrite16(bus: u32, device: u32, func: u32, offset: u32, value: u32): void {
  const shift = (offset & 2) << 3;
  const dword = pciRead32(bus, device, func, offset);
  pciWrite32(bus, device, func, offset, u32((dword & ~(0xffff << shift)) | ((value & 0xffff) << shift)));
}

function pciRead16(bus: u32, device: u32, func: u32, offset: u32): u32 {
  return (pciRead32(bus, device, func, offset) >>> ((offset & 2) << 3)) & 0xffff;
}

function pciRead8(bus: u32, device: u32, func: u32, offset: u32): u32 {
  return (pciRead32(bus, device, func, offset) >>> ((offset & 3) << 3)) & 0xff;
}

/** Writes a u16 by read-modify-write of its dword (the other half of 0x04 is Status: write 0 there,
 * its bits are write-one-to-clear, PCI LB 3.0 §6.2.3). */
function pciWriteCommand(bus: u32, device: u32, func: u32, command: u32): void {
  pciWrite32(bus, device, func, PCI_COMMAND, command & 0xffff);
}

/**
 * Sizes BAR `index` (PCI LB 3.0 §6.2.5.1 "Address Maps"): write all ones, read back, restore; the
 * size is the two's complement of the writable address bits. Decoding is off meanwhile (the caller).
 * Returns how many BAR slots it used (2 for a 64-bit memory BAR).
 */
function sizeBar(d: PciDevice, index: u32): u32 {
  const offset = PCI_BAR0 + index * 4;
  const original = pciRead32(d.bus, d.device, d.func, offset);
  pciWrite32(d.bus, d.device, d.func, offset, 0xffffffff);
  const probe = pciRead32(d.bus, d.device, d.func, offset);
  pciWrite32(d.bus, d.device, d.func, offset, original);
  d.barKind[index] = BAR_NONE;
  d.barAddress[index] = 0;
  d.barSize[index] = 0;
  if (probe === 0 || probe === 0xffffffff) return 1;    // not implemented
  if ((original & BAR_IO_SPACE) !== 0) {
    const writable = probe & BAR_IO_ADDRESS_MASK & IO_SIZE_MASK;
    d.barKind[index] = BAR_IO;
    d.barAddress[index] = original & BAR_IO_ADDRESS_MASK;
    d.barSize[index] = u32(((~writable) & IO_SIZE_MASK) + 1);
    return 1;
  }
  const writable = probe & BAR_MEMORY_ADDRESS_MASK;
  d.barKind[index] = BAR_MEMORY;
  d.barAddress[index] = original & BAR_MEMORY_ADDRESS_MASK;
  d.barSize[index] = u32(~writable + 1);
  // A 64-bit BAR: the next slot is the high half (we record the low 32 bits; the kernel maps below 4 GiB).
  if ((original & BAR_MEMORY_TYPE_MASK) !== BAR_MEMORY_TYPE_64) return 1;
  // Placed above 4 GiB (firmware with "above 4G decoding" on): out of this 32-bit kernel's reach (no PAE).
  // Not a BAR to map, and never taken for the one at its low 32 bits.
  const high = index + 1 < PCI_BAR_COUNT ? pciRead32(d.bus, d.device, d.func, offset + 4) : 0;
  if (high !== 0) d.barKind[index] = BAR_ABOVE_4G;
  return 2;
}

function record(bus: u32, device: u32, func: u32): void {
  if (deviceTotal >= PCI_DEVICE_LIMIT) return;
  const d = devices[deviceTotal];
  deviceTotal++;
  d.bus = bus;
  d.device = device;
  d.func = func;
  const ids = pciRead32(bus, device, func, PCI_VENDOR_ID);
  d.vendorId = ids & 0xffff;
  d.deviceId = ids >>> 16;
  d.classCode = pciRead32(bus, device, func, PCI_REVISION_CLASS) >>> 16;
  d.headerType = pciRead8(bus, device, func, PCI_HEADER_TYPE);
  d.interruptLine = pciRead8(bus, device, func, PCI_INTERRUPT_LINE);
  d.interruptPin = pciRead8(bus, device, func, PCI_INTERRUPT_PIN);
  d.claimed = false;
  d.interruptMode = INTERRUPT_MODE_NONE;
  d.interruptVector = 0;
  findCapabilities(d);
  const layout = d.headerType & HEADER_LAYOUT_MASK;
  const bars = layout === HEADER_LAYOUT_DEVICE ? PCI_BAR_COUNT : layout === HEADER_LAYOUT_BRIDGE ? BRIDGE_BAR_COUNT : 0;
  for (let i: u32 = 0; i < PCI_BAR_COUNT; i++) { d.barKind[i] = BAR_NONE; d.barAddress[i] = 0; d.barSize[i] = 0; }
  if (bars === 0) return;
  // Decoding off while the BARs hold all ones (PCI LB 3.0 §6.2.5.1, implementation note).
  const command = pciRead16(bus, device, func, PCI_COMMAND);
  pciWriteCommand(bus, device, func, command & ~(PCI_COMMAND_IO_SPACE | PCI_COMMAND_MEMORY_SPACE));
  for (let i: u32 = 0; i < bars; ) i += sizeBar(d, i);
  pciWriteCommand(bus, device, func, command);
}

/** Records where the MSI and MSI-X capabilities are (§6.7), walking at most CAPABILITY_WALK_LIMIT entries. */
function findCapabilities(d: PciDevice): void {
  d.msiCapability = 0;
  d.msixCapability = 0;
  if ((pciRead16(d.bus, d.device, d.func, PCI_STATUS) & STATUS_CAPABILITIES_LIST) === 0) return;
  let at = pciRead8(d.bus, d.device, d.func, PCI_CAPABILITIES_POINTER) & CAPABILITY_POINTER_MASK;
  for (let walked: u32 = 0; walked < CAPABILITY_WALK_LIMIT && at >= CAPABILITY_FIRST_OFFSET; walked++) {
    const header = pciRead16(d.bus, d.device, d.func, at);
    const id = header & 0xff;
    if (id === CAPABILITY_ID_MSI && d.msiCapability === 0) d.msiCapability = at;
    if (id === CAPABILITY_ID_MSIX && d.msixCapability === 0) d.msixCapability = at;
    at = (header >>> 8) & CAPABILITY_POINTER_MASK;
  }
}

/** Scans every bus/device/function (PCI LB 3.0 §6.2.1: vendor 0xFFFF = absent; function 0's header
 * type bit 7 says whether functions 1-7 exist) and fills the table. */
export function pciInit(): void {
  deviceTotal = 0;
  for (let bus: u32 = 0; bus < PCI_BUSES; bus++) {
    for (let device: u32 = 0; device < PCI_DEVICES_PER_BUS; device++) {
      if (pciRead16(bus, device, 0, PCI_VENDOR_ID) === VENDOR_NONE) continue;
      const multi = (pciRead8(bus, device, 0, PCI_HEADER_TYPE) & HEADER_MULTI_FUNCTION) !== 0;
      const functions = multi ? PCI_FUNCTIONS_PER_DEVICE : 1;
      for (let func: u32 = 0; func < functions; func++) {
        if (pciRead16(bus, device, func, PCI_VENDOR_ID) === VENDOR_NONE) continue;
        record(bus, device, func);
      }
    }
  }
}

/** The index of the first function with these ids, or -1. */
export function pciFind(vendorId: u32, deviceId: u32): i32 {
  for (let i: u32 = 0; i < deviceTotal; i++) {
    if (devices[i].vendorId === vendorId && devices[i].deviceId === deviceId) return i32(i);
  }
  return -1;
}

/** Turns on I/O and memory decoding and bus mastering (DMA), with INTx# enabled (PCI LB 3.0 §6.2.2); the
 * function is driven from now on. */
export function pciEnable(d: PciDevice): void {
  const command = pciRead16(d.bus, d.device, d.func, PCI_COMMAND);
  const enable = PCI_COMMAND_IO_SPACE | PCI_COMMAND_MEMORY_SPACE | PCI_COMMAND_BUS_MASTER;
  pciWriteCommand(d.bus, d.device, d.func, (command | enable) & ~PCI_COMMAND_INTERRUPT_DISABLE);
  d.claimed = true;
}

/** Sets Interrupt Disable (PCI LB 3.0 §6.2.2, bit 10): the function's INTx# stays deasserted. */
function disableIntx(d: PciDevice): void {
  const command = pciRead16(d.bus, d.device, d.func, PCI_COMMAND);
  pciWriteCommand(d.bus, d.device, d.func, command | PCI_COMMAND_INTERRUPT_DISABLE);
}

/**
 * MSI with one message (§6.8.1): the address and data, vector 0 unmasked where the function masks per
 * vector, Multiple Message Enable 0 (one vector), then MSI Enable and INTx# disabled. False without the
 * capability.
 */
export function pciEnableMsi(d: PciDevice, address: u32, data: u32): bool {
  const cap = d.msiCapability;
  if (cap === 0) return false;
  const control = pciRead16(d.bus, d.device, d.func, cap + MSI_CONTROL);
  const wide = (control & MSI_CONTROL_64_BIT) !== 0;
  pciWrite32(d.bus, d.device, d.func, cap + MSI_ADDRESS, address);
  if (wide) pciWrite32(d.bus, d.device, d.func, cap + MSI_ADDRESS + 4, 0);
  const dataOffset = cap + (wide ? 0xc : 0x8);
  pciWrite32(d.bus, d.device, d.func, dataOffset, data & 0xffff);
  if ((control & MSI_CONTROL_PER_VECTOR_MASK) !== 0) pciWrite32(d.bus, d.device, d.func, dataOffset + 4, 0);
  const enabled = (control & ~MSI_CONTROL_MULTIPLE_ENABLE_MASK) | MSI_CONTROL_ENABLE;
  pciWrite16(d.bus, d.device, d.func, cap + MSI_CONTROL, enabled);
  disableIntx(d);
  return true;
}

/**
 * MSI-X (§6.8.2): the table mapped (its BAR must be a memory BAR below 4 GiB), the function masked and
 * MSI-X enabled, entry 0 given the address and data and unmasked, every other entry masked, the function
 * unmasked; INTx# disabled. False (nothing changed) without the capability or a table to map.
 */
export function pciEnableMsix(d: PciDevice, address: u32, data: u32): bool {
  const cap = d.msixCapability;
  if (cap === 0) return false;
  const control = pciRead16(d.bus, d.device, d.func, cap + MSIX_CONTROL);
  const entries = (control & MSIX_CONTROL_TABLE_SIZE_MASK) + 1;
  const where = pciRead32(d.bus, d.device, d.func, cap + MSIX_TABLE);
  const bar = where & MSIX_TABLE_BIR_MASK;
  if (bar >= PCI_BAR_COUNT || d.barKind[bar] !== BAR_MEMORY) return false;
  const offset = where & ~MSIX_TABLE_BIR_MASK;
  if (offset >= d.barSize[bar] || entries * MSIX_ENTRY_BYTES > d.barSize[bar] - offset) return false;
  const table = pagingMapDevice(d.barAddress[bar] + offset, entries * MSIX_ENTRY_BYTES);
  if (table === 0) return false;
  const base = control & ~MSIX_CONTROL_FUNCTION_MASK;
  pciWrite16(d.bus, d.device, d.func, cap + MSIX_CONTROL, base | MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
  for (let i: u32 = 1; i < entries; i++) {
    store32(table + i * MSIX_ENTRY_BYTES + MSIX_ENTRY_VECTOR_CONTROL, MSIX_VECTOR_MASKED);
  }
  store32(table + MSIX_ENTRY_ADDRESS, address);
  store32(table + MSIX_ENTRY_UPPER_ADDRESS, 0);
  store32(table + MSIX_ENTRY_DATA, data);
  store32(table + MSIX_ENTRY_VECTOR_CONTROL, 0);
  pciWrite16(d.bus, d.device, d.func, cap + MSIX_CONTROL, base | MSIX_CONTROL_ENABLE);
  disableIntx(d);
  return true;
}

/** Marks a function as seen to by a driver without enabling it (a second NIC the switch does not use). */
export function pciClaim(d: PciDevice): void { d.claimed = true; }

// ---- the boot listing ----------------------------------------------------------------------------------

function writeHexDigits(x: u32, digits: u32): void {
  for (let shift = i32(digits * 4) - 4; shift >= 0; shift -= 4) {
    const digit = (x >>> shift) & 15;
    consoleWriteByte(u8(digit < 10 ? 48 + digit : 87 + digit));
  }
}


/** `BB:DD.F vvvv:dddd class cccc`: where a function is and what it is. */
export function pciWriteIdentity(d: PciDevice): void {
  pciWriteLocation(d);
  consoleWriteString(" ");
  writeHexDigits(d.vendorId, 4);
  consoleWriteString(":");
  writeHexDigits(d.deviceId, 4);
  consoleWriteString(" class ");
  writeHexDigits(d.classCode, 4);
}

/** `BB:DD.F`, as lspci prints it. */
export function pciWriteLocation(d: PciDevice): void {
  writeHexDigits(d.bus, 2);
  consoleWriteString(":");
  writeHexDigits(d.device, 2);
  consoleWriteString(".");
  writeHexDigits(d.func, 1);
}

/** One line per function: `pci BB:DD.F vvvv:dddd class cccc [barN io|mem 0xADDR size N]... [irq N] [msi] [msi-x]`. */
export function pciReport(): void {
  for (let i: u32 = 0; i < deviceTotal; i++) {
    const d = devices[i];
    consoleWriteString("pci ");
    pciWriteIdentity(d);
    for (let b: u32 = 0; b < PCI_BAR_COUNT; b++) {
      if (d.barKind[b] === BAR_NONE) continue;
      consoleWriteString(" bar");
      consoleWriteDecimal(b);
      const kind = d.barKind[b];
      consoleWriteString(kind === BAR_IO ? " io 0x" : kind === BAR_MEMORY ? " mem 0x" : " mem above 4G, low 0x");
      consoleWriteHexShort(d.barAddress[b]);
      consoleWriteString(" size ");
      consoleWriteDecimal(d.barSize[b]);
    }
    if (d.interruptPin !== 0) {
      consoleWriteString(" irq ");
      consoleWriteDecimal(d.interruptLine);
    }
    if (d.msiCapability !== 0) consoleWriteString(" msi");
    if (d.msixCapability !== 0) consoleWriteString(" msi-x");
    consoleNewLine();
  }
}

// Base classes (PCI Code and ID Assignment Specification 1.x, §1): names for the unsupported list.
const CLASS_BRIDGE: u32 = 0x06;

function className(base: u32): string {
  switch (base) {
    case 0x01: return "mass storage controller";
    case 0x02: return "network controller";
    case 0x03: return "display controller";
    case 0x04: return "multimedia controller";
    case 0x05: return "memory controller";
    case 0x07: return "communication controller";
    case 0x08: return "system peripheral";
    case 0x09: return "input device";
    case 0x0c: return "serial bus controller";
    case 0x0d: return "wireless controller";
    default: return "other";
  }
}

/**
 * `pci BB:DD.F vvvv:dddd class cccc: no driver (network controller)` for every function no driver took
 * (after the drivers' probes). Bridges (base class 06: host, ISA, PCI-to-PCI) need none: the firmware
 * set them up, and they are not listed.
 */
export function pciReportUnsupported(): void {
  for (let i: u32 = 0; i < deviceTotal; i++) {
    const d = devices[i];
    if (d.claimed || (d.classCode >>> 8) === CLASS_BRIDGE) continue;
    consoleWriteString("pci ");
    pciWriteIdentity(d);
    consoleWriteString(": no driver (");
    consoleWriteString(className(d.classCode >>> 8));
    consoleWriteString(")");
    consoleNewLine();
  }
}
