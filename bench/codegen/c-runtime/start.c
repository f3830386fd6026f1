// The runtime of the C COMPARISON builds of bench/codegen/ (gcc -m32 -O2 -ffreestanding -fno-pic
// -nostdlib, linked at 1 MiB by link.ld). It mirrors dsl/runtime/program.ts: a multiboot header, a
// stack, COM1 output (the line status register polled before each byte), print_u32/print_i32, and the
// same exit protocol ("\x01EXIT n" on the serial line, then isa-debug-exit on port 0xf4).
// The project's own code never uses C or assembly: this file exists only to measure gcc against us.
#include "runtime.h"

// Multiboot v1 header: magic, flags (0: no extra requests; ELF image), checksum. Placed first by link.ld.
struct multiboot_header { uint32_t magic, flags, checksum; };
__attribute__((section(".multiboot"), aligned(4), used))
static const struct multiboot_header multiboot_header = { 0x1BADB002u, 0u, (uint32_t)-(0x1BADB002u + 0u) };

// 1 MiB of stack, like our programs (tools/build.ts PROGRAM_STACK_SIZE); _start names its end.
__attribute__((aligned(16), used)) uint8_t c_stack[1 << 20];

int main(void);
void c_start(void);

// Entry from the boot loader (32-bit protected mode, interrupts off): a stack, then c_start.
__attribute__((naked, noreturn)) void _start(void) {
  __asm__("mov $c_stack + 0x100000, %esp\n\tcall c_start");
}

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" :: "a"(value), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3f8
static void serial_write(int byte) {
  while ((inb(COM1 + 5) & 0x20) == 0) {}
  outb(COM1, (uint8_t)byte);
}

static void serial_init(void) {
  outb(COM1 + 1, 0x00); outb(COM1 + 3, 0x80); outb(COM1 + 0, 0x01); outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); outb(COM1 + 2, 0xc7); outb(COM1 + 4, 0x03);
}

void print_u32(uint32_t x) {
  uint8_t digits[12]; int n = 0;
  do { digits[n++] = (uint8_t)(48 + x % 10); x /= 10; } while (x != 0);
  while (n > 0) serial_write(digits[--n]);
  serial_write(10);
}

void print_i32(int32_t x) {
  if (x < 0) { serial_write(45); print_u32(0u - (uint32_t)x); }
  else print_u32((uint32_t)x);
}

static void write_string(const char *s) { while (*s) serial_write(*s++); }

__attribute__((noreturn)) void c_start(void) {
  serial_init();
  int status = main() & 255;
  serial_write(1);
  write_string("EXIT ");
  uint8_t digits[4]; int n = 0;
  do { digits[n++] = (uint8_t)(48 + status % 10); status /= 10; } while (status != 0);
  while (n > 0) serial_write(digits[--n]);
  serial_write(10);
  outb(0xf4, 0);
  for (;;) __asm__ volatile("cli; hlt");
}
