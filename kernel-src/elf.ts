// Guest images: ELF32 executables (our compiler's guest link, docs/calling-convention.md "Image
// layout") read straight from a multiboot module, or from the kernel's copy of an image the control VM
// pushed (control.ts): both are checked here alike. Only what loading needs is parsed: the file header
// and the PT_LOAD program headers. Every check happens here, once, before any VM uses the image.
// Reference: System V ABI, "Object Files" (ELF header, e_ident) and "Program Loading" (program
// header, PT_LOAD, p_flags); the Intel386 supplement (EM_386, ELFCLASS32, ELFDATA2LSB).
import { bool, i32, u32, load8, load16, load32, structArray } from "dsl";
import { PAGE_SIZE, PAGE_OFFSET_MASK } from "./frames.ts";
import { MultibootModule, moduleSize } from "./modules.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS, EBADENTRY } from "../abi/hypercalls.ts";

// e_ident (System V ABI, "ELF Identification").
const ELF_MAGIC: u32 = 0x464c457f;          // 0x7f 'E' 'L' 'F', read little-endian
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
// ELF header fields (byte offsets of Elf32_Ehdr).
const E_TYPE = 16;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 28;
const E_PHENTSIZE = 42;
const E_PHNUM = 44;
const ELF_HEADER_BYTES: u32 = 52;
const ET_EXEC = 2;
const EM_386 = 3;
// Program header (Elf32_Phdr) fields.
const P_TYPE = 0;
const P_OFFSET = 4;
const P_VADDR = 8;
const P_FILESZ = 16;
const P_MEMSZ = 20;
const P_FLAGS = 24;
const PROGRAM_HEADER_BYTES: u32 = 32;
const PT_LOAD = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/** More PT_LOAD segments than this is not an image of our linker (it makes three). */
const SEGMENT_LIMIT = 4;
/** Images registered at once: one per VM group (groups.ts GROUP_LIMIT: a manifest group or a vmCreate). */
export const IMAGE_LIMIT = 64;

class Segment {
  virtualAddress: u32 = 0;   // page-aligned, >= GUEST_BASE
  memorySize: u32 = 0;
  fileOffset: u32 = 0;       // page-aligned
  fileSize: u32 = 0;         // <= memorySize
  flags: u32 = 0;            // PF_R | PF_W | PF_X
}

/** A parsed image: where its bytes are (the module, physical = kernel virtual) and its segments. */
class GuestImage {
  moduleStart: u32 = 0;
  moduleBytes: u32 = 0;
  entry: u32 = 0;
  segmentCount: u32 = 0;
  extentEnd: u32 = 0;        // one past the last segment byte, page-rounded: the image's footprint
  stackGuard: u32 = 0;       // the page under the stack segment, never mapped (elfStackGuard), or 0
}

export const images = structArray(GuestImage, 64);          // IMAGE_LIMIT
/** Image i's segments are segments[i * SEGMENT_LIMIT ..][0 .. segmentCount). */
const segments = structArray(Segment, 256);                 // IMAGE_LIMIT * SEGMENT_LIMIT

export function imageSegment(imageIndex: u32, i: u32): Segment { return segments[imageIndex * SEGMENT_LIMIT + i]; }

/** Results of elfParse. */
export const ELF_OK = 0;
const ELF_ERROR_HEADER = 1;
const ELF_ERROR_SEGMENT = 2;
const ELF_ERROR_TOO_MANY_SEGMENTS = 3;
const ELF_ERROR_ENTRY = 4;

export function elfErrorName(error: u32): string {
  switch (error) {
    case 1: return "not an ELF32 i386 executable";
    case 2: return "a PT_LOAD segment is misaligned, outside the guest range or the file";
    case 3: return "too many PT_LOAD segments";
    case 4: return "the entry point is not in an executable segment";
  }
  return "ok";
}

/** The hypercall error of an elfParse error (vmCreate's refusal of a pushed image: abi/hypercalls.ts). */
export function elfErrorResult(error: u32): i32 {
  switch (error) {
    case ELF_ERROR_HEADER: return ENOEXEC;
    case ELF_ERROR_SEGMENT: return EBADSEGMENT;
    case ELF_ERROR_TOO_MANY_SEGMENTS: return ETOOMANYSEGMENTS;
  }
  return EBADENTRY;
}

function pageAligned(x: u32): bool { return (x & PAGE_OFFSET_MASK) === 0; }

/** Parses `module` into images[imageIndex]; ELF_OK or an error code (elfErrorName). */
export function elfParse(module: MultibootModule, imageIndex: u32): u32 {
  return elfParseAt(module.start, moduleSize(module), imageIndex);
}

/**
 * Parses the `size` bytes of an ELF file at physical address `base` (page-aligned: a module, or the
 * kernel's copy of a pushed image) into images[imageIndex]; ELF_OK or an error code (elfErrorName).
 */
export function elfParseAt(base: u32, size: u32, imageIndex: u32): u32 {
  const image = images[imageIndex];
  image.moduleStart = base;
  image.moduleBytes = size;
  image.segmentCount = 0;
  image.extentEnd = GUEST_BASE;
  if (size < ELF_HEADER_BYTES || load32(base) !== ELF_MAGIC) return ELF_ERROR_HEADER;
  if (load8(base + EI_CLASS) !== ELFCLASS32 || load8(base + EI_DATA) !== ELFDATA2LSB) return ELF_ERROR_HEADER;
  if (load16(base + E_TYPE) !== ET_EXEC || load16(base + E_MACHINE) !== EM_386) return ELF_ERROR_HEADER;
  if (load16(base + E_PHENTSIZE) !== PROGRAM_HEADER_BYTES) return ELF_ERROR_HEADER;
  const count: u32 = load16(base + E_PHNUM), tableOffset = load32(base + E_PHOFF);
  // The table must lie inside the file: count * 32 <= size and offset <= size - count * 32.
  if (count * PROGRAM_HEADER_BYTES > size || tableOffset > size - count * PROGRAM_HEADER_BYTES) return ELF_ERROR_HEADER;
  image.entry = load32(base + E_ENTRY);
  let entryOk = false;
  for (let i: u32 = 0; i < count; i++) {
    const header = base + tableOffset + i * PROGRAM_HEADER_BYTES;
    if (load32(header + P_TYPE) !== PT_LOAD) continue;
    if (image.segmentCount === SEGMENT_LIMIT) return ELF_ERROR_TOO_MANY_SEGMENTS;
    const s = imageSegment(imageIndex, image.segmentCount);
    s.virtualAddress = load32(header + P_VADDR);
    s.memorySize = load32(header + P_MEMSZ);
    s.fileOffset = load32(header + P_OFFSET);
    s.fileSize = load32(header + P_FILESZ);
    s.flags = load32(header + P_FLAGS);
    if (!pageAligned(s.virtualAddress) || !pageAligned(s.fileOffset) || s.virtualAddress < GUEST_BASE) return ELF_ERROR_SEGMENT;
    if (s.fileSize > s.memorySize || s.fileSize > size || s.fileOffset > size - s.fileSize) return ELF_ERROR_SEGMENT;
    // The end, page-rounded, must not wrap: memorySize <= 0xfffff000 - virtualAddress.
    if (s.memorySize > 0xfffff000 - s.virtualAddress) return ELF_ERROR_SEGMENT;
    const end = (s.virtualAddress + s.memorySize + PAGE_SIZE - 1) & ~PAGE_OFFSET_MASK;
    if (end > image.extentEnd) image.extentEnd = end;
    if ((s.flags & PF_X) !== 0 && image.entry >= s.virtualAddress && image.entry - s.virtualAddress < s.memorySize) entryOk = true;
    image.segmentCount++;
  }
  if (!entryOk) return ELF_ERROR_ENTRY;
  // Segments must not share pages: our linker starts each on its own page; sorted by address.
  for (let i: u32 = 1; i < image.segmentCount; i++) {
    const previous = imageSegment(imageIndex, i - 1), s = imageSegment(imageIndex, i);
    if (s.virtualAddress < previous.virtualAddress + previous.memorySize) return ELF_ERROR_SEGMENT;
  }
  image.stackGuard = elfStackGuard(imageIndex);
  return ELF_OK;
}

/**
 * The stack's guard page (docs/virtual-architecture.md "Stack"): when the last segment is writable,
 * holds no file bytes and the page under it belongs to no segment, that segment is the stack and the
 * page under it its guard: the kernel never maps it (vm.ts), so an overflow ends the VM with "stack
 * overflow" instead of writing over its .bss. 0 when the image has no such segment.
 */
function elfStackGuard(imageIndex: u32): u32 {
  const image = images[imageIndex];
  if (image.segmentCount < 2) return 0;
  const stack = imageSegment(imageIndex, image.segmentCount - 1);
  const below = imageSegment(imageIndex, image.segmentCount - 2);
  if ((stack.flags & PF_W) === 0 || stack.fileSize !== 0) return 0;
  const guard = stack.virtualAddress - PAGE_SIZE;
  return below.virtualAddress + below.memorySize <= guard ? guard : 0;
}

/**
 * Group `imageIndex` runs no ELF (a bytecode group, vmstart.ts): its image has no segments, and its VMs'
 * memory must hold `extentEnd - GUEST_BASE` bytes before the boot page (vm.ts vmSizeValid).
 */
export function imageWithoutSegments(imageIndex: u32, extentEnd: u32): void {
  const image = images[imageIndex];
  image.moduleStart = 0;
  image.moduleBytes = 0;
  image.entry = 0;
  image.segmentCount = 0;
  image.extentEnd = extentEnd;
  image.stackGuard = 0;
}

/** One past the last file byte any segment of a parsed image loads: the part of the file VMs use. */
export function imageFileEnd(imageIndex: u32): u32 {
  let end: u32 = 0;
  for (let i: u32 = 0; i < images[imageIndex].segmentCount; i++) {
    const s = imageSegment(imageIndex, i);
    if (s.fileOffset + s.fileSize > end) end = s.fileOffset + s.fileSize;
  }
  return end;
}

/** A segment is shared by every VM of the image when nobody can write it and the file holds all of it. */
export function segmentShared(s: Segment): bool {
  return (s.flags & PF_W) === 0 && s.fileSize === s.memorySize;
}
