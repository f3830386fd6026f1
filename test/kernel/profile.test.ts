// Contract: the kernel's profile (kernel-src/profile.ts, `-append profile`) and the guests' half
// (guest-src/runtime/profile.ts) through the real path: 4 httpd VMs under `-icount shift=0,sleep=off`
// on a tap device, curl fetching pages over keep-alive connections (3 at once per VM), then ApacheBench
// with 16 keep-alive connections on one VM, between two readings of the monitor's `profile`:
// - the guests counted exactly the requests answered (httpd's profileRequest);
// - every kernel category a request goes through took instructions (trap, hypercall, timer, NIC,
//   switch, VM switch, ring 3), and so did every guest category; VM switches loaded CR3; the hypercalls
//   a server makes were counted by name (at least a netSend per answer);
// - the two halves agree: the guests' categories (ring-3 time less what the kernel and the other VMs
//   took, from the boot page's profileAway) add up to the kernel's ring-3 count within 2% (a broken
//   away-count would put the kernel's instructions into the guests' and break this). A guest reading the
//   TSC and profileAway across a kernel entry is rarer (a window of an instruction or two): bench:request
//   checks that over hundreds of thousands of requests and notes any difference.
// Needs root and ip, curl, ab (skipped with the reason otherwise).
import test from "ava";
import { rmSync } from "node:fs";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import { tapMissing, tapNamespace, buildVms, startMachine, inNamespaceAsync, type Machine } from "./net-machine.ts";
import { parseProfile, profileDelta } from "../../tools/profile.ts";
import type { TapNamespace } from "../../tools/net.ts";

const VMS = 4;
const FETCHES = 6;             // pages per curl (one keep-alive connection)
const PARALLEL = 3;            // curls per VM at once
const ipOf = (vm: number) => `198.18.0.${2 + vm}`;
const PROFILE_END = /^profile-guest: .*$/m;

const AB_REQUESTS = 400;       // ApacheBench on VM 0: 16 keep-alive connections at once
const why = tapMissing(["curl", "curl"], ["ab", "apache2-utils"]);
if (why) {
  test.skip(`the profile of httpd VMs (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  test.after.always(() => { machine?.kill(); ns?.remove(); kernel?.remove(); });

  const title = "profile: requests counted exactly, every category used, the guests' sum is the kernel's ring-3 count";
  test(title, async t => {
    kernel = buildKernelInTemp(false);
    const modules = buildVms(kernel.dir, "profile",
      [{ image: "guest-src/apps/httpd.ts", count: VMS, memoryKiB: 1024, argument: 0, ipBase: ipOf(0) }]);
    ns = tapNamespace("profile");
    machine = await startMachine({
      kernel: kernel.elf, modules, namespace: ns, icount: true, append: "profile", memoryMiB: 256,
    });
    await machine.waitFor(new RegExp(`^\\[vm ${VMS - 1}\\] vm ${VMS - 1} httpd on port 80$`, "m"), 120_000);
    const before = parseProfile(await machine.monitor("profile", PROFILE_END));
    const urls = (vm: number) => Array.from({ length: FETCHES }, () => `http://${ipOf(vm)}/`);
    const runs = await Promise.all(Array.from({ length: VMS * PARALLEL }, (_, k) => inNamespaceAsync(ns!,
      ["curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{http_code}\\n", ...urls(k % VMS)])));
    const ab = await inNamespaceAsync(ns!,
      ["ab", "-k", "-q", "-c", "16", "-n", String(AB_REQUESTS), `http://${ipOf(0)}/`]);
    t.regex(ab.stdout, new RegExp(`Complete requests:\\s+${AB_REQUESTS}\\n`), ab.stdout + ab.stderr);
    t.regex(ab.stdout, /Failed requests:\s+0\n/, ab.stdout);
    const answered = runs.flatMap(r => r.stdout.trim().split("\n")).filter(code => code === "200").length;
    t.is(answered, VMS * PARALLEL * FETCHES, runs.map(r => r.stderr).join(""));
    const after = parseProfile(await machine.monitor("profile", PROFILE_END));
    const d = profileDelta(before, after);
    t.is(d.vms, VMS);
    t.is(d.absent, 0);
    t.is(d.requests, answered + AB_REQUESTS);
    for (const name of ["trap", "hypercall", "timer", "nic", "switch", "scheduler", "guest"]) {
      t.true(d.kernel[name] > 0, `kernel category ${name}: ${d.kernel[name]}`);
    }
    t.true(d.cr3Loads > 0, "CR3 loads");
    // idle acknowledges each batch as it delivers it (events.ts): the libos never acknowledges alone.
    t.is(d.calls.interruptAcknowledge, 0, "interruptAcknowledge calls");
    for (const name of ["idle", "setAlarm", "netSend", "netReceive"]) {
      t.true(d.calls[name] > 0, `hypercall ${name}: ${d.calls[name]}`);
    }
    t.true(d.calls.netSend >= d.requests, "a send per answer at least");
    for (const name of ["runtime", "netif", "tcp", "app"]) {
      t.true(d.guest[name] > 0, `guest category ${name}: ${d.guest[name]}`);
    }
    const guestSum = Object.values(d.guest).reduce((a, b) => a + b, 0);
    t.true(Math.abs(guestSum - d.kernel.guest) <= 0.02 * d.kernel.guest,
      `guests' categories ${guestSum} against the kernel's ring 3 ${d.kernel.guest}`);
    t.log(`per request: kernel ${JSON.stringify(d.kernel)} guest ${JSON.stringify(d.guest)} requests ${d.requests}`);
  });
}
