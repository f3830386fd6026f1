// The linear memory of bytecode VMs (issue 18 item 5, docs/bytecode.md "Memory"): no page directory and no
// page tables of their own. A bytecode VM's memory [GUEST_BASE, GUEST_BASE + memorySize) is described by
// its page map, one word a page in its kernel frame (vm.ts buildMemory; the interpreter's area follows the
// map in the same frame, linearAreaOffset): 0 for a page never touched (demand-zero, nothing held), the
// page's frame | LINEAR_RESIDENT (| accessed | dirty) for a resident one, or its place on the swap disk |
// PAGE_SWAPPED (swap.ts): the format of a PTE, so the swap code reads a map as one long page table. After
// the entries, two words: the span [first, end) of pages that may be resident (MAP_SPAN_*: widened when a
// page is mapped, narrowed when the window is cleared), so that the window's install and uninstall cost
// the span, not the whole map. So a bytecode VM holds its slot, its kernel frame and the pages it touched.
//
// The window: one address space shared by every bytecode VM (made once, linearWindowReserve), whose user
// part holds the pages of one VM at a time, supervisor-only (no ring 3 ever runs in it). Switching a
// bytecode VM in installs its present pages there (linearInstall: the last one's entries cleared, its own
// written, CR3 loaded, so the TLB holds none of the last one's); the interpreter and the hypercalls then
// reach the VM's memory at its own addresses, as for a hardware VM whose space is loaded. A VM switched
// in again right after itself (a hardware VM ran between: it has its own CR3) costs no install. The
// window's page tables (one per 4 MiB of the largest bytecode VM) are the kernel's, made before any VM.
//
// Accessed and dirty bits (swap-evict.ts's second chance, swap-out.ts's clean copies): the processor sets
// them in the window's PTEs as the interpreter and the hypercalls reach the VM's memory there. A page's
// bits are its map entry's OR, while its VM is installed, its window PTE's: the window's are written clear
// at an install and harvested into the map when they are cleared (another VM installed, linearForget);
// linearEntryBits reads both, linearClearAccessed clears both (invlpg when the window is loaded),
// linearSync harvests the installed VM's without clearing the window. A page mapped fresh (demand-zero,
// the boot page) starts accessed and dirty (it has no copy on the disk); one read back from the disk
// or mapped again by a rescue starts with both clear, as a hardware VM's PTE.
//
// Isolation: the window maps the installed VM's frames only, and the interpreter checks every access
// against [GUEST_BASE, GUEST_BASE + memorySize) and the map before making it (bytecode-interp.ts); a page
// the map has not is mapped on demand (vm.ts vmDemandPage) or the access is not made. Invariant: while a
// VM is installed, the window's entry of each of its pages is present exactly when its map entry is.
import { bool, u32, load32, store32, memoryFill, invlpg } from "dsl";
import { GUEST_BASE } from "../abi/boot.ts";
import { PAGE_SHIFT, PAGE_OFFSET_MASK, FRAME_NONE } from "./frames.ts";
import {
  createAddressSpace, setAbsentEntry, pageEntrySlot, currentAddressSpace, switchAddressSpace, clearAccessed,
  PAGE_PRESENT, PAGE_WRITABLE, PAGE_ACCESSED, PAGE_DIRTY, PAGE_TABLE_SPAN,
} from "./paging.ts";

/** A page map entry's flag: the page is resident, its frame in bits 31:12 (bit 0: what the interpreter tests). */
const LINEAR_PRESENT: u32 = PAGE_PRESENT;
/** The flags of a resident page's entry (a private, writable page); the accessed and dirty bits besides. */
const LINEAR_RESIDENT: u32 = PAGE_PRESENT | PAGE_WRITABLE;
/** The bits the processor sets in the window and the map keeps: accessed and dirty. */
const LINEAR_USE: u32 = PAGE_ACCESSED | PAGE_DIRTY;
const ENTRY_BYTES: u32 = 4;
/** After the entries: the first page of the span that may be resident, and the page after its last. */
const MAP_SPAN_FIRST: u32 = 0;
const MAP_SPAN_END: u32 = 4;
const MAP_SPAN_BYTES: u32 = 8;
/** Bytes the kernel frame leaves the interpreter after the map, at least (its state, context table, calls). */
const LINEAR_AREA_BYTES: u32 = 3072;
/** The map's size is rounded up to this, so the interpreter's area is aligned. */
const MAP_ALIGN: u32 = 64;

let windowSpace: u32 = 0;
/** The map whose pages the window holds (0: none), and its page count. */
let installedMap: u32 = 0;
let installedPages: u32 = 0;

/** Bytes of the page map of a VM of `memorySize` bytes (its entries and span), rounded up to MAP_ALIGN. */
function mapBytes(memorySize: u32): u32 {
  return (((memorySize >>> PAGE_SHIFT) * ENTRY_BYTES) + MAP_SPAN_BYTES + MAP_ALIGN - 1) & ~(MAP_ALIGN - 1);
}

/** Where the interpreter's area begins in the kernel frame(s) of a VM of `memorySize` bytes. */
export function linearAreaOffset(memorySize: u32): u32 { return mapBytes(memorySize); }

/** Frames of a bytecode VM's kernel frame run: its map, then at least LINEAR_AREA_BYTES of interpreter area. */
export function linearKernelFrames(memorySize: u32): u32 {
  return (mapBytes(memorySize) + LINEAR_AREA_BYTES + PAGE_OFFSET_MASK) >>> PAGE_SHIFT;
}

/** An empty map at `map` (the start of a fresh kernel frame run) for `memorySize` bytes (its span empty too). */
export function linearMapClear(map: u32, memorySize: u32): void { memoryFill(map, 0, mapBytes(memorySize)); }

/** The address of the span's words of the map of `pages` pages. */
function spanOf(map: u32, pages: u32): u32 { return map + pages * ENTRY_BYTES; }

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
 * Records `frame` as the page holding `address` (not resident before) in the map of a VM of `memorySize`
 * bytes, its span widened; `fresh` (a page made now, with no copy on the disk): accessed and dirty, else
 * (read back, mapped again) both clear. Also in the window when that VM is installed (bits clear there; a
 * not-present entry is never cached: no invalidation).
 */
export function linearMapPage(map: u32, memorySize: u32, address: u32, frame: u32, fresh: bool): void {
  const page = (address - GUEST_BASE) >>> PAGE_SHIFT;
  store32(map + (page << 2), frame | LINEAR_RESIDENT | (fresh ? LINEAR_USE : 0));
  const span = spanOf(map, memorySize >>> PAGE_SHIFT);
  const first = load32(span + MAP_SPAN_FIRST), end = load32(span + MAP_SPAN_END);
  if (end <= first) { store32(span + MAP_SPAN_FIRST, page); store32(span + MAP_SPAN_END, page + 1); }
  else if (page < first) store32(span + MAP_SPAN_FIRST, page);
  else if (page >= end) store32(span + MAP_SPAN_END, page + 1);
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

/**
 * The map entry of `address` with its accessed and dirty bits as they are now: the window's too when its
 * VM is installed (swap-evict.ts, swap-out.ts read a page's bits so).
 */
export function linearEntryBits(map: u32, address: u32): u32 {
  const entry = linearEntry(map, address);
  if (map !== installedMap || (entry & LINEAR_PRESENT) === 0) return entry;
  return entry | (load32(windowSlot(address)) & LINEAR_USE);
}

/** Clears the accessed bit of the resident page at `address`: in the map, and in the window (invlpg) if there. */
export function linearClearAccessed(map: u32, address: u32): void {
  const slot = map + (((address - GUEST_BASE) >>> PAGE_SHIFT) << 2);
  store32(slot, load32(slot) & ~PAGE_ACCESSED);
  if (map === installedMap) clearAccessed(windowSpace, address);
}

/**
 * The accessed and dirty bits the window holds for the VM of `map`, if it is installed, ORed into its map
 * (the window's kept: linearClearAccessed clears both), so that its map alone says them (swap-out.ts).
 */
export function linearSync(map: u32): void {
  if (map === installedMap && map !== 0) harvest(map, installedPages, false);
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

/** Writes each present page of `map` (`pages` pages) in its span into the window, its bits clear. */
function writeWindow(map: u32, pages: u32): void {
  const span = spanOf(map, pages);
  const first = load32(span + MAP_SPAN_FIRST), end = load32(span + MAP_SPAN_END);
  let slot: u32 = 0;
  for (let page = first; page < end; page++) {
    const address = GUEST_BASE + (page << PAGE_SHIFT);
    if (slot === 0 || (address & (PAGE_TABLE_SPAN - 1)) === 0) slot = windowSlot(address); else slot += ENTRY_BYTES;
    const entry = load32(map + (page << 2));
    if ((entry & LINEAR_PRESENT) !== 0) store32(slot, (entry & ~PAGE_OFFSET_MASK) | PAGE_PRESENT | PAGE_WRITABLE);
  }
}

/**
 * ORs the window's accessed and dirty bits of the present pages of `map` (`pages` pages) in its span into
 * the map; with `clear`, their window entries cleared too and the span narrowed to the pages present.
 */
function harvest(map: u32, pages: u32, clear: bool): void {
  const span = spanOf(map, pages);
  const first = load32(span + MAP_SPAN_FIRST), end = load32(span + MAP_SPAN_END);
  let low = end, high = first;                        // the pages still present
  let slot: u32 = 0;
  for (let page = first; page < end; page++) {
    const address = GUEST_BASE + (page << PAGE_SHIFT);
    if (slot === 0 || (address & (PAGE_TABLE_SPAN - 1)) === 0) slot = windowSlot(address); else slot += ENTRY_BYTES;
    const entry = load32(map + (page << 2));
    if ((entry & LINEAR_PRESENT) === 0) continue;
    const bits = load32(slot) & LINEAR_USE;
    if (bits !== 0) store32(map + (page << 2), entry | bits);
    if (!clear) continue;
    store32(slot, 0);
    if (page < low) low = page;
    high = page + 1;
  }
  if (!clear) return;
  store32(span + MAP_SPAN_FIRST, high > low ? low : 0);
  store32(span + MAP_SPAN_END, high > low ? high : 0);
}

/**
 * The VM of `map` (`memorySize` bytes) is switched in: its pages into the window (the last VM's out, their
 * bits harvested) and the window loaded, its TLB entries flushed by the CR3 load.
 */
export function linearInstall(map: u32, memorySize: u32): void {
  if (installedMap !== map) {
    if (installedMap !== 0) harvest(installedMap, installedPages, true);
    installedMap = map;
    installedPages = memorySize >>> PAGE_SHIFT;
    writeWindow(map, installedPages);
    switchAddressSpace(windowSpace);          // also when it is loaded: the last VM's entries flushed
    return;
  }
  if (currentAddressSpace() !== windowSpace) switchAddressSpace(windowSpace);
}

/**
 * The VM of `map` gives its pages back (it ended, or they go to the swap disk): out of the window if it is
 * installed there, their bits harvested into its map (the window not loaded then: the caller switched to the
 * kernel's space; if it is, it is reloaded).
 */
export function linearForget(map: u32): void {
  if (installedMap !== map) return;
  harvest(installedMap, installedPages, true);
  installedMap = 0;
  installedPages = 0;
  if (currentAddressSpace() === windowSpace) switchAddressSpace(windowSpace);
}

/** True when `address`'s page is resident in the map (bounds checked by the caller). */
export function linearPresent(map: u32, address: u32): bool {
  return (linearEntry(map, address) & LINEAR_PRESENT) !== 0;
}
