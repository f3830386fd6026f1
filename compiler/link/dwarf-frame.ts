// Contract: .debug_frame (DWARF 4 §6.4): one CIE, and an FDE per function with frame rows, so the debugger
// unwinds every frame without a frame pointer. Requires: each function's frame rows (x86/emitter.ts
// CallFrameRow) as addresses in [low, high). Guarantees: from each row's address on, the CFA rule, the
// return address (at CFA - 4), ebp and every saved register follow the row; `_start` has no caller (its
// return address is undefined, ending the backtrace there) and neither has a row whose esp is not known;
// an interrupt entry's caller is the interrupted code, its registers in the stub's frame, its esp the
// CFA + 8 (same privilege) or the word there (from ring 3: cs & 3 != 0, SDM Vol. 3A §6.12.1).

import { Register } from "iced-x86";
import type { CallFrameRow } from "../x86/emitter.ts";
import { ByteWriter, DWARF_EIP, dwarfRegister } from "./dwarf-encoding.ts";
import type { DebugFunction } from "./dwarf.ts";

const CIE_VERSION = 1, DATA_ALIGNMENT = -4;
const CFA = {
  advanceLoc: 0x40, offset: 0x80, restore: 0xc0, advanceLoc1: 0x02, advanceLoc2: 0x03, advanceLoc4: 0x04,
  undefined: 0x07, defCfa: 0x0c, valExpression: 0x16,
} as const;
const OP = { dup: 0x12, deref: 0x06, lit3: 0x33, and: 0x1a, bra: 0x28, plusUconst: 0x23, skip: 0x2f } as const;
const ESP = dwarfRegister(Register.ESP), EBP = dwarfRegister(Register.EBP);

/**
 * The interrupted esp, with the CFA pushed first (DWARF 4 §6.4.2.3): cs is at CFA + 0, eflags at + 4; from
 * ring 3 the CPU also pushed esp, at CFA + 8; at the same privilege esp was CFA + 8 itself.
 */
const INTERRUPTED_ESP = [
  OP.dup, OP.deref, OP.lit3, OP.and, OP.bra, 5, 0, // cs & 3 != 0: from ring 3
  OP.plusUconst, 8, OP.skip, 3, 0,
  OP.plusUconst, 8, OP.deref,
];

export function callFrameInformation(functions: DebugFunction[]): Uint8Array {
  const out = new ByteWriter();
  out.unit(w => {
    w.u32(0xffffffff).u8(CIE_VERSION).u8(0); // CIE id, version, no augmentation
    w.uleb(1).sleb(DATA_ALIGNMENT).u8(DWARF_EIP);
    w.u8(CFA.defCfa).uleb(ESP).uleb(4);          // at a call's target: CFA = esp + 4
    w.u8(CFA.offset | DWARF_EIP).uleb(1);        // the return address at CFA - 4
    pad(w);
  });
  for (const f of [...functions].sort((a, b) => a.low - b.low)) {
    if (f.frame.length === 0 || f.high <= f.low) continue;
    out.unit(w => {
      w.u32(0).u32(f.low).u32(f.high - f.low); // the CIE at offset 0
      rows(w, f);
      pad(w);
    });
  }
  return out.toBytes();
}

/** The rules that change at each row (DW_CFA_nop pads the entry to a multiple of 4). */
function rows(w: ByteWriter, f: DebugFunction): void {
  let address = f.low;
  let cfa = `${ESP}+4`, returnKnown = true;
  let saved = new Map<number, number>();
  if (f.frame[0].row.interrupted) {
    w.u8(CFA.valExpression).uleb(ESP).uleb(INTERRUPTED_ESP.length).append(Uint8Array.from(INTERRUPTED_ESP));
  }
  for (const { address: at, row } of f.frame) {
    if (at > address) { advance(w, at - address); address = at; }
    const known = !row.outermost && (row.base !== Register.ESP || !Number.isNaN(row.cfa));
    if (known !== returnKnown) {
      if (known) w.u8(CFA.offset | DWARF_EIP).uleb(1); else w.u8(CFA.undefined).uleb(DWARF_EIP);
      returnKnown = known;
    }
    const [register, offset] = row.base === Register.ESP ? [ESP, row.cfa + 4]
      : [dwarfRegister(row.base), row.baseOffset];
    if (known && `${register}+${offset}` !== cfa) {
      w.u8(CFA.defCfa).uleb(register).uleb(offset);
      cfa = `${register}+${offset}`;
    }
    const now = savedRegisters(row);
    for (const [r, off] of now) if (saved.get(r) !== off) w.u8(CFA.offset | r).uleb(-off / 4);
    for (const r of saved.keys()) if (!now.has(r)) w.u8(CFA.restore | r);
    saved = now;
  }
}

/** The caller's registers this row keeps in the frame: DWARF number -> offset from the CFA. */
function savedRegisters(row: CallFrameRow): Map<number, number> {
  const saved = new Map<number, number>();
  for (const [r, offset] of row.saved) saved.set(dwarfRegister(r), offset);
  if (row.ebpSaved && !saved.has(EBP)) saved.set(EBP, -8); // at [esp + cfa - 4]: 8 below the CFA
  return saved;
}

function advance(w: ByteWriter, delta: number): void {
  if (delta < 64) w.u8(CFA.advanceLoc | delta);
  else if (delta < 0x100) w.u8(CFA.advanceLoc1).u8(delta);
  else if (delta < 0x10000) w.u8(CFA.advanceLoc2).u16(delta);
  else w.u8(CFA.advanceLoc4).u32(delta);
}

function pad(w: ByteWriter): void { while (w.length % 4 !== 0) w.u8(0); }
