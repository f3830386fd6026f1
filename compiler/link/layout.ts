// Contract: places the module's data symbols (.rodata, .data, .bss + the boot stack) at fixed addresses after .text and
// patches their relocations. Within a section symbols go smallest first, in module order among equals.
//
// Memory layout (every address fixed at link time, identity-mapped at boot):
//   0x00100000  .multiboot  the 12-byte multiboot header            } one R+X segment
//   0x00100010  .text       _start, then every function in order    }
//   next page   .rodata     read-only data                            R segment
//   next page   .data       initialized data                        } one R+W segment
//   then        .bss        zeroed data, then the 64 KiB boot stack }
// .rodata and .data start on page boundaries so paging can later map them with their own rights.
// With a guarded stack (programs and guests: `stackGuard`), .bss ends the R+W segment and the stack is
// a segment of its own, `.stack`, one page above it: that page (the guard) belongs to no section and is
// never mapped, so a stack that overflows faults there instead of writing over .bss (docs/calling-
// convention.md "Stacks"). The kernel guards its own stacks at run time (kernel-src/stacks.ts).

import type { DataSymbol, Module } from "../ir.ts";
import { PAGE_SIZE } from "./elf.ts";

export const TEXT_SEGMENT_ADDRESS = 0x00100000;
export const MULTIBOOT_HEADER_SIZE = 16; // 12 bytes, padded so .text starts 16-aligned
export const DEFAULT_STACK_SIZE = 64 * 1024;
const STACK_ALIGN = 16;

export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

interface PlacedSection {
  name: ".rodata" | ".data" | ".bss" | ".stack"; address: number; size: number; align: number; bytes?: Uint8Array;
}

export interface DataLayout {
  addresses: Map<string, number>;
  sections: { rodata: PlacedSection; data: PlacedSection; bss: PlacedSection };
  stackBottom: number;
  stackTop: number;
  stackSize: number;
  /** The unmapped page under a guarded stack (its own `.stack` section), or 0 when the stack ends .bss. */
  stackGuard: number;
  stack?: PlacedSection;
  /** First address past the image (end of .bss, page-aligned): free memory starts here. */
  imageEnd: number;
}

function checkSymbol(sym: DataSymbol): number {
  const align = Math.max(1, sym.align);
  if ((align & (align - 1)) !== 0) throw new Error(`link: data symbol ${sym.name}: alignment ${sym.align} is not a power of two`);
  if (sym.section !== "bss" && sym.bytes && sym.bytes.length > sym.size) throw new Error(`link: data symbol ${sym.name}: ${sym.bytes.length} bytes but size ${sym.size}`);
  if (sym.section === "bss" && sym.relocations.length > 0) throw new Error(`link: data symbol ${sym.name}: relocations in .bss`);
  return align;
}

/** Lays out the data sections starting at the page after `textEnd`. Section contents are filled by `fillData`. */
export function layoutData(module: Module, textEnd: number, stackSize = DEFAULT_STACK_SIZE, guard = false): DataLayout {
  const addresses = new Map<string, number>();
  const place = (name: PlacedSection["name"], section: DataSymbol["section"], start: number): PlacedSection => {
    let cursor = start, maxAlign = 1;
    // Smallest first (stable): the scalars and small tables a program touches on every path share a few
    // pages instead of sitting between large arrays, so a VM's working set (what swapping moves) is smaller.
    const symbols = module.data.filter(sym => sym.section === section)
      .map((sym, order) => ({ sym, order })).sort((a, b) => a.sym.size - b.sym.size || a.order - b.order);
    for (const { sym } of symbols) {
      const align = checkSymbol(sym);
      if (addresses.has(sym.name)) throw new Error(`link: data symbol ${sym.name} defined twice`);
      cursor = alignUp(cursor, align);
      addresses.set(sym.name, cursor);
      cursor += sym.size;
      maxAlign = Math.max(maxAlign, align);
    }
    return { name, address: start, size: cursor - start, align: maxAlign };
  };
  const rodata = place(".rodata", "rodata", alignUp(textEnd, PAGE_SIZE));
  const data = place(".data", "data", alignUp(rodata.address + rodata.size, PAGE_SIZE));
  const bssStart = alignUp(data.address + data.size, STACK_ALIGN);
  const bss = place(".bss", "bss", bssStart);
  if (guard) {
    const stackGuard = alignUp(bss.address + bss.size, PAGE_SIZE);
    const stackBottom = stackGuard + PAGE_SIZE, stackTop = stackBottom + stackSize;
    const stack: PlacedSection = { name: ".stack", address: stackBottom, size: stackSize, align: PAGE_SIZE };
    return { addresses, sections: { rodata, data, bss }, stack, stackBottom, stackTop, stackSize, stackGuard,
      imageEnd: alignUp(stackTop, PAGE_SIZE) };
  }
  const stackBottom = alignUp(bss.address + bss.size, STACK_ALIGN);
  const stackTop = stackBottom + stackSize;
  bss.size = stackTop - bss.address;
  bss.align = Math.max(bss.align, STACK_ALIGN);
  return { addresses, sections: { rodata, data, bss }, stackBottom, stackTop, stackSize, stackGuard: 0,
    imageEnd: alignUp(stackTop, PAGE_SIZE) };
}

/** Copies each symbol's bytes into its section and patches its relocations with final addresses. */
export function fillData(module: Module, layout: DataLayout, functionAddress: (name: string) => number): void {
  const { rodata, data } = layout.sections;
  rodata.bytes = new Uint8Array(rodata.size);
  data.bytes = new Uint8Array(data.size);
  for (const sym of module.data) {
    if (sym.section === "bss") continue;
    const section = sym.section === "rodata" ? rodata : data;
    const at = layout.addresses.get(sym.name)! - section.address;
    if (sym.bytes) section.bytes!.set(sym.bytes, at);
    const view = new DataView(section.bytes!.buffer);
    for (const r of sym.relocations) {
      if (r.offset < 0 || r.offset + 4 > sym.size) throw new Error(`link: data symbol ${sym.name}: relocation at ${r.offset} outside its ${sym.size} bytes`);
      let target: number | undefined;
      if (r.kind === "data") target = layout.addresses.get(r.symbol);
      else target = functionAddress(r.symbol);
      if (target === undefined) throw new Error(`link: data symbol ${sym.name}: relocation to unknown ${r.kind} symbol '${r.symbol}'`);
      view.setUint32(at + r.offset, target >>> 0, true);
    }
  }
}
