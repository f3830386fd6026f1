// Contract: the -O0 frame layout of one IR function: where each vreg and each frame slot lives relative to ebp.
//
//   [ebp + 8 + 4*i]   parameter i = vreg i (cdecl: the callee owns its argument area and may overwrite it)
//   [ebp + 4]         return address
//   [ebp + 0]         caller's ebp
//   [ebp - 4*(k+1)]   vreg params+k (every other vreg: one 4-byte home each)
//   below             frame slots (Function.slots), each aligned to its `align` (at most 16)
//   [ebp - size]      = esp after the prologue, 16-byte aligned; at -O2 the lowest `outgoing` bytes are
//                     the outgoing argument area: calls store their arguments at [esp + 4*i]
//
// Stack alignment invariant: esp is 16-byte aligned at every `call` instruction, so at a function's
// entry esp = 12 (mod 16) and after `push ebp` ebp = 8 (mod 16). Slot offsets are chosen so that
// (ebp - offset) is a multiple of the slot's alignment, and the frame size is 8 (mod 16).

import type { Function as IrFunction, VReg } from "../ir.ts";

export const MAX_SLOT_ALIGN = 16;
const EBP_MOD_16 = 8; // ebp mod 16 after the prologue, by the invariant above

export interface FrameLayout {
  /** ebp-relative displacement of the save area word of each saved callee-saved register. */
  saveOffsets: number[];
  /** ebp-relative displacement of each vreg's home. */
  vregOffset: (v: VReg) => number;
  /** ebp-relative displacement of each frame slot (its lowest byte). */
  slotOffsets: number[];
  /** Bytes the prologue subtracts from esp (8 mod 16). */
  size: number;
  /** Bytes of the outgoing argument area at the bottom of the frame ([esp, esp + outgoing)); 0: calls push. */
  outgoing: number;
}

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** `savedRegisters` words right below ebp hold the callee-saved registers the function uses. */
export function layoutFrame(f: IrFunction, savedRegisters = 0, outgoing = 0): FrameLayout {
  const params = f.params;
  const save = 4 * savedRegisters;
  let below = save + 4 * Math.max(0, f.vregCount - params); // bytes used below ebp
  const slotOffsets: number[] = [];
  for (const slot of f.slots) {
    const align = Math.max(1, slot.align);
    if (align > MAX_SLOT_ALIGN || (align & (align - 1)) !== 0) {
      throw new Error(`x86 frame: ${f.name}: slot '${slot.name}' alignment ${slot.align} is not a power of two <= ${MAX_SLOT_ALIGN}`);
    }
    // want (ebp - below) % align == 0  <=>  below = ebp (mod align) = EBP_MOD_16 % align
    const bias = EBP_MOD_16 % align;
    below = alignUp(below + slot.size - bias, align) + bias;
    slotOffsets.push(-below);
  }
  const size = alignUp(below + outgoing - EBP_MOD_16, 16) + EBP_MOD_16; // ebp - size = 0 (mod 16)
  const vregOffset = (v: VReg): number => {
    if (v < 0 || v >= f.vregCount) throw new Error(`x86 frame: ${f.name}: vreg ${v} out of range 0..${f.vregCount - 1}`);
    return v < params ? 8 + 4 * v : -save - 4 * (v - params + 1);
  };
  const saveOffsets = Array.from({ length: savedRegisters }, (_, i) => -4 * (i + 1));
  return { vregOffset, slotOffsets, size, saveOffsets, outgoing };
}
