// The guest's half of the profile (kernel-src/profile.ts; bench/request.ts): when the kernel profiles
// (the boot page's profileOn), the ring-3 instructions of this VM are split into the abi/boot.ts
// PROFILE_GUEST_* categories, counted in the boot page (profileCounts), where the kernel's `profile`
// command sums them over the VMs. An interval's count is its TSC cycles less those the VM spent out of
// ring 3 meanwhile (profileAway, which the kernel keeps): exact under `qemu -icount shift=0,sleep=off`.
// profileEnter starts a category and returns the one to put back (profileLeave); a thread switch keeps
// each thread's own (guest-src/libos/threads.ts). The wrappers on hot paths test profileActive() first
// (inlined: a load and a branch when off) and call profileEnter/profileLeave only when on.
import { bool, u32, rdtsc } from "dsl";
import { boot } from "./boot.ts";
import { PROFILE_GUEST_RUNTIME } from "../../abi/boot.ts";

let on = false;
let category: u32 = PROFILE_GUEST_RUNTIME;
let lastTsc: u32 = 0;
let lastAway: u32 = 0;

/** Reads whether the kernel profiles (after bootInit; libos stackInitFromBoot calls it). */
export function profileInit(): void {
  const info = boot();
  on = info.profileOn !== 0;
  category = PROFILE_GUEST_RUNTIME;
  lastTsc = rdtsc();
  lastAway = info.profileAway;
}

/** Whether the kernel profiles: a leaf, inlined, so a wrapper off costs a load and a branch. */
export function profileActive(): bool { return on; }

function mark(next: u32): u32 {
  const info = boot();
  // The TSC and profileAway must be of one moment: a kernel entry between the two reads would put its
  // time in `away` and not in `now`, and an interval shorter than that entry would count negative. So
  // the TSC is read again until profileAway did not change around it.
  let away = info.profileAway, now = rdtsc();
  while (info.profileAway !== away) { away = info.profileAway; now = rdtsc(); }
  const spent = (now - lastTsc) - (away - lastAway);   // mod 2^32: exact while one interval < 2^32 cycles
  const low = info.profileCounts[category * 2] + spent;
  if (low < spent) info.profileCounts[category * 2 + 1]++;
  info.profileCounts[category * 2] = low;
  lastTsc = now;
  lastAway = away;
  const previous = category;
  category = next;
  return previous;
}

/** Starts category `next`; returns the current one, for profileLeave. */
export function profileEnter(next: u32): u32 {
  if (!on) return PROFILE_GUEST_RUNTIME;
  return mark(next);
}

/** Puts back the category profileEnter returned. */
export function profileLeave(previous: u32): void {
  if (on) mark(previous);
}

/** Counts one request served (the application's unit of work: the bench divides by it). */
export function profileRequest(): void {
  if (on) boot().profileRequests++;
}
