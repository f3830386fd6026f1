// The kernel console: every message goes to COM1 (for the test harness and headless machines) and to
// the VGA text screen (for a PC without a serial port). Everyone prints through these functions.
//
// Contract (docs/virtual-architecture.md "Console"):
// - Kernel lines are written as they are; they are the only unprefixed lines, so tools may trust a
//   line that does not start with `[vm `.
// - Guest output (the consoleWrite hypercall, consoleGuestWrite) never reaches the devices verbatim:
//   every guest line starts with `[vm N] `; bytes outside 0x20..0x7e (except newline) are written as
//   `\xNN` (two lower-case hex digits) and the backslash as `\\`. A line of one VM interrupted by
//   other output (another VM's line or a kernel line) is ended there and continues on a new
//   `[vm N] ` line, so every line has one author. On the VGA screen a guest line that wraps continues
//   indented (vga.ts), so no screen row starts with a guest's text either.
// - Bounded work: a guest's bytes are copied into a ring (CONSOLE_RING_BYTES) and written out later,
//   in bounded batches: at most CONSOLE_TICK_OUTPUT device bytes per clock tick and, from the idle
//   loop, in batches with interrupts on between them, and only while the UART can take bytes without
//   waiting. Each VM pays for its bytes from a budget (a burst of CONSOLE_BURST_BYTES refilled at
//   CONSOLE_RATE_BYTES per tick) and may have at most CONSOLE_VM_QUEUE_BYTES waiting; a call beyond
//   either gets a short count, or EAGAIN when nothing fits: a flooding VM is throttled alone. A short
//   count ends at a newline (a line under CONSOLE_ATOMIC_LINE bytes is taken whole or not at all), so
//   lines are not split when the ring runs short with thousands of VMs printing at once.
// - Order: once guest output waits in the ring, kernel bytes queue behind it (tagged as the kernel's),
//   so the devices show everything in the order it was written; consoleFlush writes out the whole
//   ring (the machine's exit does it).
// - Kept output (a kernel with a control VM: consoleKeepStart): each VM's last CONSOLE_KEPT_BYTES bytes,
//   as it wrote them (not escaped), in a ring of its own (kalloc'd at its first write, kept with its
//   slot), which the control VM reads (vmConsole: consoleKeptCopy) along with the count ever written.
// Invariant: ringTail <= ringHead (as a wrapping count) and ringHead - ringTail <= CONSOLE_RING_BYTES;
// the ring changes only with interrupts disabled.
import { bool, i32, u8, u32, load8, load32, store32, memoryCopy, addressOf } from "dsl";
import { kalloc, KALLOC_NONE } from "./kalloc.ts";
import { serialInit, serialWriteByte, serialTransmitReady } from "./serial.ts";
import { vgaInit, vgaWriteByte, vgaFlush, vgaStale, vgaIndentWraps } from "./vga.ts";
import { formatString, formatDecimal, formatSignedDecimal, formatHex } from "../dsl/runtime/format.ts";
import { Vm, vmAt, vmPrepareRange } from "./vm.ts";
import { clockTicks } from "./clock.ts";
import { interruptsDisable, interruptsRestore } from "./trap.ts";
import { EAGAIN, EFAULT } from "../abi/hypercalls.ts";

const NEWLINE = 10;
const BACKSLASH = 0x5c;
const PRINTABLE_FIRST = 0x20;
const PRINTABLE_LAST = 0x7e;

/** The guest-output ring (a power of two). */
const CONSOLE_RING_BYTES: u32 = 16384;
const RING_MASK: u32 = CONSOLE_RING_BYTES - 1;
/** A VM's burst: what it may write at once (also the most one consoleWrite takes). */
const CONSOLE_BURST_BYTES: u32 = 4096;
/** A VM's sustained rate: bytes per clock tick (64 KB/s, above a 115200-baud line's 11.5 KB/s). */
const CONSOLE_RATE_BYTES: u32 = 64;
/** The most bytes of one VM waiting in the ring: the rest of the ring stays open to the others. */
const CONSOLE_VM_QUEUE_BYTES: u32 = 4096;
/** A short count never splits a line shorter than this: it ends at a newline, or nothing is taken. */
const CONSOLE_ATOMIC_LINE: u32 = 256;
/** Device bytes written out per clock tick (and per idle-loop batch). */
const CONSOLE_TICK_OUTPUT: u32 = 2048;
/** Vm.consoleQueued: the VM's bytes waiting in the ring (this mask), and THROTTLE_LOGGED. */
export const CONSOLE_QUEUED_COUNT: u32 = 0x7fffffff;
const THROTTLE_LOGGED: u32 = 0x80000000;

/** The ring's tag for a kernel byte (VM indexes are below abi/boot.ts VM_LIMIT, 2^17). */
const KERNEL_TAG: u32 = 0xffffffff;
// lineOwner: who wrote the start of the line the devices are on.
const LINE_START = -1;
const LINE_KERNEL = -2;

const ringBytes = new Uint8Array(CONSOLE_RING_BYTES);
const ringTags = new Uint32Array(CONSOLE_RING_BYTES);
let ringHead: u32 = 0;                      // bytes ever queued (wrapping)
let ringTail: u32 = 0;                      // bytes ever written out (wrapping)
let lineOwner: i32 = LINE_START;
let emitted: u32 = 0;                       // device bytes written by the current batch

/** Must run before any other console function. */
export function consoleInit(): void {
  serialInit();
  vgaInit();
}

function emit(byte: u8): void {
  serialWriteByte(byte);
  vgaWriteByte(byte);
  emitted++;
}

function emitString(s: string): void { formatString(emit, s); }

function hexDigit(x: u32): u8 { return u8(x < 10 ? 48 + x : 87 + x); }

/** One byte of a guest line, escaped. */
function emitGuestByte(byte: u8): void {
  if (byte === BACKSLASH) { emit(BACKSLASH); emit(BACKSLASH); return; }
  if (byte >= PRINTABLE_FIRST && byte <= PRINTABLE_LAST) { emit(byte); return; }
  emit(BACKSLASH);
  emit(120);                                // 'x'
  emit(hexDigit(u32(byte) >>> 4));
  emit(hexDigit(u32(byte) & 15));
}

/** Writes one queued byte (tag: a VM index or KERNEL_TAG) with the line rules of the contract. */
function emitTagged(tag: u32, byte: u8): void {
  if (tag === KERNEL_TAG) {
    if (lineOwner >= 0) emit(NEWLINE);      // a guest's partial line ends before a kernel byte
    vgaIndentWraps(false);
    emit(byte);
    lineOwner = byte === NEWLINE ? LINE_START : LINE_KERNEL;
    return;
  }
  const owner = i32(tag);
  if (lineOwner !== owner) {
    if (lineOwner !== LINE_START) emit(NEWLINE);
    emitString("[vm ");
    formatDecimal(emit, tag);
    emitString("] ");
    lineOwner = owner;
    vgaIndentWraps(true);
  }
  if (byte === NEWLINE) { emit(NEWLINE); lineOwner = LINE_START; }
  else emitGuestByte(byte);
}

/**
 * Writes queued bytes until the ring is empty or `limit` device bytes were written; with `wait` false
 * also stops when the UART's transmitter is busy (no busy-waiting on the line). Interrupts disabled.
 * True when bytes remain.
 */
function drain(limit: u32, wait: bool): bool {
  emitted = 0;
  while (ringHead !== ringTail && emitted < limit) {
    if (!wait && !serialTransmitReady()) break;
    const at = ringTail & RING_MASK;
    const tag = u32(ringTags[at]);
    const byte = ringBytes[at];
    ringTail++;
    if (tag !== KERNEL_TAG) vmAt(tag).consoleQueued--;
    emitTagged(tag, byte);
  }
  vgaFlush();
  return ringHead !== ringTail;
}

/** The clock tick's share of the output (clock.ts, interrupts disabled). */
export function consoleTick(): void { if (ringHead !== ringTail) drain(CONSOLE_TICK_OUTPUT, false); }

/** One batch of output from the idle loop (interrupts are enabled between batches); true if more waits. */
export function consoleIdleBatch(): bool {
  const flags = interruptsDisable();
  const more = ringHead !== ringTail && drain(CONSOLE_TICK_OUTPUT, false);
  interruptsRestore(flags);
  return more;
}

/** Writes out everything queued, waiting for the UART (the machine's exit, a panic). */
export function consoleFlush(): void {
  const flags = interruptsDisable();
  while (drain(CONSOLE_TICK_OUTPUT, true)) {}
  interruptsRestore(flags);
}

function queue(tag: u32, byte: u8): void {
  const at: u32 = ringHead & RING_MASK;
  ringTags[at] = u32(tag);
  ringBytes[at] = byte;
  ringHead++;
}

/** A kernel byte: written at once, or queued behind waiting guest output (a full ring drains a batch). */
export function consoleWriteByte(byte: u8): void {
  const flags = interruptsDisable();
  if (ringHead === ringTail) {
    emitTagged(KERNEL_TAG, byte);
    if (byte === NEWLINE || !vgaStale()) vgaFlush();
  } else {
    if (ringHead - ringTail === CONSOLE_RING_BYTES) drain(CONSOLE_TICK_OUTPUT, true);
    queue(KERNEL_TAG, byte);
  }
  interruptsRestore(flags);
}

/** The bytes VM `index` may queue now by its own limits: its budget and its share of the ring. */
function guestAllowance(index: u32): u32 {
  const vm = vmAt(index);
  const now = clockTicks();
  const elapsed = now - vm.consoleTick;
  vm.consoleTick = now;
  const full = CONSOLE_BURST_BYTES / CONSOLE_RATE_BYTES;      // ticks that repay a whole burst
  const repaid = elapsed >= full ? CONSOLE_BURST_BYTES : elapsed * CONSOLE_RATE_BYTES;
  vm.consoleDebt = repaid >= vm.consoleDebt ? 0 : vm.consoleDebt - repaid;
  const allowance = CONSOLE_BURST_BYTES - vm.consoleDebt;
  const queued: u32 = vm.consoleQueued & CONSOLE_QUEUED_COUNT;
  const share = CONSOLE_VM_QUEUE_BYTES - queued;
  return share < allowance ? share : allowance;
}

/** Queues `length` bytes of VM `index` from `address` (within guestAllowance, checked and mapped). */
function guestQueue(index: u32, address: u32, length: u32): void {
  const at: u32 = ringHead & RING_MASK;
  const first = CONSOLE_RING_BYTES - at < length ? CONSOLE_RING_BYTES - at : length;
  memoryCopy(addressOf(ringBytes) + at, address, first);
  memoryCopy(addressOf(ringBytes), address + first, length - first);
  for (let i: u32 = 0; i < length; i++) ringTags[(at + i) & RING_MASK] = u32(index);
  ringHead += length;
  const vm = vmAt(index);
  vm.consoleDebt += length;
  vm.consoleQueued += length;
  if (keeping) keep(vm, address, length);
}

// ---- kept output (the control VM's vmConsole) ----------------------------------------------------------
// A VM's kept-output area: u32 bytes it ever wrote (wrapping), u32 where the next byte goes in the ring,
// u32 bytes the ring holds (at most CONSOLE_KEPT_BYTES), then the ring.
const KEPT_AREA_BYTES: u32 = 1024;
const KEPT_TOTAL = 0;
const KEPT_POSITION = 4;
const KEPT_HELD = 8;
const KEPT_RING = 12;
/** The last bytes of each VM's output that are kept. */
export const CONSOLE_KEPT_BYTES: u32 = KEPT_AREA_BYTES - KEPT_RING;
let keeping = false;

/** From now on every VM's last CONSOLE_KEPT_BYTES bytes are kept (vmstart.ts, with a control VM). */
export function consoleKeepStart(): void { keeping = true; }

/** Forgets what VM `vm` wrote (its slot holds a new VM: vm.ts initSlot); the area stays with the slot. */
export function consoleKeptClear(vm: Vm): void {
  if (vm.consoleKeep === 0) return;
  store32(vm.consoleKeep + KEPT_TOTAL, 0);
  store32(vm.consoleKeep + KEPT_POSITION, 0);
  store32(vm.consoleKeep + KEPT_HELD, 0);
}

/** Appends `length` bytes at `address` (mapped) to the VM's kept ring; nothing when no area can be had. */
function keep(vm: Vm, address: u32, length: u32): void {
  if (vm.consoleKeep === 0) {
    const area = kalloc(KEPT_AREA_BYTES);
    if (area === KALLOC_NONE) return;
    vm.consoleKeep = area;
    consoleKeptClear(vm);
  }
  const area = vm.consoleKeep;
  store32(area + KEPT_TOTAL, load32(area + KEPT_TOTAL) + length);
  const held = load32(area + KEPT_HELD) + length;
  store32(area + KEPT_HELD, held < CONSOLE_KEPT_BYTES ? held : CONSOLE_KEPT_BYTES);
  // Only the last CONSOLE_KEPT_BYTES of this write can survive it.
  const skip = length > CONSOLE_KEPT_BYTES ? length - CONSOLE_KEPT_BYTES : 0;
  let at = load32(area + KEPT_POSITION), from = address + skip, left = length - skip;
  while (left !== 0) {
    const chunk = CONSOLE_KEPT_BYTES - at < left ? CONSOLE_KEPT_BYTES - at : left;
    memoryCopy(area + KEPT_RING + at, from, chunk);
    from += chunk;
    left -= chunk;
    at += chunk;
    if (at === CONSOLE_KEPT_BYTES) at = 0;
  }
  store32(area + KEPT_POSITION, at);
}

/** Bytes VM `vm` ever wrote to the console (mod 2^32; 0 unless the kernel keeps output). */
export function consoleKeptTotal(vm: Vm): u32 { return vm.consoleKeep === 0 ? 0 : load32(vm.consoleKeep + KEPT_TOTAL); }

/** Bytes of VM `vm`'s output kept now (at most CONSOLE_KEPT_BYTES). */
export function consoleKeptHeld(vm: Vm): u32 { return vm.consoleKeep === 0 ? 0 : load32(vm.consoleKeep + KEPT_HELD); }

/**
 * Copies the VM's last kept bytes, oldest first, at most `capacity` of them, to `address` (checked and
 * mapped writable by the caller); returns how many.
 */
export function consoleKeptCopy(vm: Vm, address: u32, capacity: u32): u32 {
  const area = vm.consoleKeep;
  if (area === 0) return 0;
  const held = load32(area + KEPT_HELD);
  const count = capacity < held ? capacity : held;
  // The oldest of the last `count` bytes: `count` before the position, around the ring.
  const position = load32(area + KEPT_POSITION);
  let at = position >= count ? position - count : position + CONSOLE_KEPT_BYTES - count;
  let to = address, left = count;
  while (left !== 0) {
    const chunk = CONSOLE_KEPT_BYTES - at < left ? CONSOLE_KEPT_BYTES - at : left;
    memoryCopy(to, area + KEPT_RING + at, chunk);
    to += chunk;
    left -= chunk;
    at = 0;
  }
  return count;
}

/** Logs, once per VM, that it went over its console budget. */
function logThrottle(index: u32): void {
  const vm = vmAt(index);
  if ((vm.consoleQueued & THROTTLE_LOGGED) !== 0) return;
  vm.consoleQueued = vm.consoleQueued | THROTTLE_LOGGED;
  consoleWriteString("vm ");
  consoleWriteDecimal(index);
  consoleWriteString(" console: over its output budget, throttled");
  consoleNewLine();
}

/**
 * The consoleWrite hypercall's body for VM `index` (interrupts disabled; the caller checked that the
 * whole range is the VM's). Returns the bytes taken (a short count when over budget), EAGAIN when
 * none fit, or EFAULT when the pages cannot be mapped.
 */
export function consoleGuestWrite(index: u32, address: u32, length: u32): i32 {
  if (length === 0) return 0;
  const allowance = guestAllowance(index);
  if (allowance < length) logThrottle(index);
  const room = CONSOLE_RING_BYTES - (ringHead - ringTail);
  let count = length < allowance ? length : allowance;
  if (room < count) count = room;
  if (count === 0) return EAGAIN;
  if (!vmPrepareRange(vmAt(index), address, count, false)) return EFAULT;
  if (count < length) count = wholeLines(address, count);
  if (count === 0) return EAGAIN;
  guestQueue(index, address, count);
  return i32(count);
}

/**
 * A short count: up to the last newline among the first `count` bytes at `address` (mapped), so that
 * lines stay whole when the ring or a budget runs short (thousands of VMs printing at once); with no
 * newline there, 0 (EAGAIN: try again whole) unless `count` reaches CONSOLE_ATOMIC_LINE, a line that
 * long being split anyway.
 */
function wholeLines(address: u32, count: u32): u32 {
  for (let i = count; i > 0; i--) if (load8(address + i - 1) === NEWLINE) return i;
  return count >= CONSOLE_ATOMIC_LINE ? count : 0;
}

export function consoleWriteString(s: string): void { formatString(consoleWriteByte, s); }
export function consoleWriteDecimal(x: u32): void { formatDecimal(consoleWriteByte, x); }
export function consoleWriteSignedDecimal(x: i32): void { formatSignedDecimal(consoleWriteByte, x); }
/** Eight hexadecimal digits, lower case, no prefix. */
export function consoleWriteHex(x: u32): void { formatHex(consoleWriteByte, x); }
/** Hexadecimal without leading zeros (at least one digit), no "0x". */
export function consoleWriteHexShort(x: u32): void {
  let shift: u32 = 28;
  while (shift > 0 && (x >>> shift) === 0) shift -= 4;
  for (let s = i32(shift); s >= 0; s -= 4) {
    const digit = (x >>> s) & 15;
    consoleWriteByte(u8(digit < 10 ? 48 + digit : 87 + digit));
  }
}
export function consoleNewLine(): void { consoleWriteByte(NEWLINE); }

/** A 64-bit value given as two halves, as "0x" and 16 hexadecimal digits. */
export function consoleWriteHex64(high: u32, low: u32): void {
  consoleWriteString("0x");
  consoleWriteHex(high);
  consoleWriteHex(low);
}

/** Writes the NUL-terminated string at a physical address (at most `limit` bytes). */
export function consoleWriteCString(address: u32, limit: u32): void {
  for (let i: u32 = 0; i < limit; i++) {
    const byte = load8(address + i);
    if (byte === 0) break;
    consoleWriteByte(u8(byte));
  }
}
