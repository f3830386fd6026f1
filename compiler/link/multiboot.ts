// Contract: the 12-byte multiboot v1 header (data, not instructions) that QEMU -kernel and GRUB look for in the image's
// first 8 KiB.
//
// Multiboot Specification 0.6.96, section 3.1.1: magic 0x1BADB002, flags, checksum such that
// magic + flags + checksum = 0 (mod 2^32). Flags: bit 0 = align boot modules on 4 KiB pages,
// bit 1 = pass memory information. Bit 16 (load addresses in the header) is deliberately not set:
// the loader then takes the layout from the ELF program headers.

export const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_PAGE_ALIGN = 1 << 0;
const MULTIBOOT_MEMORY_INFO = 1 << 1;

export function multibootHeader(flags = MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MULTIBOOT_MAGIC, true);
  view.setUint32(4, flags, true);
  view.setUint32(8, (-(MULTIBOOT_MAGIC + flags)) >>> 0, true);
  return bytes;
}
