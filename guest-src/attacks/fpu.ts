// Hostile guest: the x87/MMX registers as a channel between VMs (kernel-src/fpu.ts gives each VM its
// own). The manifest's argument picks the role:
//   0 keeper: loads eight values and a control word, yields, reads them back; ROUNDS times, while a spy
//     uses the FPU in between. Prints `fpu keeper: ROUNDS rounds intact` (or what changed); before it
//     exits it leaves its values in the registers for the late spy.
//   1 spy: checks that its first FPU state is the clean one (no bytes of anyone else's), then does what
//     the keeper does with other values: `fpu spy: clean start`, `fpu spy: ROUNDS rounds intact`.
//   2 late spy: waits until the keeper has exited, then checks its first state is clean: `fpu late spy:
//     clean start` (the keeper's values are still in the physical registers then).
//   3 pending exception: unmasks zero-divide, divides by zero (the #MF is pending), yields so that the
//     others take the FPU, then fwait: the #MF must arrive here, ending this VM, and nowhere else.
//   4 SSE: xorps xmm0, xmm0 with CR4.OSFXSR clear: #UD ends this VM.
// A leak prints `fpu ...: LEAK ...` and exits with status 3.
import { u8, u32, i32, print, write, writeHex, exit, addressOf, load8, load16 } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { yieldCpu, setAlarm } from "../runtime/hypercalls.ts";
import { INTERRUPT_TIMER } from "../../abi/hypercalls.ts";
import { enableInterrupts, waitForEvents } from "../runtime/events.ts";
import { announce, notContained, placeCode, callCode, STATUS_NOT_CONTAINED } from "./common.ts";

const ROUNDS: u32 = 50;
const LATE_SPY_WAIT_MICROSECONDS: u32 = 200000;
const CONTROL_KEEPER = 0x0c7f;       // all masked, 64-bit precision, round toward zero
const CONTROL_SPY = 0x027f;          // all masked, 53-bit precision, round to nearest
const CONTROL_CLEAN = 0x037f;        // FINIT's
const CONTROL_ZERO_DIVIDE_UNMASKED = 0x037b;
const STATE_BYTES: u32 = 108;        // FNSAVE image, 32-bit protected mode (SDM Vol. 1 Figure 8-9)

// loadEight: mov eax,[esp+4]; fild dword [eax] .. fild dword [eax+1Ch]; ret
const loadEightBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0xdb, 0x00, 0xdb, 0x40, 0x04, 0xdb, 0x40, 0x08, 0xdb, 0x40, 0x0c,
  0xdb, 0x40, 0x10, 0xdb, 0x40, 0x14, 0xdb, 0x40, 0x18, 0xdb, 0x40, 0x1c, 0xc3];
// storeEight: mov eax,[esp+4]; fistp dword [eax] .. fistp dword [eax+1Ch]; ret
const storeEightBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0xdb, 0x18, 0xdb, 0x58, 0x04, 0xdb, 0x58, 0x08, 0xdb, 0x58, 0x0c,
  0xdb, 0x58, 0x10, 0xdb, 0x58, 0x14, 0xdb, 0x58, 0x18, 0xdb, 0x58, 0x1c, 0xc3];
// setControl: mov eax,[esp+4]; fldcw [eax]; ret
const setControlBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0xd9, 0x28, 0xc3];
// save: mov eax,[esp+4]; fnsave [eax]; ret
const saveBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0xdd, 0x30, 0xc3];
// divideByZero: mov eax,[esp+4]; fldcw [eax]; fld1; fldz; fdivp st(1),st; ret
const divideByZeroBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0xd9, 0x28, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xc3];
// wait: fwait; ret
const waitBytes: u8[] = [0x9b, 0xc3];
// sse: xorps xmm0,xmm0; ret
const sseBytes: u8[] = [0x0f, 0x57, 0xc0, 0xc3];

const values = new Int32Array(8);
const readBack = new Int32Array(8);
const control = new Uint16Array(1);
const state = new Uint8Array(108);

let loadEight: u32 = 0, storeEight: u32 = 0, setControl: u32 = 0, save: u32 = 0;

function leak(role: string, what: string, at: u32, value: u32): void {
  write("fpu "); write(role); write(": LEAK "); write(what);
  write(" at "); write(at); write(" 0x"); writeHex(value); print("");
  exit(STATUS_NOT_CONTAINED);
}

/**
 * fnsave into `state` and compare with the clean image: FCW 0x037f, FTW empty, every other byte 0 but
 * the reserved upper halves of the FCW, FSW, FTW and operand-selector words (bytes 2-3, 6-7, 10-11,
 * 26-27: Bochs and real CPUs store 0xffff there, QEMU 0).
 */
function checkClean(role: string): void {
  callCode(save, addressOf(state));
  const at = addressOf(state);
  if (load16(at) !== CONTROL_CLEAN) leak(role, "control word", 0, load16(at));
  if (load16(at + 8) !== 0xffff) leak(role, "tag word", 8, load16(at + 8));
  for (let i: u32 = 0; i < STATE_BYTES; i++) {
    if (i < 4 || (i >= 6 && i < 12) || i === 26 || i === 27) continue;   // FCW, FTW, reserved halves
    if (load8(at + i) !== 0) leak(role, "byte", i, load8(at + i));
  }
  write("fpu "); write(role); print(": clean start");
}

/** ROUNDS times: load the values and control word, yield twice, read them back. */
function keepValues(role: string, base: i32, controlWord: u32): void {
  for (let k: u32 = 0; k < 8; k++) values[k] = base + i32(k) * 0x01010101;
  for (let round: u32 = 1; round <= ROUNDS; round++) {
    control[0] = u32(controlWord);
    callCode(setControl, addressOf(control));
    callCode(loadEight, addressOf(values));
    yieldCpu();
    yieldCpu();
    callCode(storeEight, addressOf(readBack));      // pops st(0) first: the last value loaded
    for (let k: u32 = 0; k < 8; k++) if (readBack[k] !== values[7 - k]) leak(role, "register", k, u32(readBack[k]));
    callCode(save, addressOf(state));                // also reinitializes: the control word comes back each round
    if (load16(addressOf(state)) !== controlWord) leak(role, "control word", 0, load16(addressOf(state)));
  }
  write("fpu "); write(role); write(": "); write(ROUNDS); print(" rounds intact");
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  loadEight = placeCode(loadEightBytes);
  storeEight = placeCode(storeEightBytes);
  setControl = placeCode(setControlBytes);
  save = placeCode(saveBytes);
  const role = argument();
  if (role === 0) {
    keepValues("keeper", 0x11111111, CONTROL_KEEPER);
    callCode(loadEight, addressOf(values));          // left in the registers for the late spy
    exit(0);
  } else if (role === 1) {
    checkClean("spy");
    keepValues("spy", 0x7e570000, CONTROL_SPY);
    exit(0);
  } else if (role === 2) {
    setAlarm(LATE_SPY_WAIT_MICROSECONDS);
    waitForEvents(INTERRUPT_TIMER);
    checkClean("late spy");
    exit(0);
  } else if (role === 3) {
    announce("fpu", "pending x87 zero-divide exception, yield, then fwait");
    control[0] = CONTROL_ZERO_DIVIDE_UNMASKED;
    callCode(placeCode(divideByZeroBytes), addressOf(control));
    for (let i = 0; i < 6; i++) yieldCpu();
    callCode(placeCode(waitBytes), 0);
  } else {
    announce("fpu", "sse xorps xmm0, xmm0");
    callCode(placeCode(sseBytes), 0);
  }
  notContained("fpu");
}
