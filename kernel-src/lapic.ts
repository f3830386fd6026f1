// The boot CPU's local APIC, for one purpose: to take the message-signalled interrupts (MSI, MSI-X) of PCI
// devices (msi.ts). The 8259s (pic.ts) keep the PIT, COM1 and every device left on its INTx# line: the
// local APIC passes their interrupts through in virtual-wire mode (LINT0 as ExtINT), as the firmware left
// them, so nothing changes for them. The local APIC timer, inter-processor interrupts and the I/O APIC are
// not used.
//   - lapicInit (boot, after paging, before the first address space, interrupts disabled): found when
//     CPUID.1:EDX.APIC (bit 9) is set and IA32_APIC_BASE says it is globally enabled, in xAPIC mode (not
//     x2APIC) and below 4 GiB; its 4 KiB of registers are mapped uncached in the device window
//     (paging.ts), then software-enabled (the spurious-interrupt vector register), every local interrupt
//     source masked except LINT0 (ExtINT: the 8259s) and LINT1 (NMI), the task priority 0 (every vector
//     taken). Prints `lapic: id N version 0xV at 0xfee00000, virtual wire (8259 through LINT0), spurious
//     vector 0xff`, or why it is not used (then every device stays on INTx).
//   - lapicEndOfInterrupt: the EOI for a vector the local APIC delivered (a message); never for an 8259
//     interrupt (ExtINT needs none) nor the spurious vector (SDM §10.9: no ISR bit is set).
//   - lapicMessageAddress: where a device writes its messages to reach this CPU (physical destination
//     mode, our APIC id, no redirection: §10.11.1); the message data is the vector, fixed delivery, edge
//     (§10.11.2): lapicMessageData.
// References: Intel SDM Vol. 3A, chapter 10 "Advanced Programmable Interrupt Controller (APIC)" (chapter 11
// in the editions since 2022): §10.4.2 "Presence of the Local APIC" (CPUID.1:EDX bit 9), §10.4.3
// "Enabling or Disabling the Local APIC", §10.4.4 "Local APIC Status and Location" (IA32_APIC_BASE, MSR
// 1BH, Figure 10-5), §10.4.6 "Local APIC ID", §10.4.8 "Local APIC Version Register", §10.5.1 "Local Vector
// Table" (Figure 10-8), §10.8.3.1 "Task and Processor Priorities" (TPR), §10.8.5 "Signaling Interrupt
// Servicing Completion" (EOI), §10.9 "Spurious Interrupt" (Figure 10-23), §10.11 "Message Signalled
// Interrupts" (Figures 10-24, 10-25); MultiProcessor Specification 1.4 §3.6.2.2 "Virtual Wire Mode".
// Invariant: `registers` is 0 until the local APIC is mapped and enabled; nothing here is called before.
import { bool, u32, load32, store32, readMsr, readMsrHigh } from "dsl";
import { cpuidLeafPresent, cpuidFeature, CPUID_LEAF_FEATURES, CPU_APIC } from "./cpuid.ts";
import { pagingMapDevice } from "./paging.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHexShort, consoleNewLine } from "./console.ts";

// IA32_APIC_BASE (§10.4.4, Figure 10-5): bit 8 BSP, bit 10 x2APIC mode (EXTD), bit 11 global enable, bits
// 35:12 the base (the high half holds bits 35:32: non-zero is above 4 GiB).
const IA32_APIC_BASE = 0x1b;
const APIC_BASE_X2APIC: u32 = 1 << 10;
const APIC_BASE_GLOBAL_ENABLE: u32 = 1 << 11;
const APIC_BASE_ADDRESS_MASK: u32 = 0xfffff000;
const REGISTER_BYTES: u32 = 4096;

// Registers: byte offsets from the base (§10.4.1, Table 10-1), each 32 bits on a 16-byte boundary.
const REG_ID = 0x020;                      // bits 31:24 the APIC id (§10.4.6)
const REG_VERSION = 0x030;                 // bits 7:0 version, 23:16 the last LVT entry (§10.4.8)
const REG_TPR = 0x080;                     // task priority
const REG_EOI = 0x0b0;                     // write 0: end of interrupt
const REG_SPURIOUS = 0x0f0;                // spurious-interrupt vector register
const REG_ERROR_STATUS = 0x280;
const REG_LVT_TIMER = 0x320;
const REG_LVT_THERMAL = 0x330;             // present when the last LVT entry is >= 5
const REG_LVT_PERFORMANCE = 0x340;         // present when the last LVT entry is >= 4
const REG_LVT_LINT0 = 0x350;
const REG_LVT_LINT1 = 0x360;
const REG_LVT_ERROR = 0x370;

const VERSION_LAST_LVT_SHIFT = 16;
const ID_SHIFT = 24;

// The spurious-interrupt vector register (§10.9, Figure 10-23): bits 7:0 the vector (on P6 and Pentium
// bits 3:0 are fixed at 1111b: 0xff suits every model), bit 8 software enable.
export const LAPIC_SPURIOUS_VECTOR: u32 = 0xff;
const SPURIOUS_SOFTWARE_ENABLE: u32 = 1 << 8;

// Local vector table entries (§10.5.1, Figure 10-8): bit 16 mask, bits 10:8 delivery mode.
const LVT_MASKED: u32 = 1 << 16;
const LVT_DELIVERY_NMI: u32 = 4 << 8;
const LVT_DELIVERY_EXTINT: u32 = 7 << 8;

// Message address (§10.11.1, Figure 10-24): bits 31:20 0FEEH, 19:12 the destination id, bit 3 RH 0 (to the
// destination named), bit 2 DM 0 (physical). Message data (§10.11.2, Figure 10-25): bits 7:0 the vector,
// 10:8 delivery mode 000 (fixed), bit 15 trigger 0 (edge).
const MESSAGE_ADDRESS_BASE: u32 = 0xfee00000;
const MESSAGE_DESTINATION_SHIFT = 12;

let registers: u32 = 0;                    // the mapped registers (0: not in use)
let physicalBase: u32 = 0;
let apicId: u32 = 0;
let spuriousCount: u32 = 0;

function reg(offset: u32): u32 { return load32(registers + offset); }
function setReg(offset: u32, value: u32): void { store32(registers + offset, value); }

function notUsed(why: string): bool {
  consoleWriteString("lapic: ");
  consoleWriteString(why);
  consoleWriteString(": not used, every device interrupts through its INTx# line");
  consoleNewLine();
  return false;
}

/**
 * Finds, maps and enables the local APIC (the file's comment); false, with the reason printed, without one
 * or with `intxOnly` (`irq=intx` on the command line).
 */
export function lapicInit(intxOnly: bool): bool {
  registers = 0;
  if (intxOnly) return notUsed("irq=intx on the command line");
  if (!cpuidLeafPresent(CPUID_LEAF_FEATURES)) return notUsed("no CPUID leaf 1");
  if (!cpuidFeature(CPU_APIC)) return notUsed("none (CPUID.1:EDX.APIC clear)");
  const base = readMsr(IA32_APIC_BASE);
  if ((base & APIC_BASE_GLOBAL_ENABLE) === 0) return notUsed("globally disabled (IA32_APIC_BASE)");
  if ((base & APIC_BASE_X2APIC) !== 0) return notUsed("in x2APIC mode");
  if (readMsrHigh(IA32_APIC_BASE) !== 0) return notUsed("its registers are above 4 GiB");
  physicalBase = base & APIC_BASE_ADDRESS_MASK;
  const mapped = pagingMapDevice(physicalBase, REGISTER_BYTES);
  if (mapped === 0) return notUsed("no room to map its registers");
  registers = mapped;
  enable();
  report();
  return true;
}

/** Virtual wire through LINT0, NMIs through LINT1, every other local source masked, then enabled. */
function enable(): void {
  const lastLvt = (reg(REG_VERSION) >>> VERSION_LAST_LVT_SHIFT) & 0xff;
  setReg(REG_LVT_TIMER, LVT_MASKED);
  if (lastLvt >= 5) setReg(REG_LVT_THERMAL, LVT_MASKED);
  if (lastLvt >= 4) setReg(REG_LVT_PERFORMANCE, LVT_MASKED);
  setReg(REG_LVT_ERROR, LVT_MASKED);
  setReg(REG_TPR, 0);
  // Software-enabled first: while disabled, the LVT mask bits cannot be cleared (§10.4.7.2).
  setReg(REG_SPURIOUS, LAPIC_SPURIOUS_VECTOR | SPURIOUS_SOFTWARE_ENABLE);
  setReg(REG_LVT_LINT0, LVT_DELIVERY_EXTINT);
  setReg(REG_LVT_LINT1, LVT_DELIVERY_NMI);
  setReg(REG_ERROR_STATUS, 0);                   // back-to-back writes clear it (§10.5.3)
  setReg(REG_ERROR_STATUS, 0);
  apicId = reg(REG_ID) >>> ID_SHIFT;
}

/** `lapic: id 0 version 0x14 at 0xfee00000, virtual wire (8259 through LINT0), spurious vector 0xff`. */
function report(): void {
  consoleWriteString("lapic: id ");
  consoleWriteDecimal(apicId);
  consoleWriteString(" version 0x");
  consoleWriteHexShort(reg(REG_VERSION) & 0xff);
  consoleWriteString(" at 0x");
  consoleWriteHexShort(physicalBase);
  consoleWriteString(", virtual wire (8259 through LINT0), spurious vector 0x");
  consoleWriteHexShort(LAPIC_SPURIOUS_VECTOR);
  consoleNewLine();
}

/** True once the local APIC takes messages (lapicInit succeeded). */
export function lapicPresent(): bool { return registers !== 0; }

/** End of a message-signalled (fixed, edge) interrupt the local APIC delivered. */
export function lapicEndOfInterrupt(): void { store32(registers + REG_EOI, 0); }

/** The address a device writes its interrupt messages to, to reach this CPU (§10.11.1). */
export function lapicMessageAddress(): u32 { return MESSAGE_ADDRESS_BASE | (apicId << MESSAGE_DESTINATION_SHIFT); }

/** The message data for `vector`: fixed delivery, edge triggered (§10.11.2). */
export function lapicMessageData(vector: u32): u32 { return vector & 0xff; }

/** A spurious interrupt (the spurious vector): counted, no EOI (§10.9). */
export function lapicSpurious(): void { spuriousCount++; }
export function lapicSpuriousCount(): u32 { return spuriousCount; }
