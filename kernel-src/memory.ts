// Memory bring-up in order: the frame allocator from the memory map, the reservations (kernel image,
// boot information, multiboot modules and their strings), then paging. kmain calls memoryInit once,
// after the boot report and before anything allocates; `mem` prints printMemoryStatistics.
import { u32, linkerAddress, panic, load8, addressOf } from "dsl";
import {
  MultibootInfo, hasFlag, commandLineLength, memoryMapEnd, MULTIBOOT_FLAG_COMMAND_LINE, MULTIBOOT_FLAG_MEMORY_MAP,
  MULTIBOOT_FLAG_BOOT_LOADER_NAME, MULTIBOOT_STRING_LIMIT,
} from "./multiboot.ts";
import {
  framesInit, reserveRange, framesFree, framesAvailable, framesUsed, frameAllocationCount, frameFreeCount,
  frameDoubleFreeCount, PAGE_SHIFT,
} from "./frames.ts";
import { pagingInit, kernelSpaceTop, pagingTableFrames } from "./paging.ts";
import { stacksGuard } from "./stacks.ts";
import { modulesInit, moduleCount, moduleAt, moduleTableStart, moduleTableEnd, moduleNameLength } from "./modules.ts";
import { printKallocStatistics } from "./kalloc.ts";
import { consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleNewLine } from "./console.ts";

/** The multiboot information structure's size up to boot_loader_name (spec §3.3: offsets 0..71). */
const MULTIBOOT_INFO_BYTES: u32 = 72;
const KIB_SHIFT = 10;

export function memoryInit(info: MultibootInfo): void {
  modulesInit(info);
  framesInit(info);
  reserveBootData(info);
  consoleWriteString("kernel image: 0x");
  consoleWriteHex(linkerAddress("imageStart"));
  consoleWriteString("-0x");
  consoleWriteHex(linkerAddress("imageEnd"));
  consoleNewLine();
  consoleWriteString("frames: available ");
  consoleWriteDecimal(framesAvailable());
  consoleWriteString(" free ");
  consoleWriteDecimal(framesFree());
  consoleWriteString(" reserved ");
  consoleWriteDecimal(framesUsed());
  consoleNewLine();
  if (!pagingInit()) panic("out of memory building the kernel page tables");
  consoleWriteString("paging: on, kernel space 0x00001000-0x");
  consoleWriteHex(kernelSpaceTop());
  consoleWriteString(", ");
  consoleWriteDecimal(pagingTableFrames());
  consoleWriteString(" table frames");
  consoleNewLine();
  stacksGuard();
  consoleWriteString("stacks: guard pages under the boot, trap and double-fault stacks");
  consoleNewLine();
  writeFreeMemory();
}

/** Keeps everything the boot loader left for us out of the free pool. */
function reserveBootData(info: MultibootInfo): void {
  reserveRange(linkerAddress("imageStart"), linkerAddress("imageEnd"));
  const infoAddress = addressOf(info);
  reserveRange(infoAddress, infoAddress + MULTIBOOT_INFO_BYTES);
  if (hasFlag(info, MULTIBOOT_FLAG_MEMORY_MAP)) reserveRange(info.memoryMapAddress, memoryMapEnd(info));
  if (hasFlag(info, MULTIBOOT_FLAG_COMMAND_LINE)) reserveRange(info.commandLine, info.commandLine + commandLineLength(info) + 1);
  if (hasFlag(info, MULTIBOOT_FLAG_BOOT_LOADER_NAME)) reserveRange(info.bootLoaderName, info.bootLoaderName + cStringLength(info.bootLoaderName) + 1);
  reserveRange(moduleTableStart(), moduleTableEnd());
  const count = moduleCount();
  for (let i: u32 = 0; i < count; i++) {
    const module = moduleAt(i);
    reserveRange(module.start, module.end);
    if (module.commandLine !== 0) reserveRange(module.commandLine, module.commandLine + moduleNameLength(module) + 1);
  }
}

function cStringLength(address: u32): u32 {
  let length: u32 = 0;
  while (length < MULTIBOOT_STRING_LIMIT && load8(address + length) !== 0) length++;
  return length;
}

function writeFreeMemory(): void {
  const freeKiB = framesFree() << (PAGE_SHIFT - KIB_SHIFT);
  consoleWriteString("free memory: ");
  consoleWriteDecimal(freeKiB);
  consoleWriteString(" KiB (");
  consoleWriteDecimal(freeKiB >>> KIB_SHIFT);
  consoleWriteString(" MiB)");
  consoleNewLine();
}

/** Frames, paging and kalloc statistics (the console's `mem` command). */
export function printMemoryStatistics(): void {
  consoleWriteString("frames: available ");
  consoleWriteDecimal(framesAvailable());
  consoleWriteString(" free ");
  consoleWriteDecimal(framesFree());
  consoleWriteString(" used ");
  consoleWriteDecimal(framesUsed());
  consoleWriteString(" (allocations ");
  consoleWriteDecimal(frameAllocationCount());
  consoleWriteString(" frees ");
  consoleWriteDecimal(frameFreeCount());
  consoleWriteString(" double frees ");
  consoleWriteDecimal(frameDoubleFreeCount());
  consoleWriteString(")");
  consoleNewLine();
  writeFreeMemory();
  consoleWriteString("page table frames: ");
  consoleWriteDecimal(pagingTableFrames());
  consoleNewLine();
  printKallocStatistics();
}
