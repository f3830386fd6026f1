// Contract: the hybrid ISO (GRUB + the kernel) boots the kernel from a CD and from a USB stick in
// QEMU, and from a CD in Bochs (no isa-debug-exit there: the harness stops at "boot ok" and the
// kernel would otherwise halt). GRUB shares the serial line, so only the kernel's own lines are checked.

import test from "ava";
import { runQemu } from "../../tools/qemu.ts";
import { runBochs } from "../../tools/bochs.ts";
import { BANNER, buildKernelInTemp, memoryMap, serialLines, usableMemory, type KernelBuild } from "./helpers.ts";

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(true); });
test.after.always(() => kernel?.remove());

function checkBoot(t: import("ava").ExecutionContext, serial: string, memoryMiB: number): void {
  const out = serialLines(serial);
  t.regex(out, BANNER);
  t.regex(out, /^boot loader: GRUB/m);
  t.true(memoryMap(out).some((e) => e.type === 1 && e.base === 0x100000n), "usable memory above 1 MiB");
  const usable = usableMemory(out)!;
  t.true(usable.mib >= memoryMiB - 8 && usable.mib <= memoryMiB, `usable ${usable.mib} MiB of ${memoryMiB}`);
  t.regex(out, /^boot ok$/m);
}

test("QEMU boots the ISO as a CD", async (t) => {
  const r = await runQemu({ cdrom: kernel.iso! }, { memoryMiB: 128, until: "boot ok", timeoutMs: 60_000 });
  t.false(r.timedOut);
  checkBoot(t, r.serial, 128);
});

test("QEMU boots the ISO as a USB stick", async (t) => {
  const r = await runQemu({ usb: kernel.iso! }, { memoryMiB: 128, until: "boot ok", timeoutMs: 60_000 });
  t.false(r.timedOut);
  checkBoot(t, r.serial, 128);
});

test("Bochs boots the ISO as a CD", async (t) => {
  const r = await runBochs(kernel.iso!, { memoryMiB: 64, until: "boot ok", timeoutMs: 180_000 });
  t.false(r.timedOut, r.stderr.slice(-2000));
  checkBoot(t, r.serial, 64);
});
