// Line and bar plots as PNG files without a plotting library, for the benchmarks (bench/web.ts: the paper's
// Figure 3; bench/plots.ts: the others). A bitmap (RGB) with lines, markers and text in a 5x7 pixel font,
// written as a PNG
// (RFC 2083 / the PNG specification: signature, IHDR, IDAT deflated with node:zlib, IEND; every row
// with filter type 0) by encodePng.
import { deflateSync } from 'node:zlib';

export type Rgb = [number, number, number];

export class Bitmap {
  readonly pixels: Uint8Array;
  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }
  get(x: number, y: number): Rgb {
    const at = (y * this.width + x) * 3;
    return [this.pixels[at], this.pixels[at + 1], this.pixels[at + 2]];
  }
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }
  /** A line `thickness` pixels wide; `dash` = [on, off] in pixels for a dashed one. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dash?: [number, number]): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thickness - 1) / 2;
    for (let k = 0; k <= steps; k++) {
      if (dash && k % (dash[0] + dash[1]) >= dash[0]) continue;
      const x = x0 + ((x1 - x0) * k) / steps, y = y0 + ((y1 - y0) * k) / steps;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.set(x + dx, y + dy, c);
    }
  }
  /**
   * Text in the 5x7 font (descenders 2 rows below) scaled by `scale`, its top-left corner at (x, y); returns its width.
   */
  text(x: number, y: number, s: string, c: Rgb, scale = 2): number {
    for (const [k, ch] of [...s].entries()) {
      const glyph = FONT[ch] ?? FONT['?'];
      for (let row = 0; row < glyph.length; row++) for (let col = 0; col < 5; col++) {
        if (glyph[row][col] === '#') this.fillRect(x + (k * 6 + col) * scale, y + row * scale, scale, scale, c);
      }
    }
    return textWidth(s, scale);
  }
  /** Text turned 90 degrees counter-clockwise (read bottom to top), its top-left corner at (x, y). */
  textUp(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    const w = textWidth(s, scale), h = 9 * scale;
    const tmp = new Bitmap(w, h, [0, 0, 0]);
    tmp.text(0, 0, s, [255, 255, 255], scale);
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) if (tmp.get(i, j)[0] === 255) this.set(x + j, y + (w - 1 - i), c);
  }
}

const textWidth = (s: string, scale = 2) => Math.max(0, [...s].length * 6 - 1) * scale;

// ---- PNG

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** The bitmap as a PNG: 8-bit RGB (colour type 2), no interlace. */
export function encodePng(b: Bitmap): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(b.width, 0);
  ihdr.writeUInt32BE(b.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);        // bit depth 8, RGB, deflate, adaptive filtering, no interlace
  const stride = b.width * 3;
  const raw = Buffer.alloc((stride + 1) * b.height);
  for (let y = 0; y < b.height; y++) raw.set(b.pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

// ---- line plots

interface Series { label: string; points: { x: number; y: number }[]; color: Rgb }
interface LinePlot {
  title: string; xLabel: string; yLabel: string;
  series: Series[];
  /** Horizontal reference lines (dashed), e.g. a peer's figure. */
  references?: { label: string; y: number; color: Rgb }[];
  logX?: boolean;
  width?: number; height?: number;
}

/** 1, 2 or 5 times a power of ten: tick spacing for about `count` ticks up to `max`. */
export function niceStep(max: number, count = 6): number {
  const raw = max / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map(m => m * p).find(s => s >= raw) ?? 10 * p;
}

const formatTick = (v: number) => (Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(Math.round(v * 100) / 100));

/** A second row of tick labels is this far below the first (the font is 18 pixels high at scale 2). */
const TICK_ROW = 18;
/** Space kept between two tick labels of one row, and between a label and the image's edge. */
const TICK_GAP = 8;

/**
 * Where each x tick's label goes: centred under its tick (`at`), moved inside the image, and in the second row
 * when it would touch the label before it in the first (500 and 1,000 on a log scale of VM counts).
 */
export function placeTickLabels(ticks: { at: number; width: number }[], imageWidth: number)
  : { x: number; row: number }[] {
  const ends = [-Infinity, -Infinity];
  return ticks.map(({ at, width }) => {
    const x = Math.max(TICK_GAP, Math.min(at - width / 2, imageWidth - TICK_GAP - width));
    const row = x >= ends[0] + TICK_GAP ? 0 : x >= ends[1] + TICK_GAP ? 1 : 0;
    ends[row] = x + width;
    return { x, row };
  });
}

export function plotLines(p: LinePlot): Buffer {
  const width = p.width ?? 960, height = p.height ?? 600;
  const b = new Bitmap(width, height);
  const black: Rgb = [0, 0, 0], grey: Rgb = [220, 220, 220];
  const left = 110, right = width - 30, top = 60, bottom = height - 80;
  const xs = p.series.flatMap(s => s.points.map(q => q.x));
  const ys = [...p.series.flatMap(s => s.points.map(q => q.y)), ...(p.references ?? []).map(r => r.y)];
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  // Headroom above the highest point for the legend (top right).
  const yStep = niceStep(Math.max(1, ...ys) * 1.3);
  const yMax = Math.ceil((Math.max(1, ...ys) * 1.3) / yStep) * yStep;
  const fx = (x: number) => p.logX
    ? left + ((Math.log10(x) - Math.log10(xMin)) / Math.max(1e-9, Math.log10(xMax) - Math.log10(xMin))) * (right - left)
    : left + ((x - xMin) / Math.max(1e-9, xMax - xMin)) * (right - left);
  const fy = (y: number) => bottom - (y / yMax) * (bottom - top);

  b.text((width - textWidth(p.title, 2)) / 2, 18, p.title, black, 2);
  // grid and y ticks
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    const py = fy(y);
    b.line(left, py, right, py, grey);
    const label = formatTick(y);
    b.text(left - 10 - textWidth(label, 2), py - 7, label, black, 2);
  }
  // x ticks at the data points (log scale) or evenly
  const xTicks = p.logX ? [...new Set(xs)].sort((a, c) => a - c) : Array.from({ length: 6 }, (_, k) => xMin + ((xMax - xMin) * k) / 5);
  const placed = placeTickLabels(xTicks.map(x => ({ at: fx(x), width: textWidth(formatTick(x), 2) })), width);
  xTicks.forEach((x, k) => {
    const px = fx(x);
    b.line(px, top, px, bottom, grey);
    b.line(px, bottom, px, bottom + 6, black);
    b.text(placed[k].x, bottom + 12 + placed[k].row * TICK_ROW, formatTick(x), black, 2);
  });
  b.line(left, top, left, bottom, black, 2);
  b.line(left, bottom, right, bottom, black, 2);
  b.text(left + (right - left - textWidth(p.xLabel, 2)) / 2, bottom + 52, p.xLabel, black, 2);
  b.textUp(6, top + (bottom - top - textWidth(p.yLabel, 2)) / 2, p.yLabel, black, 2);  // clear of "25,000"

  for (const r of p.references ?? []) b.line(left, fy(r.y), right, fy(r.y), r.color, 2, [10, 6]);
  for (const s of p.series) {
    const pts = [...s.points].sort((a, c) => a.x - c.x);
    for (let k = 1; k < pts.length; k++) b.line(fx(pts[k - 1].x), fy(pts[k - 1].y), fx(pts[k].x), fy(pts[k].y), s.color, 3);
    for (const q of pts) b.fillRect(fx(q.x) - 4, fy(q.y) - 4, 9, 9, s.color);
  }
  drawLegend(b, [...p.series.map(s => ({ label: s.label, color: s.color, dashed: false })),
    ...(p.references ?? []).map(r => ({ label: r.label, color: r.color, dashed: true }))], right, top);
  return encodePng(b);
}

/** A boxed legend on white, its top right corner at (right - 10, top + 10): a sample of each line, its label. */
function drawLegend(b: Bitmap, entries: { label: string; color: Rgb; dashed: boolean }[], right: number, top: number) {
  const black: Rgb = [0, 0, 0], dark: Rgb = [90, 90, 90];
  const legendWidth = 60 + Math.max(...entries.map(e => textWidth(e.label, 2)));
  const lx = right - legendWidth - 10, ly = top + 10;
  b.fillRect(lx - 8, ly - 8, legendWidth + 16, entries.length * 26 + 10, [255, 255, 255]);
  b.line(lx - 8, ly - 8, lx + legendWidth + 8, ly - 8, dark);
  b.line(lx - 8, ly + entries.length * 26 + 2, lx + legendWidth + 8, ly + entries.length * 26 + 2, dark);
  b.line(lx - 8, ly - 8, lx - 8, ly + entries.length * 26 + 2, dark);
  b.line(lx + legendWidth + 8, ly - 8, lx + legendWidth + 8, ly + entries.length * 26 + 2, dark);
  entries.forEach((e, k) => {
    const y = ly + k * 26 + 7;
    b.line(lx, y, lx + 44, y, e.color, e.dashed ? 2 : 3, e.dashed ? [10, 6] : undefined);
    if (!e.dashed) b.fillRect(lx + 18, y - 4, 9, 9, e.color);
    b.text(lx + 56, y - 7, e.label, black, 2);
  });
}

// ---- bar plots

interface BarPlot {
  title: string;
  /** What the bars measure (the axis along the bottom). */
  valueLabel: string;
  /** One group of bars a category, top to bottom, labelled on the left. */
  categories: string[];
  /** One bar of each group a series (values[k] for categories[k]); a legend when there are several. */
  series: { label: string; values: number[]; color: Rgb }[];
  /** Vertical reference lines (dashed), e.g. gcc's figure or the paper's. */
  references?: { label: string; value: number; color: Rgb }[];
  width?: number;
}

const BAR = 16, GROUP_GAP = 12;

/** Horizontal bars (long category names fit on the left), each with its value at its end; the height follows. */
export function plotBars(p: BarPlot): Buffer {
  const width = p.width ?? 960;
  const black: Rgb = [0, 0, 0], grey: Rgb = [220, 220, 220];
  const labelScale = Math.max(...p.categories.map(c => textWidth(c, 2))) > 320 ? 1 : 2;
  const left = 30 + Math.max(...p.categories.map(c => textWidth(c, labelScale))), right = width - 90;
  const entries = [...p.series.map(s => ({ label: s.label, color: s.color, dashed: false })),
    ...(p.references ?? []).map(r => ({ label: r.label, color: r.color, dashed: true }))];
  const legendHeight = entries.length > 1 ? entries.length * 26 + 20 : 0;
  const top = 60 + legendHeight;
  const group = p.series.length * BAR + GROUP_GAP;
  const bottom = top + p.categories.length * group + GROUP_GAP, height = bottom + 80;
  const b = new Bitmap(width, height);
  const values = [...p.series.flatMap(s => s.values), ...(p.references ?? []).map(r => r.value)];
  const step = niceStep(Math.max(1, ...values));
  const max = Math.ceil(Math.max(1, ...values) / step) * step;
  const fx = (v: number) => left + (v / max) * (right - left);

  b.text((width - textWidth(p.title, 2)) / 2, 18, p.title, black, 2);
  for (let v = 0; v <= max + 1e-9; v += step) {
    b.line(fx(v), top, fx(v), bottom, grey);
    const label = formatTick(v);
    b.text(fx(v) - textWidth(label, 2) / 2, bottom + 12, label, black, 2);
  }
  b.line(left, top, left, bottom, black, 2);
  b.line(left, bottom, right, bottom, black, 2);
  b.text(left + (right - left - textWidth(p.valueLabel, 2)) / 2, bottom + 42, p.valueLabel, black, 2);
  p.categories.forEach((category, k) => {
    const y0 = top + GROUP_GAP + k * group;
    b.text(left - 12 - textWidth(category, labelScale), y0 + (group - GROUP_GAP) / 2 - 4.5 * labelScale, category,
      black, labelScale);
    p.series.forEach((s, j) => {
      const y = y0 + j * BAR, v = s.values[k];
      b.fillRect(left + 1, y + 1, Math.max(0, fx(v) - left - 1), BAR - 3, s.color);
      b.text(fx(v) + 6, y + 1, formatTick(v), black, 1);
    });
  });
  for (const r of p.references ?? []) b.line(fx(r.value), top, fx(r.value), bottom, r.color, 2, [10, 6]);
  if (legendHeight) drawLegend(b, entries, width - 20, 40);
  return encodePng(b);
}

// ---- the font: 5x7 pixels a glyph, rows top to bottom, '#' set; g j p q y have two more rows below
// the baseline (descenders)

const G = (rows: string) => rows.split(' ');
export const FONT: Record<string, string[]> = {
  ' ': G('..... ..... ..... ..... ..... ..... .....'),
  '0': G('.###. #...# #..## #.#.# ##..# #...# .###.'),
  '1': G('..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.'),
  '2': G('.###. #...# ....# ...#. ..#.. .#... #####'),
  '3': G('####. ....# ....# .###. ....# ....# ####.'),
  '4': G('...#. ..##. .#.#. #..#. ##### ...#. ...#.'),
  '5': G('##### #.... ####. ....# ....# #...# .###.'),
  '6': G('..##. .#... #.... ####. #...# #...# .###.'),
  '7': G('##### ....# ...#. ..#.. .#... .#... .#...'),
  '8': G('.###. #...# #...# .###. #...# #...# .###.'),
  '9': G('.###. #...# #...# .#### ....# ...#. .##..'),
  'A': G('.###. #...# #...# ##### #...# #...# #...#'),
  'B': G('####. #...# #...# ####. #...# #...# ####.'),
  'C': G('.###. #...# #.... #.... #.... #...# .###.'),
  'D': G('###.. #..#. #...# #...# #...# #..#. ###..'),
  'E': G('##### #.... #.... ####. #.... #.... #####'),
  'F': G('##### #.... #.... ####. #.... #.... #....'),
  'G': G('.###. #...# #.... #.### #...# #...# .####'),
  'H': G('#...# #...# #...# ##### #...# #...# #...#'),
  'I': G('.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.'),
  'J': G('..### ...#. ...#. ...#. ...#. #..#. .##..'),
  'K': G('#...# #..#. #.#.. ##... #.#.. #..#. #...#'),
  'L': G('#.... #.... #.... #.... #.... #.... #####'),
  'M': G('#...# ##.## #.#.# #.#.# #...# #...# #...#'),
  'N': G('#...# #...# ##..# #.#.# #..## #...# #...#'),
  'O': G('.###. #...# #...# #...# #...# #...# .###.'),
  'P': G('####. #...# #...# ####. #.... #.... #....'),
  'Q': G('.###. #...# #...# #...# #.#.# #..#. .##.#'),
  'R': G('####. #...# #...# ####. #.#.. #..#. #...#'),
  'S': G('.#### #.... #.... .###. ....# ....# ####.'),
  'T': G('##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..'),
  'U': G('#...# #...# #...# #...# #...# #...# .###.'),
  'V': G('#...# #...# #...# #...# #...# .#.#. ..#..'),
  'W': G('#...# #...# #...# #.#.# #.#.# #.#.# .#.#.'),
  'X': G('#...# #...# .#.#. ..#.. .#.#. #...# #...#'),
  'Y': G('#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..'),
  'Z': G('##### ....# ...#. ..#.. .#... #.... #####'),
  'a': G('..... ..... .###. ....# .#### #...# .####'),
  'b': G('#.... #.... #.##. ##..# #...# #...# ####.'),
  'c': G('..... ..... .###. #.... #.... #...# .###.'),
  'd': G('....# ....# .##.# #..## #...# #...# .####'),
  'e': G('..... ..... .###. #...# ##### #.... .###.'),
  'f': G('..##. .#..# .#... ###.. .#... .#... .#...'),
  'g': G('..... ..... .#### #...# #...# #...# .#### ....# .###.'),
  'h': G('#.... #.... #.##. ##..# #...# #...# #...#'),
  'i': G('..#.. ..... .##.. ..#.. ..#.. ..#.. .###.'),
  'j': G('...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..'),
  'k': G('#.... #.... #..#. #.#.. ##... #.#.. #..#.'),
  'l': G('.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.'),
  'm': G('..... ..... ##.#. #.#.# #.#.# #...# #...#'),
  'n': G('..... ..... #.##. ##..# #...# #...# #...#'),
  'o': G('..... ..... .###. #...# #...# #...# .###.'),
  'p': G('..... ..... ####. #...# #...# #...# ####. #.... #....'),
  'q': G('..... ..... .#### #...# #...# #...# .#### ....# ....#'),
  'r': G('..... ..... #.##. ##..# #.... #.... #....'),
  's': G('..... ..... .###. #.... .###. ....# ####.'),
  't': G('.#... .#... ###.. .#... .#... .#..# ..##.'),
  'u': G('..... ..... #...# #...# #...# #..## .##.#'),
  'v': G('..... ..... #...# #...# #...# .#.#. ..#..'),
  'w': G('..... ..... #...# #...# #.#.# #.#.# .#.#.'),
  'x': G('..... ..... #...# .#.#. ..#.. .#.#. #...#'),
  'y': G('..... ..... #...# #...# #...# #...# .#### ....# .###.'),
  'z': G('..... ..... ##### ...#. ..#.. .#... #####'),
  '.': G('..... ..... ..... ..... ..... .##.. .##..'),
  ',': G('..... ..... ..... ..... .##.. ..#.. .#...'),
  ':': G('..... .##.. .##.. ..... .##.. .##.. .....'),
  ';': G('..... .##.. .##.. ..... .##.. ..#.. .#...'),
  '-': G('..... ..... ..... ##### ..... ..... .....'),
  '+': G('..... ..#.. ..#.. ##### ..#.. ..#.. .....'),
  '=': G('..... ..... ##### ..... ##### ..... .....'),
  '_': G('..... ..... ..... ..... ..... ..... #####'),
  '/': G('....# ....# ...#. ..#.. .#... #.... #....'),
  '(': G('...#. ..#.. .#... .#... .#... ..#.. ...#.'),
  ')': G('.#... ..#.. ...#. ...#. ...#. ..#.. .#...'),
  '[': G('.###. .#... .#... .#... .#... .#... .###.'),
  ']': G('.###. ...#. ...#. ...#. ...#. ...#. .###.'),
  '%': G('##... ##..# ...#. ..#.. .#... #..## ...##'),
  "'": G('.##.. ..#.. .#... ..... ..... ..... .....'),
  '"': G('.#.#. .#.#. .#.#. ..... ..... ..... .....'),
  '!': G('..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..'),
  '?': G('.###. #...# ....# ...#. ..#.. ..... ..#..'),
  '*': G('..... ..#.. #.#.# .###. #.#.# ..#.. .....'),
  '#': G('.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.'),
  '<': G('...#. ..#.. .#... #.... .#... ..#.. ...#.'),
  '>': G('.#... ..#.. ...#. ....# ...#. ..#.. .#...'),
  '@': G('.###. #...# ....# .##.# #.#.# #.#.# .###.'),
  '&': G('.##.. #..#. #.#.. .#... #.#.# #..#. .##.#'),
  '~': G('..... ..... .#... #.#.# ...#. ..... .....'),
  '|': G('..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..'),
};
