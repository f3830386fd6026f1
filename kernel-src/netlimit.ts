// Network rate limits (docs/virtual-architecture.md "Network rate limits"): each VM's packets/s and bytes/s
// on send (netSend) and on receive (frames queued for it, from VMs or the wire), enforced by the switch
// (switch.ts) with four token buckets a VM, set from the manifest (vmstart.ts) or vmCreate (control.ts).
// A bucket is kept in the virtual-scheduling form of the token bucket (GCRA: ITU-T I.371 §4.4.2): one
// 64-bit due time on the kernel clock (clock.ts, nanoseconds). A frame costs NANOSECONDS_PER_SECOND / rate
// (packets) or length * NANOSECONDS_PER_SECOND / rate (bytes); it conforms when due <= now + BURST
// (NET_LIMIT_BURST_MILLISECONDS), and taking it sets due = max(due, now) + cost. That is a token bucket of
// depth rate x BURST (plus one frame) refilled continuously at `rate`: idle time fills it up to its depth,
// never beyond (the max). Nothing is refilled on a tick: a bucket is brought up to date only when a frame
// uses it (lazily), so no work scans the VMs, and a VM without limits costs one test a frame.
// Rules: a frame passes only if every limited bucket of its direction conforms. Send: checked before the
// switch copies the frame (a flooder's excess costs the kernel little), charged only when the switch takes
// it (a frame refused with EAGAIN costs no tokens); an excess frame is dropped and counted in txLimited,
// and netSend returns 0 (taken, then dropped: as a wire would). Receive: checked and charged when a frame
// would be queued; an excess frame is dropped and counted in rxLimited (the sender's send was taken).
// Storage: one 64-byte NetLimit slot per VM id, in frames beside the VM table (like share.ts: vm.ts
// vmTableGrow calls netLimitTableGrow), zeroed (no limits) and grown with it; netLimitSet resets a slot
// when its VM is created, so a reused id starts with full buckets and zero counts. The slot also holds the
// switch's rxEvicted count (the Vm slot is full: vm.ts).
import { bool, u32, overlay, sizeOf, mulHigh } from "dsl";
import { frameArrayGrow } from "./framearray.ts";
import { PAGE_SHIFT } from "./frames.ts";
import { Nanoseconds, clockRead, divideWide } from "./clock.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";
import { VM_LIMIT } from "../abi/boot.ts";
import { NET_BYTE_RATE_MIN, NET_LIMIT_BURST_MILLISECONDS } from "../abi/hypercalls.ts";

const NANOSECONDS_PER_SECOND: u32 = 1000000000;
const BURST_NANOSECONDS: u32 = NET_LIMIT_BURST_MILLISECONDS * 1000000;

/** A bucket's due time (64-bit nanoseconds on the kernel clock): 0 is a full bucket. */
class Due {
  high: u32 = 0;
  low: u32 = 0;
}

class NetLimit {
  txPacketRate: u32 = 0;      // frames/s it may send, 0: no limit
  txByteRate: u32 = 0;        // bytes/s it may send, 0: no limit (else at least NET_BYTE_RATE_MIN)
  rxPacketRate: u32 = 0;      // frames/s it may be given
  rxByteRate: u32 = 0;        // bytes/s it may be given
  txPacketDue = new Due();
  txByteDue = new Due();
  rxPacketDue = new Due();
  rxByteDue = new Due();
  txLimited: u32 = 0;         // frames it sent dropped by its send limits
  rxLimited: u32 = 0;         // frames for it dropped by its receive limits
  rxEvicted: u32 = 0;         // frames for it dropped unread as the oldest in the pool (switch.ts drop-oldest)
}

/** 64-byte slots (sizeOf(NetLimit), checked by netLimitTableGrow), 64 to a frame. */
const LIMIT_SHIFT: u32 = 6;
const LIMITS_PER_FRAME_SHIFT: u32 = 6;       // PAGE_SHIFT - LIMIT_SHIFT
const limitFrames = new Uint32Array(2048);     // VM_LIMIT >> (PAGE_SHIFT - LIMIT_SHIFT)
let limitCapacity: u32 = 0;

/** VM `index`'s limits (framearray.ts's frameArrayAt with constant shifts: on every frame's path). */
export function netLimitAt(index: u32): NetLimit {
  return overlay(NetLimit, limitFrames[index >>> LIMITS_PER_FRAME_SHIFT]
    + ((index & ((1 << LIMITS_PER_FRAME_SHIFT) - 1)) << LIMIT_SHIFT));
}

/** Makes room for VM ids below `count` (zeroed slots: no limits); false when out of memory. */
export function netLimitTableGrow(count: u32): bool {
  if (count > VM_LIMIT || sizeOf(NetLimit) > (u32(1) << LIMIT_SHIFT)) return false;
  if (LIMIT_SHIFT + LIMITS_PER_FRAME_SHIFT !== PAGE_SHIFT) return false;
  if (count <= limitCapacity) return true;
  if (!frameArrayGrow(limitFrames, limitCapacity, count, LIMIT_SHIFT)) return false;
  limitCapacity = count;
  return true;
}

function clearDue(due: Due): void { due.high = 0; due.low = 0; }

/**
 * A new VM's limits (0: none), its buckets full and its counts zero. A byte rate below NET_BYTE_RATE_MIN
 * is raised to it (the manifest and vmCreate refuse one; netLimitSet does not trust its callers).
 */
export function netLimitSet(index: u32, txPackets: u32, txBytes: u32, rxPackets: u32, rxBytes: u32): void {
  const limit = netLimitAt(index);
  limit.txPacketRate = txPackets;
  limit.txByteRate = txBytes !== 0 && txBytes < NET_BYTE_RATE_MIN ? NET_BYTE_RATE_MIN : txBytes;
  limit.rxPacketRate = rxPackets;
  limit.rxByteRate = rxBytes !== 0 && rxBytes < NET_BYTE_RATE_MIN ? NET_BYTE_RATE_MIN : rxBytes;
  clearDue(limit.txPacketDue);
  clearDue(limit.txByteDue);
  clearDue(limit.rxPacketDue);
  clearDue(limit.rxByteDue);
  limit.txLimited = 0;
  limit.rxLimited = 0;
  limit.rxEvicted = 0;
}

// ---- buckets ------------------------------------------------------------------------------------------

/** The clock when the current frame was looked at (one reading serves its check and its charge). */
const now = new Nanoseconds();

/** A frame's cost in a packet bucket: 1e9 / rate ns (rate not 0). */
function packetCost(rate: u32): u32 { return NANOSECONDS_PER_SECOND / rate; }

/** A frame's cost in a byte bucket: length * 1e9 / rate ns (exact; rate >= NET_BYTE_RATE_MIN > high part). */
function byteCost(length: u32, rate: u32): u32 {
  return divideWide(mulHigh(length, NANOSECONDS_PER_SECOND), u32(Math.imul(length, NANOSECONDS_PER_SECOND)), rate);
}

/** True when a frame may use the bucket now: rate 0 (no limit), or due <= now + BURST. */
function conforms(rate: u32, due: Due): bool {
  if (rate === 0) return true;
  if (due.high < now.high || (due.high === now.high && due.low <= now.low)) return true;
  const borrow: u32 = due.low < now.low ? 1 : 0;
  return due.high - now.high - borrow === 0 && due.low - now.low <= BURST_NANOSECONDS;
}

/** Takes `cost` from a limited bucket: due = max(due, now) + cost. */
function take(rate: u32, due: Due, cost: u32): void {
  if (rate === 0) return;
  if (due.high < now.high || (due.high === now.high && due.low < now.low)) { due.high = now.high; due.low = now.low; }
  const low = due.low + cost;
  if (low < due.low) due.high++;
  due.low = low;
}

// ---- the switch's checks --------------------------------------------------------------------------------

/**
 * netSend's check, before the switch copies the frame: true when VM `index` may send `length` bytes now;
 * false: the frame is over its send limits, counted in txLimited (the switch drops it).
 */
export function netLimitSendAllowed(index: u32, length: u32): bool {
  const limit = netLimitAt(index);
  if ((limit.txPacketRate | limit.txByteRate) === 0) return true;
  clockRead(now);
  if (conforms(limit.txPacketRate, limit.txPacketDue) && conforms(limit.txByteRate, limit.txByteDue)) return true;
  limit.txLimited++;
  return false;
}

/** Charges a frame the switch took from VM `index` (after netLimitSendAllowed, in the same netSend). */
export function netLimitSendTaken(index: u32, length: u32): void {
  const limit = netLimitAt(index);
  if ((limit.txPacketRate | limit.txByteRate) === 0) return;
  if (limit.txPacketRate !== 0) take(limit.txPacketRate, limit.txPacketDue, packetCost(limit.txPacketRate));
  if (limit.txByteRate !== 0) take(limit.txByteRate, limit.txByteDue, byteCost(length, limit.txByteRate));
}

/**
 * Before a frame of `length` bytes is queued for VM `index`: true (charged) when its receive limits let
 * it in; false: over them, counted in rxLimited (the switch drops it).
 */
export function netLimitReceiveAllowed(index: u32, length: u32): bool {
  const limit = netLimitAt(index);
  if ((limit.rxPacketRate | limit.rxByteRate) === 0) return true;
  clockRead(now);
  if (!conforms(limit.rxPacketRate, limit.rxPacketDue) || !conforms(limit.rxByteRate, limit.rxByteDue)) {
    limit.rxLimited++;
    return false;
  }
  if (limit.rxPacketRate !== 0) take(limit.rxPacketRate, limit.rxPacketDue, packetCost(limit.rxPacketRate));
  if (limit.rxByteRate !== 0) take(limit.rxByteRate, limit.rxByteDue, byteCost(length, limit.rxByteRate));
  return true;
}

// ---- report ---------------------------------------------------------------------------------------------

/**
 * `vm N limits: tx P packets/s B bytes/s, rx P packets/s B bytes/s; dropped tx T rx R` (0: none) when VM
 * `index` has a limit or had frames dropped by one (the console's `vms`: vmreport.ts).
 */
export function netLimitReportVm(index: u32): void {
  const limit = netLimitAt(index);
  const used = limit.txPacketRate | limit.txByteRate | limit.rxPacketRate | limit.rxByteRate | limit.txLimited
    | limit.rxLimited;
  if (used === 0) return;
  consoleWriteString("vm ");
  consoleWriteDecimal(index);
  consoleWriteString(" limits: tx ");
  consoleWriteDecimal(limit.txPacketRate);
  consoleWriteString(" packets/s ");
  consoleWriteDecimal(limit.txByteRate);
  consoleWriteString(" bytes/s, rx ");
  consoleWriteDecimal(limit.rxPacketRate);
  consoleWriteString(" packets/s ");
  consoleWriteDecimal(limit.rxByteRate);
  consoleWriteString(" bytes/s; dropped tx ");
  consoleWriteDecimal(limit.txLimited);
  consoleWriteString(" rx ");
  consoleWriteDecimal(limit.rxLimited);
  consoleNewLine();
}
