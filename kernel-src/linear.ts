// The linear memory of bytecode VMs (issue 18 item 5, docs/bytecode.md "Memory"): no page directory and no
// page tables of their own. A bytecode VM's memory [GUEST_BASE, GUEST_BASE + memorySize) is described by
// its page map, one word a page in its kernel frame (vm.ts buildMemory; the interpreter's area follows the
// map in the same frame, linearAreaOffset): 0 for a page never touched (demand-zero, nothing held), the
// page's frame | LINEAR_RESIDENT for a resident one, or its place on the swap disk | PAGE_SWAPPED (swap.ts):
// the format of a PTE, so the swap code reads a map as one long page table (a resident page's accessed and
// dirty bits are always set: no processor sets them, so every page counts as touched and written). So a
// bytecode VM holds its slot, its kernel frame and the pages it touched, nothing else.
//
// The window: one address space shared by every bytecode VM (made once, linearWindowReserve), whose user
// part holds the pages of one VM at a time, supervisor-only (no ring 3 ever runs in it). Switching a
// bytecode VM in installs its present pages there (linearInstall: the last one's entries cleared, its own
// written, CR3 loaded, so the TLB holds none of the last one's); the interpreter and the hypercalls then
// reach the VM's memory at its own addresses, as for a hardware VM whose space is loaded. A VM switched
// in again right after itself (a hardware VM ran between: it has its own CR3) costs no install. The
// window's page tables (one per 4 MiB of the largest bytecode VM) are the kernel's, made before any VM.
//
// Isolation: the window maps the installed VM's frames only, and the interpreter checks every access
// against [GUEST_BASE, GUEST_BASE + memorySize) and the map before making it (bytecode-interp.ts); a page
// the map has not is mapped on demand (vm.ts vmDemandPage) or the access is not made. Invariant: while a
// VM is installed, the window's entry of each of its pages is present exactly when its map entry is.
import { bool, u32, load32, store32, memoryFill, invlpg } from "dsl";
import { GUEST_BASE } from "../abi/boot.ts";
import { PAGE_SHIFT, PAGE_OFFSET_MASK, FRAME_NONE } from "./frames.ts";
import {
  createAddressSpace, setAbsentEntry, pageEntrySlot, currentAddressSpace, switchAddressSpace, PAGE_PRESENT,
  PAGE_WRITABLE, PAGE_ACCESSED, PAGE_DIRTY, PAGE_TABLE_SPAN,
} from "./paging.ts";

/** A page map entry's flag: the page is resident, its frame in bits 31:12 (bit 0: what the interpreter tests). */
const LINEAR_PRESENT: u32 = PAGE_PRESENT;
/** The flags of a resident page's entry (a private, writable page, touched and written: see above). */
const LINEAR_RESIDENT: u32 = PAGE_PRESENT | PAGE_WRITABLE | PAGE_ACCESSED | PAGE_DIRTY;
const ENTRY_BYTES: u32 = 4;
/** Bytes the kernel frame leaves the interpreter after the map, at least (its state, context table, calls). */
const LINEAR_AREA_BYTES: u32 = 3072;
/** The map's size is rounded up to this, so the interpreter's area is aligned. */
const MAP_ALIGN: u32 = 64;

let windowSpace: u32 = 0;
/** The map whose pages the window holds (0: none), and its page count. */
let installedMap: u32 = 0;
let installedPages: u32 = 0;

/** Bytes of the page map of a VM of `memorySize` bytes, rounded up to MAP_ALIGN. */
function mapBytes(memorySize: u32): u32 {
  return (((memorySize >>> PAGE_SHIFT) * ENTRY_BYTES) + MAP_ALIGN - 1) & ~(MAP_ALIGN - 1);
}

/** Where the interpreter's area begins in the kernel frame(s) of a VM of `memorySize` bytes. */
export function linearAreaOffset(memorySize: u32): u32 { return mapBytes(memorySize); }

/** Frames of a bytecode VM's kernel frame run: its map, then at least LINEAR_AREA_BYTES of interpreter area. */
export function linearKernelFrames(memorySize: u32): u32 {
  return (mapBytes(memorySize) + LINEAR_AREA_BYTES + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
}

/** An empty map at `map` (the start of a fresh kernel frame run) for `memorySize` bytes. */
export function linearMapClear(map: u32, memorySize: u32): void { memoryFill(map, 0, mapBytes(memorySize)); }

/** The map entry of the page holding `address` (inside the VM's memory): 0, frame | flags, or a swapped one. */
export function linearEntry(map: u32, address: u32): u32 {
  return load32(map + (((address - GUEST_BASE) >>> PAGE_SHIFT) << 2));
}

/** The frame of the resident page holding `address`, or 0. */
export function linearFrame(map: u32, address: u32): u32 {
  const entry = linearEntry(map, address);
  return (entry & LINEAR_PRESENT) !== 0 ? entry & ~PAGE_OFFSET_MASK : 0;
}

/** The window's entry slot of `address` (its page table exists: linearWindowReserve). */
function windowSlot(address: u32): u32 { return pageEntrySlot(windowSpace, address); }

/**
 * Records `frame` as the page holding `address` (not resident before); also in the window when that VM is
 * installed (a not-present entry is never cached: no invalidation).
 */
export function linearMapPage(map: u32, address: u32, frame: u32): void {
  store32(map + (((address - GUEST_BASE) >>> PAGE_SHIFT) << 2), frame | LINEAR_RESIDENT);
  if (map === installedMap) store32(windowSlot(address), frame | PAGE_PRESENT | PAGE_WRITABLE);
}

/**
 * Sets the entry of the page holding `address` to `value`, not resident (0, or a PAGE_SWAPPED one): out of
 * the window too when that VM is installed, its TLB entry dropped if the window is loaded.
 */
export function linearUnmapPage(map: u32, address: u32, value: u32): void {
  store32(map + (((address - GUEST_BASE) >>> PAGE_SHIFT) << 2), value);
  if (map !== installedMap) return;
  store32(windowSlot(address), 0);
  if (currentAddressSpace() === windowSpace) invlpg(address & ~PAGE_OFFSET_MASK);
}

/** The slot of page `page`'s entry (from GUEST_BASE): the next page's is the next word (swap-map.ts). */
export function linearSlot(map: u32, page: u32): u32 { return map + page * ENTRY_BYTES; }

/**
 * Makes the window's page tables for bytecode VMs of up to `memorySize` bytes (the space itself the first
 * time); false without frames. Called before any bytecode VM of that size exists.
 */
export function linearWindowReserve(memorySize: u32): bool {
  if (windowSpace === 0) {
    const space = createAddressSpace();
    if (space === FRAME_NONE) return false;
    windowSpace = space;
  }
  for (let offset: u32 = 0; offset < memorySize; offset += PAGE_TABLE_SPAN) {
    if (pageEntrySlot(windowSpace, GUEST_BASE + offset) === 0 && !setAbsentEntry(windowSpace, GUEST_BASE + offset, 0)) {
      return false;
    }
  }
  return true;
}

/** The window's address space (0 before any bytecode group). */
export function linearWindow(): u32 { return windowSpace; }

/** Writes `value | frame` into the window for every present page of `map` (value 0: clears them). */
function writeWindow(map: u32, pages: u32, set: bool): void {
  let slot: u32 = 0;
  for (let page: u32 = 0; page < pages; page++) {
    const address = GUEST_BASE + (page << PAGE_SHIFT);
    if (slot === 0 || (address & (PAGE_TABLE_SPAN - 1)) === 0) slot = windowSlot(address); else slot += ENTRY_BYTES;
    const entry = load32(map + (page << 2));
    if ((entry & LINEAR_PRESENT) === 0) continue;
    store32(slot, set ? (entry & ~PAGE_OFFSET_MASK) | PAGE_PRESENT | PAGE_WRITABLE : 0);
  }
}

/**
 * The VM of `map` (`memorySize` bytes) is switched in: its pages into the window (the last VM's out) and
 * the window loaded, its TLB entries flushed by the CR3 load.
 */
export function linearInstall(map: u32, memorySize: u32): void {
  if (installedMap !== map) {
    if (installedMap !== 0) writeWindow(installedMap, installedPages, false);
    installedMap = map;
    installedPages = memorySize >>> PAGE_SHIFT;
    writeWindow(map, installedPages, true);
    switchAddressSpace(windowSpace);          // also when it is loaded: the last VM's entries flushed
    return;
  }
  if (currentAddressSpace() !== windowSpace) switchAddressSpace(windowSpace);
}

/**
 * The VM of `map` gives its pages back (it ended, or they go to the swap disk): out of the window if it is
 * installed there (the window not loaded then: the caller switched to the kernel's space).
 */
export function linearForget(map: u32): void {
  if (installedMap !== map) return;
  writeWindow(installedMap, installedPages, false);
  installedMap = 0;
  installedPages = 0;
  if (currentAddressSpace() === windowSpace) switchAddressSpace(windowSpace);
}

/** True when `address`'s page is resident in the map (bounds checked by the caller). */
export function linearPresent(map: u32, address: u32): bool {
  return (linearEntry(map, address) & LINEAR_PRESENT) !== 0;
}
