// The guest ABI's machine and boot (docs/virtual-architecture.md "The machine a VM sees", "Boot
// information"): where a VM's memory starts, what the registers hold at its entry and the layout of
// the boot-information page, as ONE struct. The kernel fills the page through an overlay of BootInfo
// (kernel-src/vm.ts), the guest runtime reads it through one (guest-src/runtime/boot.ts), and host
// tools ask the compiler for its layout (tools/abi.ts): no list of offsets exists anywhere else.
import { i32, u8, u16, u32 } from "dsl";

/** The ABI's version, the boot page's first field: a guest refuses a page of another version. */
export const ABI_VERSION: u32 = 1;
/** eax at a VM's entry: "DNLI". */
export const GUEST_MAGIC: u32 = 0x444e4c49;
/** Every VM's memory starts here; guest images are linked at this address (tools/build.ts buildGuest). */
export const GUEST_BASE: u32 = 0x40000000;
/**
 * The selectors a VM runs with, flat ring-3 segments (kernel-src/gdt.ts): cs, and ds es fs gs ss. The GDT
 * holds the kernel's code and data just below (0x08, 0x10), the order SYSENTER and SYSEXIT assume.
 */
export const USER_CODE_SELECTOR: u32 = 0x18 | 3;
export const USER_DATA_SELECTOR: u32 = 0x20 | 3;

/** The first byte of every VM's MAC: bit 1 set = locally administered, bit 0 clear = unicast (IEEE 802). */
export const MAC_PREFIX_BYTE0 = 0x02;

/** The bytes of a MAC address. */
export const MAC_BYTES = 6;

/**
 * The most VMs one kernel runs (BootInfo.vmCount <= it; a manifest may ask no more: tools/manifest.ts):
 * 2^17, ten times the paper's 10,000 and more, most of them swapped out (kernel-src/swap.ts). A VM id
 * fits in the 24 bits of a MAC address after its prefix.
 */
export const VM_LIMIT: u32 = 131072;

/**
 * The kernel's VM table (kernel-src/vm.ts): slots of 2^VM_SLOT_SHIFT bytes, 2^VMS_PER_FRAME_SHIFT to a
 * 4 KiB frame; the debugger's helpers read it too (tools/debug.ts).
 */
export const VM_SLOT_SHIFT: u32 = 8;
export const VMS_PER_FRAME_SHIFT: u32 = 4;

/**
 * The boot-information page at ebx (the last page of the VM's memory), little-endian. Laid out by C
 * rules (dsl/README.md "Structs": fields in order, natural alignment); the offsets that gives are in
 * docs/virtual-architecture.md's table, which test/abi/abi.test.ts checks against the compiler.
 */
export class BootInfo {
  abiVersion: u32 = 0;        // ABI_VERSION
  vmId: u32 = 0;              // 0 .. vmCount-1
  vmCount: u32 = 0;           // VMs the kernel runs
  memoryBase: u32 = 0;        // GUEST_BASE
  memorySize: u32 = 0;        // bytes of memory of this VM
  mac = new Uint8Array(6);    // MAC_BYTES (a field's length is a literal): macByteOfVm(vmId, 0..5)
  reserved: u16 = 0;
  ipAddress: u32 = 0;         // IPv4, network byte order
  netmask: u32 = 0;           // network byte order
  gateway: u32 = 0;           // network byte order (0: none)
  imageId: u32 = 0;           // which image (group) of the manifest
  argument: u32 = 0;          // the manifest's argument for this group
  // The profile (kernel-src/profile.ts, `-append profile`; bench/request.ts): zero unless profiling.
  profileOn: u32 = 0;         // kernel: 1 when the kernel profiles (the guest then counts its own too)
  profileLeft: u32 = 0;       // kernel: TSC (low 32 bits) when the VM last left ring 3
  profileAway: u32 = 0;       // kernel: TSC cycles (mod 2^32) the VM spent out of ring 3, to its last return
  profileRequests: u32 = 0;   // guest: requests served (an application's count)
  profileCounts = new Uint32Array(8);  // guest: TSC cycles per PROFILE_GUEST_* category, (low, high) pairs
  // The control VM's key (docs/virtual-architecture.md "Management hypercalls"): the bytes of the boot
  // module named `control-key` (at most CONTROL_KEY_LIMIT), in the control VM's page only; 0 elsewhere.
  controlKeyLength: u32 = 0;
  controlKey = new Uint8Array(64);     // CONTROL_KEY_LIMIT
  // The VM's secret (kernel-src/entropy.ts): 128 bits drawn for this VM alone, for what it must hide from
  // off-path attackers (libos tcp.ts: sequence numbers, SYN cookies, ephemeral ports).
  entropy = new Uint32Array(4);        // ENTROPY_WORDS
}

/** Words of BootInfo.entropy. */
export const ENTROPY_WORDS: u32 = 4;

/** The most bytes of the control VM's key (BootInfo.controlKey). */
export const CONTROL_KEY_LIMIT: u32 = 64;

/**
 * The guest's profile categories (guest-src/runtime/profile.ts), indexes of BootInfo.profileCounts'
 * pairs: the instructions in ring 3 that are not in a category below (the event loop, threads, timers);
 * Ethernet, ARP and IPv4 (libos netif, arp, ipv4, icmp, udp); TCP and the sockets on it; the application.
 */
export const PROFILE_GUEST_RUNTIME: u32 = 0;
export const PROFILE_GUEST_NETIF: u32 = 1;
export const PROFILE_GUEST_TCP: u32 = 2;
export const PROFILE_GUEST_APP: u32 = 3;
/** How many there are (profileCounts holds two u32 per category). */
export const PROFILE_GUEST_CATEGORIES: u32 = 4;

/** Byte `i` (0..5) of VM `id`'s MAC address: 02:00:00, then the id's low 24 bits, big-endian. */
export function macByteOfVm(id: u32, i: i32): u8 {
  if (i === 0) return MAC_PREFIX_BYTE0;
  if (i < 3) return 0;
  return u8(id >>> (8 * (5 - i)));
}

/** Writes the MAC address of VM `id` into `mac` at `offset`. */
export function macOfVm(mac: Uint8Array, offset: i32, id: u32): void {
  for (let i = 0; i < MAC_BYTES; i++) mac[offset + i] = macByteOfVm(id, i);
}
