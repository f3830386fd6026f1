// The swap disk's own format, one definition for the two sides that meet on it: the kernel, which swaps
// only to a disk that carries it (kernel-src/disk.ts), and the host tools that make swap images
// (tools/qemu.ts createSwapImage). Not the guest ABI (no VM sees the disk), but shared the same way.
// Sector 0 of a swap disk begins with SWAP_SIGNATURE (its ASCII bytes, no terminator); the rest of the
// disk's first page is never written (VM regions start at sector 8: kernel-src/vm.ts). A disk without it is
// never written: a PC booted from the stick swaps to one of its own disks only when someone marked that
// disk for it (docs/hardware.md "Disks"), as Linux swaps only to a partition mkswap prepared.

/** The first bytes of a swap disk. */
export const SWAP_SIGNATURE = "DENALI SWAP DISK";
