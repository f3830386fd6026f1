// Tables that grow with the number of VMs (the VM table, the swap wait ring) live in frames, not in the
// kernel image: a kernel runs abi/boot.ts VM_LIMIT VMs, but one without a manifest (or with ten VMs)
// should not pay for them (the timer pool, indexed on every tick, is one run of frames instead:
// timer.ts). Such a table is a directory, a Uint32Array of frame addresses: element i, of 1 << shift
// bytes, is at frame i >> (PAGE_SHIFT - shift), offset (i & mask) << shift.
// frameArrayGrow allocates (zeroed) the frames that elements [have, want) need.
// Invariants: the directory's entries below frameArrayFrames(have, shift) are allocated frames; frames
// are never given back (the tables only grow, when VMs are created).
import { bool, u32, memoryFill } from "dsl";
import { PAGE_SIZE, PAGE_SHIFT, FRAME_NONE, allocFrame } from "./frames.ts";

/**
 * The address of element `i` (of 1 << `shift` bytes) of the table whose directory is `frames` (a hot
 * path writes the same with constant shifts: vm.ts vmAt).
 */
export function frameArrayAt(frames: Uint32Array, i: u32, shift: u32): u32 {
  const perFrameShift = u32(PAGE_SHIFT) - shift;
  return frames[i >>> perFrameShift] + ((i & ((u32(1) << perFrameShift) - 1)) << shift);
}

/** Frames the first `count` elements of 1 << `shift` bytes take. */
export function frameArrayFrames(count: u32, shift: u32): u32 {
  const perFrameShift = u32(PAGE_SHIFT) - shift;
  return (count + (u32(1) << perFrameShift) - 1) >>> perFrameShift;
}

/**
 * Makes room for elements [have, want): allocates and zeroes the frames they need beyond those of the
 * first `have`. False when the directory is too short or memory runs out (the frames allocated so far
 * stay, so a later call with the same `have` takes them over again; nothing leaks).
 */
export function frameArrayGrow(frames: Uint32Array, have: u32, want: u32, shift: u32): bool {
  const needed = frameArrayFrames(want, shift);
  if (needed > u32(frames.length)) return false;
  for (let f = frameArrayFrames(have, shift); f < needed; f++) {
    if (frames[f] !== FRAME_NONE) continue;
    const frame = allocFrame();
    if (frame === FRAME_NONE) return false;
    memoryFill(frame, 0, PAGE_SIZE);
    frames[f] = frame;
  }
  return true;
}
