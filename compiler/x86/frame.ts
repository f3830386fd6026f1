// Contract: the -O0 frame layout of one IR function: where each vreg and each frame slot lives relative to ebp.
//
//   [ebp + 8 + 4*i]   parameter i = vreg i (cdecl: the callee owns its argument area and may overwrite it)
//   [ebp + 4]         return address
//   [ebp + 0]         caller's ebp
//   [ebp - 4*(k+1)]   the k-th vreg with a home (every non-parameter vreg at -O0; at -O2 only those
//                     the allocator left in memory, so frames stay small and displacements short)
//   below             frame slots (Function.slots), each aligned to its `align` (at most 16)
//   [ebp - size]      = esp after the prologue, 16-byte aligned; at -O2 the lowest `outgoing` bytes are
//                     the outgoing argument area: calls store their arguments at [esp + 4*i]
//
// Stack alignment invariant: esp is 16-byte aligned at every `call` instruction, so at a function's
// entry esp = 12 (mod 16) and after `push ebp` ebp = 8 (mod 16). Slot offsets are chosen so that
// (ebp - offset) is a multiple of the slot's alignment, and the frame size is 8 (mod 16).

import type { Function as IrFunction, VReg } from "../ir.ts";

const MAX_SLOT_ALIGN = 16;
/**
 * The frame base (ebp, or in a function without a frame pointer where `push ebp` would have put the
 * caller's ebp) lies 8 bytes below the CFA, the caller's esp before its call: the debugger's frame base.
 */
export const FRAME_BASE_BELOW_CFA = 8;
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

/** What a frame holds besides the function's slots. */
interface FrameOptions {
  /** Words right below ebp for the callee-saved registers the function uses (default 0). */
  savedRegisters?: number;
  /** Bytes of the outgoing argument area (default 0: calls push their arguments). */
  outgoing?: number;
  /** The non-parameter vregs that get a home (default: all of them). */
  homed?: (v: VReg) => boolean;
  /**
   * The homes lie right above the outgoing argument area, below the slots (a function without a frame
   * pointer, which addresses its frame from esp: their esp displacements stay short, disp8).
   */
  homesAtBottom?: boolean;
}

/** The frame of `f`: from ebp down, the saved registers, the homes and the slots, then the outgoing area. */
export function layoutFrame(f: IrFunction, options: FrameOptions = {}): FrameLayout {
  const { savedRegisters = 0, outgoing = 0, homed = () => true, homesAtBottom = false } = options;
  const params = f.params;
  const save = 4 * savedRegisters;
  const homeIndex = new Int32Array(f.vregCount).fill(-1);
  let homes = 0;
  for (let v = params; v < f.vregCount; v++) if (homed(v)) homeIndex[v] = homes++;
  let below = save + (homesAtBottom ? 0 : 4 * homes); // bytes used below ebp
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
  if (homesAtBottom) below += 4 * homes;
  const size = alignUp(below + outgoing - EBP_MOD_16, 16) + EBP_MOD_16; // ebp - size = 0 (mod 16)
  const homeBase = homesAtBottom ? -size + outgoing + 4 * homes : -save; // the homes lie below homeBase
  const vregOffset = (v: VReg): number => {
    if (v < 0 || v >= f.vregCount) throw new Error(`x86 frame: ${f.name}: vreg ${v} out of range 0..${f.vregCount - 1}`);
    if (v < params) return 8 + 4 * v;
    if (homeIndex[v] < 0) throw new Error(`x86 frame: ${f.name}: vreg ${v} has no home (it lives in a register or is a constant)`);
    return homeBase - 4 * (homeIndex[v] + 1);
  };
  const saveOffsets = Array.from({ length: savedRegisters }, (_, i) => -4 * (i + 1));
  return { vregOffset, slotOffsets, size, saveOffsets, outgoing };
}
