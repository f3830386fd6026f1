// Hostile guest: a hypercall fuzzer. A seeded xorshift32 generator (seed: the manifest's argument,
// DEFAULT_SEED when it is 0) picks 1,000,000 hypercalls: numbers mostly among the defined ones, some
// random; arguments mixing random words, kernel addresses, addresses below GUEST_BASE and across the
// end of memory, huge lengths, small integers and a private scratch buffer. The same seed gives the
// same calls. It never calls exit, never makes the console print its scratch bytes, and idles only
// with an alarm set and every interrupt enabled (so idle returns). Every 4th call is a good one
// (readClock into the scratch buffer) so the kernel's limit on bad calls in a row is not reached.
// Prints `fuzz seed S` first, `fuzz progress K` every 100,000 calls, then
// `fuzz seed S count C ok A einval B efault C eagain D emsgsize E eperm P other F` and exits with status 0
// (eperm: the management calls, which a VM without the control capability is refused).
import { i32, u32, hypercall, addressOf, print, write, exit } from "dsl";
import { bootInit, argument, memoryEnd, vmId } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import { readClock, setAlarm, interruptMask, interruptAcknowledge, idle } from "../runtime/hypercalls.ts";
import {
  HYPERCALL_EXIT, HYPERCALL_IDLE, HYPERCALL_CONSOLE_WRITE, HYPERCALL_COUNT, INTERRUPT_ALL,
  EINVAL, EFAULT, EAGAIN, EMSGSIZE, EPERM,
} from "../../abi/hypercalls.ts";

const DEFAULT_SEED: u32 = 0x2545f491;
const CALLS: u32 = 1000000;
const PROGRESS_EVERY: u32 = 100000;
const SCRATCH_BYTES = 4096;

const scratch = new Uint8Array(SCRATCH_BYTES);
let state: u32 = 1;

function next(): u32 {
  let x = state;
  x = x ^ (x << 13);
  x = x ^ (x >>> 17);
  x = x ^ (x << 5);
  state = x;
  return x;
}

/** A hypercall argument: mostly something a kernel must reject, sometimes a fine one. */
function argumentWord(): u32 {
  const r = next();
  switch (r & 15) {
    case 0: case 1: return next();                                  // any word
    case 2: return 0x00100000 + (next() & 0xffff);                  // the kernel image
    case 3: return next() & 0x000fffff;                             // low memory
    case 4: return GUEST_BASE - 1 - (next() & 0xfff);               // just below the VM
    case 5: return memoryEnd() - (next() & 0xff);                   // across the end
    case 6: return memoryEnd() + (next() & 0xffffff);               // past the end
    case 7: return 0xffffffff - (next() & 0xff);                    // wraps around 4 GiB
    case 8: return 0x80000000 | next();                             // huge length
    case 9: return addressOf(scratch) + (next() & 0xff);            // fine: the scratch buffer
    case 10: return addressOf(scratch);
    case 11: return next() & 0x7ff;                                 // a small length (up to 2047)
    case 12: return next() & 15;                                    // a small integer
    case 13: return 0;
    case 14: return 0xc0000000 + (next() & 0xffff);                 // kernel-like high addresses
    default: return 1514 + (next() & 3) - 1;                        // around the frame limit
  }
}

/** A number: mostly a defined call other than exit and idle, sometimes an unknown one. */
function hypercallNumber(): u32 {
  const r = next();
  // u32(...): an untyped constant expression would make the remainder signed (/tmp/compiler-requests.md).
  if ((r & 7) !== 0) return 2 + (next() % u32(HYPERCALL_COUNT - 2));
  const any = next();
  return any < HYPERCALL_COUNT ? HYPERCALL_COUNT + any : any;        // unknown (never 0 or 1)
}

let ok: u32 = 0, einval: u32 = 0, efault: u32 = 0, eagain: u32 = 0, emsgsize: u32 = 0, eperm: u32 = 0, other: u32 = 0;
let idles: u32 = 0;

function count(result: i32): void {
  if (result >= 0) ok++;
  else if (result === EINVAL) einval++;
  else if (result === EFAULT) efault++;
  else if (result === EAGAIN) eagain++;
  else if (result === EMSGSIZE) emsgsize++;
  else if (result === EPERM) eperm++;
  else other++;
}

/** An idle that returns: an alarm 1 µs ahead, every interrupt enabled. */
function safeIdle(): i32 {
  setAlarm(1);
  interruptMask(INTERRUPT_ALL);
  const pending = idle(0, 0);
  if (pending > 0) interruptAcknowledge(u32(pending));
  idles++;
  return pending;
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const seed = argument() === 0 ? DEFAULT_SEED : argument();
  state = seed;
  write("fuzz seed "); print(seed);
  let calls: u32 = 0;
  while (calls < CALLS) {
    let result: i32;
    if ((calls & 3) === 3) {
      result = readClock(addressOf(scratch));                          // a good call: resets the bad-call run
    } else if ((next() & 4095) === 0) {
      result = safeIdle();
    } else {
      const number = hypercallNumber();
      let a = argumentWord();
      const b = argumentWord(), c = argumentWord(), d = argumentWord();
      // The console must not print the scratch buffer: console writes always get a bad pointer.
      if (number === HYPERCALL_CONSOLE_WRITE && a >= GUEST_BASE && a < memoryEnd()) a = 0x00100000;
      if (number === HYPERCALL_EXIT || number === HYPERCALL_IDLE) a = 0;   // not reached: hypercallNumber never picks them
      result = hypercall(number, a, b, c, d);
    }
    count(result);
    calls++;
    if (calls % PROGRESS_EVERY === 0) { write("fuzz vm "); write(vmId()); write(" progress "); print(calls); }
  }
  write("fuzz seed "); write(seed); write(" count "); write(calls);
  write(" ok "); write(ok); write(" einval "); write(einval); write(" efault "); write(efault);
  write(" eagain "); write(eagain); write(" emsgsize "); write(emsgsize); write(" eperm "); write(eperm);
  write(" other "); write(other);
  write(" idles "); print(idles);
  exit(0);
}
