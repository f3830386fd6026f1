// expect: 0
// expect: 0
// expect: 0
// targets: interp qemu
// memoryCopy and memoryFill at every length 0..40, source and destination offsets 0..7 (all word
// alignments), overlapping in both directions at distances 1..9: each result is checked byte by byte
// against a byte loop. Prints the mismatches of fill, of copy without overlap, of overlapping copy.
import { i32, u32, print, addressOf, load8, store8, memoryCopy, memoryFill } from "dsl";

const area = new Uint8Array(128);
const model = new Uint8Array(128);

function reset(): void {
  for (let i = 0; i < 128; i++) { area[i] = (i * 37 + 11) & 0xff; model[i] = area[i]; }
}

function differences(): u32 {
  let wrong: u32 = 0;
  for (let i = 0; i < 128; i++) if (area[i] !== model[i]) wrong++;
  return wrong;
}

/** memmove on `model` one byte at a time, in the safe direction. */
function modelCopy(dst: i32, src: i32, length: i32): void {
  if (dst <= src) { for (let i = 0; i < length; i++) model[dst + i] = model[src + i]; return; }
  for (let i = length - 1; i >= 0; i--) model[dst + i] = model[src + i];
}

export function main(): i32 {
  const base: u32 = addressOf(area);
  let fills: u32 = 0, copies: u32 = 0, overlaps: u32 = 0;
  for (let length = 0; length <= 40; length++) {
    for (let at = 0; at < 8; at++) {
      reset();
      const value = (length & 1) === 0 ? 0xaa : 0x80 + at;
      memoryFill(base + u32(at) + 8, u32(value), u32(length));
      for (let i = 0; i < length; i++) model[at + 8 + i] = value;
      fills += differences();
      for (let to = 0; to < 8; to++) {
        reset();
        memoryCopy(base + u32(to) + 64, base + u32(at), u32(length));
        modelCopy(to + 64, at, length);
        copies += differences();
      }
      for (let distance = 1; distance <= 9; distance++) {
        reset();
        memoryCopy(base + u32(at + distance) + 16, base + u32(at) + 16, u32(length));
        modelCopy(at + distance + 16, at + 16, length);
        overlaps += differences();
        reset();
        memoryCopy(base + u32(at) + 16, base + u32(at + distance) + 16, u32(length));
        modelCopy(at + 16, at + distance + 16, length);
        overlaps += differences();
      }
    }
  }
  print(fills);
  print(copies);
  print(overlaps);
  store8(base, load8(base));
  return 0;
}
