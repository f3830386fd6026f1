// Contract: where each debug variable's value is (compiler/ir.ts DebugVariable), from the register allocation and
// the frame layout, as ranges of the function's emitted instructions; the linker writes them as DWARF locations
// (compiler/link/dwarf-info.ts).
// Requires: the allocation and the frame the function was lowered with (`homed`: the vregs with a home; all at
// -O0), and where each IR instruction's code starts. Guarantees: a register holds a variable only over its
// vreg's live ranges, one location range each (regalloc.ts: no other vreg has that register there; in the holes
// between them another may, and the variable, dead there, shows as optimized out), so the debugger never shows
// another value; a frame home is the vreg's alone and a constant never changes, so both hold over the whole
// function; a parameter is in its incoming argument word until the prologue has loaded it; a vreg with no
// lifetime has no range ("optimized out").

import type { Register } from "iced-x86";
import type { DebugVariable, Function as IrFunction, VReg } from "../ir.ts";
import type { Allocation } from "./regalloc.ts";
import { FRAME_BASE_BELOW_CFA, type FrameLayout } from "./frame.ts";
import type { AddressResolver } from "./context.ts";

/** A register, a word at `offset` from the CFA (the caller's esp), or a value known at link time. */
export type VariablePlace =
  | { kind: "register"; register: Register } | { kind: "frame"; offset: number } | { kind: "value"; value: number };

/** The place holds the variable from instruction `from` up to, not including, instruction `to`. */
interface VariableRange { from: number; to: number; place: VariablePlace }

export interface LoweredVariable { variable: DebugVariable; ranges: VariableRange[] }

/**
 * Where the code of each IR instruction starts, per block (the terminator's last), where the function's
 * code ends, and where its body starts (after the prologue).
 */
export interface InstructionIndices { blocks: number[][]; end: number; body: number }

export function variableHomes(
  f: IrFunction, alloc: Allocation, frame: FrameLayout, indices: InstructionIndices, start: number,
  addresses: AddressResolver, homed: ((v: VReg) => boolean) | undefined,
): LoweredVariable[] {
  const whole = (place: VariablePlace): VariableRange[] => [{ from: start, to: indices.end, place }];
  const inFrame = (v: VReg): VariablePlace => ({ kind: "frame", offset: frame.vregOffset(v) - FRAME_BASE_BELOW_CFA });
  const ranges = (v: VReg): VariableRange[] => {
    const constant = alloc.constants.get(v), address = alloc.addresses.get(v), register = alloc.registers.get(v);
    if (constant !== undefined) return whole({ kind: "value", value: constant });
    if (address !== undefined) {
      return whole({ kind: "value", value: (addresses.dataAddress(address.symbol) + address.offset) | 0 });
    }
    if (register === undefined) {
      return v < f.params || (homed?.(v) ?? true) ? whole(inFrame(v)) : [];
    }
    const live: VariableRange[] = [];
    const pieces = alloc.ranges[v];
    for (let i = 0; i < pieces.length; i += 2) {
      live.push({ from: pieces[i] < 0 ? indices.body : indexAt(alloc, indices, pieces[i], false),
        to: indexAt(alloc, indices, pieces[i + 1], true), place: { kind: "register", register } });
    }
    const arriving = v < f.params ? [{ from: start, to: indices.body, place: inFrame(v) }] : [];
    return [...arriving, ...live].filter(r => r.from < r.to);
  };
  return (f.variables ?? []).map(variable => ({ variable, ranges: ranges(variable.vreg) }));
}

/**
 * The instruction index of allocation position p (regalloc.ts: block b spans blockStart[b] .. the next
 * block's start - 1; instruction k reads at blockStart + 2k + 1 and defines at + 2k + 2; the terminator
 * reads at blockStart + 2n + 1). As a range's start, a definition takes effect after its instruction's
 * code; as a range's end (exclusive), a read holds through its instruction's code.
 */
function indexAt(alloc: Allocation, indices: InstructionIndices, p: number, end: boolean): number {
  let b = 0;
  while (b + 1 < alloc.blockStart.length && alloc.blockStart[b + 1] <= p) b++;
  const codeStarts = indices.blocks[b], k = p - alloc.blockStart[b];
  const blockEnd = b + 1 < indices.blocks.length ? indices.blocks[b + 1][0] : indices.end;
  const after = (j: number) => (j + 1 < codeStarts.length ? codeStarts[j + 1] : blockEnd);
  if (k === 0) return codeStarts[0];
  if (k % 2 === 0) return after(k / 2 - 1);
  return end ? after((k - 1) / 2) : codeStarts[(k - 1) / 2];
}
