// The x87/MMX unit, one state per VM, switched lazily (the paper's promise: no VM reads or changes
// another's registers). Reference: Intel SDM Vol. 3A §2.5 (CR0.MP, EM, TS, NE), §13.4 "Designing OS
// Facilities for Saving x87 FPU, SSE and Extended States on Task or Context Switches"; Vol. 1 §8.1.10
// (the 108-byte FNSAVE image, 32-bit protected mode, Figure 8-9), §8.7 (#MF, CR0.NE).
//
// How it works: CR0.TS is set whenever the running VM is not the owner of the FPU registers, so its
// first x87/MMX instruction (or wait) raises #NM (MP = 1 makes wait honour TS too). The #NM handler
// (fpuClaim, from the scheduler's ring-3 exception path) clears TS, saves the owner's registers into
// the owner's area with fnsave, and loads the claimer's own saved state, or the clean image for a VM
// that has never used the FPU. A VM that ends gives up ownership: its values stay in the registers
// only until the next claimer's frstor overwrites every one of them (fninit would not clear them).
// CR0.NE = 1: an unmasked x87 exception raises #MF at the next waiting instruction of the VM whose
// state holds it (fnsave/frstor carry the pending exception along), never an IRQ 13 to whoever runs.
// SSE stays off (CR4.OSFXSR = 0): SSE instructions raise #UD and end the VM, so the XMM registers and
// MXCSR need no saving (docs/virtual-architecture.md "FPU").
// Memory: a VM that uses the FPU holds one 108-byte area from kalloc (the 128-byte class), freed when
// it ends. Costs: nothing per switch for a VM that never touches the FPU but one CR0 write when TS
// changes; one #NM, fnsave and frstor when FPU users alternate.
// Bochs (like real CPUs, unlike QEMU's TCG) raises a pending x87 exception at frstor: see fpuClaim.
// Invariants: owner is FPU_NONE or a VM not ended; TS is clear exactly when the running VM is the owner
// (or no VM runs and TS was left as the last VM had it); interrupts are off in all of this.
import { bool, i32, u32, readCr0, writeCr0, clts, fnsave, frstor, addressOf, memoryFill, store16 } from "dsl";
import { kalloc, kfree, KALLOC_NONE } from "./kalloc.ts";

/** The FNSAVE image in 32-bit protected mode (SDM Vol. 1 Figure 8-9). */
const FPU_STATE_BYTES: u32 = 108;
const STATE_CONTROL_WORD = 0;        // FCW
const STATE_TAG_WORD = 8;            // FTW, two bits a register: 11 = empty
const CONTROL_WORD_INITIAL = 0x037f; // every exception masked, 64-bit precision, round to nearest (FINIT)
const TAG_WORD_EMPTY = 0xffff;

// CR0 bits (SDM Vol. 3A §2.5).
const CR0_MONITOR_COPROCESSOR: u32 = 1 << 1;  // MP: wait/fwait raise #NM while TS is set
const CR0_EMULATION: u32 = 1 << 2;            // EM: must be 0 for x87/MMX to run
const CR0_TASK_SWITCHED: u32 = 1 << 3;        // TS: the next x87/MMX instruction raises #NM
const CR0_NUMERIC_ERROR: u32 = 1 << 5;        // NE: x87 errors raise #MF, not FERR#/IRQ 13

const FPU_NONE = -1;

/** The registers every VM starts with: FCW 0x037f, FSW 0, FTW all empty, pointers and data 0. */
const cleanState = new Uint8Array(108);
/** Where the registers of an owner that ended are stored before they are overwritten (never read). */
const discardedState = new Uint8Array(108);
let owner: i32 = FPU_NONE;
let ownerArea: u32 = 0;
let taskSwitchedSet = false;
let claims: u32 = 0;
let saves: u32 = 0;

/** CR0: NE and MP on, EM off, TS on (no VM owns the FPU yet); the clean image built. Interrupts off. */
export function fpuInit(): void {
  memoryFill(addressOf(cleanState), 0, FPU_STATE_BYTES);
  store16(addressOf(cleanState) + STATE_CONTROL_WORD, CONTROL_WORD_INITIAL);
  store16(addressOf(cleanState) + STATE_TAG_WORD, TAG_WORD_EMPTY);
  writeCr0((readCr0() & ~CR0_EMULATION) | CR0_MONITOR_COPROCESSOR | CR0_NUMERIC_ERROR | CR0_TASK_SWITCHED);
  taskSwitchedSet = true;
  owner = FPU_NONE;
}

/** True when switching VM `index` in changes CR0.TS (small: the compiler inlines it into the switch). */
export function fpuSwitchNeeded(index: i32): bool { return (index !== owner) !== taskSwitchedSet; }

/** The scheduler switches VM `index` in: TS clear only if it owns the registers. */
export function fpuSwitchTo(index: i32): void {
  const wantSet = index !== owner;
  if (wantSet === taskSwitchedSet) return;
  if (wantSet) writeCr0(readCr0() | CR0_TASK_SWITCHED); else clts();
  taskSwitchedSet = wantSet;
}

/**
 * #NM from VM `index`, whose area is `area` (0: it has none yet). Returns the VM's area (allocated
 * now for a first use) or 0 when no memory is left for it (the caller ends the VM).
 */
export function fpuClaim(index: i32, area: u32): u32 {
  let own = area;
  if (own === 0) {
    own = kalloc(FPU_STATE_BYTES);
    if (own === KALLOC_NONE) return 0;
  }
  clts();
  taskSwitchedSet = false;
  if (owner === index) return own;            // its registers are still loaded: nothing to move
  // frstor is a waiting instruction: an unmasked exception still pending in the registers (left by a
  // VM that ended on its #MF) would fault here, in the kernel. fnsave (no-wait) stores the registers and
  // reinitializes them, clearing it: into the owner's area, or into a discard area if nobody owns them.
  if (owner !== FPU_NONE) { fnsave(ownerArea); saves++; } else fnsave(addressOf(discardedState));
  frstor(area === 0 ? addressOf(cleanState) : own);
  owner = index;
  ownerArea = own;
  claims++;
  return own;
}

/** VM `index` ends: its area (if any) is freed and it owns the registers no more. */
export function fpuRelease(index: i32, area: u32): void {
  if (owner === index) { owner = FPU_NONE; ownerArea = 0; }
  if (area !== 0) kfree(area, FPU_STATE_BYTES);
}

export function fpuClaimCount(): u32 { return claims; }
export function fpuSaveCount(): u32 { return saves; }
