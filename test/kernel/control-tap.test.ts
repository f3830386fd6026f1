// Contract (issue 19's check): through the control API, an httpd image pushed and started on 100 VMs at
// run time; each serves its own page to a real client on a tap device; all are stopped, and their
// memory is free again: a second round of 100 reuses the same ids and the free-frame count after it is
// exactly the count after the first. A network namespace of its own with the tap (host side 198.18.0.1),
// the control VM at 198.18.0.2 with its key from the boot module; the client (control-tap-run.ts) runs
// inside the namespace. Needs root; skipped with the reason otherwise.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildGuest, ROOT } from "../../tools/build.ts";
import { controlKeyFile } from "../../tools/control-client.ts";
import { tapMissing, tapNamespace, startMachine, inNamespaceAsync, type Machine } from "./net-machine.ts";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import { writeManifest } from "./guests/build.ts";
import type { TapNamespace } from "../../tools/net.ts";

const VMS = 100;

const why = tapMissing();
if (why) {
  test.skip(`${VMS} VMs pushed through the control API on a tap (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  const dir = mkdtempSync(join(tmpdir(), "denali-control-tap-"));
  test.after.always(async () => {
    machine?.kill();
    await machine?.exited.catch(() => {});
    ns?.remove();
    kernel?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${VMS} VMs pushed through the control API each serve their page; stopped, their memory is free again`,
    async (t) => {
    kernel = buildKernelInTemp(false);
    const control = buildGuest("apps-control", join(ROOT, "guest-src", "apps", "control.ts"), 2, dir, dir);
    const httpd = buildGuest("apps-httpd", join(ROOT, "guest-src", "apps", "httpd.ts"), 2, dir, dir);
    const key = controlKeyFile(join(dir, "control-key"));
    // 198.18.0.2 in memory order; its netmask and gateway the tap network's (the test helper's defaults).
    const manifest = writeManifest(dir, "control", [
      { moduleIndex: 0, vmCount: 1, memoryKiB: 8192, argument: 0, control: true, ipBase: 0x020012c6,
        guaranteedKiB: 1024 },
    ]);
    ns = tapNamespace("control");
    machine = await startMachine({ kernel: kernel.elf, modules: [control.elfPath, manifest, key], namespace: ns,
      memoryMiB: 256 });
    await machine.waitFor(/^\[vm 0\] vm 0 control API on port 80$/m, 120_000);
    const run = await inNamespaceAsync(ns, [process.execPath, "--import", "tsx", join(ROOT, "test", "kernel",
      "control-tap-run.ts"),
      "http://198.18.0.2", key, httpd.elfPath, String(VMS)], 600_000);
    t.is(run.status, 0, `${run.stderr}\n${machine.out().slice(-3000)}`);
    const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as {
      vms: { id: number; ip: string }[]; pages: number; stops: number[]; secondIds: number[]; frames: number[];
      controlFrames: number[]; live: number;
    };
    t.is(result.vms.length, VMS);
    t.deepEqual(result.vms.map((v) => v.ip), Array.from({ length: VMS }, (_, k) => `198.18.0.${3 + k}`));
    t.is(result.pages, VMS, "every VM served its own page");
    t.deepEqual(result.stops, [VMS, VMS]);
    t.deepEqual(result.secondIds, result.vms.map((v) => v.id), "the second round reused the first's ids");
    // Free frames plus the control VM's own (it touches more of its pages as it serves): what the pushed
    // VMs hold. After a second round it is exactly what it was after the first.
    const held = result.frames.map((free, i) => free + result.controlFrames[i]);
    t.is(held[2], held[1], "the free-frame count returns to where it was");
    t.true(held[1] <= held[0]);
    t.log(`free frames (+ the control VM's): ${held[0]} before, ${held[1]} after the first round of ${VMS} `
      + `(the kernel's tables grew once), ${held[2]} after the second; the control VM's own: `
      + result.controlFrames.join(', '));
    t.is(result.live, 1);
    t.false(/^vm \d+ ended: (?!stopped by the control VM)/m.test(machine.out()), "no VM ended but by a stop");
  });
}
