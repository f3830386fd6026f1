// Contract: compileToImage(module) -> a bootable multiboot ELF32 image, its listing and its symbol map (the linker's
// public API).
//
// Two encodings of the same instruction stream: the first with placeholder addresses gives the
// size of .text and every function's address; the data sections are then laid out after .text and
// the second encoding uses the final addresses. Absolute addresses are always imm32 operands, so
// both encodings have identical sizes (checked).

import type { Instruction } from "iced-x86";
import { isLinkerSymbol, type DataSymbol, type LinkerSymbol, type Module } from "../ir.ts";
import {
  lowerModule, START_SYMBOL, type AddressResolver, type LoweredModule, type LowerOptions,
} from "../x86/index.ts";
import { STACK_FAULT_SYMBOL } from "../x86/guard.ts";
import { guardSymbols, fillGuard } from "./guard.ts";
import { encodeText } from "./encode.ts";
import { writeElf32, type ElfSection, type ElfSegment, type ElfSymbol } from "./elf.ts";
import {
  alignUp, layoutData, fillData, TEXT_SEGMENT_ADDRESS, MULTIBOOT_HEADER_SIZE, DEFAULT_STACK_SIZE, type DataLayout,
} from "./layout.ts";
import { multibootHeader } from "./multiboot.ts";
import { renderListing } from "./listing.ts";
import { debugSections, type DebugFunction } from "./dwarf.ts";

export { MULTIBOOT_MAGIC } from "./multiboot.ts";

const STACK_TOP_SYMBOL = "__stack_top";
const STACK_BOTTOM_SYMBOL = "__stack_bottom";
const IMAGE_END_SYMBOL = "__image_end";
const MULTIBOOT_HEADER_SYMBOL = "__multiboot_header";
const SYMBOL_TABLE_SYMBOL = "__symbol_table";
const PLACEHOLDER_DATA_ADDRESS = 0x7fff0000;

/**
 * One row of a function's unwind table: from `offset` (bytes from the function's start) on, the return address is at
 * [esp + cfa].
 */
interface UnwindRow { offset: number; cfa: number; ebpSaved: boolean }
const SYMBOL_ENTRY_BYTES = 16;
/**
 * Unwind row state: bit 31 set when the caller's ebp is at [esp + cfa - 4]; the low bits are cfa, or UNWIND_UNKNOWN.
 */
const UNWIND_EBP_SAVED = 0x80000000;
const UNWIND_UNKNOWN = 0x7fffffff;

/**
 * The symbol table the kernel reads to symbolize and walk backtraces (docs/calling-convention.md):
 *   u32 count; count x { u32 address, u32 size, u32 name, u32 unwind } sorted by address; then the
 *   unwind tables, each u32 rows; rows x { u32 offset, u32 state }; then the names, each as a DSL
 *   string: u32 length, the bytes, a 0 byte; `name` points at the bytes (the length is at name - 4).
 *   `unwind` is 0 for a function whose frame ebp chains ([ebp] = caller's ebp, [ebp + 4] = return address).
 */
function symbolTable(functions: Map<string, { address: number; size: number; unwind?: UnwindRow[] }>): { size: number; bytes(base: number): Uint8Array } {
  const entries = [...functions].sort((a, b) => a[1].address - b[1].address);
  const names = entries.map(([name]) => Buffer.from(name, "latin1"));
  const headerSize = 4 + SYMBOL_ENTRY_BYTES * entries.length;
  const unwindSize = entries.reduce((n, [, f]) => n + (f.unwind ? 4 + 8 * f.unwind.length : 0), 0);
  const size = headerSize + unwindSize + names.reduce((n, b) => n + alignUp(4 + b.length + 1, 4), 0);
  return {
    size,
    bytes(base: number): Uint8Array {
      const bytes = new Uint8Array(size);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, entries.length, true);
      let unwindAt = headerSize, at = headerSize + unwindSize;
      entries.forEach(([, f], i) => {
        const entry = 4 + SYMBOL_ENTRY_BYTES * i;
        view.setUint32(entry, f.address >>> 0, true);
        view.setUint32(entry + 4, f.size >>> 0, true);
        view.setUint32(entry + 8, (base + at + 4) >>> 0, true);
        if (f.unwind) {
          view.setUint32(entry + 12, (base + unwindAt) >>> 0, true);
          view.setUint32(unwindAt, f.unwind.length, true);
          f.unwind.forEach((row, k) => {
            const cfa = Number.isNaN(row.cfa) ? UNWIND_UNKNOWN : row.cfa;
            view.setUint32(unwindAt + 4 + 8 * k, row.offset, true);
            view.setUint32(unwindAt + 8 + 8 * k, (cfa | (row.ebpSaved ? UNWIND_EBP_SAVED : 0)) >>> 0, true);
          });
          unwindAt += 4 + 8 * f.unwind.length;
        }
        view.setUint32(at, names[i].length, true);
        bytes.set(names[i], at + 4);
        at += alignUp(4 + names[i].length + 1, 4);
      });
      return bytes;
    },
  };
}

/** The lowered functions with every instruction index turned into its address (the DWARF writer's input). */
function debugFunctions(lowered: LoweredModule, addresses: number[]): DebugFunction[] {
  return lowered.functions.map(f => ({
    name: f.name, low: addresses[f.startIndex], high: addresses[f.endIndex], loc: f.loc,
    lines: f.lines.map(({ index, loc }) => ({ address: addresses[index], loc })),
    frame: f.frame.map(row => ({ address: addresses[row.index], row })),
    variables: f.variables.map(({ variable, ranges }) => ({
      variable, ranges: ranges.map(r => ({ low: addresses[r.from], high: addresses[r.to], place: r.place })),
    })),
  }));
}

interface CompileOptions {
  /** Bytes of boot stack reserved at the end of .bss (default 64 KiB; multiple of 16). */
  stackSize?: number;
  /** Register allocation and the other -O2 code generation (default true; false for -O0). */
  registerAllocation?: boolean;
  /** Where the image starts (default 0x00100000, the kernel's); guests link at abi/boot.ts GUEST_BASE. */
  baseAddress?: number;
  /** Put the multiboot header first (default true; guest images have none). */
  multiboot?: boolean;
  /**
   * An unmapped page under the stack, which becomes a `.stack` segment of its own (layout.ts). "program":
   * _start also turns paging on and reports a fault there as a stack overflow (x86/guard.ts: standalone
   * programs own the machine); "guest": the layout only, the kernel never maps the page (elf.ts, vm.ts).
   */
  stackGuard?: "program" | "guest";
}

interface SymbolInfo { address: number; size: number }

export interface Image {
  elf: Uint8Array;
  listing: string;
  /** Every function (and _start), data symbol, __stack_top/__stack_bottom/__image_end/__multiboot_header. */
  symbols: Map<string, SymbolInfo>;
  textAddress: number;
  textSize: number;
  entryAddress: number;
  sections: { name: string; address: number; size: number }[];
}

function freeAll(instrs: Instruction[]): void { for (const i of instrs) i.free(); }

function encodeModule(module: Module, addresses: AddressResolver, textAddress: number, options: LowerOptions):
  { lowered: LoweredModule; text: ReturnType<typeof encodeText> } {
  const lowered = lowerModule(module, addresses, options);
  try {
    return { lowered, text: encodeText(lowered.instructions, textAddress) };
  } finally {
    freeAll(lowered.instructions);
  }
}

export function compileToImage(module: Module, options: CompileOptions = {}): Image {
  const stackSize = options.stackSize ?? DEFAULT_STACK_SIZE;
  if (stackSize <= 0 || stackSize % 16 !== 0) throw new Error(`link: stack size ${stackSize} must be a positive multiple of 16`);
  const base = options.baseAddress ?? TEXT_SEGMENT_ADDRESS;
  if (base % 4096 !== 0) throw new Error(`link: base address 0x${base.toString(16)} is not page-aligned`);
  const withMultiboot = options.multiboot ?? true;
  const textAddress = base + (withMultiboot ? MULTIBOOT_HEADER_SIZE : 0);

  // ---- pass 1: placeholder addresses -> text size and function addresses ----
  // A data address is never below 128 (images start at 1 MiB), so it takes the same 32-bit immediate or
  // displacement forms with the placeholder as with its final value (the lowering folds addresses into
  // operands: compiler/x86/regalloc.ts `addresses`).
  const placeholder: AddressResolver = {
    dataAddress: () => PLACEHOLDER_DATA_ADDRESS, functionAddress: () => 0, stackTop: () => 0, stackGuard: () => 0,
  };
  const lowerOptions: LowerOptions = {
    registerAllocation: options.registerAllocation ?? true, guardedStack: options.stackGuard === "program",
    sysenterHypercalls: options.stackGuard === "guest",           // a guest's hypercalls (abi/hypercalls.ts)
  };
  const first = encodeModule(module, placeholder, textAddress, lowerOptions);
  freeAll(first.text.decoded);
  const functionAddresses = new Map<string, { address: number; size: number; unwind?: UnwindRow[] }>();
  for (const f of first.lowered.functions) {
    const address = first.text.addresses[f.startIndex];
    const unwind = f.unwind?.map(row => ({ offset: first.text.addresses[row.index] - address, cfa: row.cfa, ebpSaved: row.ebpSaved }));
    functionAddresses.set(f.name, { address, size: first.text.addresses[f.endIndex] - address, unwind });
  }
  const textEnd = textAddress + first.text.bytes.length;

  // ---- the embedded symbol table (for symbolized backtraces), laid out in .rodata ----
  const table = symbolTable(functionAddresses);
  const tableSymbol: DataSymbol = { name: SYMBOL_TABLE_SYMBOL, section: "rodata", align: 4, size: table.size, bytes: new Uint8Array(table.size), relocations: [] };
  const guardData = options.stackGuard === "program" ? guardSymbols() : [];
  // ---- jump tables (x86/fusion.ts, jumpTables): a word per target, the address of its code in .text ----
  const jumpTables: DataSymbol[] = first.lowered.functions.flatMap(f => f.jumpTables).map(t => {
    const bytes = new Uint8Array(4 * t.targets.length);
    const view = new DataView(bytes.buffer);
    t.targets.forEach((index, k) => view.setUint32(4 * k, first.text.addresses[index] >>> 0, true));
    return { name: t.symbol, section: "rodata", align: 4, size: bytes.length, bytes, relocations: [] };
  });
  const linked: Module = { ...module, data: [...module.data, tableSymbol, ...guardData, ...jumpTables] };

  // ---- data layout ----
  const layout: DataLayout = layoutData(linked, textEnd, stackSize, options.stackGuard !== undefined);
  tableSymbol.bytes = table.bytes(layout.addresses.get(SYMBOL_TABLE_SYMBOL)!);
  if (guardData.length > 0) {
    fillGuard(guardData, layout.stackGuard, name => layout.addresses.get(name)!, functionAddresses.get(STACK_FAULT_SYMBOL)!.address);
  }
  for (const name of layout.addresses.keys()) {
    if (functionAddresses.has(name)) throw new Error(`link: symbol '${name}' is both a function and a data symbol`);
  }
  const functionAddress = (name: string): number => {
    const f = functionAddresses.get(name);
    if (!f) throw new Error(`link: unknown function '${name}'`);
    return f.address;
  };
  fillData(linked, layout, functionAddress);
  const linkerSymbols: Record<LinkerSymbol, number> = {
    __image_start: base, __image_end: layout.imageEnd,
    __stack_bottom: layout.stackBottom, __stack_top: layout.stackTop,
    __symbol_table: layout.addresses.get(SYMBOL_TABLE_SYMBOL)!,
  };

  // ---- pass 2: final addresses ----
  const resolver: AddressResolver = {
    dataAddress: (name) => {
      const a = isLinkerSymbol(name) ? linkerSymbols[name] : layout.addresses.get(name);
      if (a === undefined) throw new Error(`link: unknown data symbol '${name}'`);
      return a;
    },
    functionAddress,
    stackTop: () => layout.stackTop,
    stackGuard: () => layout.stackGuard,
  };
  const second = encodeModule(module, resolver, textAddress, lowerOptions);
  const text = second.text.bytes;
  if (text.length !== first.text.bytes.length || second.text.addresses.some((a, i) => a !== first.text.addresses[i])) {
    freeAll(second.text.decoded);
    throw new Error("link: the second encoding of .text differs in layout from the first");
  }
  let listing: string;
  try {
    listing = renderListing(second.lowered, second.text.decoded, text, textAddress);
  } finally {
    freeAll(second.text.decoded);
  }

  // ---- symbols ----
  const symbols = new Map<string, SymbolInfo>();
  const elfSymbols: ElfSymbol[] = [];
  const addSymbol = (name: string, address: number, size: number, type: ElfSymbol["type"], section: string): void => {
    symbols.set(name, { address, size });
    elfSymbols.push({ name, value: address, size, type, section });
  };
  if (withMultiboot) addSymbol(MULTIBOOT_HEADER_SYMBOL, base, 12, "object", ".multiboot");
  for (const [name, f] of functionAddresses) addSymbol(name, f.address, f.size, "func", ".text");
  const sectionOf = { rodata: ".rodata", data: ".data", bss: ".bss" } as const;
  for (const sym of linked.data) addSymbol(sym.name, layout.addresses.get(sym.name)!, sym.size, "object", sectionOf[sym.section]);
  const stackSection = layout.stack ? ".stack" : ".bss";
  addSymbol(STACK_BOTTOM_SYMBOL, layout.stackBottom, layout.stackSize, "object", stackSection);
  addSymbol(STACK_TOP_SYMBOL, layout.stackTop, 0, "notype", stackSection);
  addSymbol(IMAGE_END_SYMBOL, layout.imageEnd, 0, "notype", stackSection);

  // ---- sections and segments ----
  const { rodata, data, bss } = layout.sections;
  const header = multibootHeader();
  const sections: ElfSection[] = [
    ...(withMultiboot ? [{ name: ".multiboot", kind: "progbits" as const, address: base, size: header.length, align: 4, bytes: header, flags: "rx" as const }] : []),
    { name: ".text", kind: "progbits", address: textAddress, size: text.length, align: 16, bytes: text, flags: "rx", code: true },
    { name: ".rodata", kind: "progbits", address: rodata.address, size: rodata.size, align: rodata.align, bytes: rodata.bytes, flags: "r" },
    { name: ".data", kind: "progbits", address: data.address, size: data.size, align: data.align, bytes: data.bytes, flags: "rw" },
    { name: ".bss", kind: "nobits", address: bss.address, size: bss.size, align: bss.align, flags: "rw" },
    ...(layout.stack ? [{ name: ".stack", kind: "nobits" as const, address: layout.stack.address, size: layout.stack.size,
      align: layout.stack.align, flags: "rw" as const }] : []),
  ];
  const segments: ElfSegment[] = [{ flags: "rx", sections: withMultiboot ? [".multiboot", ".text"] : [".text"] }];
  if (rodata.size > 0) segments.push({ flags: "r", sections: [".rodata"] });
  // .data always starts a page, so the RW segment starts there even when .data is empty
  segments.push({ flags: "rw", sections: [".data", ".bss"] });
  if (layout.stack) segments.push({ flags: "rw", sections: [".stack"] });

  const entryAddress = functionAddress(START_SYMBOL);
  const info = debugSections({
    functions: debugFunctions(second.lowered, second.text.addresses), structs: module.debugStructs ?? [],
  });
  const elf = writeElf32({ entry: entryAddress, sections, segments, symbols: elfSymbols, info });
  return {
    elf, listing, symbols, textAddress, textSize: text.length, entryAddress,
    sections: sections.map((s) => ({ name: s.name, address: s.address, size: s.size })),
  };
}
