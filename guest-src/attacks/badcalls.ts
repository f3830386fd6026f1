// Hostile guest: hypercalls with bad arguments. Each call's result is printed as
// `badcall NAME -> RESULT ok` (or `... WRONG, expected E`), with a good call (the print itself) between
// bad ones so the kernel's bad-call limit is not reached yet: pointers into the kernel, below
// GUEST_BASE, across the end of memory, wrapping around 4 GiB, into the VM's own read-only code (the
// kernel must not write there for it), huge lengths, bad frame sizes, unknown numbers, the management
// calls (EPERM: this VM has no control capability, whatever the arguments, valid ones too). Then
// `badcall summary: N ok, M wrong`, and a flood of unknown numbers with no good call between them:
// the kernel must end the VM as hostile (`vm N ended: ...`) before the flood ends. As a bytecode VM (whose
// code is not in its memory) the same calls but the check that the code is intact: 27, not 28.
import { i32, u32, hypercall, addressOf, functionAddress, load32, print, write } from "dsl";
import { bootInit, memoryEnd } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import {
  consoleWrite, readClock, netSend, netReceive, vmCreate, vmStop, vmList, vmConsole, machineStatus,
} from "../runtime/hypercalls.ts";
import { EINVAL, EFAULT, EMSGSIZE, EPERM, FRAME_MAX, HYPERCALL_COUNT } from "../../abi/hypercalls.ts";
import { announce, notContained } from "./common.ts";

const KERNEL: u32 = 0x00100000;
const buffer = new Uint8Array(2048);
let passed: u32 = 0;
let failed: u32 = 0;

function check(name: string, result: i32, expected: i32): void {
  write("badcall "); write(name); write(" -> "); write(result);
  if (result === expected) { passed++; print(" ok"); }
  else { failed++; write(" WRONG, expected "); print(expected); }
}

/** For calls where two answers are right (netReceive may see the empty queue first: 0). */
function checkEither(name: string, result: i32, expected: i32, alternative: i32): void {
  check(name, result === alternative ? expected : result, expected);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  announce("badcalls", "hypercalls with bad pointers, lengths and numbers");
  const end = memoryEnd();
  const valid = addressOf(buffer);
  const code = functionAddress(guestMain);
  // A bytecode VM's code is not in its memory (its function addresses name functions only): the calls at
  // `code` must fail all the same, and there is nothing of it to read back.
  const codeInMemory = code - GUEST_BASE < end - GUEST_BASE;
  const codeBefore = codeInMemory ? load32(code) : 0, codeAfterBefore = codeInMemory ? load32(code + 4) : 0;

  check("consoleWrite kernel", consoleWrite(KERNEL, 16), EFAULT);
  check("consoleWrite below-base", consoleWrite(GUEST_BASE - 8, 16), EFAULT);
  check("consoleWrite across-end", consoleWrite(end - 8, 16), EFAULT);
  check("consoleWrite past-end", consoleWrite(end, 1), EFAULT);
  check("consoleWrite huge-length", consoleWrite(valid, 0xffffffff), EFAULT);
  check("consoleWrite wrap-around", consoleWrite(0xfffffff0, 0x20), EFAULT);
  check("readClock kernel", readClock(KERNEL), EFAULT);
  check("readClock across-end", readClock(end - 4), EFAULT);
  check("readClock null", readClock(0), EFAULT);
  check("readClock own-code", readClock(code), EFAULT);
  check("netSend kernel", netSend(KERNEL, 64), EFAULT);
  check("netSend across-end", netSend(end - 32, 64), EFAULT);
  check("netSend too-small", netSend(valid, 13), EMSGSIZE);
  check("netSend too-large", netSend(valid, FRAME_MAX + 1), EMSGSIZE);
  const huge = netSend(valid, 0xffffffff);
  checkEither("netSend huge-length", huge, EMSGSIZE, EFAULT);
  checkEither("netReceive kernel", netReceive(KERNEL, FRAME_MAX), EFAULT, 0);
  checkEither("netReceive across-end", netReceive(end - 4, FRAME_MAX), EFAULT, 0);
  checkEither("netReceive own-code", netReceive(code, FRAME_MAX), EFAULT, 0);
  check("vmCreate", vmCreate(valid), EPERM);
  check("vmStop", vmStop(0), EPERM);
  check("vmList", vmList(0, valid, 1024), EPERM);
  check("vmConsole", vmConsole(0, valid, 1024), EPERM);
  check("machineStatus", machineStatus(valid), EPERM);
  check("unknown HYPERCALL_COUNT", hypercall(HYPERCALL_COUNT, 0, 0, 0, 0), EINVAL);
  check("unknown 0x80000000", hypercall(0x80000000, KERNEL, KERNEL, KERNEL, KERNEL), EINVAL);
  check("unknown 0xffffffff", hypercall(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), EINVAL);
  check("unknown 0x100", hypercall(0x100, valid, 16, 0, 0), EINVAL);

  // The kernel wrote nothing into the shared code for us.
  if (codeInMemory) {
    write("badcall code intact -> ");
    if (load32(code) === codeBefore && load32(code + 4) === codeAfterBefore) { passed++; print("ok"); }
    else { failed++; print("WRONG: the code changed"); }
  }

  write("badcall summary: "); write(passed); write(" ok, "); write(failed); print(" wrong");

  announce("badcalls", "flood of unknown hypercalls");
  for (let i: u32 = 0; i < 10000000; i++) hypercall(0xdead, KERNEL, 0xffffffff, end, 0);
  notContained("badcalls");
}
