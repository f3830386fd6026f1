// IR Module -> DNBC bytecode (docs/bytecode.md). Requires a module that passes checkModule
// (the encoder runs it first); guarantees decodeModule(encodeModule(m)) deep-equals m.

import type { Block, DataSymbol, Function, Instr, Module, SourceLocation, Terminator } from "../ir.ts";
import { checkModule } from "./check.ts";
import {
  BINARY_OPS, DATA_SECTION_KINDS, FORMAT_VERSION, FUNCTION_HAS_LOCATION, FUNCTION_RETURNS_VALUE,
  INTRINSIC_NAMES, MAGIC, OP_BINARY_BASE, OP_CALL, OP_CALL_INDIRECT, OP_CALL_INDIRECT_VOID, OP_CALL_VOID,
  OP_CONST, OP_COPY, OP_SELECT, OP_FUNCTION_ADDRESS, OP_GLOBAL_ADDRESS, OP_INTRINSIC, OP_INTRINSIC_VOID, OP_LOAD_BASE,
  OP_SLOT_ADDRESS, OP_STORE_BASE, OP_TRAP, OP_UNARY_BASE, RELOCATION_KINDS, SECTION_DATA, SECTION_FUNCTIONS,
  SECTION_MODULE, SECTION_STRINGS, TERM_BRANCH, TERM_JUMP, TERM_RETURN, TERM_RETURN_VOID, TERM_UNREACHABLE,
  UNARY_OPS,
} from "./format.ts";

/** A growable byte buffer with LEB128 writers. */
class ByteWriter {
  private buffer = new Uint8Array(256);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
  }

  u16(value: number): void {
    this.byte(value);
    this.byte(value >>> 8);
  }

  /** Unsigned LEB128 of an integer in 0..2^32-1 (at most 5 bytes). */
  uleb(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`uleb: ${value} is not an integer in 0..2^32-1`);
    }
    let rest = value;
    do {
      let byte = rest % 128;
      rest = Math.floor(rest / 128);
      if (rest !== 0) byte |= 0x80;
      this.byte(byte);
    } while (rest !== 0);
  }

  /** Signed LEB128 of an int32 (at most 5 bytes). */
  sleb(value: number): void {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      throw new RangeError(`sleb: ${value} is not an int32`);
    }
    let rest = value | 0;
    for (;;) {
      const byte = rest & 0x7f;
      rest >>= 7;
      const done = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0);
      this.byte(done ? byte : byte | 0x80);
      if (done) return;
    }
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  toUint8Array(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** Strings by first use; index = position in the string table. */
class StringTable {
  readonly strings: string[] = [];
  private readonly indices = new Map<string, number>();

  index(text: string): number {
    let index = this.indices.get(text);
    if (index === undefined) {
      index = this.strings.length;
      this.strings.push(text);
      this.indices.set(text, index);
    }
    return index;
  }
}

interface EncodeOptions {
  /** Run checkModule first (default true). Only tests that need malformed bytecode turn it off. */
  verify?: boolean;
}

/** Encodes a module; throws BytecodeFormatError when the module is not well formed (see check.ts). */
export function encodeModule(module: Module, options: EncodeOptions = {}): Uint8Array {
  if (options.verify !== false) checkModule(module);
  const strings = new StringTable();

  const data = new ByteWriter();
  data.uleb(module.data.length);
  for (const symbol of module.data) writeDataSymbol(data, strings, symbol);

  const functions = new ByteWriter();
  functions.uleb(module.functions.length);
  for (const func of module.functions) writeFunction(functions, strings, func);

  const moduleInfo = new ByteWriter();
  moduleInfo.uleb(strings.index(module.entry));
  moduleInfo.uleb(strings.index(module.trapHandler));
  // version 2: interrupt entries (name, vector, handler)
  const entries = module.interruptEntries ?? [];
  moduleInfo.uleb(entries.length);
  for (const e of entries) { moduleInfo.uleb(strings.index(e.name)); moduleInfo.uleb(e.vector); moduleInfo.uleb(strings.index(e.handler)); }

  const stringSection = new ByteWriter();
  const utf8 = new TextEncoder();
  stringSection.uleb(strings.strings.length);
  for (const text of strings.strings) {
    const encoded = utf8.encode(text);
    stringSection.uleb(encoded.length);
    stringSection.bytes(encoded);
  }

  const out = new ByteWriter();
  for (const byte of MAGIC) out.byte(byte);
  out.u16(FORMAT_VERSION);
  writeSection(out, SECTION_STRINGS, stringSection);
  writeSection(out, SECTION_DATA, data);
  writeSection(out, SECTION_FUNCTIONS, functions);
  writeSection(out, SECTION_MODULE, moduleInfo);
  return out.toUint8Array();
}

function writeSection(out: ByteWriter, id: number, contents: ByteWriter): void {
  out.byte(id);
  out.uleb(contents.length);
  out.bytes(contents.toUint8Array());
}

function writeDataSymbol(w: ByteWriter, strings: StringTable, symbol: DataSymbol): void {
  w.uleb(strings.index(symbol.name));
  w.byte(DATA_SECTION_KINDS.indexOf(symbol.section));
  w.uleb(symbol.align);
  w.uleb(symbol.size);
  if (symbol.bytes === undefined) {
    w.byte(0);
  } else {
    w.byte(1);
    w.uleb(symbol.bytes.length);
    w.bytes(symbol.bytes);
  }
  w.uleb(symbol.relocations.length);
  for (const relocation of symbol.relocations) {
    w.uleb(relocation.offset);
    w.uleb(strings.index(relocation.symbol));
    w.byte(RELOCATION_KINDS.indexOf(relocation.kind));
  }
}

function writeLocation(w: ByteWriter, strings: StringTable, loc: SourceLocation): void {
  w.uleb(strings.index(loc.file));
  w.uleb(loc.line);
  w.uleb(loc.column);
}

function writeFunction(w: ByteWriter, strings: StringTable, func: Function): void {
  w.uleb(strings.index(func.name));
  w.byte((func.returnsValue ? FUNCTION_RETURNS_VALUE : 0) | (func.loc ? FUNCTION_HAS_LOCATION : 0));
  w.uleb(func.params);
  w.uleb(func.vregCount);
  if (func.loc) writeLocation(w, strings, func.loc);
  w.uleb(func.slots.length);
  for (const slot of func.slots) {
    w.uleb(strings.index(slot.name));
    w.uleb(slot.size);
    w.uleb(slot.align);
  }
  w.uleb(func.blocks.length);
  for (const block of func.blocks) writeBlock(w, strings, block);
}

function writeBlock(w: ByteWriter, strings: StringTable, block: Block): void {
  if (block.loc) {
    w.byte(1);
    writeLocation(w, strings, block.loc);
  } else {
    w.byte(0);
  }
  w.uleb(block.instrs.length);
  for (const instr of block.instrs) writeInstr(w, strings, instr);
  writeTerminator(w, block.term);
}

function writeArgs(w: ByteWriter, args: number[]): void {
  w.uleb(args.length);
  for (const arg of args) w.uleb(arg);
}

function writeInstr(w: ByteWriter, strings: StringTable, instr: Instr): void {
  switch (instr.op) {
    case "const": w.byte(OP_CONST); w.uleb(instr.dst); w.sleb(instr.value); return;
    case "copy": w.byte(OP_COPY); w.uleb(instr.dst); w.uleb(instr.src); return;
    case "select": w.byte(OP_SELECT); w.uleb(instr.dst); w.uleb(instr.cond); w.uleb(instr.ifTrue); w.uleb(instr.ifFalse); return;
    case "binary":
      w.byte(OP_BINARY_BASE + BINARY_OPS.indexOf(instr.kind));
      w.uleb(instr.dst); w.uleb(instr.a); w.uleb(instr.b);
      return;
    case "unary":
      w.byte(OP_UNARY_BASE + UNARY_OPS.indexOf(instr.kind));
      w.uleb(instr.dst); w.uleb(instr.a);
      return;
    case "load":
      w.byte(OP_LOAD_BASE + widthLog2(instr.width) * 2 + (instr.signed ? 0 : 1));
      w.uleb(instr.dst); w.uleb(instr.address); w.sleb(instr.offset);
      return;
    case "store":
      w.byte(OP_STORE_BASE + widthLog2(instr.width));
      w.uleb(instr.address); w.sleb(instr.offset); w.uleb(instr.value);
      return;
    case "globalAddress": w.byte(OP_GLOBAL_ADDRESS); w.uleb(instr.dst); w.uleb(strings.index(instr.symbol)); return;
    case "functionAddress": w.byte(OP_FUNCTION_ADDRESS); w.uleb(instr.dst); w.uleb(strings.index(instr.func)); return;
    case "slotAddress": w.byte(OP_SLOT_ADDRESS); w.uleb(instr.dst); w.uleb(instr.slot); return;
    case "call":
      if (instr.dst === null) {
        w.byte(OP_CALL_VOID);
      } else {
        w.byte(OP_CALL);
        w.uleb(instr.dst);
      }
      w.uleb(strings.index(instr.func));
      writeArgs(w, instr.args);
      return;
    case "callIndirect":
      if (instr.dst === null) {
        w.byte(OP_CALL_INDIRECT_VOID);
      } else {
        w.byte(OP_CALL_INDIRECT);
        w.uleb(instr.dst);
      }
      w.uleb(instr.target);
      writeArgs(w, instr.args);
      return;
    case "intrinsic":
      if (instr.dst === null) {
        w.byte(OP_INTRINSIC_VOID);
      } else {
        w.byte(OP_INTRINSIC);
        w.uleb(instr.dst);
      }
      w.byte(INTRINSIC_NAMES.indexOf(instr.name));
      writeArgs(w, instr.args);
      return;
    case "trap": w.byte(OP_TRAP); w.byte(instr.kind); return;
  }
}

function writeTerminator(w: ByteWriter, term: Terminator): void {
  switch (term.op) {
    case "jump": w.byte(TERM_JUMP); w.uleb(term.target); return;
    case "branch": w.byte(TERM_BRANCH); w.uleb(term.cond); w.uleb(term.ifTrue); w.uleb(term.ifFalse); return;
    case "return":
      if (term.value === null) {
        w.byte(TERM_RETURN_VOID);
      } else {
        w.byte(TERM_RETURN);
        w.uleb(term.value);
      }
      return;
    case "unreachable": w.byte(TERM_UNREACHABLE); return;
  }
}

function widthLog2(width: 1 | 2 | 4): number {
  return width === 1 ? 0 : width === 2 ? 1 : 2;
}
