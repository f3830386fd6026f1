// The VM-pair costs of bench:vm (bench/vm.ts), run by two VMs of one image: worker.ts's mode 5 (hardware
// VMs) and bench.ts (bytecode VMs, whose image may hold no kernel-only intrinsic, which the worker's attacks
// use). The even VM measures and prints `bench NAME N` (N: TSC cycles, instructions under -icount, per
// operation): hypercall-null (interruptAcknowledge(0)), vm-switch (yield to the partner, per switch) and
// vinterrupt-batch-round-trip (a frame to the idle partner + yield: it wakes with NET|WAKEUP, receives,
// idles); the odd one yields back, then idles and receives until the frame marked STOP_MARK.
import { u32, print, write, hypercall, rdtsc, addressOf } from "dsl";
import {
  HYPERCALL_IDLE, HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD,
  INTERRUPT_NET,
} from "../../../abi/hypercalls.ts";
import { macOfVm } from "../../../abi/boot.ts";

/** A payload byte of the bench's frames: 0xff tells the partner to stop. */
const STOP_MARK = 16;

/** The pair's bench for VM `vmId`; `frame` (64 bytes) and `wakeClock` (2 words) are its buffers. */
export function benchPair(vmId: u32, frame: Uint8Array, wakeClock: Uint32Array): void {
  const partner = vmId ^ 1;
  const rounds: u32 = 1000;
  if ((vmId & 1) === 0) {
    let start = rdtsc();
    for (let i: u32 = 0; i < rounds; i++) hypercall(HYPERCALL_INTERRUPT_ACKNOWLEDGE, 0, 0, 0, 0);
    write("bench hypercall-null "); print((rdtsc() - start) / rounds);
    start = rdtsc();
    for (let i: u32 = 0; i < rounds; i++) hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
    write("bench vm-switch "); print((rdtsc() - start) / (2 * rounds));
    // Batch delivery: the partner idles; a frame to it posts NET, yield switches to it, idle returns
    // the batch (NET | WAKEUP) acknowledged, with the clock (as the libos does), it receives, idles; back here.
    setDestination(frame, partner, vmId);
    start = rdtsc();
    for (let i: u32 = 0; i < rounds; i++) {
      hypercall(HYPERCALL_NET_SEND, addressOf(frame), 60, 0, 0);
      hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
    }
    write("bench vinterrupt-batch-round-trip "); print((rdtsc() - start) / rounds);
    frame[STOP_MARK] = 0xff;   // tells the partner to stop
    hypercall(HYPERCALL_NET_SEND, addressOf(frame), 60, 0, 0);
  } else {
    for (let i: u32 = 0; i < rounds; i++) hypercall(HYPERCALL_YIELD, 0, 0, 0, 0);
    while (true) {
      const got = u32(hypercall(HYPERCALL_IDLE, 0xffffffff, addressOf(wakeClock), 0, 0));
      if ((got & INTERRUPT_NET) !== 0 && hypercall(HYPERCALL_NET_RECEIVE, addressOf(frame), 64, 0, 0) > 0
        && frame[STOP_MARK] === 0xff) return;
    }
  }
}

/** Addresses `frame` from VM `self` to VM `id`, with an EtherType the switch allows. */
export function setDestination(frame: Uint8Array, id: u32, self: u32): void {
  macOfVm(frame, 0, id);
  macOfVm(frame, 6, self);
  frame[12] = 0x88; frame[13] = 0xb5;   // IEEE Std 802 local experimental: on the switch's allow-list
}
