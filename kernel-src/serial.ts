// COM1 serial port driver: a 16550-compatible UART, 115200 baud, 8N1. Output is polled; input raises
// IRQ 4 once serialEnableReceiveInterrupt is called (the shell, on the `console` command-line word).
// Register map and bits: National Semiconductor PC16550D datasheet, section 8 "Registers"
// (Table II, "Summary of Registers"). Offsets are from the port's base address.
import { bool, i32, u8, inb, outb } from "dsl";

/** COM1's I/O base on every PC (BIOS data area word 0x400; IBM PC/AT Technical Reference). */
const COM1 = 0x3f8;

// Register offsets (PC16550D Table II). With DLAB = 1, offsets 0 and 1 are the divisor latch.
const TRANSMIT_HOLDING = 0;      // THR (write, DLAB = 0)
const RECEIVE_BUFFER = 0;        // RBR (read, DLAB = 0)
const INTERRUPT_ENABLE = 1;      // IER (DLAB = 0)
const DIVISOR_LOW = 0;           // DLL (DLAB = 1)
const DIVISOR_HIGH = 1;          // DLM (DLAB = 1)
const FIFO_CONTROL = 2;          // FCR (write)
const LINE_CONTROL = 3;          // LCR
const MODEM_CONTROL = 4;         // MCR
const LINE_STATUS = 5;           // LSR

// Line Control Register bits (PC16550D, "Line Control Register").
const LCR_WORD_LENGTH_8 = 0x03;  // bits 0-1 = 11: 8 data bits; bit 2 = 0: one stop bit; bit 3 = 0: no parity
const LCR_DIVISOR_LATCH = 0x80;  // bit 7: DLAB, divisor latch access

// Baud rate (PC16550D, "Programmable Baud Generator"): divisor = clock / (16 * baud);
// the PC's 1.8432 MHz crystal gives 115200 baud with divisor 1.
const BAUD_DIVISOR = 1;

// FIFO Control Register bits (PC16550D, "FIFO Control Register").
const FCR_ENABLE = 0x01;         // bit 0: enable both FIFOs
const FCR_CLEAR_RECEIVE = 0x02;  // bit 1: clear receive FIFO
const FCR_CLEAR_TRANSMIT = 0x04; // bit 2: clear transmit FIFO
const FCR_TRIGGER_14 = 0xc0;     // bits 6-7 = 11: receive interrupt at 14 bytes

// Modem Control Register bits (PC16550D, "Modem Control Register").
const MCR_DATA_TERMINAL_READY = 0x01;
const MCR_REQUEST_TO_SEND = 0x02;
const MCR_OUT2 = 0x08;           // OUT2: on the PC it gates the UART's interrupt line to the 8259 (IRQ 4)

// Interrupt Enable Register bits (PC16550D, "Interrupt Enable Register").
const IER_RECEIVED_DATA_AVAILABLE = 0x01;

// Line Status Register bits (PC16550D, "Line Status Register").
const LSR_DATA_READY = 0x01;     // bit 0: DR, a received byte waits in RBR (or the FIFO)
const LSR_TRANSMIT_EMPTY = 0x20; // bit 5: THRE, the transmitter holding register can take a byte

/** Programs COM1 for 115200 baud 8N1 with FIFOs and no interrupts. */
export function serialInit(): void {
  outb(COM1 + INTERRUPT_ENABLE, 0x00);
  outb(COM1 + LINE_CONTROL, LCR_DIVISOR_LATCH);
  outb(COM1 + DIVISOR_LOW, BAUD_DIVISOR & 0xff);
  outb(COM1 + DIVISOR_HIGH, BAUD_DIVISOR >> 8);
  outb(COM1 + LINE_CONTROL, LCR_WORD_LENGTH_8);
  outb(COM1 + FIFO_CONTROL, FCR_ENABLE | FCR_CLEAR_RECEIVE | FCR_CLEAR_TRANSMIT | FCR_TRIGGER_14);
  outb(COM1 + MODEM_CONTROL, MCR_DATA_TERMINAL_READY | MCR_REQUEST_TO_SEND);
}

/** Raises IRQ 4 whenever received data is available (the trigger level, or a character timeout). */
export function serialEnableReceiveInterrupt(): void {
  outb(COM1 + MODEM_CONTROL, MCR_DATA_TERMINAL_READY | MCR_REQUEST_TO_SEND | MCR_OUT2);
  outb(COM1 + INTERRUPT_ENABLE, IER_RECEIVED_DATA_AVAILABLE);
}

/** The next received byte, or -1 when none is waiting. Reading RBR clears the interrupt. */
export function serialReadByte(): i32 {
  if ((inb(COM1 + LINE_STATUS) & LSR_DATA_READY) === 0) return -1;
  return i32(inb(COM1 + RECEIVE_BUFFER));
}

/** True when the transmitter is empty: with the FIFO on, 16 bytes can be written without waiting. */
export function serialTransmitReady(): bool { return (inb(COM1 + LINE_STATUS) & LSR_TRANSMIT_EMPTY) !== 0; }

/** Sends one byte, polling LSR first: Bochs (and a real UART) drops bytes written while THR is full. */
export function serialWriteByte(byte: u8): void {
  while ((inb(COM1 + LINE_STATUS) & LSR_TRANSMIT_EMPTY) === 0) {}
  outb(COM1 + TRANSMIT_HOLDING, byte);
}
