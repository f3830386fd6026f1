// The kernel's network card, whichever it is: the one interface between the virtual switch (switch.ts)
// and the card's driver (virtio-net.ts for QEMU's virtio-net, e1000.ts for Intel's 82540EM and 82574L),
// so the switch never knows which card is present.
//   - nicInit walks the PCI functions in scan order and brings up the first card a driver knows
//     (printing its own line: `virtio-net 00:03.0 mac ...`, `e1000 00:03.0 82540EM mac ...`); a second
//     card is listed as not driven (the switch has one uplink); a card whose driver fails prints why
//     and the next card is tried. The driver attaches with nicAttach: its transmit, report, poll, arm and
//     flush functions.
//   - transmit: the switch calls nicTransmit(buffer, length) (netbuf.ts layout); true = the driver owns
//     the buffer now (freed once sent), false = no card or its ring is full (the caller keeps it).
//   - doorbells: telling the card of a frame on its ring (virtio's queue notify, e1000's TDT write) is,
//     under QEMU, an exit to the device model under its lock and a write to an eventfd: about 25,000 host
//     cycles at bench:request's 100,000-VM point, where it was a tenth of a request. While VMs wait for the
//     CPU (nicDoorbellsDeferred: the scheduler's test, given at nicSetBusyTest) a driver puts frames on its
//     ring untold until NIC_DOORBELL_BATCH wait, the next tick (nicFlush from the clock) or the kernel idles
//     (nicArm): a frame waits at most a tick, and only when the CPU is the bottleneck, as Linux's xmit_more
//     batches a queue's frames. Otherwise (no VM waiting: one busy VM, a light load) each frame rings at once.
//   - receive: the driver's interrupt hands each good frame, in the buffer the card wrote (netbuf.ts
//     layout, its length set), to the switch's handler (nicReceiveHandler; switchInit sets it) by
//     reference: true = the switch kept the buffer, and the driver puts a fresh one on the ring in its
//     place (a spare it allocated ahead: no frame is lost for want of a buffer after the switch took
//     one); false = dropped, the same buffer goes back on the ring. The only copy of a received frame is
//     the one into the VM. Each driver writes these steps inline in its interrupt (a call per frame
//     costs ~16 instructions: bench:net counts them), the same in each.
//   - interrupt moderation (from nicModerate on: main.ts, once the boot's own work is done, not under
//     `bench`): a driver may leave its receive interrupts off while the kernel is busy (nicModerated); the
//     scheduler then calls nicPoll when a VM blocks and the clock at every tick (the driver takes what
//     came, as in its interrupt), and nicArm before the kernel idles (interrupts on again, a last look:
//     true when frames were taken then, which may have woken a VM). A driver without it passes pollNothing
//     and armNothing (e1000.ts: every frame interrupts).
//   - counters: each driver keeps a NicCounters; nicReportCounters prints them in the one `nic:` format.
//   - `bench net`: an interrupt that brought exactly one frame calls nicBenchRecord with its first and
//     last TSC readings and the handler's share: the driver's instructions and the switch's, for switch.ts.
// Invariants: at most one card is attached. Called with interrupts disabled (the card's interrupt,
// hypercalls) or at boot.
import { bool, u32, rdtsc } from "dsl";
import { PciDevice, pciDeviceAt, pciDeviceCount, pciClaim, pciWriteIdentity } from "./pci.ts";
import { virtioNetMatches, virtioNetInit } from "./virtio-net.ts";
import { e1000Model, e1000Init, E1000_MODEL_NONE } from "./e1000.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

/** A frame in a network buffer (netbuf.ts layout, `length` bytes at NET_BUFFER_FRAME): true = taken. */
type NicFrameHandler = (buffer: u32, length: u32) => bool;
type NicReport = () => void;
type NicPoll = () => void;
type NicArm = () => bool;
type NicFlush = () => void;
/** Brings up the card at `d` (the driver prints its line, or why it failed); true when it is attached. */
type NicInit = (d: PciDevice) => bool;

/** The per-card counters, in every driver the same (printed by nicReportCounters). */
export class NicCounters {
  interrupts: u32 = 0;
  rxFrames: u32 = 0;        // good frames the card received (handed to the switch, or dropped below)
  rxBytes: u32 = 0;
  rxNoBuffer: u32 = 0;      // dropped: no fresh buffer to put on the ring in its place
  rxRefused: u32 = 0;       // dropped by the switch (not for a VM, spoofed, queue full)
  rxBad: u32 = 0;           // dropped by the driver: a length out of range, a receive error, a split frame
  txFrames: u32 = 0;
  txBytes: u32 = 0;
  txRingFull: u32 = 0;      // nicTransmit refused: every transmit descriptor in flight
  rxPolled: u32 = 0;        // of rxFrames, those taken by nicPoll or nicArm (interrupts moderated)
  doorbells: u32 = 0;       // times the card was told of new transmit descriptors
}

/** The most frames a driver leaves on its transmit ring without telling the card (see doorbells above). */
export const NIC_DOORBELL_BATCH: u32 = 8;

function refuseFrame(buffer: u32, length: u32): bool { return false; }
function reportNothing(): void {}
export function pollNothing(): void {}
export function armNothing(): bool { return false; }
function flushNothing(): void {}

let receiveHandler: NicFrameHandler = refuseFrame;
let transmitter: NicFrameHandler = refuseFrame;
let reporter: NicReport = reportNothing;
let poller: NicPoll = pollNothing;
let armer: NicArm = armNothing;
let flusher: NicFlush = flushNothing;
let present = false;
let attachedDevice: u32 = 0;          // the PCI index of the attached card

/** True once a card is up: its next frame can wake a VM (scheduler.ts), and the switch can send. */
export function nicPresent(): bool { return present; }

/** The switch's handler of frames from the wire (switchInit, before nicInit). */
export function nicSetReceiveHandler(handler: NicFrameHandler): void { receiveHandler = handler; }

/** That handler, for the driver's interrupt to call (see the contract above; inlined: one load). */
export function nicReceiveHandler(): NicFrameHandler { return receiveHandler; }

/**
 * The driver of the card just brought up: its transmit, its report (`nic: ...`, nicReportCounters), its
 * poll and arm (interrupt moderation, above) and its flush (doorbells, above).
 */
export function nicAttach(transmit: NicFrameHandler, report: NicReport, poll: NicPoll, arm: NicArm,
  flush: NicFlush): void {
  transmitter = transmit;
  reporter = report;
  poller = poll;
  armer = arm;
  flusher = flush;
  present = true;
}

let moderating = false;
/** Interrupt moderation from now on (above). */
export function nicModerate(): void { moderating = true; }
/** True when the driver may turn its receive interrupts off (from its interrupt). */
export function nicModerated(): bool { return moderating; }

/** The kernel is busy (a VM blocked, a tick): the frames that came without an interrupt. */
export function nicPoll(): void { if (moderating) poller(); }

/** The kernel is about to idle: frames sent told to the card, interrupts on; true when frames had come (taken). */
export function nicArm(): bool {
  flusher();
  return moderating && armer();
}

/** The card told of every frame sent (doorbells, above): at every tick. */
export function nicFlush(): void { flusher(); }

function neverBusy(): bool { return false; }
/** True while VMs wait for the CPU (the scheduler's; doorbells above). */
let busyTest: () => bool = neverBusy;
/** The scheduler's test of VMs waiting for the CPU (schedulerInit). */
export function nicSetBusyTest(test: () => bool): void { busyTest = test; }
/** For a driver's transmit: true when it may leave the frame untold (fewer than NIC_DOORBELL_BATCH waiting). */
export function nicDoorbellsDeferred(): bool { return busyTest(); }

/** Sends a frame through the card (see the contract above); false without a card or with its ring full. */
export function nicTransmit(buffer: u32, length: u32): bool { return transmitter(buffer, length); }

/** The card's counters and state, one line (`nic: rx ...`); nothing without a card. */
export function nicReport(): void { if (present) reporter(); }

// ---- which card ------------------------------------------------------------------------------------------

/** The driver that knows the function at `d`, or 0 (NIC_NONE). */
const NIC_NONE: u32 = 0;
const NIC_VIRTIO: u32 = 1;
const NIC_E1000: u32 = 2;

function driverOf(d: PciDevice): u32 {
  if (virtioNetMatches(d)) return NIC_VIRTIO;
  if (e1000Model(d) !== E1000_MODEL_NONE) return NIC_E1000;
  return NIC_NONE;
}

const initializers: NicInit[] = [refuseDevice, virtioNetInit, e1000Init];
function refuseDevice(d: PciDevice): bool { return false; }

/** True when some PCI function is a card a driver knows (then switchInit, then nicInit). */
export function nicFound(): bool {
  const count = pciDeviceCount();
  for (let i: u32 = 0; i < count; i++) if (driverOf(pciDeviceAt(i)) !== NIC_NONE) return true;
  return false;
}

/**
 * Brings up the first network card a driver knows (PCI scan order) behind the switch; every other card
 * it knows is listed and left alone. Call after pciInit and switchInit.
 */
export function nicInit(): void {
  const count = pciDeviceCount();
  for (let i: u32 = 0; i < count; i++) {
    const d = pciDeviceAt(i);
    const driver = driverOf(d);
    if (driver === NIC_NONE) continue;
    if (present) {
      pciClaim(d);
      consoleWriteString("nic ");
      pciWriteIdentity(d);
      consoleWriteString(": not driven, the switch has one uplink (pci ");
      pciWriteIdentity(pciDeviceAt(attachedDevice));
      consoleWriteString(")");
      consoleNewLine();
      continue;
    }
    if (initializers[driver](d)) attachedDevice = i;
  }
}

/**
 * `nic: rx F frames B bytes (R refused by the switch, N no buffer, X bad), tx F frames B bytes (K ring full),
 * interrupts I (msi), frames polled P, doorbells D`: `mode` how they arrived (msi.ts interruptModeName).
 */
export function nicReportCounters(c: NicCounters, mode: string): void {
  consoleWriteString("nic: rx ");
  consoleWriteDecimal(c.rxFrames);
  consoleWriteString(" frames ");
  consoleWriteDecimal(c.rxBytes);
  consoleWriteString(" bytes (");
  consoleWriteDecimal(c.rxRefused);
  consoleWriteString(" refused by the switch, ");
  consoleWriteDecimal(c.rxNoBuffer);
  consoleWriteString(" no buffer, ");
  consoleWriteDecimal(c.rxBad);
  consoleWriteString(" bad), tx ");
  consoleWriteDecimal(c.txFrames);
  consoleWriteString(" frames ");
  consoleWriteDecimal(c.txBytes);
  consoleWriteString(" bytes (");
  consoleWriteDecimal(c.txRingFull);
  consoleWriteString(" ring full), interrupts ");
  consoleWriteDecimal(c.interrupts);
  consoleWriteString(" (");
  consoleWriteString(mode);
  consoleWriteString("), frames polled ");
  consoleWriteDecimal(c.rxPolled);
  consoleWriteString(", doorbells ");
  consoleWriteDecimal(c.doorbells);
  consoleNewLine();
}

// ---- `bench net` ------------------------------------------------------------------------------------------

// Receive-path cost of the last interrupt that brought exactly one frame (instructions under -icount):
// the driver's part (the interrupt less the switch's handler) and the switch's (the handler).
let benchDriver: u32 = 0;
let benchHandler: u32 = 0;
let benchLength: u32 = 0;
/** The TSC at the end of the last BENCH_ENDS single-frame interrupts (a ring) and their frame lengths:
 *  where the wake-up of the VM starts (bench/net.ts pairs them with the guest's netReceive). */
const BENCH_ENDS: u32 = 16;
const benchEnds = new Uint32Array(16);
const benchEndLengths = new Uint32Array(16);
let benchEndCount: u32 = 0;

/**
 * A driver's interrupt that brought exactly one frame, at its end: `start` and `end` its first and last
 * TSC readings, `handlerTime` the switch's handler's share, `length` the frame's. The wake-up's start is
 * read here, last, so that this bookkeeping counts in neither the driver's figure nor the wake-up.
 */
export function nicBenchRecord(start: u32, end: u32, handlerTime: u32, length: u32): void {
  benchDriver = end - start - handlerTime;
  benchHandler = handlerTime;
  benchLength = length;
  const slot = benchEndCount % BENCH_ENDS;
  benchEndLengths[slot] = length;
  benchEndCount++;
  benchEnds[slot] = rdtsc();
}

export function nicBenchEndCount(): u32 { return benchEndCount < BENCH_ENDS ? benchEndCount : BENCH_ENDS; }
/** The i-th oldest of the recorded interrupt ends (0 <= i < nicBenchEndCount()). */
export function nicBenchEnd(i: u32): u32 { return benchEnds[benchSlot(i)]; }
export function nicBenchEndLength(i: u32): u32 { return benchEndLengths[benchSlot(i)]; }
function benchSlot(i: u32): u32 { return (benchEndCount - nicBenchEndCount() + i) % BENCH_ENDS; }
export function nicBenchDriver(): u32 { return benchDriver; }
export function nicBenchSwitch(): u32 { return benchHandler; }
export function nicBenchLength(): u32 { return benchLength; }
