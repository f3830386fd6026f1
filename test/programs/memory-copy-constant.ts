// expect: 0
// expect: 0
// targets: interp qemu
// memoryCopy with constant lengths (the x86 back end's immediate-count form: a struct, a trap frame)
// 1, 2, 3, 4, 5, 7, 8, 13, 16 and 76 bytes, at source and destination offsets 0..7 without overlap and
// overlapping in both directions at distances 1..9, each checked byte by byte against a byte loop.
// Prints the mismatches without overlap, then with.
import { i32, u32, print, addressOf, memoryCopy } from "dsl";

const area = new Uint8Array(256);
const model = new Uint8Array(256);
const LENGTHS = 10;

function reset(): void {
  for (let i = 0; i < 256; i++) { area[i] = (i * 53 + 7) & 0xff; model[i] = area[i]; }
}

function differences(): u32 {
  let wrong: u32 = 0;
  for (let i = 0; i < 256; i++) if (area[i] !== model[i]) wrong++;
  return wrong;
}

function modelCopy(dst: i32, src: i32, length: i32): void {
  if (dst <= src) { for (let i = 0; i < length; i++) model[dst + i] = model[src + i]; return; }
  for (let i = length - 1; i >= 0; i--) model[dst + i] = model[src + i];
}

/** Copies with the `which`-th constant length (a literal at each call); returns the length. */
function copyConstant(dst: u32, src: u32, which: i32): i32 {
  switch (which) {
    case 0: memoryCopy(dst, src, 1); return 1;
    case 1: memoryCopy(dst, src, 2); return 2;
    case 2: memoryCopy(dst, src, 3); return 3;
    case 3: memoryCopy(dst, src, 4); return 4;
    case 4: memoryCopy(dst, src, 5); return 5;
    case 5: memoryCopy(dst, src, 7); return 7;
    case 6: memoryCopy(dst, src, 8); return 8;
    case 7: memoryCopy(dst, src, 13); return 13;
    case 8: memoryCopy(dst, src, 16); return 16;
  }
  memoryCopy(dst, src, 76);
  return 76;
}

export function main(): i32 {
  const base: u32 = addressOf(area);
  let copies: u32 = 0, overlaps: u32 = 0;
  for (let which = 0; which < LENGTHS; which++) {
    for (let at = 0; at < 8; at++) {
      for (let to = 0; to < 8; to++) {
        reset();
        const length = copyConstant(base + u32(to) + 128, base + u32(at), which);
        modelCopy(to + 128, at, length);
        copies += differences();
      }
      for (let distance = 1; distance <= 9; distance++) {
        reset();
        const length = copyConstant(base + u32(at + distance) + 16, base + u32(at) + 16, which);
        modelCopy(at + distance + 16, at + 16, length);
        overlaps += differences();
        reset();
        copyConstant(base + u32(at) + 16, base + u32(at + distance) + 16, which);
        modelCopy(at + 16, at + distance + 16, length);
        overlaps += differences();
      }
    }
  }
  print(copies);
  print(overlaps);
  return 0;
}
