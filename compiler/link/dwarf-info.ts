// Contract: .debug_info, .debug_abbrev, .debug_str, .debug_loc and .debug_ranges (DWARF 4 §7.5, §2.6, §2.17):
// per source file a compile unit with its types, and a subprogram DIE per function (low/high pc, the CFA as
// frame base) holding its parameters and locals. Requires: compile units whose functions are sorted by address,
// the offset of each unit's line program. Guarantees: every DIE's attributes use one shared abbreviation
// table; a variable held in one place over its whole function has a location expression, one that moves
// (a register over its live interval only) a location list, one held nowhere no location ("optimized out").
//
// DWARF has no language code for TypeScript: the units say C99, whose expression syntax gdb then accepts
// (`print frame.eax` follows the reference, as gdb does for any pointer to a structure).

import { dirname } from "node:path";
import type { DebugStruct, DebugType } from "../ir.ts";
import type { VariablePlace } from "../x86/debug-info.ts";
import { ByteWriter, StringSection, PRODUCER, dwarfRegister } from "./dwarf-encoding.ts";
import type { CompileUnit, DebugFunction } from "./dwarf.ts";
import { unitFiles } from "./dwarf-line.ts";

const DWARF_VERSION = 4, ADDRESS_SIZE = 4, DW_LANG_C99 = 0x0c;
const TAG = {
  array: 0x01, member: 0x0d, pointer: 0x0f, compileUnit: 0x11, structure: 0x13, subrange: 0x21, baseType: 0x24,
  subprogram: 0x2e, parameter: 0x05, variable: 0x34,
} as const;
const AT = {
  location: 0x02, name: 0x03, byteSize: 0x0b, stmtList: 0x10, lowPc: 0x11, highPc: 0x12, language: 0x13,
  compDir: 0x1b, count: 0x37, memberLocation: 0x38, declFile: 0x3a, declLine: 0x3b, external: 0x3f, frameBase: 0x40,
  producer: 0x25, encoding: 0x3e, type: 0x49, ranges: 0x55,
} as const;
const FORM = {
  addr: 0x01, data2: 0x05, data4: 0x06, data1: 0x0b, strp: 0x0e, udata: 0x0f, ref4: 0x13, secOffset: 0x17,
  exprloc: 0x18, flagPresent: 0x19,
} as const;
const ATE = { boolean: 0x02, signed: 0x05, unsigned: 0x07, unsignedChar: 0x08 } as const;
const OP = { reg0: 0x50, fbreg: 0x91, consts: 0x11, stackValue: 0x9f, callFrameCfa: 0x9c } as const;

type Attribute = [at: number, form: number];

/** The abbreviations (DWARF 4 §7.5.3): one code per distinct tag, children flag and attribute list. */
class Abbreviations {
  readonly writer = new ByteWriter();
  private codes = new Map<string, number>();
  code(tag: number, children: boolean, attributes: Attribute[]): number {
    const key = `${tag}/${children}/${attributes.join(";")}`;
    let code = this.codes.get(key);
    if (code === undefined) {
      code = this.codes.size + 1;
      this.codes.set(key, code);
      this.writer.uleb(code).uleb(tag).u8(children ? 1 : 0);
      for (const [at, form] of attributes) this.writer.uleb(at).uleb(form);
      this.writer.u8(0).u8(0);
    }
    return code;
  }
  toBytes(): Uint8Array { return new ByteWriter().append(this.writer).u8(0).toBytes(); }
}

interface Sections { abbrev: Abbreviations; str: StringSection; loc: ByteWriter; ranges: ByteWriter }

export function debugInfo(units: CompileUnit[], lineOffsets: number[], structs: DebugStruct[]):
  { info: Uint8Array; abbrev: Uint8Array; str: Uint8Array; loc: Uint8Array; ranges: Uint8Array } {
  const s: Sections = {
    abbrev: new Abbreviations(), str: new StringSection(), loc: new ByteWriter(), ranges: new ByteWriter(),
  };
  const structByName = new Map(structs.map(d => [d.name, d]));
  const info = new ByteWriter();
  units.forEach((unit, i) => compileUnit(info, s, unit, lineOffsets[i], structByName));
  return { info: info.toBytes(), abbrev: s.abbrev.toBytes(), str: s.str.writer.toBytes(), loc: s.loc.toBytes(),
    ranges: s.ranges.toBytes() };
}

function compileUnit(
  out: ByteWriter, s: Sections, unit: CompileUnit, lineOffset: number, structs: Map<string, DebugStruct>,
): void {
  const files = unitFiles(unit);
  const rangesOffset = s.ranges.length;
  for (const f of unit.functions) s.ranges.u32(f.low).u32(f.high);
  s.ranges.u32(0).u32(0);
  const unitStart = out.length;
  out.unit(w => {
    w.u16(DWARF_VERSION).u32(0).u8(ADDRESS_SIZE); // one abbreviation table, at offset 0
    w.uleb(s.abbrev.code(TAG.compileUnit, true, [[AT.producer, FORM.strp], [AT.language, FORM.data2],
      [AT.name, FORM.strp], [AT.compDir, FORM.strp], [AT.lowPc, FORM.addr], [AT.ranges, FORM.secOffset],
      [AT.stmtList, FORM.secOffset]]));
    w.u32(s.str.offset(PRODUCER)).u16(DW_LANG_C99).u32(s.str.offset(unit.file)).u32(s.str.offset(dirname(unit.file)));
    w.u32(0).u32(rangesOffset).u32(lineOffset); // low_pc 0: ranges and location lists hold absolute addresses
    const types = new UnitTypes(w, s, structs, () => w.length - unitStart);
    for (const f of unit.functions) for (const v of f.variables) types.declare(v.variable.type);
    for (const f of unit.functions) subprogram(w, s, f, files, types);
    w.u8(0);
  });
}

/** The unit's type DIEs, each written once before the subprograms that name it; refs are unit-relative (ref4). */
class UnitTypes {
  private offsets = new Map<string, number>();
  constructor(
    private w: ByteWriter, private s: Sections, private structs: Map<string, DebugStruct>, private here: () => number,
  ) {}

  /** The DIE of t (written now if new, after the DIEs it refers to). */
  declare(t: DebugType | null): number {
    const key = t === null ? "void*" : t.kind === "struct" ? `struct ${t.name}` : JSON.stringify(t);
    const known = this.offsets.get(key);
    if (known !== undefined) return known;
    const { w, s } = this;
    const name = (n: string) => w.u32(s.str.offset(n));
    let at: number;
    if (t === null) {
      at = this.here();
      w.uleb(s.abbrev.code(TAG.pointer, false, [[AT.byteSize, FORM.data1]])).u8(ADDRESS_SIZE);
    } else if (t.kind === "pointer") {
      const to = t.to === null ? null : this.declare(t.to);
      at = this.here();
      if (to === null) w.uleb(s.abbrev.code(TAG.pointer, false, [[AT.byteSize, FORM.data1]])).u8(ADDRESS_SIZE);
      else {
        w.uleb(s.abbrev.code(TAG.pointer, false, [[AT.byteSize, FORM.data1], [AT.type, FORM.ref4]]));
        w.u8(ADDRESS_SIZE).u32(to);
      }
    } else if (t.kind === "array") {
      const element = this.declare(t.element);
      at = this.here();
      w.uleb(s.abbrev.code(TAG.array, true, [[AT.type, FORM.ref4]])).u32(element);
      w.uleb(s.abbrev.code(TAG.subrange, false, [[AT.count, FORM.udata]])).uleb(t.length);
      w.u8(0);
    } else if (t.kind === "struct") {
      const def = this.structs.get(t.name);
      if (!def) throw new Error(`dwarf: no struct '${t.name}' in the module's debug structs`);
      const fieldTypes = def.fields.map(f => this.declare(f.type));
      at = this.here();
      w.uleb(s.abbrev.code(TAG.structure, true, [[AT.name, FORM.strp], [AT.byteSize, FORM.udata]]));
      name(def.name).uleb(def.size);
      def.fields.forEach((f, i) => {
        w.uleb(s.abbrev.code(TAG.member, false,
          [[AT.name, FORM.strp], [AT.type, FORM.ref4], [AT.memberLocation, FORM.udata]]));
        name(f.name).u32(fieldTypes[i]).uleb(f.offset);
      });
      w.u8(0);
    } else {
      at = this.here();
      const [typeName, encoding, size] = baseType(t);
      w.uleb(s.abbrev.code(TAG.baseType, false,
        [[AT.name, FORM.strp], [AT.encoding, FORM.data1], [AT.byteSize, FORM.data1]]));
      name(typeName).u8(encoding).u8(size);
    }
    this.offsets.set(key, at);
    return at;
  }
}

function baseType(t: Extract<DebugType, { kind: "int" | "bool" | "char" }>): [string, number, number] {
  if (t.kind === "bool") return ["bool", ATE.boolean, 1];
  if (t.kind === "char") return ["char", ATE.unsignedChar, 1];
  return [`${t.signed ? "i" : "u"}${t.bits}`, t.signed ? ATE.signed : ATE.unsigned, t.bits / 8];
}

function subprogram(w: ByteWriter, s: Sections, f: DebugFunction, files: string[], types: UnitTypes): void {
  const decl: Attribute[] = f.loc ? [[AT.declFile, FORM.udata], [AT.declLine, FORM.udata]] : [];
  w.uleb(s.abbrev.code(TAG.subprogram, true, [[AT.name, FORM.strp], ...decl, [AT.lowPc, FORM.addr],
    [AT.highPc, FORM.data4], [AT.frameBase, FORM.exprloc], [AT.external, FORM.flagPresent]]));
  w.u32(s.str.offset(f.name));
  if (f.loc) w.uleb(files.indexOf(f.loc.file) + 1).uleb(f.loc.line);
  w.u32(f.low).u32(f.high - f.low);
  w.uleb(1).u8(OP.callFrameCfa); // the frame base: the CFA (.debug_frame), homes are CFA-relative
  for (const { variable, ranges } of f.variables) {
    const tag = variable.parameter ? TAG.parameter : TAG.variable;
    const head: Attribute[] = [[AT.name, FORM.strp], [AT.type, FORM.ref4]];
    const where: Attribute[] = variable.loc ? [[AT.declFile, FORM.udata], [AT.declLine, FORM.udata]] : [];
    const whole = ranges.length === 1 && ranges[0].low === f.low && ranges[0].high === f.high;
    const location: Attribute[] = ranges.length === 0 ? [] : [[AT.location, whole ? FORM.exprloc : FORM.secOffset]];
    w.uleb(s.abbrev.code(tag, false, [...head, ...where, ...location]));
    w.u32(s.str.offset(variable.name)).u32(types.declare(variable.type));
    if (variable.loc) w.uleb(Math.max(1, files.indexOf(variable.loc.file) + 1)).uleb(variable.loc.line);
    if (ranges.length === 0) continue;
    if (whole) {
      const expression = locationExpression(ranges[0].place);
      w.uleb(expression.length).append(expression);
      continue;
    }
    w.u32(s.loc.length);
    for (const r of ranges) {
      const expression = locationExpression(r.place);
      s.loc.u32(r.low).u32(r.high).u16(expression.length).append(expression);
    }
    s.loc.u32(0).u32(0);
  }
  w.u8(0);
}

/** DWARF 4 §2.5, §2.6: a register, a word at an offset from the frame base (the CFA), or a value. */
function locationExpression(place: VariablePlace): Uint8Array {
  const e = new ByteWriter();
  if (place.kind === "register") e.u8(OP.reg0 + dwarfRegister(place.register));
  else if (place.kind === "frame") e.u8(OP.fbreg).sleb(place.offset);
  else e.u8(OP.consts).sleb(place.value).u8(OP.stackValue);
  return e.toBytes();
}
