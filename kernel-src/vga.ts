// VGA text-mode screen: 80x25 cells at 0xB8000, written directly, scrolling up at the bottom.
// A PC without a serial port still shows the console here. The BIOS (and GRUB, QEMU -kernel, Bochs)
// leave the adapter in mode 3: colour text, 80 columns, 25 rows.
// Reference: IBM VGA Technical Reference, "Text modes" and "CRT Controller Registers";
// FreeVGA (osdever.net/FreeVGA), "VGA Text Mode Operation" and "CRT Controller Registers".
import { i32, u8, u16, u32, outb, store16, memoryCopy } from "dsl";

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

// Invariant: 0 <= cursorRow < ROWS and 0 <= cursorColumn < COLUMNS between calls.
let cursorRow: i32 = 0;
let cursorColumn: i32 = 0;

function cellAddress(row: i32, column: i32): u32 {
  return TEXT_BUFFER + u32(row * BYTES_PER_ROW + column * BYTES_PER_CELL);
}

const BLANK_CELL = BLANK | (ATTRIBUTE_LIGHT_GREY_ON_BLACK << 8);

function clearRow(row: i32): void {
  const end = cellAddress(row + 1, 0);
  for (let at = cellAddress(row, 0); at < end; at += BYTES_PER_CELL) store16(at, BLANK_CELL);
}

/** Moves the blinking hardware cursor to the next write position. */
function updateHardwareCursor(): void {
  const cell = cursorRow * COLUMNS + cursorColumn;
  outb(CRTC_INDEX, CRTC_CURSOR_LOCATION_HIGH);
  outb(CRTC_DATA, u8(cell >> 8));
  outb(CRTC_INDEX, CRTC_CURSOR_LOCATION_LOW);
  outb(CRTC_DATA, u8(cell));
}

/** Clears the screen and puts the cursor at the top left. */
export function vgaInit(): void {
  clearRow(0);
  for (let row = 1; row < ROWS; row++) memoryCopy(cellAddress(row, 0), TEXT_BUFFER, BYTES_PER_ROW);
  cursorRow = 0;
  cursorColumn = 0;
  updateHardwareCursor();
}

/** Moves every row up by one and blanks the bottom row. */
function scrollUp(): void {
  memoryCopy(TEXT_BUFFER, TEXT_BUFFER + BYTES_PER_ROW, (ROWS - 1) * BYTES_PER_ROW);
  clearRow(ROWS - 1);
}

function newLine(): void {
  cursorColumn = 0;
  if (cursorRow === ROWS - 1) scrollUp();
  else cursorRow++;
}

/** Writes one byte: \n starts a new line, \r returns to column 0, anything else is a glyph. */
export function vgaWriteByte(byte: u8): void {
  if (byte === NEWLINE) newLine();
  else if (byte === CARRIAGE_RETURN) cursorColumn = 0;
  else {
    store16(cellAddress(cursorRow, cursorColumn), u16(byte | (ATTRIBUTE_LIGHT_GREY_ON_BLACK << 8)));
    cursorColumn++;
    if (cursorColumn === COLUMNS) newLine();
  }
  updateHardwareCursor();
}
