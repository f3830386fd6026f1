// expect: 8
// expect: 9
// expect: 3
// expect: 10
// expect: 204800
// expect: 4294967295
// expect: 524287
// expect: 51
// expect: 51
// expect: 20
// expect: 65
// expect: 128
// expect: -1
// A physical frame allocator over a bitmap of u32 words (one bit per 4 KiB frame), as a kernel
// keeps it: first-fit single frames, contiguous runs, free, and counts.
import { bool, i32, u32, print } from "dsl";

const FRAME_COUNT: i32 = 128;
const bitmap = new Uint32Array(4);

function isUsed(frame: i32): bool { return ((bitmap[frame >> 5] >>> (frame & 31)) & 1) !== 0; }
function markUsed(frame: i32): void { bitmap[frame >> 5] = bitmap[frame >> 5] | (1 << (frame & 31)); }
function markFree(frame: i32): void { bitmap[frame >> 5] = bitmap[frame >> 5] & ~(1 << (frame & 31)); }

function allocateFrame(): i32 {
  for (let w = 0; w < bitmap.length; w++) {
    const word: u32 = bitmap[w];
    if (word === 0xffffffff) continue;
    const free: i32 = ~word & (word + 1);
    let bit: i32 = 0;
    while (((free >>> bit) & 1) === 0) bit++;
    const frame: i32 = w * 32 + bit;
    markUsed(frame);
    return frame;
  }
  return -1;
}

function allocateRun(count: i32): i32 {
  let runStart: i32 = 0;
  let runLength: i32 = 0;
  for (let f = 0; f < FRAME_COUNT; f++) {
    if (isUsed(f)) {
      runLength = 0;
      runStart = f + 1;
      continue;
    }
    runLength++;
    if (runLength === count) {
      for (let k = runStart; k < runStart + count; k++) markUsed(k);
      return runStart;
    }
  }
  return -1;
}

function usedFrames(): i32 {
  let n: i32 = 0;
  for (let f = 0; f < FRAME_COUNT; f++) if (isUsed(f)) n++;
  return n;
}

function physicalAddress(frame: i32): u32 { return (frame << 12) >>> 0; }

export function main(): i32 {
  for (let f = 0; f < 8; f++) markUsed(f);
  print(allocateFrame());
  print(allocateFrame());
  markFree(3);
  print(allocateFrame());
  print(allocateRun(40));
  print(physicalAddress(allocateFrame()));
  print(bitmap[0]);
  print(bitmap[1]);
  print(usedFrames());
  for (let f = 20; f < 30; f++) markFree(f);
  print(allocateRun(12));
  print(allocateRun(10));
  let got: i32 = 0;
  while (allocateFrame() >= 0) got++;
  print(got);
  print(usedFrames());
  print(allocateRun(1));
  return 0;
}
