// Virtual interrupts (docs/virtual-architecture.md "Virtual interrupts"; the Denali paper §3.1:
// interrupts are queued and delivered in a batch when the VM next runs). Each VM has a pending mask
// and an enabled mask (vm.ts). An event sets its pending bit; if the VM is idle and the bit is
// enabled, the VM goes back on the run queue, and the scheduler hands it the whole batch as idle's
// result when it is switched in (scheduler.ts). idle's first argument names the bits its delivery
// clears (acknowledged as they are handed over, so a wake-up needs no hypercall 8); its second, an
// address where the global clock is written as the batch is delivered (no readClock either). The alarm
// is one timer per VM on the kernel timer queue (timer.ts).
import { i32, u32 } from "dsl";
import { EAGAIN, INTERRUPT_TIMER, ENABLED_MASK_BITS } from "../abi/hypercalls.ts";
import { vmAt, VM_IDLE, VM_ENDED } from "./vm.ts";
import { schedulerWake, schedulerBlockCurrent, schedulerChargeFor } from "./scheduler.ts";
import { Nanoseconds, clockRead, clockStore, multiplyWide } from "./clock.ts";
import { timerStart, timerCancel, timerExpiryStart } from "./timer.ts";

const NANOSECONDS_PER_MICROSECOND: u32 = 1000;
/** setAlarm's result: 0, or the ABI's EAGAIN (abi/hypercalls.ts). */
const VIRQ_OK = 0;

const deadline = new Nanoseconds();
const product = new Nanoseconds();

/** Sets `bits` pending for VM `index`; wakes it when it idles and one of them is enabled. */
export function virqPost(index: u32, bits: u32): void {
  const vm = vmAt(u32(index));
  if (vm.state === VM_ENDED) return;
  vm.pending = vm.pending | bits;
  if (vm.state === VM_IDLE && (vm.pending & vm.mask) !== 0) schedulerWake(index);
}

/**
 * The timer callback: the VM's alarm expired (interrupts disabled, from the tick). The expiry's work
 * (the timer queue's removal, the post, the wake) is the VM's own, not the running VM's: charged to it.
 */
function alarmExpired(index: u32): void {
  vmAt(u32(index)).alarm = 0;
  virqPost(index, INTERRUPT_TIMER);
  schedulerChargeFor(index, timerExpiryStart());
}

/** setAlarm: one alarm per VM, `microseconds` from now; 0 cancels. */
export function virqSetAlarm(index: u32, microseconds: u32): i32 {
  const vm = vmAt(u32(index));
  if (vm.alarm !== 0) { timerCancel(vm.alarm); vm.alarm = 0; }
  if (microseconds === 0) return VIRQ_OK;
  clockRead(deadline);
  multiplyWide(product, microseconds, NANOSECONDS_PER_MICROSECOND);
  const low = deadline.low + product.low;
  deadline.high = deadline.high + product.high + (low < deadline.low ? 1 : 0);
  deadline.low = low;
  const handle = timerStart(deadline, alarmExpired, index);
  if (handle === 0) return EAGAIN;          // the timer queue is full
  vm.alarm = handle;
  return VIRQ_OK;
}

/**
 * idle: with an enabled event pending, the batch (the whole pending mask, non-zero) at once, the bits
 * of `acknowledge` cleared and the clock written at `clock` (when not 0: the caller checked it is the
 * VM's, 8-byte aligned and writable, and the VM's space is the current one); otherwise the VM blocks (0
 * here) and gets its batch in eax when it is switched back in (scheduler.ts does the same there).
 */
export function virqIdle(index: u32, acknowledge: u32, clock: u32): u32 {
  const vm = vmAt(u32(index));
  const batch = vm.pending;
  if ((batch & vm.mask) === 0) { schedulerBlockCurrent(); return 0; }
  vm.pending = batch & ~acknowledge;
  if (clock !== 0) clockStore(clock);
  return batch;
}

/** interruptMask: the new enabled mask and mode bits (INTERRUPT_LAZY_ACKS; unknown bits ignored); the previous one. */
export function virqSetMask(index: u32, mask: u32): u32 {
  const vm = vmAt(u32(index));
  const previous = vm.mask;
  vm.mask = mask & ENABLED_MASK_BITS;
  return previous;
}

/** interruptAcknowledge: clears `bits`; the bits still pending. */
export function virqAcknowledge(index: u32, bits: u32): u32 {
  const vm = vmAt(u32(index));
  vm.pending = vm.pending & ~bits;
  return vm.pending;
}
