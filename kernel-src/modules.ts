// Multiboot modules: the files the boot loader loaded beside the kernel (QEMU `-kernel K -initrd "a,b"`,
// GRUB `module`). Guest images arrive this way. Layout: Multiboot Specification 0.6.96 §3.3
// ("mods_count", "mods_addr"): an array of 16-byte entries, each with the module's physical bounds
// and the physical address of its NUL-terminated command line (the loader's "name" of the module).
// The kernel image's header asks for page-aligned modules (flags bit 0, spec §3.1.2), so each starts
// on a frame boundary; frames.ts keeps the modules and their strings out of the free pool.
import { bool, i32, u32, overlay, load8 } from "dsl";
import { MultibootInfo, hasFlag, MULTIBOOT_STRING_LIMIT } from "./multiboot.ts";
import {
  consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleWriteCString, consoleNewLine,
} from "./console.ts";

/** `flags` bit 3 (spec §3.3): mods_count and mods_addr are valid. */
const MULTIBOOT_FLAG_MODULES = 1 << 3;

/** One module entry (spec §3.3): 16 bytes. */
export class MultibootModule {
  start: u32 = 0;        //  0 mod_start: physical address of the first byte
  end: u32 = 0;          //  4 mod_end: physical address one past the last byte
  commandLine: u32 = 0;  //  8 string: physical address of a NUL-terminated string (0: none)
  reserved: u32 = 0;     // 12 reserved, 0
}
const MODULE_ENTRY_BYTES: u32 = 16;

const SLASH = 47;

/** Sanity limit: more entries than this means a corrupt structure. */
const MODULES_LIMIT: u32 = 1024;

let modulesAddress: u32 = 0;
let modulesCount: u32 = 0;

/** Remembers where the loader's module list is; the list and its strings stay reserved (frames.ts). */
export function modulesInit(info: MultibootInfo): void {
  const valid = hasFlag(info, MULTIBOOT_FLAG_MODULES) && info.modulesCount <= MODULES_LIMIT;
  modulesAddress = valid ? info.modulesAddress : 0;
  modulesCount = valid ? info.modulesCount : 0;
}

export function moduleCount(): u32 { return modulesCount; }

/** Module `index` (0 <= index < moduleCount()). */
export function moduleAt(index: u32): MultibootModule {
  return overlay(MultibootModule, modulesAddress + index * MODULE_ENTRY_BYTES);
}

/** The address range of the module table itself. */
export function moduleTableStart(): u32 { return modulesAddress; }
export function moduleTableEnd(): u32 { return modulesAddress + moduleCount() * MODULE_ENTRY_BYTES; }

export function moduleSize(module: MultibootModule): u32 { return module.end - module.start; }

/** Length of the module's command line (0 when it has none). */
export function moduleNameLength(module: MultibootModule): u32 {
  if (module.commandLine === 0) return 0;
  let length: u32 = 0;
  while (length < MULTIBOOT_STRING_LIMIT && load8(module.commandLine + length) !== 0) length++;
  return length;
}

/** True when the module's command line is `name` or ends with `/name` (QEMU passes the file's path). */
function moduleIsNamed(module: MultibootModule, name: string): bool {
  const length = moduleNameLength(module), nameLength = u32(name.length);
  if (length < nameLength) return false;
  const start = length - nameLength;
  if (start > 0 && load8(module.commandLine + start - 1) !== SLASH) return false;
  for (let k: u32 = 0; k < nameLength; k++) {
    if (load8(module.commandLine + start + k) !== u32(name.charCodeAt(i32(k)))) return false;
  }
  return true;
}

/** The index of the first module named `name` (moduleIsNamed), or moduleCount() when there is none. */
export function moduleFind(name: string): u32 {
  const count = moduleCount();
  for (let i: u32 = 0; i < count; i++) if (moduleIsNamed(moduleAt(i), name)) return i;
  return count;
}

/** "modules: N", then "module I: start 0x... end 0x... size S name NAME" per module. */
export function reportModules(): void {
  const count = moduleCount();
  consoleWriteString("modules: ");
  consoleWriteDecimal(count);
  consoleNewLine();
  for (let i: u32 = 0; i < count; i++) {
    const module = moduleAt(i);
    consoleWriteString("module ");
    consoleWriteDecimal(i);
    consoleWriteString(": start 0x");
    consoleWriteHex(module.start);
    consoleWriteString(" end 0x");
    consoleWriteHex(module.end);
    consoleWriteString(" size ");
    consoleWriteDecimal(moduleSize(module));
    consoleWriteString(" name ");
    if (module.commandLine !== 0) consoleWriteCString(module.commandLine, MULTIBOOT_STRING_LIMIT);
    consoleNewLine();
  }
}
