// Contract: the .debug_line program of one compile unit (DWARF 4 §6.2): every instruction of its functions
// mapped to a TypeScript file, line and column. Requires: each function's line rows sorted by address,
// within [low, high). Guarantees: one sequence per function, from low to high; a row holds from its
// address to the next row's (several rows at one address: the last); every row is a statement (is_stmt),
// so a breakpoint on a line stops at its first instruction and `next` steps from line to line.

import { dirname, basename } from "node:path";
import type { ByteWriter } from "./dwarf-encoding.ts";
import type { CompileUnit } from "./dwarf.ts";

const LINE_VERSION = 4;
const LINE_BASE = -5, LINE_RANGE = 14, OPCODE_BASE = 13;
/** Operands of the standard opcodes 1..12 (DWARF 4 §6.2.5.2). */
const STANDARD_OPCODE_LENGTHS = [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1];
const DW_LNS_copy = 1, DW_LNS_advance_pc = 2, DW_LNS_advance_line = 3, DW_LNS_set_file = 4, DW_LNS_set_column = 5;
const DW_LNE_end_sequence = 1, DW_LNE_set_address = 2;

/** The files a unit's line program names: its own first (file 1), then every other its rows name. */
export function unitFiles(unit: CompileUnit): string[] {
  const files = new Set<string>([unit.file]);
  for (const f of unit.functions) for (const row of f.lines) files.add(row.loc.file);
  return [...files];
}

export function lineProgram(out: ByteWriter, unit: CompileUnit): void {
  const files = unitFiles(unit);
  const directories = [...new Set(files.map(f => dirname(f)))];
  out.unit(w => {
    w.u16(LINE_VERSION);
    const headerLengthAt = w.length;
    w.u32(0);
    const headerStart = w.length;
    w.u8(1).u8(1).u8(1); // minimum_instruction_length, maximum_operations_per_instruction, default_is_stmt
    w.u8(LINE_BASE & 0xff).u8(LINE_RANGE).u8(OPCODE_BASE);
    for (const n of STANDARD_OPCODE_LENGTHS) w.u8(n);
    for (const d of directories) w.cstring(d);
    w.u8(0);
    for (const f of files) w.cstring(basename(f)).uleb(directories.indexOf(dirname(f)) + 1).uleb(0).uleb(0);
    w.u8(0);
    w.patchU32(headerLengthAt, w.length - headerStart);
    for (const f of unit.functions) sequence(w, f, files);
  });
}

/** One function's rows: registers start at file 1, line 1, column 0 (DWARF 4 §6.2.2). */
function sequence(w: ByteWriter, f: CompileUnit["functions"][number], files: string[]): void {
  w.u8(0).uleb(5).u8(DW_LNE_set_address).u32(f.low);
  let address = f.low, file = 1, line = 1, column = 0;
  const rows = f.lines.filter((row, i) => row.address >= f.low && row.address < f.high
    && (i + 1 === f.lines.length || f.lines[i + 1].address !== row.address));
  if (rows.length === 0 || rows[0].address !== f.low) {
    const first = rows[0]?.loc ?? f.loc;
    if (first) rows.unshift({ address: f.low, loc: first });
  }
  for (const row of rows) {
    if (row.address < address) throw new Error(`dwarf: ${f.name}: line rows out of address order`);
    const rowFile = files.indexOf(row.loc.file) + 1;
    if (rowFile !== file) { w.u8(DW_LNS_set_file).uleb(rowFile); file = rowFile; }
    if (row.loc.column !== column) { w.u8(DW_LNS_set_column).uleb(row.loc.column); column = row.loc.column; }
    if (row.loc.line !== line) { w.u8(DW_LNS_advance_line).sleb(row.loc.line - line); line = row.loc.line; }
    if (row.address !== address) { w.u8(DW_LNS_advance_pc).uleb(row.address - address); address = row.address; }
    w.u8(DW_LNS_copy);
  }
  w.u8(DW_LNS_advance_pc).uleb(f.high - address);
  w.u8(0).uleb(1).u8(DW_LNE_end_sequence);
}
