// Contract: what the tests know of a valid PNG as bench/plot.ts writes it (8-bit RGB, no interlace, one IDAT):
// parsePng asserts the signature, the chunk sequence IHDR IDAT IEND, every chunk's CRC (crc32 is checked
// against known values in test/tools/web-bench.test.ts) and an IDAT that inflates to one filtered row a line,
// and returns the size and the raw rows; colouredPixels counts the pixels that are not a shade of grey.
import type { ExecutionContext } from 'ava';
import { inflateSync } from 'node:zlib';
import { crc32, PNG_SIGNATURE } from '../../bench/plot.ts';

/** Checks the chunk structure and returns { width, height, raw } (raw = the inflated IDAT). */
export function parsePng(t: ExecutionContext, png: Buffer): { width: number; height: number; raw: Buffer } {
  t.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  let at = 8;
  const chunks: { type: string; data: Buffer }[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at), type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    t.is(png.readUInt32BE(at + 8 + length), crc32(png.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunks.push({ type, data });
    at += 12 + length;
  }
  t.deepEqual(chunks.map(c => c.type), ['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0].data;
  t.is(ihdr.length, 13);
  t.deepEqual([...ihdr.subarray(8)], [8, 2, 0, 0, 0]);
  const width = ihdr.readUInt32BE(0), height = ihdr.readUInt32BE(4);
  const raw = inflateSync(chunks[1].data);
  t.is(raw.length, (width * 3 + 1) * height);
  return { width, height, raw };
}

/** The pixels of parsePng's rows whose red, green and blue differ (drawn in a colour, not black, white or grey). */
export function colouredPixels({ width, height, raw }: { width: number; height: number; raw: Buffer }): number {
  let coloured = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const at = y * (width * 3 + 1) + 1 + x * 3;
    if (raw[at] !== raw[at + 1] || raw[at + 1] !== raw[at + 2]) coloured++;
  }
  return coloured;
}
