// Contract: the encoding shared by the DWARF sections (compiler/link/dwarf.ts): a little-endian byte writer with
// LEB128 (DWARF 4 §7.6) and 32-bit units, the .debug_str table, and the i386 DWARF register numbers (System V
// i386 psABI, "DWARF Register Number Mapping"). Requires nothing; guarantees bytes exactly as written.

import { Register } from "iced-x86";

export const PRODUCER = "Denali/TS compiler (TypeScript subset, compiler/link/dwarf.ts)";

/** Little-endian bytes, LEB128 (DWARF 4 §7.6) and patches of words written earlier. */
export class ByteWriter {
  private bytes: number[] = [];
  get length(): number { return this.bytes.length; }
  u8(v: number): this { this.bytes.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v).u8(v >>> 8); }
  u32(v: number): this { return this.u16(v & 0xffff).u16(v >>> 16); }
  uleb(v: number): this {
    if (v < 0) throw new Error(`dwarf: uleb128 of ${v}`);
    do { const b = v % 128; v = Math.floor(v / 128); this.u8(v > 0 ? b | 0x80 : b); } while (v > 0);
    return this;
  }
  sleb(v: number): this {
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.u8(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this { for (const b of Buffer.from(s, "utf8")) this.u8(b); return this.u8(0); }
  append(other: ByteWriter | Uint8Array): this {
    for (const b of other instanceof ByteWriter ? other.bytes : other) this.bytes.push(b);
    return this;
  }
  patchU32(at: number, v: number): void {
    for (let i = 0; i < 4; i++) this.bytes[at + i] = (v >>> (8 * i)) & 0xff;
  }
  /** A unit: its 32-bit length, then what `body` writes (the length counts the bytes after itself). */
  unit(body: (w: this) => void): this {
    const at = this.length;
    this.u32(0);
    body(this);
    this.patchU32(at, this.length - at - 4);
    return this;
  }
  toBytes(): Uint8Array { return Uint8Array.from(this.bytes); }
}

/** .debug_str: each string once; DW_FORM_strp gives its offset. */
export class StringSection {
  readonly writer = new ByteWriter();
  private offsets = new Map<string, number>();
  offset(s: string): number {
    let at = this.offsets.get(s);
    if (at === undefined) { at = this.writer.length; this.offsets.set(s, at); this.writer.cstring(s); }
    return at;
  }
}

/** DWARF register numbers of i386 (the psABI's table): eax ecx edx ebx esp ebp esi edi, eip the return address. */
const DWARF_REGISTERS = new Map<Register, number>([
  [Register.EAX, 0], [Register.ECX, 1], [Register.EDX, 2], [Register.EBX, 3],
  [Register.ESP, 4], [Register.EBP, 5], [Register.ESI, 6], [Register.EDI, 7],
]);
export const DWARF_EIP = 8;

export function dwarfRegister(r: Register): number {
  const n = DWARF_REGISTERS.get(r);
  if (n === undefined) throw new Error(`dwarf: register ${r} has no DWARF number`);
  return n;
}

