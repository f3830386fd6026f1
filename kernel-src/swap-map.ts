// The swap map and its transfers (swap.ts has the policy; issue 15). A VM with pages on the swap disk, or
// clean copies there, or a transfer in flight has a map (vm.swapMap): MAP_HEADER_WORDS words of header
// (MAP_*), then for each position of its region (one page each, position p at 8p sectors from the
// region's start) its page number with ENTRY_* flags, the CRC32C (Castagnoli, RFC 3720 B.4) of its bytes
// as written, and its frame while it is being written or read. kalloc'd up to a frame (336 positions),
// a run of adjacent frames beyond.
// Contract: the helpers here never change a PTE or the policy's state; a transfer (submitRuns) sends the
// positions that have a frame, runs of adjacent ones in one request each, and counts its requests in
// the header word it is given: MAP_IN_FLIGHT (a whole write-out, a read-in, a page-in) or
// MAP_EVICT_IN_FLIGHT (a page-granular eviction, which may overlap a page-in of the same VM), each with
// its own flags word. Interrupts are disabled in all of this.
import { bool, i32, u32, load32, store32 } from "dsl";
import { Vm, vmAt, vmIsBytecode } from "./vm.ts";
import { linearSlot } from "./linear.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrameRun, freeFrame } from "./frames.ts";
import {
  pageEntrySlot, firstEntryWith, PAGE_PRESENT, PAGE_WRITABLE, PAGE_PRIVATE_BITS, PAGE_TABLE_SPAN,
} from "./paging.ts";
import { kalloc, kfree } from "./kalloc.ts";
import { diskSubmit, BLK_OK, BLK_SECTORS_PER_PAGE, BLK_REQUEST_FRAME_LIMIT } from "./disk.ts";
import { crc32c } from "./crc32c.ts";

// The swap map, in words: word 0 is the count of positions (load32(map)), then:
export const MAP_IN_FLIGHT = 1;     // requests not completed
export const MAP_FLAGS = 2;
export const MAP_COMING = 3;        // frames the write-out gives back (its pages and tables when it began)
export const MAP_ON_DISK = 4;       // positions whose page is on the disk only
export const MAP_HOT = 5;           // of those, the working set: read back with the VM
export const MAP_READ_RUNS = 6;     // the requests that reading the working set takes
export const MAP_PREVIOUS = 7;      // during the write-out of a VM with pages on the disk: its map until then
export const MAP_FAULT = 8;         // the first position a page fault is reading
export const MAP_FAULT_PAGES = 9;   // and how many from there
export const MAP_EVICT_IN_FLIGHT = 10;  // requests of a page-granular eviction (swap-evict.ts) not completed
export const MAP_CLEAN = 11;        // positions whose page is resident and was read from there (ENTRY_CLEAN)
export const MAP_KEPT = 12;         // during a write-out: the clean pages it does not write
export const MAP_EVICT_FLAGS = 13;     // its FLAG_FAILED (apart: a page-in may be in flight beside it)
const MAP_HEADER_WORDS: u32 = 14;
export const FLAG_CANCELLED: u32 = 1;  // woken during its write-out: it stays resident
export const FLAG_FAILED: u32 = 2;     // a request failed
// A position's entry: the page number (pages from GUEST_BASE) with flags; ENTRY_EMPTY: no page.
export const ENTRY_PAGE_MASK: u32 = 0x000fffff;
export const ENTRY_EMPTY: u32 = ENTRY_PAGE_MASK;     // never a page: GUEST_BASE + memory ends below 4 GiB
export const ENTRY_DISK: u32 = 0x80000000;          // written, and the disk holds its only copy
export const ENTRY_HOT: u32 = 0x40000000;           // touched in its last residency (its PTE's accessed bit)
// Resident, read from this position, whose bytes (and checksum) are the page's while its PTE is not dirty:
// a write-out keeps that copy instead of writing the page again.
export const ENTRY_CLEAN: u32 = 0x20000000;
// Being written by a page-granular eviction and touched meanwhile: its frame mapped again (swap-evict.ts
// rescue); the copy becomes ENTRY_CLEAN when the write completes, EMPTY if it failed.
export const ENTRY_RESCUED: u32 = 0x10000000;
// In the working set by age: read back with it, not touched in the residency that followed (one more chance).
export const ENTRY_WARM: u32 = 0x08000000;
// During a write-out's layout (swap-out.ts): a clean copy written again elsewhere, its checksum carried over.
export const ENTRY_COPY: u32 = 0x04000000;
export function mapBytes(count: u32): u32 { return (MAP_HEADER_WORDS + 3 * count) << 2; }

/**
 * A map of `count` positions, 0 when there is no memory for it: kalloc'd up to a frame (336 positions),
 * else a run of adjacent frames (a VM of more than 1.3 MiB; the run may not be found: it stays resident).
 */
export function mapAlloc(count: u32): u32 {
  const bytes = mapBytes(count);
  if (bytes <= PAGE_SIZE) return kalloc(bytes);                  // KALLOC_NONE is 0
  const run = allocFrameRun((bytes + PAGE_SIZE - 1) >>> PAGE_SHIFT);
  if (run === FRAME_NONE) return 0;
  store32(run, count);
  return run;
}

export function mapFree(map: u32): void {
  const bytes = mapBytes(load32(map));
  if (bytes <= PAGE_SIZE) { kfree(map, bytes); return; }
  for (let offset: u32 = 0; offset < bytes; offset += PAGE_SIZE) freeFrame(map + offset);
}
/** How many of the VM's pages have their only copy on the swap disk (0 without a map). */
export function mapPagesOnDisk(vm: Vm): u32 { return vm.swapMap === 0 ? 0 : load32(vm.swapMap + (MAP_ON_DISK << 2)); }

export function pageAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + i) << 2); }
export function crcAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + load32(map) + i) << 2); }
export function frameAt(map: u32, i: u32): u32 { return map + ((MAP_HEADER_WORDS + 2 * load32(map) + i) << 2); }

export const runFrames = new Uint32Array(BLK_REQUEST_FRAME_LIMIT);   // one request's frames
/** The most frames one request carries on this disk (disk.ts diskFrameLimit, at most BLK_REQUEST_FRAME_LIMIT). */
let requestFrames: u32 = 1;
export function mapSetRequestFrames(frames: u32): void { requestFrames = frames; }
export function mapRequestFrames(): u32 { return requestFrames; }
/** The flags word of a transfer counted in `inFlight` (MAP_IN_FLIGHT or MAP_EVICT_IN_FLIGHT). */
function flagsOf(inFlight: u32): u32 { return inFlight === MAP_EVICT_IN_FLIGHT ? MAP_EVICT_FLAGS : MAP_FLAGS; }
/** disk.ts's completion: `done(tag, status)`, the tag a VM index here. */
type Completion = (tag: u32, status: i32) => void;

/** CRC32C of the page at physical `address` (crc32c.ts). */
export function pageChecksum(address: u32): u32 { return crc32c(address, PAGE_SIZE); }

export function pageAddress(page: u32): u32 { return GUEST_BASE + (page << PAGE_SHIFT); }

/** Pages one page table maps; GUEST_BASE is a multiple of its span, so page 0 starts a table. */
const TABLE_PAGES_MASK: u32 = (PAGE_TABLE_SPAN >>> PAGE_SHIFT) - 1;

/**
 * The PTE slot of the VM's `page`, which starts a page table (paging.ts pageEntrySlot; 0: no table there);
 * the table's other entries follow it. A bytecode VM's page map (linear.ts) has entries of the same format,
 * adjacent.
 */
function tableSlot(vm: Vm, page: u32): u32 {
  if ((page & TABLE_PAGES_MASK) !== 0) return 0;
  return vmIsBytecode(vm) ? linearSlot(vm.space, page) : pageEntrySlot(vm.space, pageAddress(page));
}

/** True for the PTE of a private page (present and writable: vm.ts's invariant). */
export function privatePage(entry: u32): bool { return (entry & PAGE_PRESENT) !== 0 && (entry & PAGE_WRITABLE) !== 0; }

/** What nextPrivate found last: its entry's slot, the page after it, its VM's space, its table's end. */
let foundSlot: u32 = 0;
let foundNext: u32 = 0xffffffff;
let foundSpace: u32 = 0;
let foundTableEnd: u32 = 0;

/**
 * The VM's first private page at or after `page` and below `pages`, or `pages`; privateSlot() is its entry's
 * slot. A loop over a VM's resident pages, from page 0: `for (let page = nextPrivate(vm, 0, pages); page <
 * pages; page = nextPrivate(vm, page + 1, pages))`: one walk per page table, then a scan of its words
 * (firstEntryWith); a call for the page after the last one found, in its table, goes on from that slot
 * without the walk (a loop's first call, for page 0, always walks: its tables may have changed since).
 */
export function nextPrivate(vm: Vm, page: u32, pages: u32): u32 {
  if (page === foundNext && vm.space === foundSpace && (page & TABLE_PAGES_MASK) !== 0) {
    const end = foundTableEnd < pages ? foundTableEnd : pages;
    const k = firstEntryWith(foundSlot + 4, end - page, PAGE_PRIVATE_BITS);
    if (k < end - page) {
      foundSlot += (k + 1) << 2;
      foundNext = page + k + 1;
      return page + k;
    }
    page = end;
  }
  while (page < pages) {
    const first = u32(page & ~TABLE_PAGES_MASK);
    const tableEnd = first + TABLE_PAGES_MASK + 1 < pages ? first + TABLE_PAGES_MASK + 1 : pages;
    const base = tableSlot(vm, first);
    if (base !== 0) {
      const k = firstEntryWith(base + ((page - first) << 2), tableEnd - page, PAGE_PRIVATE_BITS);
      if (k < tableEnd - page) {
        foundSlot = base + ((page - first + k) << 2);
        foundNext = page + k + 1;
        foundSpace = vm.space;
        foundTableEnd = tableEnd;
        return page + k;
      }
    }
    page = tableEnd;
  }
  return pages;
}

/** The slot of the entry of the page nextPrivate returned last. */
export function privateSlot(): u32 { return foundSlot; }

/** The requests a transfer of the map's positions that have a frame takes (runs of adjacent ones). */
export function transferRuns(map: u32): u32 {
  const limit = requestFrames;
  let runs: u32 = 0;
  let length: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    if (load32(frameAt(map, i)) === FRAME_NONE) { length = 0; continue; }
    if (length % limit === 0) runs++;
    length++;
  }
  return runs;
}

/** Which pages of a working set a read brings back (hotRuns): all (everyPage), or a prediction's (swap-learn.ts). */
type PageFilter = (page: u32) => bool;
export function everyPage(page: u32): bool { return true; }

/** The requests reading back the working set (the positions on the disk marked hot) takes, its pages `reads`. */
export function hotRuns(map: u32, reads: PageFilter): u32 {
  const limit = requestFrames;
  let runs: u32 = 0;
  let length: u32 = 0;
  for (let i: u32 = 0; i < load32(map); i++) {
    const entry = load32(pageAt(map, i));
    if ((entry & (ENTRY_DISK | ENTRY_HOT)) !== (ENTRY_DISK | ENTRY_HOT) || !reads(entry & ENTRY_PAGE_MASK)) {
      length = 0;
      continue;
    }
    if (length % limit === 0) runs++;
    length++;
  }
  return runs;
}

/**
 * Transfers the map's positions that have a frame, each run of adjacent positions (up to the disk's
 * requestFrames) in one request at sector region + 8 * its first position; failures are flagged.
 */
export function submitRuns(index: u32, map: u32, write: bool, done: Completion, inFlight: u32): void {
  const vm = vmAt(index);
  const count = load32(map);
  const limit = requestFrames;
  let first: u32 = 0;
  while (first < count) {
    if (load32(frameAt(map, first)) === FRAME_NONE) { first++; continue; }
    let n: u32 = 0;
    while (first + n < count && n < limit && load32(frameAt(map, first + n)) !== FRAME_NONE) {
      runFrames[n] = load32(frameAt(map, first + n));
      n++;
    }
    const sector = vm.swapSector + first * BLK_SECTORS_PER_PAGE;
    const slot = diskSubmit(write, sector, runFrames, 0, n, done, index);
    if (slot >= 0) store32(map + (inFlight << 2), load32(map + (inFlight << 2)) + 1);
    else store32(map + (flagsOf(inFlight) << 2), load32(map + (flagsOf(inFlight) << 2)) | FLAG_FAILED);
    first += n;
  }
}

/** Counts one completed request of VM `index`'s transfer (a failure flagged); true when it was the last. */
export function lastRequestDone(index: u32, status: i32, inFlight: u32): bool {
  const map = vmAt(index).swapMap;
  if (status !== BLK_OK) store32(map + (flagsOf(inFlight) << 2), load32(map + (flagsOf(inFlight) << 2)) | FLAG_FAILED);
  const left = load32(map + (inFlight << 2)) - 1;
  store32(map + (inFlight << 2), left);
  return left === 0;
}

/** The VM's map replaced by one of `count` positions, its entries and header kept; 0 without memory. */
export function growMap(vm: Vm, count: u32): u32 {
  const old = vm.swapMap;
  const map = mapAlloc(count);
  if (map === 0) return 0;
  store32(map, count);
  for (let word: u32 = 1; word < MAP_HEADER_WORDS; word++) {
    store32(map + (word << 2), old === 0 ? 0 : load32(old + (word << 2)));
  }
  for (let i: u32 = 0; i < count; i++) {
    const kept = old !== 0 && i < load32(old);
    store32(pageAt(map, i), kept ? load32(pageAt(old, i)) : ENTRY_EMPTY);
    store32(crcAt(map, i), kept ? load32(crcAt(old, i)) : 0);
    store32(frameAt(map, i), FRAME_NONE);
  }
  if (old !== 0) mapFree(old);
  vm.swapMap = map;
  return map;
}

/** Frees the VM's swap map (and the one before it, if a write-out was replacing it). */
export function dropMap(vm: Vm): void {
  const previous = load32(vm.swapMap + (MAP_PREVIOUS << 2));
  if (previous !== 0) mapFree(previous);
  mapFree(vm.swapMap);
  vm.swapMap = 0;
}

/** Frees the VM's map once none of its pages is on the disk only, unless it is a large VM's (swapPrepare). */
export function dropIfEmpty(vm: Vm): void {
  const map = vm.swapMap;
  if (load32(map + (MAP_ON_DISK << 2)) === 0 && load32(map + (MAP_CLEAN << 2)) === 0
    && load32(map + (MAP_EVICT_IN_FLIGHT << 2)) === 0
    && mapBytes(load32(map)) <= PAGE_SIZE) dropMap(vm);
}
