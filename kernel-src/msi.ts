// How a driven PCI function's interrupt reaches its driver: by a message (MSI or MSI-X) to the local APIC
// (lapic.ts) on a vector of its own, or through its INTx# line and the 8259 (pic.ts), shared with whatever
// else the firmware routed there. One call for every driver (e1000.ts, nvme.ts, ahci.ts, virtio-net.ts,
// virtio-blk.ts), once its device is ready to interrupt:
//   - deviceInterruptAttach(d, handler): MSI when the function offers it, else MSI-X (entry 0 only: one
//     vector), when the local APIC is in use; else INTx# when the firmware routed the pin to an 8259 line;
//     false when neither (the driver says why). MSI comes first where both are offered: one vector needs no
//     table, and a card such as the 82574L then keeps its plain interrupt causes (its MSI-X mode routes
//     causes to vectors through IVAR). With a message the handler is the vector's alone and INTx# is
//     disabled in the function's command register; the driver's "was it us" check may stay, it always is.
//   - deviceInterruptWrite(d): `irq msi vector 0x40`, `irq msi-x vector 0x41` or `irq 11 (INTx)` for the
//     driver's boot line; interruptModeName(d.interruptMode): `msi`, `msi-x`, `INTx` for its counters' line.
//   - messageInterruptsReport: `msi: 00:03.0 vector 0x40 (msi) interrupts N` for each function that
//     interrupts by a message, N counted where the vector arrives (trap.ts): the summaries' proof of the path.
// `irq=intx` on the kernel command line leaves the local APIC unused (main.ts): every device on INTx#, the
// path of machines without MSI, kept tested.
// Message edges: a message is an edge, sent once per event; a handler that leaves work undone (a bounded
// batch) gets no second message for it. The drivers take that into account (nvme.ts's batch).
import { bool, u32 } from "dsl";
import {
  PciDevice, pciDeviceAt, pciDeviceCount, pciWriteLocation, pciEnableMsi, pciEnableMsix, INTERRUPT_MODE_INTX,
  INTERRUPT_MODE_MSI, INTERRUPT_MODE_MSIX,
} from "./pci.ts";
import { lapicPresent, lapicMessageAddress, lapicMessageData } from "./lapic.ts";
import { irqRegisterShared, irqAllocateMessageVector, irqReleaseMessageVector, messageVectorCount } from "./trap.ts";
import { IRQ_LINES } from "./pic.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHexShort, consoleNewLine } from "./console.ts";

/** The driver's interrupt routine: the 8259 line, or the message vector. Interrupts disabled, before the EOI. */
type DeviceInterruptHandler = (lineOrVector: u32) => void;

/** Routes `d`'s interrupt to `handler` (the file's comment); false when it has no way to interrupt. */
export function deviceInterruptAttach(d: PciDevice, handler: DeviceInterruptHandler): bool {
  return deviceInterruptAttachMessage(d, handler) || deviceInterruptAttachIntx(d, handler);
}

/**
 * Routes `d`'s interrupt to `handler` by a message (MSI, else MSI-X), when it offers one and the local APIC
 * is in use; false (nothing changed) otherwise. For a driver that must program it before its device starts
 * (nvme.ts: the controller binds a queue to an MSI-X vector when the queue is made).
 */
export function deviceInterruptAttachMessage(d: PciDevice, handler: DeviceInterruptHandler): bool {
  if (!lapicPresent() || (d.msiCapability === 0 && d.msixCapability === 0)) return false;
  const vector = irqAllocateMessageVector(handler);
  if (vector === 0) return false;
  const address = lapicMessageAddress(), data = lapicMessageData(vector);
  d.interruptVector = vector;
  if (pciEnableMsi(d, address, data)) { d.interruptMode = INTERRUPT_MODE_MSI; return true; }
  if (pciEnableMsix(d, address, data)) { d.interruptMode = INTERRUPT_MODE_MSIX; return true; }
  irqReleaseMessageVector(vector);
  d.interruptVector = 0;
  return false;
}

/**
 * Routes `d`'s interrupt to `handler` through its INTx# line whatever it offers: for the drivers that do
 * not program messages (virtio-net.ts, virtio-blk.ts: their MSI-X moves the legacy device configuration).
 */
export function deviceInterruptAttachIntx(d: PciDevice, handler: DeviceInterruptHandler): bool {
  if (d.interruptPin === 0 || d.interruptLine >= IRQ_LINES) return false;
  if (!irqRegisterShared(d.interruptLine, handler)) return false;
  d.interruptMode = INTERRUPT_MODE_INTX;
  return true;
}

/** True when `d` interrupts by a message (its vector is its own: nothing else shares it). */
export function deviceInterruptIsMessage(d: PciDevice): bool {
  return d.interruptMode === INTERRUPT_MODE_MSI || d.interruptMode === INTERRUPT_MODE_MSIX;
}

/** `msi`, `msi-x` or `INTx` for a PciDevice's interruptMode. */
export function interruptModeName(mode: u32): string {
  if (mode === INTERRUPT_MODE_MSI) return "msi";
  if (mode === INTERRUPT_MODE_MSIX) return "msi-x";
  return "INTx";
}

/** `irq msi vector 0x40`, `irq msi-x vector 0x41` or `irq 11 (INTx)`. */
export function deviceInterruptWrite(d: PciDevice): void {
  consoleWriteString("irq ");
  if (deviceInterruptIsMessage(d)) {
    consoleWriteString(interruptModeName(d.interruptMode));
    consoleWriteString(" vector 0x");
    consoleWriteHexShort(d.interruptVector);
    return;
  }
  consoleWriteDecimal(d.interruptLine);
  consoleWriteString(" (INTx)");
}

/** `msi: 00:03.0 vector 0x40 (msi) interrupts N`, one line per function that interrupts by a message. */
export function messageInterruptsReport(): void {
  const count = pciDeviceCount();
  for (let i: u32 = 0; i < count; i++) {
    const d = pciDeviceAt(i);
    if (!deviceInterruptIsMessage(d)) continue;
    consoleWriteString("msi: ");
    pciWriteLocation(d);
    consoleWriteString(" vector 0x");
    consoleWriteHexShort(d.interruptVector);
    consoleWriteString(" (");
    consoleWriteString(interruptModeName(d.interruptMode));
    consoleWriteString(") interrupts ");
    consoleWriteDecimal(messageVectorCount(d.interruptVector));
    consoleNewLine();
  }
}
