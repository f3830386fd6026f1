// Paging: 32-bit paging with 4 KiB pages (Intel SDM Vol. 3A §4.3), one address space per VM.
//
// Layout of every address space (virtual addresses):
//   [0, 4 KiB)                       not mapped: a null dereference faults with CR2 = its address
//   [4 KiB, kernel top)              the kernel space: physical memory identity-mapped, supervisor-only,
//                                    read-write; kernel top = usable RAM below KERNEL_SPACE_END, rounded
//                                    up to 4 MiB (one page table)
//   [KERNEL_SPACE_END, DEVICE_WINDOW) the user part: private to the address space, mapped by mapRange
//   [DEVICE_WINDOW, 4 GiB)           the device window: PCI memory BARs (a NIC's registers) mapped by
//                                    pagingMapDevice, supervisor-only and uncached, shared by every space
//
// Invariants: the kernel space's page tables are built once by pagingInit and shared by every address
// space (createAddressSpace copies the kernel's page-directory entries); its entries never change
// afterwards but for the stack guard pages unmapped at boot (stacks.ts), and a change to a shared
// table is seen by every space anyway. The device window's one page table is made by the first
// pagingMapDevice, which must come before the first createAddressSpace (drivers start at boot, before
// any VM); later mappings only add entries to that shared table. mapRange/unmapRange only touch the user part.
// An address space is named by the physical address of its page directory (what CR3 holds).
// Page tables are reached through the identity map: physical = virtual below the kernel top.
// Frames mapped by mapRange belong to the caller: unmapRange and destroyAddressSpace free page
// tables and directories only.
import {
  bool, i32, u32, readCr0, writeCr0, readCr3, writeCr3, invlpg, load32, store32, memoryFill, memoryCopy,
} from "dsl";
import {
  PAGE_SIZE, PAGE_SHIFT, PAGE_OFFSET_MASK, KERNEL_SPACE_END, FRAME_NONE, allocFrame, freeFrame, frameMemoryTop,
} from "./frames.ts";

// Page-directory and page-table entry bits (SDM Vol. 3A §4.3, Table 4-5 "Format of a 32-Bit
// Page-Directory Entry that References a Page Table", Table 4-6 "Format of a 32-Bit Page-Table Entry
// that Maps a 4-KByte Page"). The effective rights are the most restrictive of both levels (§4.6),
// so user-part directory entries allow everything and the page-table entry decides.
export const PAGE_PRESENT: u32 = 1 << 0;     // P: the entry maps something
export const PAGE_WRITABLE: u32 = 1 << 1;    // R/W: writes allowed (for the kernel too once CR0.WP is set)
export const PAGE_USER: u32 = 1 << 2;        // U/S: ring 3 may access
export const PAGE_ACCESSED: u32 = 1 << 5;    // A: set by the processor on any access through the entry
export const PAGE_DIRTY: u32 = 1 << 6;       // D (PTE only): set by the processor on a write
// PWT and PCD (§4.9.1, Table 4-11 with the power-up PAT): both set select UC, uncacheable, as device
// registers need (every read and write reaches the device, in order).
const PAGE_WRITE_THROUGH: u32 = 1 << 3;
const PAGE_CACHE_DISABLE: u32 = 1 << 4;
/**
 * A not-present PTE with this bit (one of bits 11:9, ignored by the processor, §4.3) is not demand-zero:
 * the page's contents are on the swap disk (swap.ts), its place there in bits 31:12.
 */
export const PAGE_SWAPPED: u32 = 1 << 9;
/**
 * A present PTE with this bit (ignored by the processor) is marked by swap-out.ts while it places a
 * write-out: the page is clean and its copy on the disk is kept, not written. Cleared before it returns.
 */
export const PAGE_KEPT: u32 = 1 << 10;
const PAGE_ADDRESS_MASK: u32 = 0xfffff000;   // bits 31:12: physical address of the frame or table

/** Rights for mapRange: read-only supervisor is 0. */
export const MAP_WRITABLE: u32 = PAGE_WRITABLE;
export const MAP_USER: u32 = PAGE_USER;
const MAP_RIGHTS_MASK: u32 = MAP_WRITABLE | MAP_USER;

// CR0 bits (SDM Vol. 3A §2.5 "Control Registers").
const CR0_WRITE_PROTECT: u32 = 1 << 16;     // WP: supervisor writes to read-only pages fault
const CR0_PAGING: u32 = 0x80000000;         // PG (bit 31): paging on

// Linear address split for 32-bit paging (SDM Vol. 3A §4.3, Figure 4-2).
const DIRECTORY_SHIFT = 22;                 // bits 31:22 select the page-directory entry
const TABLE_INDEX_MASK: u32 = 0x3ff;        // bits 21:12 select the page-table entry
const ENTRIES_PER_TABLE: u32 = 1024;
const ENTRY_BYTES: u32 = 4;
const BYTES_PER_TABLE: u32 = 0x400000;      // 4 MiB mapped by one page table

/** The first user-part directory entry: everything below is the shared kernel space. */
const KERNEL_DIRECTORY_ENTRIES: u32 = KERNEL_SPACE_END >>> DIRECTORY_SHIFT;   // 256
const USER_SPACE_START: u32 = KERNEL_SPACE_END;
/** The device window: the last 4 MiB of the address space (one page table), above every VM's memory. */
const DEVICE_WINDOW: u32 = 0xffc00000;
const DEVICE_WINDOW_PAGES: u32 = ENTRIES_PER_TABLE;

/**
 * Above this many pages changed in the current space, one CR3 reload (which flushes every
 * non-global TLB entry, SDM §4.10.4.1) costs less than an invlpg per page (§4.10.4.1, INVLPG).
 */
const INVLPG_PAGE_LIMIT: u32 = 32;

/** mapRange/unmapRange/destroyAddressSpace results. */
export const PAGING_OK = 0;
export const PAGING_ERROR_ALIGNMENT = -1;     // address or length not page-aligned
export const PAGING_ERROR_KERNEL_SPACE = -2;  // the range is not entirely in the user part
const PAGING_ERROR_NO_MEMORY = -3;     // no frame for a page table
export const PAGING_ERROR_CURRENT = -4;       // destroying the address space in CR3

let kernelDirectory: u32 = 0;
let kernelTop: u32 = 0;
let pageTableCount: u32 = 0;      // page tables and directories allocated, kernel's included
let deviceWindowTable: u32 = 0;   // the device window's page table (0: no device mapped yet)
let deviceWindowUsed: u32 = 0;    // its pages handed out so far (never given back: devices stay mapped)
let spacesCreated: u32 = 0;       // createAddressSpace calls (the window must exist before the first)

export function kernelAddressSpace(): u32 { return kernelDirectory; }
/** One past the last identity-mapped kernel address. */
export function kernelSpaceTop(): u32 { return kernelTop; }
export function pagingTableFrames(): u32 { return pageTableCount; }

/**
 * Builds the kernel's page directory and identity map (page 0 left unmapped), loads CR3 and turns on
 * paging with CR0.WP. Must run after framesInit and the reservations, before anything maps or allocates.
 */
export function pagingInit(): bool {
  kernelTop = (frameMemoryTop() + BYTES_PER_TABLE - 1) & ~(BYTES_PER_TABLE - 1);
  if (kernelTop > KERNEL_SPACE_END || kernelTop === 0) kernelTop = KERNEL_SPACE_END;
  kernelDirectory = allocZeroedTable();
  if (kernelDirectory === FRAME_NONE) return false;
  for (let base: u32 = 0; base < kernelTop; base += BYTES_PER_TABLE) {
    const table = allocZeroedTable();
    if (table === FRAME_NONE) return false;
    // Identity map, supervisor-only, read-write; the first page stays not present.
    for (let i: u32 = 0; i < ENTRIES_PER_TABLE; i++) {
      const address = base + (i << PAGE_SHIFT);
      if (address !== 0) store32(table + i * ENTRY_BYTES, address | PAGE_PRESENT | PAGE_WRITABLE);
    }
    store32(directoryEntryAddress(kernelDirectory, base), table | PAGE_PRESENT | PAGE_WRITABLE);
  }
  writeCr3(kernelDirectory);
  writeCr0(readCr0() | CR0_PAGING | CR0_WRITE_PROTECT);
  return true;
}

export function pagingEnabled(): bool { return (readCr0() & CR0_PAGING) !== 0; }
export function writeProtectEnabled(): bool { return (readCr0() & CR0_WRITE_PROTECT) !== 0; }

/** A new address space: the shared kernel space and an empty user part; FRAME_NONE when out of memory. */
export function createAddressSpace(): u32 {
  const directory = allocZeroedTable();
  if (directory === FRAME_NONE) return FRAME_NONE;
  memoryCopy(directory, kernelDirectory, KERNEL_DIRECTORY_ENTRIES * ENTRY_BYTES);
  const window = directoryEntryAddress(kernelDirectory, DEVICE_WINDOW);
  store32(directoryEntryAddress(directory, DEVICE_WINDOW), load32(window));
  spacesCreated++;
  return directory;
}

/**
 * Maps the device registers at physical [physicalAddress, physicalAddress + length) (a PCI memory BAR)
 * into the device window: supervisor-only, read-write, uncached (PCD and PWT). Returns the virtual
 * address of physicalAddress, or 0 when the window is full, there is no frame for its page table, or
 * the first mapping comes after an address space was created (the spaces made before would lack it).
 */
export function pagingMapDevice(physicalAddress: u32, length: u32): u32 {
  if (length === 0) return 0;
  const offset = physicalAddress & PAGE_OFFSET_MASK;
  const pages = (offset + length + PAGE_SIZE - 1) >>> PAGE_SHIFT;
  if (pages > DEVICE_WINDOW_PAGES - deviceWindowUsed) return 0;
  if (deviceWindowTable === 0) {
    if (spacesCreated !== 0) return 0;
    const table = allocZeroedTable();
    if (table === FRAME_NONE) return 0;
    deviceWindowTable = table;
    store32(directoryEntryAddress(kernelDirectory, DEVICE_WINDOW), table | PAGE_PRESENT | PAGE_WRITABLE);
  }
  const virtualAddress = DEVICE_WINDOW + (deviceWindowUsed << PAGE_SHIFT);
  const base = physicalAddress - offset;
  for (let page: u32 = 0; page < pages; page++) {
    store32(deviceWindowTable + (deviceWindowUsed + page) * ENTRY_BYTES,
      (base + (page << PAGE_SHIFT)) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_WRITE_THROUGH | PAGE_CACHE_DISABLE);
  }
  deviceWindowUsed += pages;
  return virtualAddress + offset;
}

/** The space in force: CR3's, or the VM space whose entries the run directory holds while it is loaded. */
export function currentAddressSpace(): u32 {
  const loaded = u32(readCr3() & PAGE_ADDRESS_MASK);
  return loaded === runDirectory && runDirectory !== 0 ? runSpace : loaded;
}

/** Loads CR3: every non-global TLB entry is flushed (SDM §4.10.4.1). */
export function switchAddressSpace(space: u32): void { writeCr3(space); }

/**
 * CR3 loads the run directory made (switchAddressSpace, a VM switch's without `keepcr3`, is not counted: the
 * switch path's instructions are bench:vm's), and VM switches that kept CR3: the `vms` summary's figures.
 */
let cr3Loads: u32 = 0;
let switchesKept: u32 = 0;
let switchInvalidations: u32 = 0;
export function pagingCr3Loads(): u32 { return cr3Loads; }
export function pagingSwitchesKept(): u32 { return switchesKept; }
/** The private pages those switches invalidated (invlpg each; the one for the paging-structure caches not counted). */
export function pagingSwitchInvalidations(): u32 { return switchInvalidations; }

function loadCr3(directory: u32): void {
  writeCr3(directory);
  cr3Loads++;
}

// ---- the run directory ----------------------------------------------------------------------------------
// A VM with a space of its own (vm.ts: not a bytecode VM) runs in a directory of the kernel's, runDirectory,
// which holds the kernel space and, copied at each switch, the VM's user directory entries: CR3 then keeps
// its value from one VM to the next. Loading CR3 flushes every TLB entry -- and QEMU's TCG drops its whole
// soft TLB and the jump cache of its translated code with it, costlier than the VM's run itself on a busy
// host -- while the VMs of one image map its code and read-only data to the same frames, whose entries stay
// right. So a switch between two VMs of one image (equal `key`), each of at most RUN_SCAN_PAGES pages,
// writes the next VM's directory entries and invalidates the previous VM's private pages, the only entries
// that differ: present and writable ones (vm.ts's invariant: private = writable; a page unmapped while its
// VM was in force was invalidated then) whose accessed bit is set, each by invlpg, which also empties the
// paging-structure caches (SDM §4.10.4.1), so that no translation through the previous entries survives. An
// entry whose accessed bit is clear has no translation cached (§4.10.4.3: none is made from such an entry,
// and clearAccessed, the one place the kernel clears the bit, invalidates the page when its space is in
// force): a VM's pages untouched since their bit was last cleared (swap-learn.ts at its first idle,
// swap-evict.ts's sweep) cost nothing at its switches. Every other switch loads
// CR3. All this only with `-append keepcr3` (pagingKeepCr3); without it each VM switch loads the VM's own
// directory. Invariant: while runDirectory is loaded, the TLB holds no private entry of a space but
// runSpace's, and shared entries only of runKey's image (a switch to another image, and any load of another
// directory, flushes). currentAddressSpace() is runSpace then: the rest of the kernel sees the VM's own space
// in force.
let runDirectory: u32 = 0;
/** The run directory in use (`-append keepcr3`: pagingKeepCr3); else every VM switch loads the VM's space. */
let keepCr3: u32 = 0;
let runSpace: u32 = 0;
let runStart: u32 = 0;
let runLength: u32 = 0;
let runKey: u32 = 0;
/** The most pages a VM may have to switch without a CR3 load (the scan of its entries is the cost). */
const RUN_SCAN_PAGES: u32 = 512;

/**
 * Puts VM space `space` (user part [start, start + length), its image `key`, not 0) in force: see above.
 * Without a frame for the run directory (once), loads the space itself.
 */
export function switchVmAddressSpace(space: u32, start: u32, length: u32, key: u32): void {
  if (runDirectory === 0) {
    const directory = createAddressSpace();
    if (directory === FRAME_NONE) { loadCr3(space); return; }
    runDirectory = directory;
  }
  const loaded = u32(readCr3() & PAGE_ADDRESS_MASK) === runDirectory;
  if (loaded && runSpace === space) return;
  const fast = loaded && runSpace !== 0 && key === runKey && length >>> PAGE_SHIFT <= RUN_SCAN_PAGES
    && runLength >>> PAGE_SHIFT <= RUN_SCAN_PAGES;
  const previous = runSpace, previousStart = runStart, previousLength = runLength;
  if (previous !== 0) copyUserEntries(0, previousStart, previousLength);
  copyUserEntries(space, start, length);
  runSpace = space;
  runStart = start;
  runLength = length;
  runKey = key;
  if (!fast) { loadCr3(runDirectory); return; }
  switchesKept++;
  invlpg(start);                      // the paging-structure caches, in case the previous VM had no private page
  const end = previousStart + previousLength;
  for (let table = u32(previousStart & ~(BYTES_PER_TABLE - 1)); table < end; table += BYTES_PER_TABLE) {
    const entry = load32(directoryEntryAddress(previous, table));
    if ((entry & PAGE_PRESENT) === 0) continue;
    const from = table > previousStart ? table : previousStart;
    const to = end - table < BYTES_PER_TABLE ? end : table + BYTES_PER_TABLE;
    const slot = (entry & PAGE_ADDRESS_MASK) + ((from >>> PAGE_SHIFT) & TABLE_INDEX_MASK) * ENTRY_BYTES;
    invalidatePrivate(slot, (to - from) >>> PAGE_SHIFT, from);
  }
}

/**
 * VM switches keep CR3 between VMs of one image (the kernel command line's `keepcr3`; before any VM runs).
 * Off by default: in instructions the invalidations cost more than the CR3 load (bench:vm's VM switch, 299
 * instructions, takes about 725 with them), and on a CPU a CR3 load costs little more than the TLB refills
 * after it; under QEMU's TCG, which drops its soft TLB and its jump cache at a CR3 load, they save much more
 * host time than they cost (bench:web boots with it).
 */
export function pagingKeepCr3(on: bool): void { keepCr3 = on ? 1 : 0; }
/** VM switches go through switchVmAddressSpace (`keepcr3`), else loadedAddressSpace and switchAddressSpace. */
export function pagingKeepsCr3(): bool { return keepCr3 !== 0; }
/** CR3's directory: the VM's own space at a switch without `keepcr3` (currentAddressSpace's cheap case). */
export function loadedAddressSpace(): u32 { return u32(readCr3() & PAGE_ADDRESS_MASK); }

/** The run directory's entries of [start, start + length) become `space`'s (0: none). */
function copyUserEntries(space: u32, start: u32, length: u32): void {
  const last = (start + length - 1) >>> DIRECTORY_SHIFT;
  for (let index = start >>> DIRECTORY_SHIFT; index <= last; index++) {
    store32(runDirectory + index * ENTRY_BYTES, space === 0 ? 0 : load32(space + index * ENTRY_BYTES));
  }
}

/** Frees the user part's page tables and the directory. The current space cannot be destroyed. */
export function destroyAddressSpace(space: u32): i32 {
  return destroyAddressSpaceOf(space, KERNEL_SPACE_END, DEVICE_WINDOW - KERNEL_SPACE_END);
}

/**
 * destroyAddressSpace for a space whose user part maps nothing outside [virtualAddress, virtualAddress +
 * length) (a VM's: vm.ts maps only its memory): only that range's directory entries are read.
 */
export function destroyAddressSpaceOf(space: u32, virtualAddress: u32, length: u32): i32 {
  if (space === currentAddressSpace() || space === kernelDirectory) return PAGING_ERROR_CURRENT;
  const last = (virtualAddress + length - 1) >>> DIRECTORY_SHIFT;
  for (let index = virtualAddress >>> DIRECTORY_SHIFT; index <= last; index++) {
    const entry = load32(space + index * ENTRY_BYTES);
    if ((entry & PAGE_PRESENT) !== 0) freeTable(entry & PAGE_ADDRESS_MASK);
  }
  freeTable(space);
  return PAGING_OK;
}

/** How many page tables mapRange(space, virtualAddress, length, ...) would allocate (a valid range). */
export function tablesMissing(space: u32, virtualAddress: u32, length: u32): u32 {
  if (length === 0) return 0;
  const lastIndex = (virtualAddress + length - 1) >>> DIRECTORY_SHIFT;
  let missing: u32 = 0;
  for (let index = virtualAddress >>> DIRECTORY_SHIFT; index <= lastIndex; index++) {
    if ((load32(space + index * ENTRY_BYTES) & PAGE_PRESENT) === 0) missing++;
  }
  return missing;
}

/** Page tables needed to map any part of [virtualAddress, virtualAddress + length), length > 0. */
export function tablesSpanned(virtualAddress: u32, length: u32): u32 {
  return ((virtualAddress + length - 1) >>> DIRECTORY_SHIFT) - (virtualAddress >>> DIRECTORY_SHIFT) + 1;
}

/**
 * Maps [virtualAddress, virtualAddress + length) to [physicalAddress, ...) with `rights`
 * (MAP_WRITABLE, MAP_USER; 0 = supervisor read-only), replacing any earlier mapping of those pages.
 * All page tables are allocated before any entry changes, so a failure leaves the mappings as they were.
 */
export function mapRange(space: u32, virtualAddress: u32, physicalAddress: u32, length: u32, rights: u32): i32 {
  const check = checkUserRange(virtualAddress, length);
  if (check !== PAGING_OK) return check;
  if ((physicalAddress & PAGE_OFFSET_MASK) !== 0) return PAGING_ERROR_ALIGNMENT;
  // Page tables first: one per 4 MiB touched.
  const last = virtualAddress + length - 1;
  for (let directoryIndex = virtualAddress >>> DIRECTORY_SHIFT; directoryIndex <= last >>> DIRECTORY_SHIFT; directoryIndex++) {
    const slot = space + directoryIndex * ENTRY_BYTES;
    if ((load32(slot) & PAGE_PRESENT) !== 0) continue;
    const table = allocZeroedTable();
    if (table === FRAME_NONE) return PAGING_ERROR_NO_MEMORY;
    store32(slot, table | PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER);
    // In force through the run directory: its copy too (a not-present entry is never cached: no invlpg).
    if (space === runSpace && runDirectory !== 0) store32(runDirectory + directoryIndex * ENTRY_BYTES, load32(slot));
  }
  const pages = length >>> PAGE_SHIFT;
  const flags = (rights & MAP_RIGHTS_MASK) | PAGE_PRESENT;
  let replaced: u32 = 0;
  for (let page: u32 = 0; page < pages; page++) {
    const address = virtualAddress + (page << PAGE_SHIFT);
    const slot = tableEntryAddress(space, address);
    if ((load32(slot) & PAGE_PRESENT) !== 0) replaced++;
    store32(slot, (physicalAddress + (page << PAGE_SHIFT)) | flags);
  }
  // A not-present entry is never cached (SDM §4.10.2.3): only replaced entries need invalidating.
  if (replaced !== 0) invalidateRange(space, virtualAddress, pages);
  return PAGING_OK;
}

/** Removes the mappings of [virtualAddress, virtualAddress + length); pages not mapped are skipped. */
export function unmapRange(space: u32, virtualAddress: u32, length: u32): i32 {
  const check = checkUserRange(virtualAddress, length);
  if (check !== PAGING_OK) return check;
  const pages = length >>> PAGE_SHIFT;
  for (let page: u32 = 0; page < pages; page++) {
    const address = virtualAddress + (page << PAGE_SHIFT);
    const directoryEntry = load32(directoryEntryAddress(space, address));
    if ((directoryEntry & PAGE_PRESENT) === 0) continue;
    store32(tableEntryAddress(space, address), 0);
  }
  invalidateRange(space, virtualAddress, pages);
  return PAGING_OK;
}

/** Unmaps one page of the kernel space (a stack's guard page, stacks.ts): an access then faults. */
export function pagingUnmapKernelPage(address: u32): void {
  if (address === 0 || address >= kernelTop || (address & PAGE_OFFSET_MASK) !== 0) return;
  store32(tableEntryAddress(kernelDirectory, address), 0);
  invlpg(address);
}

/** The page-table entry for `virtualAddress` in `space` (0 when not mapped): frame | flags. */
export function pageEntry(space: u32, virtualAddress: u32): u32 {
  const directoryEntry = load32(directoryEntryAddress(space, virtualAddress));
  if ((directoryEntry & PAGE_PRESENT) === 0) return 0;
  return load32((directoryEntry & PAGE_ADDRESS_MASK) + ((virtualAddress >>> PAGE_SHIFT) & TABLE_INDEX_MASK) * ENTRY_BYTES);
}

export function entryFrame(entry: u32): u32 { return entry & PAGE_ADDRESS_MASK; }

/** The bits of a VM's private page's entry: present and writable (vm.ts's invariant: private = writable). */
export const PAGE_PRIVATE_BITS: u32 = PAGE_PRESENT | PAGE_WRITABLE;

/**
 * The index of the first of the `count` adjacent entries from `slot` (a page table's, pageEntrySlot, or a
 * bytecode VM's map) that has every bit of `bits`, or `count`: a tight scan for the few resident pages of a
 * VM among its hundreds of entries (each VM switch between VMs of one image scans the last one's: see
 * switchVmAddressSpace). Eight entries a round: none of them has every bit when their union has not, so a
 * round of entries without a private page (never touched, on the disk, or a shared page: present, read-only)
 * costs about three instructions an entry (seven one at a time); only a round that may hold one is looked at
 * entry by entry.
 */
export function firstEntryWith(slot: u32, count: u32, bits: u32): u32 {
  const end = slot + count * ENTRY_BYTES;
  let at = slot;
  for (; end - at >= SCAN_ROUND_BYTES; at += SCAN_ROUND_BYTES) {
    if (u32((union4(at) | union4(at + 16)) & bits) !== bits) continue;
    for (let k = at; k < at + SCAN_ROUND_BYTES; k += ENTRY_BYTES) {
      if (u32(load32(k) & bits) === bits) return (k - slot) >>> 2;
    }
  }
  for (; at < end; at += ENTRY_BYTES) if (u32(load32(at) & bits) === bits) return (at - slot) >>> 2;
  return count;
}
/** firstEntryWith's round: eight entries. */
const SCAN_ROUND_BYTES: u32 = 8 * ENTRY_BYTES;
/** The union of the four entries from `at`: small enough to be inlined (compiler/passes/inline.ts). */
function union4(at: u32): u32 { return load32(at) | load32(at + 4) | load32(at + 8) | load32(at + 12); }


/** A private page's entry that may have a translation cached: PAGE_PRIVATE_BITS and the accessed bit. */
const PAGE_PRIVATE_USED: u32 = PAGE_PRIVATE_BITS | PAGE_ACCESSED;

/**
 * invlpg for each of the `count` adjacent PTEs from `slot` that maps a private page used since its accessed
 * bit was last cleared (PAGE_PRIVATE_USED), `address` the first one's page: in rounds of eight entries as
 * firstEntryWith, without a call per page.
 */
function invalidatePrivate(slot: u32, count: u32, address: u32): void {
  const end = slot + count * ENTRY_BYTES;
  let at = slot;
  let page = address;
  for (; end - at >= SCAN_ROUND_BYTES; at += SCAN_ROUND_BYTES) {
    if (u32((union4(at) | union4(at + 16)) & PAGE_PRIVATE_USED) === PAGE_PRIVATE_USED) {
      for (let k: u32 = 0; k < SCAN_ROUND_BYTES; k += ENTRY_BYTES) {
        if (u32(load32(at + k) & PAGE_PRIVATE_USED) === PAGE_PRIVATE_USED) {
          invlpg(page + (k << ENTRY_TO_PAGE_SHIFT));
          switchInvalidations++;
        }
      }
    }
    page += SCAN_ROUND_BYTES << ENTRY_TO_PAGE_SHIFT;
  }
  for (; at < end; at += ENTRY_BYTES) {
    if (u32(load32(at) & PAGE_PRIVATE_USED) === PAGE_PRIVATE_USED) { invlpg(page); switchInvalidations++; }
    page += PAGE_SIZE;
  }
}
/** An entry's offset in its table, shifted this far, is its page's offset in the table's span. */
const ENTRY_TO_PAGE_SHIFT: u32 = PAGE_SHIFT - 2;

/** Bytes one page table maps: the PTEs of a span this size are adjacent words (pageEntrySlot). */
export const PAGE_TABLE_SPAN: u32 = BYTES_PER_TABLE;

/**
 * The address of the PTE of `virtualAddress` (a frame of a page table, identity mapped), or 0 when its
 * page table is missing; the next page's PTE is the next word, up to the end of its PAGE_TABLE_SPAN.
 * For loops over a range of pages (swap.ts): one walk per page table instead of one per page.
 */
export function pageEntrySlot(space: u32, virtualAddress: u32): u32 {
  const directoryEntry = load32(directoryEntryAddress(space, virtualAddress));
  if ((directoryEntry & PAGE_PRESENT) === 0) return 0;
  return (directoryEntry & PAGE_ADDRESS_MASK) + ((virtualAddress >>> PAGE_SHIFT) & TABLE_INDEX_MASK) * ENTRY_BYTES;
}

/** Clears the accessed bit of the present PTE of `virtualAddress` (a clock's sweep: swap-evict.ts). */
export function clearAccessed(space: u32, virtualAddress: u32): void {
  const slot = tableEntryAddress(space, virtualAddress);
  store32(slot, load32(slot) & ~PAGE_ACCESSED);
  // A cached translation would let the processor skip setting the bit again (§4.8): invalidate it.
  invalidateRange(space, virtualAddress & ~PAGE_OFFSET_MASK, 1);
}

/**
 * Sets the PTE bits `set` and clears `clear` of `virtualAddress`, whose page table exists: bits no
 * cached translation depends on (the dirty bit set, PAGE_KEPT), so no invalidation.
 */
export function changeEntryBits(space: u32, virtualAddress: u32, set: u32, clear: u32): void {
  const slot = tableEntryAddress(space, virtualAddress);
  store32(slot, u32((load32(slot) | set) & ~clear));
}

/**
 * Sets the PTE of `virtualAddress` (a user-part page) to `value`, which must be not present (a
 * PAGE_SWAPPED entry), allocating its page table if missing; false without a frame for it. A present
 * entry replaced is invalidated.
 */
export function setAbsentEntry(space: u32, virtualAddress: u32, value: u32): bool {
  if ((value & PAGE_PRESENT) !== 0 || checkUserRange(virtualAddress & ~PAGE_OFFSET_MASK, PAGE_SIZE) !== PAGING_OK) {
    return false;
  }
  const slot = directoryEntryAddress(space, virtualAddress);
  if ((load32(slot) & PAGE_PRESENT) === 0) {
    const table = allocZeroedTable();
    if (table === FRAME_NONE) return false;
    store32(slot, table | PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER);
  }
  const entry = tableEntryAddress(space, virtualAddress);
  const was = load32(entry);
  store32(entry, value);
  if ((was & PAGE_PRESENT) !== 0) invalidateRange(space, virtualAddress & ~PAGE_OFFSET_MASK, 1);
  return true;
}

// ---- helpers ----------------------------------------------------------------------------------------

/**
 * TLB invalidation after entries of `space` changed (SDM §4.10.4): nothing to do for a space that is
 * not in force (loading CR3 flushes its entries, and so does a switch through the run directory for a VM's
 * private pages; no global pages and no PCIDs are used); in the space in force invlpg for each page of a
 * short range, one CR3 reload for a long one.
 */
function invalidateRange(space: u32, virtualAddress: u32, pages: u32): void {
  if (space !== currentAddressSpace()) return;
  if (pages > INVLPG_PAGE_LIMIT) { loadCr3(u32(readCr3() & PAGE_ADDRESS_MASK)); return; }
  for (let page: u32 = 0; page < pages; page++) invlpg(virtualAddress + (page << PAGE_SHIFT));
}

function checkUserRange(virtualAddress: u32, length: u32): i32 {
  if (((virtualAddress | length) & PAGE_OFFSET_MASK) !== 0) return PAGING_ERROR_ALIGNMENT;
  if (virtualAddress < USER_SPACE_START || virtualAddress >= DEVICE_WINDOW) return PAGING_ERROR_KERNEL_SPACE;
  // The range must end at or before the device window: length <= DEVICE_WINDOW - virtualAddress.
  if (length > DEVICE_WINDOW - virtualAddress) return PAGING_ERROR_KERNEL_SPACE;
  return PAGING_OK;
}

function directoryEntryAddress(space: u32, virtualAddress: u32): u32 {
  return space + (virtualAddress >>> DIRECTORY_SHIFT) * ENTRY_BYTES;
}

/** The PTE slot of `virtualAddress`; its page table must be present. */
function tableEntryAddress(space: u32, virtualAddress: u32): u32 {
  const table = load32(directoryEntryAddress(space, virtualAddress)) & PAGE_ADDRESS_MASK;
  return table + ((virtualAddress >>> PAGE_SHIFT) & TABLE_INDEX_MASK) * ENTRY_BYTES;
}

function allocZeroedTable(): u32 {
  const frame = allocFrame();
  if (frame === FRAME_NONE) return FRAME_NONE;
  memoryFill(frame, 0, PAGE_SIZE);
  pageTableCount++;
  return frame;
}

function freeTable(frame: u32): void {
  freeFrame(frame);
  pageTableCount--;
}
