// The frame a compiler-generated interrupt entry stub hands to trapHandler (trap.ts): what the CPU
// pushed (SDM Vol. 3A §6.12.1, Figure 6-4 "Stack Usage on Transfers to Interrupt and Exception-
// Handling Routines") below what the stub pushed (docs/calling-convention.md, "interrupt entries").
// Its own file so that trap.ts and exceptions.ts can both use it.
import { bool, u32 } from "dsl";

/** The stub's frame, low to high from the address the handler receives. */
export class TrapFrame {
  gs: u32 = 0;
  fs: u32 = 0;
  es: u32 = 0;
  ds: u32 = 0;
  edi: u32 = 0;
  esi: u32 = 0;
  ebp: u32 = 0;
  espAtPushad: u32 = 0;  // pushad's copy: ignored by popad
  ebx: u32 = 0;
  edx: u32 = 0;
  ecx: u32 = 0;
  eax: u32 = 0;
  vector: u32 = 0;
  errorCode: u32 = 0;    // 0 for vectors without one
  eip: u32 = 0;          // pushed by the CPU (SDM Vol. 3A §6.12.1, Figure 6-4)
  cs: u32 = 0;
  eflags: u32 = 0;
  userEsp: u32 = 0;      // only when coming from ring 3
  userSs: u32 = 0;
}
/** Bytes of the frame up to eflags: the interrupted esp when the trap came from ring 0. */
const TRAP_FRAME_RING0_BYTES = 68;
const PRIVILEGE_MASK = 3;
const PRIVILEGE_USER = 3;
/**
 * EFLAGS.VM (SDM Vol. 3A §2.3, §20.2): set in a frame interrupted in virtual-8086 mode. Its cs is then a
 * real-mode segment whose low bits mean nothing (0x1000 & 3 = 0), and the CPU pushed gs, fs, ds, es
 * above userSs. QEMU's TCG lets ring 3 enter this mode with iretd (the SDM allows that only at CPL 0).
 */
export const EFLAGS_VIRTUAL_8086: u32 = 1 << 17;

/** True when the trap interrupted virtual-8086 mode (always a VM: the kernel never enters it). */
export function frameInVirtual8086(frame: TrapFrame): bool { return (frame.eflags & EFLAGS_VIRTUAL_8086) !== 0; }

/** True when the trap came from a VM: ring 3 by cs, or virtual-8086 mode (which runs at CPL 3). */
export function frameFromUser(frame: TrapFrame): bool {
  return (frame.cs & PRIVILEGE_MASK) === PRIVILEGE_USER || frameInVirtual8086(frame);
}

/** The interrupted esp: the CPU pushed ss:esp only on a privilege change (SDM §6.12.1). */
export function interruptedStackPointer(frame: TrapFrame, frameAddress: u32): u32 {
  return (frame.cs & PRIVILEGE_MASK) !== 0 || frameInVirtual8086(frame)
    ? frame.userEsp : frameAddress + TRAP_FRAME_RING0_BYTES;
}

