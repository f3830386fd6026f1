// Contract: per-VM limits beyond the CPU's. The switch's rate limits (kernel-src/netlimit.ts;
// docs/virtual-architecture.md "Network rate limits") under -icount (deterministic: the kernel clock counts
// instructions), with guests/netlimit.ts:
//   - isolation: an echo pair's exchanges per 50 ms window of the kernel clock, first alone, then while a
//     third VM floods the responder at twice its packet limit: the ratio, measured in the one run, is at
//     least 0.9; the flooder's netSend results and the kernel's counters agree exactly;
//   - enforcement: a flooder that sends as fast as it can passes exactly what a token bucket of its rate
//     and NET_LIMIT_BURST_MILLISECONDS of depth allows over the time it flooded (packets/s, then bytes/s),
//     and a receiver's packet limit holds an unlimited sender to its rate, every frame accounted for.
// The memory cap (kernel-src/vm.ts "Memory quotas"), with guest-src/demos/toucher.ts: without swap a VM
// touching pages beyond its cap ends "out of memory" alone, its neighbours (one uncapped, one with room
// under its cap) get every page intact; a cap below the VMs' reservation is refused before any VM starts.
// With a swap disk the capped VM pushes its own coldest pages out instead (swap.ts atCap) and finishes with
// every page intact; the kernel's report (as the console's `vms`) shows it holding no more than its cap,
// the rest on the disk.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, createSwapImage, swapDiskArgs } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, guestLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, vmSummaries, type Group } from "./guests/build.ts";
import { buildGuest, ROOT } from "../../tools/build.ts";
import { NET_LIMIT_BURST_MILLISECONDS } from "../../abi/hypercalls.ts";
import { GUEST_BASE } from "../../abi/boot.ts";

let kernel: KernelBuild;
let dir: string;
let guest: string;
let toucher: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-limits-test-"));
  guest = buildTestGuest("netlimit", dir);
  toucher = buildGuest("toucher", join(ROOT, "guest-src", "demos", "toucher.ts"), 2, dir, dir).elfPath;
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const ROLE = { pinger: 0, responder: 1, flooder: 2, sink: 3 } as const;
/** guests/netlimit.ts's argument: start in milliseconds (a multiple of 10), frames of `bytes` (multiple of 8). */
function argument(role: number, o: { target?: number; perMs?: number; bytes?: number; startMs?: number } = {}) {
  const { target = 0, perMs = 0, bytes = 0, startMs = 0 } = o;
  return (role | target << 2 | perMs << 8 | (bytes / 8) << 14 | (startMs / 10) << 22) >>> 0;
}
const vm = (arg: number, extra: Partial<Group> = {}): Group =>
  ({ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: arg, ...extra });

async function run(name: string, groups: Group[], image = guest, extraArgs: string[] = []) {
  const manifest = writeManifest(dir, name, groups);
  const r = await runQemu({ kernel: kernel.elf, initrd: [image, manifest] }, {
    memoryMiB: 64, timeoutMs: 240_000, icount: true, extraArgs,
  });
  if (process.env.NETLIMIT_SERIAL) writeFileSync(join(process.env.NETLIMIT_SERIAL, `${name}.txt`), r.serial);
  return { out: serialLines(r.serial), debugExit: r.debugExit };
}

interface NetLine { rxPackets: number; txPackets: number; refused: number }
/** The kernel's `vm N net: ...` line (switch.ts switchReportVm). */
function net(out: string, id: number): NetLine {
  const m = new RegExp(`^vm ${id} net: rx (\\d+) packets \\d+ bytes, tx (\\d+) packets \\d+ bytes, dropped \\d+, `
    + `spoofed 0, refused (\\d+), evicted 0$`, "m").exec(out);
  if (!m) throw new Error(`no net line for vm ${id}`);
  return { rxPackets: Number(m[1]), txPackets: Number(m[2]), refused: Number(m[3]) };
}
/** The kernel's `vm N limits: ...; dropped tx T rx R` line (netlimit.ts netLimitReportVm). */
function limited(out: string, id: number): { tx: number; rx: number } {
  const m = new RegExp(`^vm ${id} limits: .*; dropped tx (\\d+) rx (\\d+)$`, "m").exec(out);
  if (!m) throw new Error(`no limits line for vm ${id}`);
  return { tx: Number(m[1]), rx: Number(m[2]) };
}
/** A flooder's own count (guests/netlimit.ts). */
function flood(out: string, id: number) {
  const line = guestLines(out, id).find((l) => l.startsWith("flood attempts "));
  const m = /^flood attempts (\d+) accepted (\d+) refused (\d+) first (\d+) last (\d+)$/.exec(line ?? "");
  if (!m) throw new Error(`no flood line for vm ${id}`);
  const [attempts, accepted, refused, first, last] = m.slice(1).map(Number);
  return { attempts, accepted, refused, spanSeconds: (last - first) / 1e6 };
}
/**
 * What a token bucket of `rate` per second (GCRA with NET_LIMIT_BURST_MILLISECONDS of tolerance, starting
 * full) passes to a sender that tries all the time for `span` seconds, one unit of `cost` per frame.
 */
const bucketPasses = (rate: number, span: number, cost = 1) =>
  Math.floor((span + NET_LIMIT_BURST_MILLISECONDS / 1000) * rate / cost) + 1;

test("a VM flooding its neighbour at twice its packet limit lowers the neighbour's echo rate under 10%", async (t) => {
  const limit = 5000;
  const r = await run("isolation", [
    vm(argument(ROLE.pinger, { target: 1 })),
    vm(argument(ROLE.responder)),
    vm(argument(ROLE.flooder, { target: 1, perMs: 20, startMs: 400 }), { limits: { txPacketsPerSecond: limit } }),
  ]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  const windows = new Map(guestLines(r.out, 0).map((l) => /^echo window (\d+) exchanges (\d+)$/.exec(l))
    .filter((m) => m !== null).map((m) => [Number(m![1]), Number(m![2])]));
  const mean = (from: number, to: number) => {
    let sum = 0;
    for (let w = from; w <= to; w++) sum += windows.get(w) ?? NaN;
    return sum / (to - from + 1);
  };
  // Windows of 50 ms; the flood is 400..900 ms (over before the responder exits: no frame of it is lost
  // to an ended VM), and its alarms come every 2 ms (1 ms asked, the next tick): 10,000 frames/s.
  const alone = mean(2, 7), flooded = mean(9, 17);
  t.true(alone > 0, `echo windows: ${JSON.stringify([...windows])}`);
  const ratio = flooded / alone;
  t.true(ratio >= 0.9, `echo exchanges per 50 ms: ${alone.toFixed(1)} alone, ${flooded.toFixed(1)} flooded`);
  // The flooder: every frame netSend took (returned 0) was passed or dropped by its limit, nothing else.
  const f = flood(r.out, 2), counters = net(r.out, 2), dropped = limited(r.out, 2);
  t.is(f.attempts, f.accepted + f.refused);
  t.is(f.accepted, counters.txPackets + dropped.tx, `${JSON.stringify(f)} ${JSON.stringify(counters)}`);
  t.is(f.refused, counters.refused);
  t.true(dropped.tx > 0 && dropped.rx === 0);
  const expected = bucketPasses(limit, f.spanSeconds);
  t.true(Math.abs(counters.txPackets - expected) <= expected * 0.02,
    `passed ${counters.txPackets}, expected ${expected}`);
  t.true(net(r.out, 1).rxPackets >= counters.txPackets);
  t.log(`echo exchanges per 50 ms: ${alone.toFixed(1)} alone, ${flooded.toFixed(1)} beside the flood: ratio `
    + `${ratio.toFixed(3)}; flooder: ${f.accepted} sent, ${counters.txPackets} passed, ${dropped.tx} dropped by its `
    + `limit of ${limit}/s over ${f.spanSeconds.toFixed(3)} s`);
});

test("limits hold a flooder to its packets/s and bytes/s, and a receiver to its packets/s (-icount)", async (t) => {
  const packets = 2000, bytes = 400_000, receive = 1000;
  const r = await run("enforce", [
    vm(argument(ROLE.flooder, { target: 3, startMs: 100 }), { limits: { txPacketsPerSecond: packets } }),
    vm(argument(ROLE.flooder, { target: 3, bytes: 1000, startMs: 700 }), { limits: { txBytesPerSecond: bytes } }),
    vm(argument(ROLE.flooder, { target: 4, startMs: 1300 })),
    vm(argument(ROLE.sink, { startMs: 1300 })),
    vm(argument(ROLE.sink, { startMs: 1900 }), { limits: { rxPacketsPerSecond: receive } }),
  ]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  const lines: string[] = [];
  const check = (id: number, passed: number, expected: number, what: string) => {
    const f = flood(r.out, id);
    const rate = (passed - 1) / (f.spanSeconds + NET_LIMIT_BURST_MILLISECONDS / 1000);
    lines.push(`vm ${id}: ${f.attempts} attempts, ${passed} passed over ${f.spanSeconds.toFixed(4)} s: `
      + `${rate.toFixed(1)} ${what} (expected ${expected} frames)`);
    t.true(Math.abs(passed - expected) <= 2, lines[lines.length - 1]);
    return f;
  };
  // Packets/s: the sender's limit.
  const a = check(0, net(r.out, 0).txPackets, bucketPasses(packets, flood(r.out, 0).spanSeconds), "frames/s");
  t.is(a.accepted, net(r.out, 0).txPackets + limited(r.out, 0).tx);
  // Bytes/s: 1000-byte frames.
  const b = check(1, net(r.out, 1).txPackets, bucketPasses(bytes, flood(r.out, 1).spanSeconds, 1000), "frames/s");
  t.is(b.accepted, net(r.out, 1).txPackets + limited(r.out, 1).tx);
  t.is(Number(/^sink received (\d+)$/m.exec(guestLines(r.out, 3).join("\n"))?.[1]), net(r.out, 3).rxPackets);
  t.is(net(r.out, 3).rxPackets, net(r.out, 0).txPackets + net(r.out, 1).txPackets);
  // Packets/s on receive: the sender is unlimited, each frame it got taken is queued or dropped at vm 4.
  const received = net(r.out, 4).rxPackets;
  const c = check(2, received, bucketPasses(receive, flood(r.out, 2).spanSeconds), "frames/s received");
  t.is(c.accepted, net(r.out, 2).txPackets);
  t.is(c.accepted, received + limited(r.out, 4).rx);
  t.log(lines.join("\n"));
});

test("without swap a VM touching memory past its cap ends out of memory alone; a cap below its reservation is refused",
  async (t) => {
  const pages = 200;                      // 800 KiB of pages, one at a time (guest-src/demos/toucher.ts)
  const touch = (extra: Partial<Group>): Group =>
    ({ moduleIndex: 0, vmCount: 1, memoryKiB: 1024, argument: pages, ...extra });
  const groups = [touch({ memoryCapKiB: 256 }), touch({}), touch({ memoryCapKiB: 1024 })];
  const r = await run("memory-cap", groups, toucher);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  const summary = vmSummaries(r.out);
  t.regex(summary.get(0)!.outcome, /^out of memory/, r.out.slice(-3000));
  t.regex(r.out, /^vm 0 memory cap 256 KiB, holds 0 KiB, on swap 0 KiB$/m, "its memory given back");
  // It touches pages downwards from below its boot page (the top): it faulted on the page that would
  // have taken it past 64 frames, its page directory, page table, boot page and data among them.
  const address = Number(/^vm 0: .*, out of memory address (0x[0-9a-f]+) /m.exec(r.out)?.[1]);
  const fromTop = (GUEST_BASE + 1024 * 1024 - address) / 4096;
  t.true(fromTop > 64 - 8 && fromTop <= 64, `faulted ${fromTop} pages below the top`);
  for (const id of [1, 2]) {
    t.regex(r.out, new RegExp(`^\\[vm ${id}\\] vm ${id} done ${pages} pages intact$`, "m"), `vm ${id}`);
    t.is(summary.get(id)!.outcome, "exit status 0");
  }
  const refused = await run("memory-cap-low", [touch({ memoryCapKiB: 16 })], toucher);
  t.regex(refused.out, /^vms: manifest refused: group 0: memory cap below the reservation of its VMs, \d+ KiB$/m,
    refused.out.slice(-2000));
  t.log(r.out.split("\n").filter((l) => /^vm \d: |memory cap/.test(l)).join("\n"));
});

test("with swap a VM at its memory cap pushes its own cold pages out: within its cap, every page intact", async (t) => {
  const pages = 200, HOLD = 0x80000000;   // guest-src/demos/toucher.ts: 800 KiB of pages, then idle for good
  const touch = (extra: Partial<Group>): Group =>
    ({ moduleIndex: 0, vmCount: 1, memoryKiB: 1024, argument: pages, ...extra });
  const groups = [
    touch({ memoryCapKiB: 256, argument: (pages | HOLD) >>> 0 }), touch({}), touch({ memoryCapKiB: 1024 }),
  ];
  const disk = join(dir, "swap-cap.img");
  createSwapImage(disk, 16 << 20);
  const r = await run("memory-cap-swap", groups, toucher, swapDiskArgs(disk, "virtio"));
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  // All three run through their 200 pages (each checked after the next is written, all at the end).
  for (const id of [0, 1, 2]) t.regex(r.out, new RegExp(`^\\[vm ${id}\\] vm ${id} done ${pages} pages intact$`, "m"));
  const summary = vmSummaries(r.out);
  t.is(summary.get(1)!.outcome, "exit status 0");
  t.is(summary.get(2)!.outcome, "exit status 0");
  // The capped one lives on, idle (the run ends when nothing can wake anyone): what it holds and what lies
  // on the disk, in the kernel's report (the console's `vms` prints the same lines).
  t.regex(r.out, /^vm 0: .*, still idle$/m);
  const cap = /^vm 0 memory cap 256 KiB, holds (\d+) KiB, on swap (\d+) KiB$/m.exec(r.out);
  t.truthy(cap, r.out.slice(-3000));
  const holds = Number(cap![1]), onSwap = Number(cap![2]);
  t.true(holds <= 256, cap![0]);
  t.true(holds + onSwap >= pages * 4, `${cap![0]}: its ${pages} pages are somewhere`);
  // Its pages went out by its own cap (64 MiB: no memory pressure), and came back intact when touched.
  const swap = new RegExp("^swap: .*checksum failures (\\d+), .*page-ins (\\d+), page-outs (\\d+), .*"
    + "memory waits (\\d+) \\(hypercalls \\d+\\), at a memory cap (\\d+)", "m").exec(r.out);
  t.truthy(swap, r.out.slice(-3000));
  const [failures, pageIns, pageOuts, memoryWaits, capWaits] = swap!.slice(1).map(Number);
  t.is(failures, 0);
  t.is(memoryWaits, 0, "no VM waited for the pool");
  t.true(capWaits >= 1 && pageOuts >= pages - 64 && pageIns >= 1, swap![0]);
  t.log(`${cap![0]}; ${capWaits} waits at the cap, ${pageOuts} pages out, ${pageIns} page-ins`);
});
