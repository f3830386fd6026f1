// The multiboot v1 boot information: what QEMU -kernel or GRUB tells the kernel about the machine.
// Layout and flags: Multiboot Specification version 0.6.96, section 3.3 "Boot information format".
// The loader leaves the structure in memory below 1 MiB or around the kernel; its physical address
// arrives in ebx and `kmain` gets it as `multibootInfo` (paging is off, so physical = virtual).
import { bool, u8, u32, load8, overlay } from "dsl";

/** eax on entry from a multiboot v1 loader (spec §3.2 "Machine state"). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

// `flags` bits (spec §3.3): a field is valid only when its bit is set.
export const MULTIBOOT_FLAG_MEMORY = 1 << 0;            // mem_lower, mem_upper
export const MULTIBOOT_FLAG_COMMAND_LINE = 1 << 2;      // cmdline
export const MULTIBOOT_FLAG_MEMORY_MAP = 1 << 6;        // mmap_length, mmap_addr
export const MULTIBOOT_FLAG_BOOT_LOADER_NAME = 1 << 9;  // boot_loader_name

/** The boot information structure (spec §3.3), up to boot_loader_name; offsets in comments. */
export class MultibootInfo {
  flags: u32 = 0;              //  0
  memoryLowerKiB: u32 = 0;     //  4 mem_lower: KiB from 0, at most 640
  memoryUpperKiB: u32 = 0;     //  8 mem_upper: KiB from 1 MiB to the first hole
  bootDevice: u32 = 0;         // 12 boot_device
  commandLine: u32 = 0;        // 16 cmdline: physical address of a NUL-terminated string
  modulesCount: u32 = 0;       // 20 mods_count
  modulesAddress: u32 = 0;     // 24 mods_addr
  symbols = new Uint32Array(4);// 28 syms (a.out or ELF section header table)
  memoryMapLength: u32 = 0;    // 44 mmap_length: bytes in the memory map buffer
  memoryMapAddress: u32 = 0;   // 48 mmap_addr: physical address of the first entry's size field
  drivesLength: u32 = 0;       // 52 drives_length
  drivesAddress: u32 = 0;      // 56 drives_addr
  configTable: u32 = 0;        // 60 config_table
  bootLoaderName: u32 = 0;     // 64 boot_loader_name: physical address of a NUL-terminated string
}

/**
 * One memory map entry (spec §3.3, "mmap_*"). `size` is the size of the rest of the entry, which
 * is not necessarily 20: the next entry starts at address + size + 4. base and length are 64-bit.
 */
export class MemoryMapEntry {
  size: u32 = 0;               //  0 (the spec's offset -4)
  baseLow: u32 = 0;            //  4 base_addr, low half
  baseHigh: u32 = 0;           //  8 base_addr, high half
  lengthLow: u32 = 0;          // 12 length, low half
  lengthHigh: u32 = 0;         // 16 length, high half
  type: u32 = 0;               // 20 type
}

/** Memory map entry types (spec §3.3; values 3-5 as in ACPI's E820 address range types). */
export const MEMORY_AVAILABLE = 1;
const MEMORY_RESERVED = 2;
const MEMORY_ACPI_RECLAIMABLE = 3;
const MEMORY_ACPI_NVS = 4;
const MEMORY_BAD = 5;

/** Sanity limit on strings the loader hands us (command line, loader name). */
export const MULTIBOOT_STRING_LIMIT = 4096;

const ASCII_SPACE = 32;
const ASCII_ZERO = 48;

/** An entry's `size` field counts the bytes after itself: the entry occupies size + 4 bytes. */
const MEMORY_MAP_SIZE_FIELD_BYTES = 4;

export function multibootInfoAt(address: u32): MultibootInfo {
  return overlay(MultibootInfo, address);
}

export function hasFlag(info: MultibootInfo, flag: u32): bool {
  return (info.flags & flag) !== 0;
}

/** The address just past the memory map buffer. */
export function memoryMapEnd(info: MultibootInfo): u32 {
  return info.memoryMapAddress + info.memoryMapLength;
}

/** The entry after the one at `entryAddress`: entries are size-prefixed, size excludes itself. */
export function nextMemoryMapEntry(entryAddress: u32): u32 {
  return entryAddress + overlay(MemoryMapEntry, entryAddress).size + MEMORY_MAP_SIZE_FIELD_BYTES;
}

/** The entry's length in KiB (rounded down), from its 64-bit length. Exact up to 4 TiB. */
function entryLengthKiB(entry: MemoryMapEntry): u32 {
  return (entry.lengthHigh << 22) | (entry.lengthLow >>> 10);
}

export function memoryTypeName(type: u32): string {
  switch (type) {
    case MEMORY_AVAILABLE: return "usable";
    case MEMORY_RESERVED: return "reserved";
    case MEMORY_ACPI_RECLAIMABLE: return "ACPI reclaimable";
    case MEMORY_ACPI_NVS: return "ACPI NVS";
    case MEMORY_BAD: return "bad";
  }
  return "unknown";
}

/** The total length of the available (type 1) entries, in KiB. */
export function usableMemoryKiB(info: MultibootInfo): u32 {
  let total: u32 = 0;
  const end = memoryMapEnd(info);
  for (let at = info.memoryMapAddress; at < end; at = nextMemoryMapEntry(at)) {
    const entry = overlay(MemoryMapEntry, at);
    if (entry.type === MEMORY_AVAILABLE) total += entryLengthKiB(entry);
  }
  return total;
}

/** The length of the command line (0 when the loader gave none). */
export function commandLineLength(info: MultibootInfo): u32 {
  if (!hasFlag(info, MULTIBOOT_FLAG_COMMAND_LINE)) return 0;
  let length: u32 = 0;
  while (length < MULTIBOOT_STRING_LIMIT && load8(info.commandLine + length) !== 0) length++;
  return length;
}

/** findWord's answer when no word matches. */
const NO_WORD: u32 = 0xffffffff;

/** The address past the last byte of the word findWord found. */
let wordEnd: u32 = 0;

/**
 * The address of the first space-separated word of the command line that is `word` (with `prefix`: that
 * starts with it and goes on), and in wordEnd the address past its last byte; NO_WORD when none is.
 */
function findWord(info: MultibootInfo, word: string, prefix: bool): u32 {
  const line = info.commandLine, length = commandLineLength(info);
  let start: u32 = 0;
  while (start < length) {
    let end = start;
    while (end < length && load8(line + end) !== ASCII_SPACE) end++;
    const size = end - start, wanted = u32(word.length);
    if ((prefix ? size > wanted : size === wanted) && sameBytes(line + start, word)) {
      wordEnd = line + end;
      return line + start;
    }
    start = end + 1;
  }
  return NO_WORD;
}

/** True when `word` appears in the command line as a whole space-separated word. */
export function commandLineHasWord(info: MultibootInfo, word: string): bool {
  return findWord(info, word, false) !== NO_WORD;
}

/**
 * The decimal after `prefix` in the first word that starts with it (`tlbflush=3` for "tlbflush="); 0 when no
 * word does, or it goes on with a character that is not a digit; at most nine digits read.
 */
export function commandLineNumber(info: MultibootInfo, prefix: string): u32 {
  const start = findWord(info, prefix, true);
  if (start === NO_WORD) return 0;
  const first = start + u32(prefix.length);
  let value: u32 = 0;
  for (let at = first; at < wordEnd && at < first + 9; at++) {
    const digit = u32(u32(load8(at)) - ASCII_ZERO);
    if (digit > 9) return 0;
    value = value * 10 + digit;
  }
  return value;
}

function sameBytes(address: u32, word: string): bool {
  for (let i = 0; i < word.length; i++) if (load8(address + u32(i)) !== u8(word.charCodeAt(i))) return false;
  return true;
}
