// The profile (`-append profile`; bench/request.ts): where the CPU's instructions go, by category, exact
// under `qemu -icount shift=0,sleep=off` (rdtsc then counts instructions). On, the time between two
// marks is charged to the category that was current:
//   - the kernel's entries (trap.ts trapHandler, hypercall.ts hypercallEntry) end the interrupted
//     category (a VM's ring 3: PROFILE_GUEST; the idle loop: PROFILE_IDLE) and start PROFILE_TRAP or
//     PROFILE_HYPERCALL; their exits start PROFILE_GUEST (a ring-3 frame) or PROFILE_IDLE;
//   - subsystems mark their own work and put the caller's category back (profileEnter / profileLeave):
//     the NIC driver, the virtual switch, the timer tick, the VM switch (scheduler.ts, which also counts
//     the CR3 loads);
//   - the guest splits its own ring-3 time (guest-src/runtime/profile.ts) into the abi/boot.ts
//     PROFILE_GUEST_* categories, in its boot page; to take the kernel's time (and the other VMs') out of
//     its intervals it reads profileAway, which the kernel keeps there: at an entry from ring 3 it writes
//     profileLeft (the TSC), at the return to that VM it adds the time since to profileAway.
// The running VM (its page directory and boot page's address) is the scheduler's to set (profileSetVm) as
// a VM comes onto the CPU; the page's frame is looked up at each use and written through the kernel's
// map. Off, nothing of it runs: the profiled handlers are installed instead of the plain ones only when
// the kernel profiles (hypercall.ts's gate and network calls, scheduler.ts's switch paths, the NIC's
// interrupt and receive handler, the PIT's); trap.ts's handler alone tests profileOn() (a load and a
// branch) on every trap. The marks' own instructions are charged too (a few tens each); the count of
// kernel marks is reported with the totals. Under sleep=off, time in `hlt` is the virtual clock's jump to
// the next event, not instructions: PROFILE_IDLE is not work.
import { bool, u32, rdtsc, overlay } from "dsl";
import { BootInfo } from "../abi/boot.ts";
import { HYPERCALL_COUNT } from "../abi/hypercalls.ts";
import { TrapFrame, frameFromUser } from "./trapframe.ts";
import { pageEntry, entryFrame, changeEntryBits, PAGE_PRESENT, PAGE_DIRTY } from "./paging.ts";
import { PAGE_OFFSET_MASK } from "./frames.ts";
import { consoleWriteString, consoleWriteHex64, consoleWriteDecimal } from "./console.ts";

/** The kernel's idle loop (`hlt`, console output between interrupts). */
const PROFILE_IDLE: u32 = 0;
/** Entry stubs, dispatch, exceptions and IRQs not below, the return to the interrupted code. */
export const PROFILE_TRAP: u32 = 1;
/** The hypercall entry and the calls not below (clock, idle, alarm, mask, acknowledge, console). */
export const PROFILE_HYPERCALL: u32 = 2;
/** The PIT tick: the clock, the timer queue, alarms raising virtual interrupts. */
export const PROFILE_TIMER: u32 = 3;
/** The NIC driver's interrupt (virtio-net.ts, e1000.ts): receive ring, refill, reclaim (a transmit is the switch's). */
export const PROFILE_NIC: u32 = 4;
/** The virtual switch (switch.ts): demultiplexing, checks, queues, copies to and from VMs, transmitting. */
export const PROFILE_SWITCH: u32 = 5;
/** The VM switch: saving and restoring frames, the run queue, the FPU hand-over. */
export const PROFILE_SCHEDULER: u32 = 6;
/** Swapping (swap.ts): write-outs (placement, checksums, requests), read-ins and page-ins, their completion. */
export const PROFILE_SWAP: u32 = 7;
/** The disk driver's interrupt (the swap disk, disk.ts; the completions it calls are the swap's). */
export const PROFILE_DISK: u32 = 8;
/** A VM's ring 3 (split further by the guests themselves). */
const PROFILE_GUEST: u32 = 9;
const CATEGORIES: u32 = 10;

function categoryName(c: u32): string {
  switch (c) {
    case PROFILE_IDLE: return "idle";
    case PROFILE_TRAP: return "trap";
    case PROFILE_HYPERCALL: return "hypercall";
    case PROFILE_TIMER: return "timer";
    case PROFILE_NIC: return "nic";
    case PROFILE_SWITCH: return "switch";
    case PROFILE_SCHEDULER: return "scheduler";
    case PROFILE_SWAP: return "swap";
    case PROFILE_DISK: return "disk";
  }
  return "guest";
}

let on = false;
let category: u32 = PROFILE_IDLE;
let last: u32 = 0;
let marks: u32 = 0;
let vmSpace: u32 = 0;                    // the running VM's page directory (0: none) and boot page
let vmBootAddress: u32 = 0;
let cr3Loads: u32 = 0;
const counts = new Uint32Array(20);       // CATEGORIES (low, high) pairs
const calls = new Uint32Array(HYPERCALL_COUNT);   // hypercalls made, by number

/** Turns the profile on (main.ts, the `profile` word); VMs' boot pages say so from then on. */
export function profileEnable(): void {
  on = true;
  category = PROFILE_IDLE;
  last = rdtsc();
}

/**
 * Whether the kernel profiles. Every hook below is called only when it does (`if (profileOn()) ...`:
 * this leaf is inlined, so a hook off costs a load and a branch where it sits).
 */
export function profileOn(): bool { return on; }

/** Adds `cycles` to a (low, high) pair of `pairs` (a u64 in two u32). */
export function profileAdd(pairs: Uint32Array, index: u32, cycles: u32): void {
  const low = pairs[index * 2] + cycles;
  if (low < cycles) pairs[index * 2 + 1]++;
  pairs[index * 2] = low;
}

/** Ends the current category at `now` and starts `next`; returns the ended one. */
function mark(next: u32, now: u32): u32 {
  profileAdd(counts, category, now - last);
  last = now;
  marks++;
  const previous = category;
  category = next;
  return previous;
}

/** Starts `next` (a subsystem's work); returns the category to put back with profileLeave. */
export function profileEnter(next: u32): u32 { return mark(next, rdtsc()); }

/** Puts back the category profileEnter returned. */
export function profileLeave(previous: u32): void { mark(previous, rdtsc()); }


/** The VM that now runs in ring 3: its page directory (0: none) and its boot page's address. */
export function profileSetVm(space: u32, bootAddress: u32): void { vmSpace = space; vmBootAddress = bootAddress; }

/**
 * The running VM's boot page (a frame), looked up at each use: a page given up while its VM runs (a VM
 * larger than memory loses its coldest pages) is never written through a frame that is no longer its.
 * 0: no VM, or the page is not resident.
 */
function vmPage(): u32 {
  if (vmSpace === 0) return 0;
  const entry = pageEntry(vmSpace, vmBootAddress);
  if ((entry & PAGE_PRESENT) === 0) return 0;
  // Written through its frame, not the VM's mapping: the processor does not set the dirty bit, so here
  // (a clean page's copy on the swap disk is kept only while the bit is clear: swap.ts).
  if ((entry & PAGE_DIRTY) === 0) changeEntryBits(vmSpace, vmBootAddress, PAGE_DIRTY, 0);   // once a residency
  return entryFrame(entry) + (vmBootAddress & PAGE_OFFSET_MASK);   // a bytecode VM's is inside its page
}

/** Counts a hypercall by its number (hypercall.ts's profiled entry; other numbers are not counted). */
export function profileCountCall(number: u32): void {
  if (number < HYPERCALL_COUNT) calls[number]++;
}

/** An entry stub's handler begins (`entry`: PROFILE_TRAP or PROFILE_HYPERCALL). */
export function profileEntry(frameAddress: u32, entry: u32): void {
  const now = rdtsc();
  mark(entry, now);
  if (!frameFromUser(overlay(TrapFrame, frameAddress))) return;
  const page = vmPage();
  if (page !== 0) overlay(BootInfo, page).profileLeft = now;
}

/** An entry stub's handler returns `frameAddress`: a VM's ring 3, or the kernel's idle loop. */
export function profileExit(frameAddress: u32): void {
  const now = rdtsc();
  if (!frameFromUser(overlay(TrapFrame, frameAddress))) { mark(PROFILE_IDLE, now); return; }
  mark(PROFILE_GUEST, now);
  const page = vmPage();
  if (page === 0) return;
  const info = overlay(BootInfo, page);
  info.profileAway += now - info.profileLeft;
}

/**
 * A VM switch loaded CR3 (scheduler.ts: CR3 changed, or the run directory was loaded again: paging.ts).
 * One instruction, so not a category: its cost is the emulator's (QEMU drops its soft TLB) or the CPU's
 * (TLB refills), not instructions; the bench divides the count. A switch between VMs of one image under
 * `keepcr3` makes none.
 */
export function profileCountCr3Load(): void { cr3Loads++; }

/**
 * `profile: marks M cr3 C calls N0 N1 ..; idle 0x..; trap 0x..; ...`: the kernel's totals, the
 * hypercalls by number (abi/hypercalls.ts order) and the categories' TSC cycles (u64 in hex).
 */
export function profileReport(): void {
  consoleWriteString("profile: marks ");
  consoleWriteDecimal(marks);
  consoleWriteString(" cr3 ");
  consoleWriteDecimal(cr3Loads);
  consoleWriteString(" calls");
  for (let i: u32 = 0; i < HYPERCALL_COUNT; i++) {
    consoleWriteString(" ");
    consoleWriteDecimal(calls[i]);
  }
  for (let i: u32 = 0; i < CATEGORIES; i++) {
    consoleWriteString("; ");
    consoleWriteString(categoryName(i));
    consoleWriteString(" ");
    consoleWriteHex64(counts[i * 2 + 1], counts[i * 2]);
  }
}
