// The processor's features by CPUID (Intel SDM Vol. 2A, CPUID): one definition of each leaf and flag the kernel
// asks about, and the one check that a leaf exists before it is read: CPUID.0:EAX is the highest basic leaf,
// and a leaf above it returns the data of another (SDM: "If a value entered for CPUID.EAX is higher than the
// maximum input value ... the data for the highest basic information leaf is returned"), so a flag read there
// means nothing. A flag is its leaf, register and bit in one word (cpuidFeature).
// Contract: reading only; callable at any time after boot (CPUID is not privileged and changes nothing).
import { bool, u32, addressOf, cpuid } from "dsl";

/** CPUID leaf 1: version and feature information. */
export const CPUID_LEAF_FEATURES: u32 = 1;
/** CPUID leaf 7 (subleaf 0): structured extended feature flags. */
const CPUID_LEAF_EXTENDED_FEATURES: u32 = 7;
const REGISTER_ECX: u32 = 2;
const REGISTER_EDX: u32 = 3;
const LEAF_SHIFT = 8;
const REGISTER_SHIFT = 5;
const BIT_MASK: u32 = 31;

/** CPUID.1:EDX bit 9: an on-chip local APIC (lapic.ts). */
export const CPU_APIC: u32 = (CPUID_LEAF_FEATURES << LEAF_SHIFT) | (REGISTER_EDX << REGISTER_SHIFT) | 9;
/** CPUID.1:EDX bit 11: SYSENTER and SYSEXIT (hypercall.ts). */
export const CPU_SEP: u32 = (CPUID_LEAF_FEATURES << LEAF_SHIFT) | (REGISTER_EDX << REGISTER_SHIFT) | 11;
/** CPUID.1:ECX bit 20: SSE4.2, the crc32 instruction among it (crc32c.ts). */
export const CPU_SSE42: u32 = (CPUID_LEAF_FEATURES << LEAF_SHIFT) | (REGISTER_ECX << REGISTER_SHIFT) | 20;
/** CPUID.7.0:ECX bit 2: user-mode instruction prevention, CR4.UMIP (gdt.ts). */
export const CPU_UMIP: u32 = (CPUID_LEAF_EXTENDED_FEATURES << LEAF_SHIFT) | (REGISTER_ECX << REGISTER_SHIFT) | 2;

const registers = new Uint32Array(4);        // eax, ebx, ecx, edx of the last cpuid

/** True when CPUID has basic leaf `leaf` (CPUID.0:EAX, the highest, is at least it). */
export function cpuidLeafPresent(leaf: u32): bool {
  cpuid(0, 0, addressOf(registers));
  return registers[0] >= leaf;
}

/** True when the processor has `feature` (a CPU_* word): its leaf is present and its bit set. */
export function cpuidFeature(feature: u32): bool {
  const leaf = feature >>> LEAF_SHIFT;
  if (!cpuidLeafPresent(leaf)) return false;
  cpuid(leaf, 0, addressOf(registers));
  return (registers[(feature >>> REGISTER_SHIFT) & 3] & (u32(1) << (feature & BIT_MASK))) !== 0;
}
