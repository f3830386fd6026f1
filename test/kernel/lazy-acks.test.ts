// Contract: bare TCP acknowledgements do not wake a VM that asked for them lazily (kernel-src/switch.ts
// bareAck, abi/hypercalls.ts INTERRUPT_LAZY_ACKS), under -icount (deterministic), with guests/lazyacks.ts:
// a sender VM sends each receiver the same script of frames 5 ms apart (bare ACKs with and without TCP
// options, IP options, PSH and Ethernet padding; data, SYN, FIN, RST, URG, a fragment, UDP, an IP length
// that claims data; 16 bare ACKs in a row; a stop frame). The lazy receiver is woken only by the frames
// that are not bare ACKs (and by the 16th frame queued, LAZY_ACK_QUEUE), each wake-up delivering the held
// ones before it in order; the other receiver is woken by every frame alone. The switch counts what it held.
// With a swap disk (issue 15, kernel-src/swap-out.ts): a lazy VM written out with ACKs held for it runs first
// to read them when it has an alarm set (they settle its timers), and goes out without them, dropped, when it
// has none (nothing of its own waits for them); either is read back for the data that follows.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, createSwapImage, swapDiskArgs } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, guestLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, type Group } from "./guests/build.ts";
import { LAZY_ACK_QUEUE } from "../../abi/hypercalls.ts";

let kernel: KernelBuild;
let dir: string;
let guest: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-lazy-acks-test-"));
  guest = buildTestGuest("lazyacks", dir);
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const vm = (argument: number): Group => ({ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

test("a lazy VM is not woken by bare ACKs: they come with its next wake-up; a plain one wakes for each", async (t) => {
  const manifest = writeManifest(dir, "lazy-acks", [vm(0 | 1 << 2), vm(1), vm(0 | 3 << 2), vm(2)]);
  const r = await runQemu({ kernel: kernel.elf, initrd: [guest, manifest] },
    { memoryMiB: 64, timeoutMs: 240_000, icount: true });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.is(LAZY_ACK_QUEUE, 16, "the script sends 16 bare ACKs in a row");
  // Tags: 1, 2 bare; 3 data; 4 SYN; 5 FIN; 6 RST; 7 URG; 8 PSH bare, padded; 9 a fragment; 10 UDP; 11 bare with
  // IP options; 12 a length that claims data; 13 bare, padded; 14..29 bare (the 16th queued wakes); 30 bare.
  const lazy = [
    "wake 1 2 3", "wake 4", "wake 5", "wake 6", "wake 7", "wake 8 9", "wake 10", "wake 11 12",
    `wake ${["13", ...range(14, 28)].join(" ")}`, "wake 29 30 stop",
  ];
  t.deepEqual(guestLines(out, 1), lazy);
  t.deepEqual(guestLines(out, 3), [...range(1, 30).map((k) => `wake ${k}`), "wake stop"]);
  t.regex(out, /^switch: vm-to-vm 62, vm-to-wire 0, wire-to-vm 0, arp directed 0, acks held 21 \(0 dropped at /m);
});

test("written out with ACKs held: run first to read them when it has an alarm, else they are dropped", async (t) => {
  const SWAP = 1 << 8, ALARM = 1 << 9;
  const manifest = writeManifest(dir, "lazy-acks-swap", [vm(0 | 1 << 2 | SWAP), vm(1), vm(0 | 3 << 2 | SWAP),
    vm(1 | ALARM), { moduleIndex: 0, vmCount: 1, memoryKiB: 12 * 1024, argument: 3 }]);
  const image = join(dir, "lazy-acks-swap.img");
  createSwapImage(image, 64 << 20);
  const r = await runQemu({ kernel: kernel.elf, initrd: [guest, manifest] },
    { memoryMiB: 16, timeoutMs: 240_000, icount: true, extraArgs: swapDiskArgs(image) });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-3000));
  t.deepEqual(guestLines(out, 4), ["hog done"]);
  // What it received, whichever wake-ups brought it (how frames 3 and `stop` fall into wake-ups is timing).
  const received = (vm: number) => guestLines(out, vm).flatMap((line) => line.split(" ").slice(1));
  t.deepEqual(received(1), ["3", "stop"], "no alarm: the two ACKs were dropped as it went out");
  t.deepEqual(guestLines(out, 3), ["wake 1 2", "wake 3", "wake stop"], "an alarm: it ran for them before going out");
  t.regex(out, /acks held 4 \(2 dropped at write-out\);/);
  t.regex(out, /^swap: .*, run for held acks 1,/m);
  const readIns = Number(/^swap: .*read-ins (\d+) /m.exec(out)?.[1]);
  t.true(readIns >= 2, `both receivers were read back: ${readIns} read-ins`);
});
