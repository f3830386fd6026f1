// Contract: debugSections(input) -> the DWARF 4 sections of an image (DWARF Debugging Information Format,
// Version 4, 2010: §6.2 line numbers, §7.5 .debug_info, §6.4 call frame information): .debug_line,
// .debug_info, .debug_abbrev, .debug_str, .debug_loc, .debug_ranges and .debug_frame, as bytes for
// sections that are never loaded (elf.ts ElfInfoSection). Requires: each function's code range, its line
// rows, frame rows and variable ranges as addresses (link/index.ts turns the back end's instruction indices
// into addresses). Guarantees: every function has a DIE in the compile unit of its source file and line
// rows for its whole code; nothing here changes a byte of the loaded image.
//
// The sections: dwarf-line.ts, dwarf-info.ts, dwarf-frame.ts; their encoding: dwarf-encoding.ts.

import type { DebugStruct, DebugVariable, SourceLocation } from "../ir.ts";
import type { CallFrameRow } from "../x86/emitter.ts";
import type { VariablePlace } from "../x86/debug-info.ts";
import type { ElfInfoSection } from "./elf.ts";
import { ByteWriter } from "./dwarf-encoding.ts";
import { lineProgram } from "./dwarf-line.ts";
import { debugInfo } from "./dwarf-info.ts";
import { callFrameInformation } from "./dwarf-frame.ts";

/** A function of the image as the debugger sees it: [low, high) of .text, every index already an address. */
export interface DebugFunction {
  name: string;
  low: number;
  high: number;
  loc?: SourceLocation;
  lines: { address: number; loc: SourceLocation }[];
  frame: { address: number; row: CallFrameRow }[];
  variables: { variable: DebugVariable; ranges: { low: number; high: number; place: VariablePlace }[] }[];
}

interface DebugInput { functions: DebugFunction[]; structs: DebugStruct[] }

/** One source file's functions: a compile unit and its line program. */
export interface CompileUnit { file: string; functions: DebugFunction[] }

/** Functions grouped by the source file they were declared in (those without one by the file of their lines). */
function compileUnits(functions: DebugFunction[]): CompileUnit[] {
  const units = new Map<string, DebugFunction[]>();
  for (const f of [...functions].sort((a, b) => a.low - b.low)) {
    const file = f.loc?.file ?? f.lines[0]?.loc.file;
    if (file === undefined || f.high <= f.low) continue;
    units.set(file, [...(units.get(file) ?? []), f]);
  }
  return [...units].map(([file, fs]) => ({ file, functions: fs }));
}

export function debugSections(input: DebugInput): ElfInfoSection[] {
  const units = compileUnits(input.functions);
  const line = new ByteWriter();
  const lineOffsets = units.map(unit => { const at = line.length; lineProgram(line, unit); return at; });
  const info = debugInfo(units, lineOffsets, input.structs);
  return [
    { name: ".debug_info", bytes: info.info },
    { name: ".debug_abbrev", bytes: info.abbrev },
    { name: ".debug_line", bytes: line.toBytes() },
    { name: ".debug_str", bytes: info.str },
    { name: ".debug_loc", bytes: info.loc },
    { name: ".debug_ranges", bytes: info.ranges },
    { name: ".debug_frame", bytes: callFrameInformation(input.functions) },
  ];
}
