// VGA text-mode screen: 80x25 cells at 0xB8000, scrolling up at the bottom.
// A PC without a serial port still shows the console here.
// Cost contract: a scroll is O(one row), never a move of the screen. The screen's rows live in a
// shadow ring in RAM (logical row r at physical row (top + r) % ROWS); writes go to the shadow and
// straight through to the screen until a scroll makes the screen stale; vgaFlush then copies the
// shadow to the screen (two copies, 4,000 bytes) and moves the hardware cursor. So a burst of any number
// of lines costs one copy per flush, not one screen move per line (issue 11, item 6). console.ts
// flushes after each kernel line and after each batch of guest output. The BIOS (and GRUB, QEMU -kernel, Bochs)
// leave the adapter in mode 3: colour text, 80 columns, 25 rows.
// Reference: IBM VGA Technical Reference, "Text modes" and "CRT Controller Registers";
// FreeVGA (osdever.net/FreeVGA), "VGA Text Mode Operation" and "CRT Controller Registers".
import { bool, i32, u8, u16, u32, outb, store16, memoryCopy, addressOf } from "dsl";

/** Colour text modes map the frame buffer at physical 0xB8000 (mono modes use 0xB0000). */
const TEXT_BUFFER = 0xb8000;
const COLUMNS = 80;
const ROWS = 25;
const BYTES_PER_CELL = 2;        // byte 0: code point (code page 437), byte 1: attribute
const BYTES_PER_ROW = COLUMNS * BYTES_PER_CELL;

/** Attribute byte: bits 0-3 foreground, bits 4-6 background, bit 7 blink. 0x07: light grey on black. */
const ATTRIBUTE_LIGHT_GREY_ON_BLACK = 0x07;
const BLANK = 0x20;              // space

// CRT controller (colour I/O addresses): an index port and a data port.
const CRTC_INDEX = 0x3d4;
const CRTC_DATA = 0x3d5;
const CRTC_CURSOR_LOCATION_HIGH = 0x0e;  // cell index of the hardware cursor, bits 8-15
const CRTC_CURSOR_LOCATION_LOW = 0x0f;   // bits 0-7

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

// Invariant: 0 <= cursorRow < ROWS, 0 <= cursorColumn < COLUMNS and 0 <= top < ROWS between calls;
// when `stale` is false the screen equals the shadow in rows 0..cursorRow (below the cursor the
// screen is blank and the shadow is cleared as the cursor enters a row).
let cursorRow: i32 = 0;
let cursorColumn: i32 = 0;
const shadow = new Uint16Array(ROWS * COLUMNS);
let top: i32 = 0;
let stale = false;
let cursorMoved = false;
/** Set while a guest line is written (console.ts): a row it wraps onto starts with WRAP_INDENT blanks. */
let indentWraps = false;
const WRAP_INDENT = 2;

function cellAddress(row: i32, column: i32): u32 {
  return TEXT_BUFFER + u32(row * BYTES_PER_ROW + column * BYTES_PER_CELL);
}

/** The shadow index of logical row `row`, column `column`. */
function shadowIndex(row: i32, column: i32): i32 {
  let physical = top + row;
  if (physical >= ROWS) physical -= ROWS;
  return physical * COLUMNS + column;
}

const BLANK_CELL = BLANK | (ATTRIBUTE_LIGHT_GREY_ON_BLACK << 8);

function clearShadowRow(row: i32): void {
  const start = shadowIndex(row, 0);
  for (let i = start; i < start + COLUMNS; i++) shadow[i] = BLANK_CELL;
}

/** Moves the blinking hardware cursor to the next write position. */
function updateHardwareCursor(): void {
  const cell = cursorRow * COLUMNS + cursorColumn;
  outb(CRTC_INDEX, CRTC_CURSOR_LOCATION_HIGH);
  outb(CRTC_DATA, u8(cell >> 8));
  outb(CRTC_INDEX, CRTC_CURSOR_LOCATION_LOW);
  outb(CRTC_DATA, u8(cell));
}

/** Brings the screen up to date with the shadow (after scrolls) and moves the hardware cursor. */
export function vgaFlush(): void {
  if (stale) {
    const shadowAddress = addressOf(shadow);
    const upper = u32((ROWS - top) * BYTES_PER_ROW);
    memoryCopy(TEXT_BUFFER, shadowAddress + u32(top * BYTES_PER_ROW), upper);
    memoryCopy(TEXT_BUFFER + upper, shadowAddress, u32(top * BYTES_PER_ROW));
    stale = false;
  }
  if (cursorMoved) { updateHardwareCursor(); cursorMoved = false; }
}

/** True when the screen misses scrolls (a flush would copy the whole screen). */
export function vgaStale(): bool { return stale; }

/** Clears the screen and puts the cursor at the top left. */
export function vgaInit(): void {
  top = 0;
  clearShadowRow(0);                  // the shadow's other rows are cleared when the cursor enters them
  const end = cellAddress(1, 0);
  for (let at = TEXT_BUFFER; at < end; at += BYTES_PER_CELL) store16(at, BLANK_CELL);
  for (let row = 1; row < ROWS; row++) memoryCopy(cellAddress(row, 0), TEXT_BUFFER, BYTES_PER_ROW);
  cursorRow = 0;
  cursorColumn = 0;
  stale = false;
  cursorMoved = true;
  vgaFlush();
}

/** Starts a new line: a scroll at the bottom is one row of the shadow ring. */
function newLine(): void {
  cursorColumn = 0;
  if (cursorRow < ROWS - 1) { cursorRow++; clearShadowRow(cursorRow); return; }
  top = top === ROWS - 1 ? 0 : top + 1;
  clearShadowRow(ROWS - 1);
  stale = true;
}

/**
 * Writes one byte: \n starts a new line, \r returns to column 0, anything else is a glyph. The screen
 * shows it at once unless a scroll is pending (then at the next vgaFlush).
 */
export function vgaWriteByte(byte: u8): void {
  if (byte === NEWLINE) newLine();
  else if (byte === CARRIAGE_RETURN) cursorColumn = 0;
  else {
    const cell = u16(byte | (ATTRIBUTE_LIGHT_GREY_ON_BLACK << 8));
    shadow[shadowIndex(cursorRow, cursorColumn)] = cell;
    if (!stale) store16(cellAddress(cursorRow, cursorColumn), cell);
    cursorColumn++;
    if (cursorColumn === COLUMNS) {
      newLine();
      if (indentWraps) cursorColumn = WRAP_INDENT;
    }
  }
  cursorMoved = true;
}

/**
 * While on, a line that wraps at the right edge continues indented, so a long guest line never puts
 * text of its own at the start of a screen row (where it could pass for a kernel line).
 */
export function vgaIndentWraps(on: bool): void { indentWraps = on; }
