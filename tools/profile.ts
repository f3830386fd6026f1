// The kernel's profile (kernel-src/profile.ts, `-append profile`) as the host reads it: the monitor's
// `profile` command prints
//   profile: marks M cr3 C calls N0 N1 ..; idle 0x..; ...     (hypercalls by number; categories, TSC cycles)
//   profile-guest: vms N absent A requests R switches S; runtime 0x..; ... (the guests', summed; VM switches)
// Under `qemu -icount shift=0,sleep=off` a TSC cycle is one instruction (idle excepted: the clock's jumps
// over `hlt`). The category names come from the kernel's output, the hypercalls' from abi/hypercalls.ts,
// so this file has no list of them.
import * as hypercalls from '../abi/hypercalls.ts';

interface Profile {
  /** The kernel's marks so far (each costs a few tens of instructions, charged to the categories). */
  marks: number;
  /** Hypercalls made, by name (abi/hypercalls.ts: HYPERCALL_SET_ALARM is setAlarm). */
  calls: Record<string, number>;
  /** VM switches that loaded CR3 (another VM's address space). */
  cr3Loads: number;
  /** The kernel's categories, in the kernel's order: TSC cycles. */
  kernel: Record<string, number>;
  /** VMs whose boot page was read, and those that were not resident. */
  vms: number; absent: number;
  /** Requests the guests' applications counted. */
  requests: number;
  /** VM switches (the scheduler's count). */
  switches: number;
  /** The guests' categories, summed: TSC cycles. */
  guest: Record<string, number>;
}

function pairs(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/; ([a-z-]+) 0x([0-9a-fA-F]{16})/g)) out[m[1]] = Number(BigInt(`0x${m[2]}`));
  return out;
}

/** The hypercall counts (numbers in abi/hypercalls.ts's order) by name: setAlarm, netSend, ... */
function callsByName(text: string): Record<string, number> {
  const counts = text.trim().split(/ +/).map(Number);
  const camel = (n: string) => n.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return Object.fromEntries(Object.entries(hypercalls)
    .filter(([n, v]) => n.startsWith('HYPERCALL_') && typeof v === 'number' && v < counts.length
      && n !== 'HYPERCALL_VECTOR' && n !== 'HYPERCALL_COUNT' && n !== 'HYPERCALL_ERROR_LIMIT')
    .map(([n, v]) => [camel(n.slice('HYPERCALL_'.length)), counts[v as number]]));
}

/** The last `profile:` and `profile-guest:` lines of `serial`; throws when there are none. */
export function parseProfile(serial: string): Profile {
  const kernelLine = /^profile: marks (\d+) cr3 (\d+) calls ([\d ]+)((?:; [a-z-]+ 0x[0-9a-fA-F]{16})+)$/gm;
  const kernel = [...serial.matchAll(kernelLine)].pop();
  const guestLine =
    /^profile-guest: vms (\d+) absent (\d+) requests (\d+) switches (\d+)((?:; [a-z-]+ 0x[0-9a-fA-F]{16})+)$/gm;
  const guest = [...serial.matchAll(guestLine)].pop();
  if (!kernel || !guest) throw new Error(`no profile lines in the output:\n${serial.slice(-2000)}`);
  return {
    marks: Number(kernel[1]), cr3Loads: Number(kernel[2]), calls: callsByName(kernel[3]),
    kernel: pairs(kernel[4]),
    vms: Number(guest[1]), absent: Number(guest[2]), requests: Number(guest[3]), switches: Number(guest[4]),
    guest: pairs(guest[5]),
  };
}

/** What happened between two readings (`after` - `before`), category by category. */
export function profileDelta(before: Profile, after: Profile): Profile {
  const minus = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  return {
    marks: after.marks - before.marks,
    cr3Loads: after.cr3Loads - before.cr3Loads,
    calls: minus(after.calls, before.calls),
    kernel: minus(after.kernel, before.kernel), vms: after.vms, absent: after.absent,
    requests: after.requests - before.requests, switches: after.switches - before.switches,
    guest: minus(after.guest, before.guest),
  };
}
