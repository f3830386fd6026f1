// DNBC bytecode (docs/bytecode.md) -> IR Module. Rejects bad magic, an unknown version, truncated or
// trailing bytes, unknown opcodes, and (through checkModule) any index out of range, with a
// BytecodeFormatError that says where. Guarantees: the module returned passes checkModule.

import type {
  Block, DataSymbol, FrameSlot, Function, Instr, Module, SourceLocation, Terminator, TrapKind, Width,
} from "../ir.ts";
import { checkModule } from "./check.ts";
import {
  BINARY_OPS, BytecodeFormatError, DATA_SECTION_KINDS, READABLE_VERSIONS, FUNCTION_HAS_LOCATION,
  FUNCTION_RETURNS_VALUE, INTRINSIC_NAMES, MAGIC, OP_BINARY_BASE, OP_CALL, OP_CALL_INDIRECT,
  OP_CALL_INDIRECT_VOID, OP_CALL_VOID, OP_CONST, OP_COPY, OP_SELECT, OP_FUNCTION_ADDRESS, OP_GLOBAL_ADDRESS,
  OP_INTRINSIC, OP_INTRINSIC_VOID, OP_LOAD_BASE, LOAD_OPCODE_COUNT, OP_SLOT_ADDRESS, OP_STORE_BASE,
  STORE_OPCODE_COUNT, OP_TRAP, TRAP_KIND_COUNT, OP_UNARY_BASE, RELOCATION_KINDS, SECTION_DATA,
  SECTION_FUNCTIONS, SECTION_MODULE, SECTION_STRINGS, TERM_BRANCH, TERM_JUMP, TERM_RETURN, TERM_RETURN_VOID,
  TERM_UNREACHABLE, UNARY_OPS,
} from "./format.ts";

const hex = (x: number): string => "0x" + x.toString(16).padStart(2, "0");

/** Reads bytes, LEB128 integers and strings, failing cleanly at the end of its window. */
class ByteReader {
  constructor(private readonly bytes: Uint8Array, public position = 0, private readonly end = bytes.length) {}

  get atEnd(): boolean {
    return this.position >= this.end;
  }

  fail(message: string, at = this.position): never {
    throw new BytecodeFormatError(`bytecode offset ${at}: ${message}`);
  }

  byte(): number {
    if (this.position >= this.end) this.fail("truncated input (unexpected end of data)");
    return this.bytes[this.position++];
  }

  u16(): number {
    const low = this.byte();
    return low | (this.byte() << 8);
  }

  uleb(): number {
    const start = this.position;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) this.fail("unsigned LEB128 value exceeds 32 bits", start);
        return result;
      }
    }
    return this.fail("unsigned LEB128 value longer than 5 bytes", start);
  }

  sleb(): number {
    const start = this.position;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) {
        if (byte & 0x40) result -= scale; // sign-extend from the last bit read
        if (result < -0x80000000 || result > 0x7fffffff) this.fail("signed LEB128 value exceeds 32 bits", start);
        return result;
      }
    }
    return this.fail("signed LEB128 value longer than 5 bytes", start);
  }

  take(length: number): Uint8Array {
    if (length > this.end - this.position) this.fail(`truncated input (${length} bytes expected, ${this.end - this.position} left)`);
    const slice = new Uint8Array(this.bytes.subarray(this.position, this.position + length)); // a plain copy, even from a Buffer
    this.position += length;
    return slice;
  }
}

/** Decodes and verifies a module. Throws BytecodeFormatError on any malformed input. */
export function decodeModule(bytes: Uint8Array): Module {
  const header = new ByteReader(bytes);
  if (bytes.length < MAGIC.length || MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new BytecodeFormatError("not DNBC bytecode: bad magic (expected the bytes \"DNBC\")");
  }
  header.position = MAGIC.length;
  const version = header.u16();
  if (!(READABLE_VERSIONS as readonly number[]).includes(version)) {
    throw new BytecodeFormatError(`unsupported DNBC format version ${version} (this decoder reads versions ${READABLE_VERSIONS.join(', ')})`);
  }

  const decoder = new Decoder();
  const order = [SECTION_STRINGS, SECTION_DATA, SECTION_FUNCTIONS, SECTION_MODULE];
  const module: Module = { functions: [], data: [], entry: "", trapHandler: "" };
  for (const expected of order) {
    const sectionStart = header.position;
    const id = header.byte();
    if (id !== expected) header.fail(`expected section ${expected}, found section id ${id}`, sectionStart);
    const length = header.uleb();
    if (length > bytes.length - header.position) header.fail(`truncated input (section ${id} declares ${length} bytes, ${bytes.length - header.position} left)`, sectionStart);
    const r = new ByteReader(bytes, header.position, header.position + length);
    switch (id) {
      case SECTION_STRINGS: decoder.readStrings(r); break;
      case SECTION_DATA: module.data = decoder.readData(r); break;
      case SECTION_FUNCTIONS: module.functions = decoder.readFunctions(r); break;
      case SECTION_MODULE:
        module.entry = decoder.string(r);
        module.trapHandler = decoder.string(r);
        if (version >= 2) {
          const count = r.uleb();
          const entries = [];
          for (let i = 0; i < count; i++) entries.push({ name: decoder.string(r), vector: r.uleb(), handler: decoder.string(r) });
          if (entries.length) module.interruptEntries = entries;
        }
        break;
    }
    if (!r.atEnd) r.fail(`section ${id} has ${header.position + length - r.position} unread bytes at its end`);
    header.position += length;
  }
  if (!header.atEnd) header.fail(`${bytes.length - header.position} trailing bytes after the last section`);

  checkModule(module);
  return module;
}

class Decoder {
  private strings: string[] = [];

  readStrings(r: ByteReader): void {
    const count = r.uleb();
    // ignoreBOM: a leading U+FEFF is part of the name (by default TextDecoder drops it, and two different
    // strings would decode to the same name)
    const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    for (let i = 0; i < count; i++) {
      const at = r.position;
      const raw = r.take(r.uleb());
      try {
        this.strings.push(utf8.decode(raw));
      } catch {
        r.fail(`string ${i} is not valid UTF-8`, at);
      }
    }
  }

  string(r: ByteReader): string {
    const at = r.position;
    const index = r.uleb();
    if (index >= this.strings.length) r.fail(`string index ${index} out of range (${this.strings.length} strings)`, at);
    return this.strings[index];
  }

  private location(r: ByteReader): SourceLocation {
    const file = this.string(r);
    const line = r.uleb();
    const column = r.uleb();
    return { file, line, column };
  }

  private flag(r: ByteReader, what: string): boolean {
    const at = r.position;
    const value = r.byte();
    if (value > 1) r.fail(`${what} flag must be 0 or 1, found ${value}`, at);
    return value === 1;
  }

  readData(r: ByteReader): DataSymbol[] {
    const count = r.uleb();
    const symbols: DataSymbol[] = [];
    for (let i = 0; i < count; i++) {
      const name = this.string(r);
      const at = r.position;
      const sectionIndex = r.byte();
      const section = DATA_SECTION_KINDS[sectionIndex];
      if (section === undefined) r.fail(`data symbol ${name}: unknown section kind ${sectionIndex}`, at);
      const align = r.uleb();
      const size = r.uleb();
      const symbol: DataSymbol = { name, section, align, size, relocations: [] };
      if (this.flag(r, "has-bytes")) symbol.bytes = r.take(r.uleb());
      const relocationCount = r.uleb();
      for (let j = 0; j < relocationCount; j++) {
        const offset = r.uleb();
        const target = this.string(r);
        const kindAt = r.position;
        const kindIndex = r.byte();
        const kind = RELOCATION_KINDS[kindIndex];
        if (kind === undefined) r.fail(`data symbol ${name}: unknown relocation kind ${kindIndex}`, kindAt);
        symbol.relocations.push({ offset, symbol: target, kind });
      }
      symbols.push(symbol);
    }
    return symbols;
  }

  readFunctions(r: ByteReader): Function[] {
    const count = r.uleb();
    const functions: Function[] = [];
    for (let i = 0; i < count; i++) functions.push(this.readFunction(r));
    return functions;
  }

  private readFunction(r: ByteReader): Function {
    const name = this.string(r);
    const flagsAt = r.position;
    const flags = r.byte();
    if (flags & ~(FUNCTION_RETURNS_VALUE | FUNCTION_HAS_LOCATION)) r.fail(`function ${name}: unknown flags ${hex(flags)}`, flagsAt);
    const params = r.uleb();
    const vregCount = r.uleb();
    const loc = flags & FUNCTION_HAS_LOCATION ? this.location(r) : undefined;
    const slots: FrameSlot[] = [];
    const slotCount = r.uleb();
    for (let i = 0; i < slotCount; i++) {
      const slotName = this.string(r);
      const size = r.uleb();
      const align = r.uleb();
      slots.push({ size, align, name: slotName });
    }
    const blocks: Block[] = [];
    const blockCount = r.uleb();
    for (let id = 0; id < blockCount; id++) blocks.push(this.readBlock(r, id, name));
    const func: Function = { name, params, returnsValue: (flags & FUNCTION_RETURNS_VALUE) !== 0, vregCount, slots, blocks };
    if (loc) func.loc = loc;
    return func;
  }

  private readBlock(r: ByteReader, id: number, functionName: string): Block {
    const loc = this.flag(r, "block location") ? this.location(r) : undefined;
    const instrs: Instr[] = [];
    const count = r.uleb();
    for (let i = 0; i < count; i++) instrs.push(this.readInstr(r, functionName));
    const term = this.readTerminator(r, functionName);
    const block: Block = { id, instrs, term };
    if (loc) block.loc = loc;
    return block;
  }

  private args(r: ByteReader): number[] {
    const count = r.uleb();
    const args: number[] = [];
    for (let i = 0; i < count; i++) args.push(r.uleb());
    return args;
  }

  private readInstr(r: ByteReader, functionName: string): Instr {
    const at = r.position;
    const opcode = r.byte();
    switch (opcode) {
      case OP_CONST: { const dst = r.uleb(); return { op: "const", dst, value: r.sleb() }; }
      case OP_COPY: { const dst = r.uleb(); return { op: "copy", dst, src: r.uleb() }; }
      case OP_SELECT: { const dst = r.uleb(), cond = r.uleb(), ifTrue = r.uleb(); return { op: "select", dst, cond, ifTrue, ifFalse: r.uleb() }; }
      case OP_GLOBAL_ADDRESS: { const dst = r.uleb(); return { op: "globalAddress", dst, symbol: this.string(r) }; }
      case OP_FUNCTION_ADDRESS: { const dst = r.uleb(); return { op: "functionAddress", dst, func: this.string(r) }; }
      case OP_SLOT_ADDRESS: { const dst = r.uleb(); return { op: "slotAddress", dst, slot: r.uleb() }; }
      case OP_CALL: case OP_CALL_VOID: {
        const dst = opcode === OP_CALL ? r.uleb() : null;
        const func = this.string(r);
        return { op: "call", dst, func, args: this.args(r) };
      }
      case OP_CALL_INDIRECT: case OP_CALL_INDIRECT_VOID: {
        const dst = opcode === OP_CALL_INDIRECT ? r.uleb() : null;
        const target = r.uleb();
        return { op: "callIndirect", dst, target, args: this.args(r) };
      }
      case OP_INTRINSIC: case OP_INTRINSIC_VOID: {
        const dst = opcode === OP_INTRINSIC ? r.uleb() : null;
        const nameAt = r.position;
        const number = r.byte();
        const name = INTRINSIC_NAMES[number];
        if (name === undefined) r.fail(`function ${functionName}: unknown intrinsic number ${number}`, nameAt);
        return { op: "intrinsic", dst, name, args: this.args(r) };
      }
      case OP_TRAP: {
        const kindAt = r.position;
        const kind = r.byte();
        if (kind >= TRAP_KIND_COUNT) r.fail(`function ${functionName}: unknown trap kind ${kind}`, kindAt);
        return { op: "trap", kind: kind as TrapKind };
      }
    }
    if (opcode >= OP_LOAD_BASE && opcode < OP_LOAD_BASE + LOAD_OPCODE_COUNT) {
      const index = opcode - OP_LOAD_BASE;
      const width = (1 << (index >> 1)) as Width;
      const dst = r.uleb();
      const address = r.uleb();
      return { op: "load", width, signed: (index & 1) === 0, dst, address, offset: r.sleb() };
    }
    if (opcode >= OP_STORE_BASE && opcode < OP_STORE_BASE + STORE_OPCODE_COUNT) {
      const width = (1 << (opcode - OP_STORE_BASE)) as Width;
      const address = r.uleb();
      const offset = r.sleb();
      return { op: "store", width, address, offset, value: r.uleb() };
    }
    if (opcode >= OP_BINARY_BASE && opcode < OP_BINARY_BASE + BINARY_OPS.length) {
      const dst = r.uleb();
      const a = r.uleb();
      return { op: "binary", kind: BINARY_OPS[opcode - OP_BINARY_BASE], dst, a, b: r.uleb() };
    }
    if (opcode >= OP_UNARY_BASE && opcode < OP_UNARY_BASE + UNARY_OPS.length) {
      const dst = r.uleb();
      return { op: "unary", kind: UNARY_OPS[opcode - OP_UNARY_BASE], dst, a: r.uleb() };
    }
    return r.fail(`function ${functionName}: unknown instruction opcode ${hex(opcode)}`, at);
  }

  private readTerminator(r: ByteReader, functionName: string): Terminator {
    const at = r.position;
    const opcode = r.byte();
    switch (opcode) {
      case TERM_JUMP: return { op: "jump", target: r.uleb() };
      case TERM_BRANCH: {
        const cond = r.uleb();
        const ifTrue = r.uleb();
        return { op: "branch", cond, ifTrue, ifFalse: r.uleb() };
      }
      case TERM_RETURN: return { op: "return", value: r.uleb() };
      case TERM_RETURN_VOID: return { op: "return", value: null };
      case TERM_UNREACHABLE: return { op: "unreachable" };
    }
    return r.fail(`function ${functionName}: unknown terminator opcode ${hex(opcode)}`, at);
  }
}
