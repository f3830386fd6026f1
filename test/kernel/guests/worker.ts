// The kernel tests' guest: one image, its behaviour chosen by the manifest argument (BootInfo.argument):
// argument & 0xff = mode, argument >> 8 = a parameter. Modes:
//   0 counter: `param` rounds of setAlarm(2 ms) + idle + acknowledge (or idle delivering), "vm ID count N"
//   1 spinner: loops forever, never yields
//   2 compute: `param` * 100000 loop iterations, then "vm ID computed", exit 0
//   3 fault: param selects the attack (see attack()); prints "vm ID survived" if it did not fault
//   4 efault: hypercalls with bad pointers and lengths; prints each result, exit 0
//   5 bench: VM pairs measure hypercall, switch and batch delivery costs ("bench NAME N" lines)
//   6 ping: even VMs send a frame to VM id+1 and wait for the reply; odd VMs echo one frame
//   7 management: each management hypercall with valid arguments, "vm ID management NAME RESULT" (a VM
//     without the control capability: EPERM each time, even with a control VM beside it)
//   8 stopper (the control VM): `param` rounds of a 100 ms alarm and idle, "vm ID stopper kcycles K"
//     (the TSC cycles they took), then stops every other VM below id 16384 (vmStop) and exits: a
//     scheduler test's end
//   9 yielder: yields forever (a VM always runnable that makes the scheduler decide often: bench:vm)
//  10 entry: "bench-tsc vm-entry T", T the TSC read as the first thing the image does, then exit 0 (a VM
//     pushed through the control API: bench:vm's start of a pushed VM)
//  11 secret: "vm ID secret W0 W1 W2 W3", its boot page's entropy words in hex (kernel-src/entropy.ts), exit 0
import {
  i32, u32, print, write, writeHex, exit, hypercall, load32, store32, store8, load8, rdtsc, cli, hlt, outb,
  divideUnchecked, invalidOpcode, addressOf, overlay,
} from "dsl";
import {
  HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_READ_CLOCK, HYPERCALL_CONSOLE_WRITE, HYPERCALL_NET_SEND,
  HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD, INTERRUPT_TIMER, INTERRUPT_NET, FRAME_MAX,
  HYPERCALL_VM_CREATE, HYPERCALL_VM_STOP, HYPERCALL_VM_LIST, HYPERCALL_VM_CONSOLE, HYPERCALL_MACHINE_STATUS,
} from "../../../abi/hypercalls.ts";
import { BootInfo, GUEST_MAGIC, GUEST_BASE } from "../../../abi/boot.ts";
import { benchPair, setDestination } from "./pair-bench.ts";

let vmId: u32 = 0;
let memorySize: u32 = 0;
const frame = new Uint8Array(64);
const clockBuffer = new Uint32Array(2);

export function guestMain(magic: u32, bootInfo: u32): void {
  const entered = rdtsc();
  const info = overlay(BootInfo, bootInfo);
  vmId = info.vmId;
  memorySize = info.memorySize;
  const argument = info.argument;
  const mode = argument & 0xff, param = argument >>> 8;
  if (magic !== GUEST_MAGIC) { print("bad magic"); exit(1); }
  if (mode === 0) counter(param);
  else if (mode === 1) { while (true) {} }
  else if (mode === 2) compute(param);
  else if (mode === 3) attack(param, bootInfo);
  else if (mode === 4) efault(bootInfo);
  else if (mode === 5) benchPair(vmId, frame, wakeClock);
  else if (mode === 6) ping();
  else if (mode === 7) management();
  else if (mode === 8) stopper(param);
  else if (mode === 9) { while (true) hypercall(HYPERCALL_YIELD, 0, 0, 0, 0); }
  else if (mode === 10) { write("bench-tsc vm-entry "); print(entered); }
  else if (mode === 11) {
    write("vm "); write(vmId); write(" secret");
    for (let i = 0; i < 4; i++) { write(" "); writeHex(info.entropy[i]); }
    print("");
  }
  exit(0);
}

/** idle's clock (its high word CLOCK_UNSET until idle writes it). */
const wakeClock = new Uint32Array(2);
const CLOCK_UNSET: u32 = 0xffffffff;

/**
 * Even rounds: idle, then acknowledge. Odd rounds: idle acknowledging the batch as it delivers it and
 * writing the clock, which must be at least the alarm's 2 ms after the clock read before it, with
 * TIMER no longer pending. A failed check prints "vm ID idle-delivery bad ..." and ends the count.
 */
function counter(rounds: u32): void {
  let count: u32 = 0;
  for (let i: u32 = 0; i < rounds; i++) {
    const delivering = (i & 1) === 1;
    hypercall(HYPERCALL_READ_CLOCK, addressOf(clockBuffer), 0, 0, 0);
    hypercall(HYPERCALL_SET_ALARM, 2000, 0, 0, 0);
    let got: u32 = 0;
    while ((got & INTERRUPT_TIMER) === 0) {
      wakeClock[1] = CLOCK_UNSET;
      got = delivering ? u32(hypercall(HYPERCALL_IDLE, 0xffffffff, addressOf(wakeClock), 0, 0))
        : u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
    }
    const still = u32(hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, delivering ? 0 : got, 0, 0, 0));
    if (delivering) {
      const late = wakeClock[1] === clockBuffer[1] ? wakeClock[0] - clockBuffer[0] : 0xffffffff;
      if (wakeClock[1] === CLOCK_UNSET || late < 2000000 || (still & INTERRUPT_TIMER) !== 0) {
        write("vm "); write(vmId); write(" idle-delivery bad "); write(wakeClock[1]); write(" "); write(late);
        write(" "); print(still);
        break;
      }
    }
    count++;
  }
  write("vm "); write(vmId); write(" count "); print(count);
}

function stopper(rounds: u32): void {
  let kcycles: u32 = 0;
  for (let i: u32 = 0; i < rounds; i++) {
    const start = rdtsc();
    hypercall(HYPERCALL_SET_ALARM, 100000, 0, 0, 0);
    let got: u32 = 0;
    while ((got & INTERRUPT_TIMER) === 0) got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
    hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
    kcycles += (rdtsc() - start) / 1000;
  }
  for (let id: u32 = 0; id < 16384; id++) if (id !== vmId) hypercall(HYPERCALL_VM_STOP, id, 0, 0, 0);
  write("vm "); write(vmId); write(" stopper kcycles "); print(kcycles);
}

function compute(param: u32): void {
  let x: u32 = vmId;
  for (let i: u32 = 0; i < param * 100000; i++) x = x * 1103515245 + 12345;
  write("vm "); write(vmId); write(" computed "); print(x & 1);
}

function attack(kind: u32, bootInfo: u32): void {
  write("vm "); write(vmId); write(" attack "); print(kind);
  if (kind === 0) store32(0x00100000, 1);                       // the kernel image
  else if (kind === 1) print(divideUnchecked(1, kind - 1));      // #DE
  else if (kind === 2) invalidOpcode();                          // #UD
  else if (kind === 3) cli();                                    // privileged: #GP
  else if (kind === 4) store8(GUEST_BASE, 0);                    // shared code page: #PF
  else if (kind === 5) print(load32(GUEST_BASE + memorySize));   // past the end of its memory: #PF
  else if (kind === 6) hlt();                                    // #GP
  else if (kind === 7) outb(0xf4, 0);                            // port I/O (isa-debug-exit!): #GP
  else if (kind === 8) { while (true) hypercall(77, 0, 0, 0, 0); }   // unknown hypercalls forever
  write("vm "); write(vmId); print(" survived");
}

function report(name: string, result: i32): void { write("efault "); write(name); write(" "); print(result); }

function efault(bootInfo: u32): void {
  report("kernel", hypercall(HYPERCALL_CONSOLE_WRITE, 0x00100000, 16, 0, 0));
  report("end", hypercall(HYPERCALL_CONSOLE_WRITE, GUEST_BASE + memorySize - 4, 8, 0, 0));
  report("wrap", hypercall(HYPERCALL_CONSOLE_WRITE, 0xfffffff0, 0x20, 0, 0));
  report("huge", hypercall(HYPERCALL_CONSOLE_WRITE, GUEST_BASE, 0xffffffff, 0, 0));
  report("clock-kernel", hypercall(HYPERCALL_READ_CLOCK, 0x00200000, 0, 0, 0));
  report("clock-code", hypercall(HYPERCALL_READ_CLOCK, GUEST_BASE, 0, 0, 0));
  report("clock-ok", hypercall(HYPERCALL_READ_CLOCK, addressOf(clockBuffer), 0, 0, 0));
  report("idle-clock-kernel", hypercall(HYPERCALL_IDLE, 0, 0x00200000, 0, 0));
  report("idle-clock-code", hypercall(HYPERCALL_IDLE, 0, GUEST_BASE, 0, 0));
  report("idle-clock-end", hypercall(HYPERCALL_IDLE, 0, GUEST_BASE + memorySize - 4, 0, 0));
  report("send-small", hypercall(HYPERCALL_NET_SEND, addressOf(frame), 10, 0, 0));
  report("send-kernel", hypercall(HYPERCALL_NET_SEND, 0x00100000, 60, 0, 0));
  report("receive-kernel", hypercall(HYPERCALL_NET_RECEIVE, 0x00100000, FRAME_MAX, 0, 0));
  report("unknown", hypercall(1000, 0, 0, 0, 0));
  report("ok", hypercall(HYPERCALL_CONSOLE_WRITE, addressOf(frame), 0, 0, 0));
}

function managementReport(name: string, result: i32): void {
  write("vm "); write(vmId); write(" management "); write(name); write(" "); print(result);
}

/** The management calls with arguments that would be valid for the control VM (a request of zeros). */
function management(): void {
  const buffer = addressOf(frame);
  managementReport("vmCreate", hypercall(HYPERCALL_VM_CREATE, buffer, 0, 0, 0));
  managementReport("vmStop", hypercall(HYPERCALL_VM_STOP, 0, 0, 0, 0));
  managementReport("vmStop-self", hypercall(HYPERCALL_VM_STOP, vmId, 0, 0, 0));
  managementReport("vmList", hypercall(HYPERCALL_VM_LIST, 0, buffer, 64, 0));
  managementReport("vmConsole", hypercall(HYPERCALL_VM_CONSOLE, 0, buffer, 64, 0));
  managementReport("machineStatus", hypercall(HYPERCALL_MACHINE_STATUS, buffer, 0, 0, 0));
}

function ping(): void {
  if ((vmId & 1) === 0) {
    setDestination(frame, vmId + 1, vmId);
    frame[14] = 42;
    write("vm "); write(vmId); write(" send "); print(hypercall(HYPERCALL_NET_SEND, addressOf(frame), 60, 0, 0));
  }
  while (true) {
    const got = u32(hypercall(HYPERCALL_IDLE, 0, 0, 0, 0));
    hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, got, 0, 0, 0);
    if ((got & INTERRUPT_NET) === 0) continue;
    const length = hypercall(HYPERCALL_NET_RECEIVE, addressOf(frame), 64, 0, 0);
    if (length <= 0) continue;
    write("vm "); write(vmId); write(" received "); write(length); write(" bytes from vm ");
    write(load8(addressOf(frame) + 11)); write(" payload "); print(frame[14]);
    if ((vmId & 1) === 1) {
      setDestination(frame, vmId - 1, vmId);
      frame[14] = frame[14] + 1;
      hypercall(HYPERCALL_NET_SEND, addressOf(frame), 60, 0, 0);
    }
    return;
  }
}
