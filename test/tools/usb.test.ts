// Contract: tools/usb.sh (`make usb DEV=/dev/sdX`) writes the ISO only to a whole, removable, unmounted
// block device, and only after the device name was typed back at a terminal (or YES=1); every refusal
// says why on stderr, exits 1 and leaves the target untouched. No real disk is ever written: the
// "devices" are regular files, missing paths, and loop devices backed by temporary files; a fake sysfs
// and procfs (DENALI_SYSFS, DENALI_PROCFS) make a loop device look removable, partitioned or mounted.
// The loop-device tests need root (losetup): without it they are skipped, visibly, with the reason in
// their title (tools/test-summary.sh lists them; under CI=true a skip fails the run).

import test from "ava";
import { spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SCRIPT = join(ROOT, "tools", "usb.sh");
const STICK_BYTES = 8 << 20;

let dir: string;
let iso: string;
let isoBytes: Buffer;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "denali-usb-test-"));
  // Any bytes do: the script copies the file; tests of the real ISO booting are in test/kernel/.
  iso = join(dir, "image.iso");
  isoBytes = randomBytes(3 * 1024 * 1024 + 512);
  writeFileSync(iso, isoBytes);
});
test.after.always(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

interface Run { status: number | null; stdout: string; stderr: string }

function usb(env: Record<string, string>, input = ""): Run {
  const r = spawnSync("bash", [SCRIPT], { cwd: ROOT, env: { ...process.env, DEV: "", YES: "", ...env, ISO: env.ISO ?? iso }, input, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Why loop devices cannot be used here (not root, no losetup, no free device), or "" when they can. */
function loopUnavailable(): string {
  try {
    execFileSync("losetup", ["--find"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return "";
  } catch (e) {
    return `no loop device: ${(e as Error).message.split("\n")[0]}`;
  }
}
const noLoop = loopUnavailable();

/** A test that needs a loop device: skipped visibly (its title says why) where there is none. */
function loopTest(title: string, body: (t: import("ava").ExecutionContext) => void): void {
  if (noLoop) test.skip(`${title} (skipped: ${noLoop})`, () => {});
  else test(title, body);
}

/** A loop device over a fresh zero-filled file (the test fails if losetup does). */
function loopDevice(t: import("ava").ExecutionContext): { dev: string; name: string; backing: string; detach(): void } {
  const backing = join(dir, `stick-${Math.random().toString(36).slice(2)}.img`);
  writeFileSync(backing, Buffer.alloc(STICK_BYTES));
  const dev = execFileSync("losetup", ["--find", "--show", backing],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`losetup returned ${dev}`);
  // Detach once only: a later detach could hit another process's loop device with the same number.
  let attached = true;
  const detach = () => {
    if (!attached) return;
    attached = false;
    execFileSync("losetup", ["--detach", dev], { stdio: "ignore" });
  };
  t.teardown(detach);
  return { dev, name: dev.slice("/dev/".length), backing, detach };
}

/** A fake /sys and /proc in which disk NAME has the given attributes. */
function fakeRoots(name: string, o: { removable?: string; partitions?: string[]; partitionItself?: boolean; mounts?: string; swaps?: string } = {}) {
  const root = mkdtempSync(join(dir, "roots-"));
  const sys = join(root, "sys"), proc = join(root, "proc");
  if (o.partitionItself) {
    mkdirSync(join(sys, "class", "block", name), { recursive: true });
    writeFileSync(join(sys, "class", "block", name, "partition"), "1\n");
  }
  mkdirSync(join(sys, "block", name, "device"), { recursive: true });
  writeFileSync(join(sys, "block", name, "removable"), `${o.removable ?? "1"}\n`);
  writeFileSync(join(sys, "block", name, "size"), `${STICK_BYTES / 512}\n`);
  writeFileSync(join(sys, "block", name, "device", "vendor"), "Fake    \n");
  writeFileSync(join(sys, "block", name, "device", "model"), "Test Stick      \n");
  for (const [i, p] of (o.partitions ?? []).entries()) {
    mkdirSync(join(sys, "block", name, p), { recursive: true });
    writeFileSync(join(sys, "block", name, p, "partition"), `${i + 1}\n`);
  }
  mkdirSync(proc, { recursive: true });
  writeFileSync(join(proc, "mounts"), o.mounts ?? "proc /proc proc rw 0 0\n/dev/vda1 / ext4 rw 0 0\n");
  writeFileSync(join(proc, "swaps"), `Filename\tType\tSize\tUsed\tPriority\n${o.swaps ?? ""}`);
  return { DENALI_SYSFS: sys, DENALI_PROCFS: proc };
}

function refused(t: import("ava").ExecutionContext, r: Run, message: RegExp): void {
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /^usb: refusing: /m);
  t.regex(r.stderr, message);
  t.regex(r.stderr, /nothing was written/);
  t.false(r.stdout.includes("dd if="), "dd never ran");
}

const untouched = (path: string) => readFileSync(path).equals(Buffer.alloc(STICK_BYTES));

test("without DEV: usage, status 2", (t) => {
  const r = usb({});
  t.is(r.status, 2);
  t.regex(r.stderr, /usage: make usb DEV=\/dev\/sdX/);
});

test("a missing device is refused", (t) => {
  refused(t, usb({ DEV: join(dir, "no-such-device") }), /does not exist/);
});

test("a regular file is refused and left as it was", (t) => {
  const file = join(dir, "not-a-device.img");
  writeFileSync(file, Buffer.alloc(STICK_BYTES));
  refused(t, usb({ DEV: file, YES: "1" }), /is not a block device/);
  t.true(untouched(file));
});

test("a character device (/dev/null) is refused", (t) => {
  refused(t, usb({ DEV: "/dev/null", YES: "1" }), /is not a block device/);
});

test("make usb passes DEV through to the script", (t) => {
  const file = join(dir, "via-make.img");
  writeFileSync(file, Buffer.alloc(STICK_BYTES));
  const r = spawnSync("make", ["-s", "usb", `DEV=${file}`, "YES=1", `ISO=${iso}`], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  t.not(r.status, 0);
  t.regex(r.stderr, /usb: refusing: .*via-make\.img is not a block device/);
  t.true(untouched(file));
});

loopTest("a non-removable block device (a loop device, the real /sys) is refused", (t) => {
  const loop = loopDevice(t);
  refused(t, usb({ DEV: loop.dev, YES: "1" }), new RegExp(`${loop.dev} is not removable \\(/sys/block/${loop.name}/removable is 0\\)`));
  t.true(untouched(loop.backing));
});

loopTest("fake sysfs: removable = 0 is refused", (t) => {
  const loop = loopDevice(t);
  refused(t, usb({ DEV: loop.dev, YES: "1", ...fakeRoots(loop.name, { removable: "0" }) }), /is not removable/);
  t.true(untouched(loop.backing));
});

loopTest("fake sysfs: a partition is refused", (t) => {
  const loop = loopDevice(t);
  refused(t, usb({ DEV: loop.dev, YES: "1", ...fakeRoots(loop.name, { partitionItself: true }) }), /is a partition; give the whole disk/);
  t.true(untouched(loop.backing));
});

loopTest("fake sysfs: a device that is not a whole disk (no /sys/block/NAME) is refused", (t) => {
  const loop = loopDevice(t);
  const roots = fakeRoots("someotherdisk");
  refused(t, usb({ DEV: loop.dev, YES: "1", ...roots }), /is not a whole disk/);
  t.true(untouched(loop.backing));
});

loopTest("fake procfs: a mounted disk, a mounted partition, a swap partition are refused", (t) => {
  const loop = loopDevice(t);
  const p1 = `${loop.name}p1`, p2 = `${loop.name}p2`;
  const cases: [Parameters<typeof fakeRoots>[1], RegExp][] = [
    [{ mounts: `${loop.dev} /mnt/stick vfat rw 0 0\n` }, new RegExp(`${loop.dev} is mounted on /mnt/stick`)],
    [{ partitions: [p1, p2], mounts: `/dev/vda1 / ext4 rw 0 0\n/dev/${p2} /media/my\\040stick vfat rw 0 0\n` }, new RegExp(`/dev/${p2} is mounted on /media/my stick`)],
    [{ partitions: [p1], swaps: `/dev/${p1}\tpartition\t1024\t0\t-2\n` }, new RegExp(`/dev/${p1} is in use as swap`)],
  ];
  for (const [roots, message] of cases) refused(t, usb({ DEV: loop.dev, YES: "1", ...fakeRoots(loop.name, roots) }), message);
  t.true(untouched(loop.backing));
});

loopTest("fake sysfs: without a terminal and without YES=1 it refuses to ask", (t) => {
  const loop = loopDevice(t);
  const r = usb({ DEV: loop.dev, ...fakeRoots(loop.name) }, `${loop.name}\n`);
  refused(t, r, /no terminal to confirm on; .*YES=1/);
  t.regex(r.stdout, /Fake Test Stick, 8 MB, removable, not mounted/);
  t.true(untouched(loop.backing));
});

/** Runs the script with stdin on a pseudo-terminal (util-linux script) and types `answer`. */
function usbOnTerminal(env: Record<string, string>, answer: string): Run {
  const r = spawnSync("script", ["-qec", `bash ${SCRIPT}`, "/dev/null"], {
    cwd: ROOT, env: { ...process.env, YES: "", ISO: iso, ...env }, input: `${answer}\n`, encoding: "utf8", timeout: 60_000,
  });
  // script merges the child's stdout and stderr on the terminal.
  return { status: r.status, stdout: r.stdout, stderr: r.stdout };
}

loopTest("fake sysfs, on a terminal: a wrong name typed back is refused", (t) => {
  const loop = loopDevice(t);
  const r = usbOnTerminal({ DEV: loop.dev, ...fakeRoots(loop.name) }, "sda");
  t.regex(r.stdout, new RegExp(`type the device name \\(${loop.name}\\) to write`));
  t.regex(r.stdout, /usb: refusing: not confirmed \(typed 'sda'\)/);
  t.not(r.status, 0);
  t.true(untouched(loop.backing));
});

loopTest("fake sysfs, on a terminal: the right name typed back writes the ISO (dd, sync, read-back)", (t) => {
  const loop = loopDevice(t);
  const r = usbOnTerminal({ DEV: loop.dev, ...fakeRoots(loop.name) }, loop.name);
  t.is(r.status, 0, r.stdout);
  t.regex(r.stdout, /wrote and verified 3146240 bytes/);
  loop.detach();
  const written = readFileSync(loop.backing);
  t.true(written.subarray(0, isoBytes.length).equals(isoBytes), "the ISO's bytes at the start of the stick");
  t.true(written.subarray(isoBytes.length).equals(Buffer.alloc(STICK_BYTES - isoBytes.length)), "nothing after them");
});

loopTest("fake sysfs, YES=1 (no terminal): writes the ISO with a progress display", (t) => {
  const loop = loopDevice(t);
  const r = usb({ DEV: loop.dev, YES: "1", ...fakeRoots(loop.name, { partitions: [`${loop.name}p1`] }) });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /YES=1: not asking/);
  t.regex(r.stdout, /dd if=.* of=\/dev\/loop\d+ bs=4M conv=fsync status=progress/);
  t.regex(r.stderr, /bytes .* copied/);   // dd's summary (status=progress)
  loop.detach();
  t.true(readFileSync(loop.backing).subarray(0, isoBytes.length).equals(isoBytes));
});

loopTest("a stick smaller than the image is refused", (t) => {
  const loop = loopDevice(t);
  const roots = fakeRoots(loop.name);
  writeFileSync(join(roots.DENALI_SYSFS, "block", loop.name, "size"), "1024\n");   // 512 KiB
  refused(t, usb({ DEV: loop.dev, YES: "1", ...roots }), /holds 524288 bytes, the image needs 3146240/);
  t.true(untouched(loop.backing));
});
