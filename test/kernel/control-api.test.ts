// Contract: the control VM's HTTP API (guest-src/apps/control.ts, docs/control.md) through the real
// path: the kernel in QEMU on user networking, the control VM at 10.0.2.15 holding the key of a boot
// module `control-key`, its port 80 forwarded to the host, and the next addresses (the pushed VMs')
// too. Through tools/control-client.ts: unsigned, wrongly signed, replayed and malformed requests are
// refused (401, 400) and change nothing; an image that is not a guest is refused with the reason; the
// httpd image pushed and started on PUSHED VMs: each serves its own page through its forwarded port,
// is listed, shows its console, and is stopped (DELETE): ended, its memory given back. Then the CLI
// (tools/control-cli.ts): `denali push` compiles and starts VMs and prints their ids and addresses,
// `denali vms` lists them, `denali stop` stops one; a wrong key, an unreachable URL, an unknown VM: the
// cause named, exit 1.
import test from "ava";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, userNetArgs } from "../../tools/qemu.ts";
import { buildGuest, ROOT } from "../../tools/build.ts";
import {
  controlKeyFile, readControlKey, controlSend, signRequest, nextTimestamp, type ControlResponse,
} from "../../tools/control-client.ts";
import { buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { writeManifest } from "./guests/build.ts";

/** VMs pushed (each gets a forwarded port: host BASE_PORT + 1 + k -> 10.0.2.(16 + k):80). */
const PUSHED = 4;
const BASE_PORT = 19080 + (process.pid % 200) * 8;
const URL_ = `http://127.0.0.1:${BASE_PORT}`;

let kernel: KernelBuild;
let dir: string;
let key: Buffer;
let keyPath: string;
let httpd: Buffer;
let serial = "";
const controller = new AbortController();
let machine: Promise<unknown>;

test.before(async () => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-control-api-"));
  const control = buildGuest("apps-control", join(ROOT, "guest-src", "apps", "control.ts"), 2, dir, dir);
  httpd = readFileSync(buildGuest("apps-httpd", join(ROOT, "guest-src", "apps", "httpd.ts"), 2, dir, dir).elfPath);
  const keyFile = controlKeyFile(join(dir, "control-key"));
  keyPath = keyFile;
  key = readControlKey(keyFile);
  // 10.0.2.15 in memory order (the test manifest helper's convention), 8 MiB, the control capability.
  const manifest = writeManifest(dir, "control", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 8192, argument: 0, control: true, ipBase: 0x0f02000a,
      guaranteedKiB: 1024 },
  ]);
  const forwards = Array.from({ length: PUSHED + 1 }, (_, k) => ({ hostPort: BASE_PORT + k, ip: `10.0.2.${15 + k}`,
    guestPort: 80 }));
  let ready: () => void;
  const listening = new Promise<void>((resolve) => { ready = resolve; });
  machine = runQemu({ kernel: kernel.elf, initrd: [control.elfPath, manifest, keyFile] }, {
    memoryMiB: 128, timeoutMs: 300_000, extraArgs: userNetArgs(forwards), signal: controller.signal,
    onOutput: (text) => { serial += text; if (/control API on port 80/.test(serial)) ready(); },
  });
  await Promise.race([listening, machine]);
});
test.after.always(async () => {
  controller.abort();
  await machine;
  kernel?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const send = (method: string, target: string, body?: Buffer, options = {}) => controlSend(URL_, key, method, target,
  body, options);
const json = (r: ControlResponse) => r.json as Record<string, unknown>;
type Vm = { id: number; state: string; ip: string; end: { reason: string } | null; residentKiB: number };

/** GET /vms: the machine and the VMs (one page: the test never has more than 100). */
async function listVms(): Promise<{ machine: Record<string, number>; vms: Vm[] }> {
  const r = await send("GET", "/vms");
  if (r.status !== 200) throw new Error(`GET /vms: ${r.status} ${r.body}`);
  return json(r) as never;
}

/** A raw request on a fresh connection; what came back. */
function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(BASE_PORT, "127.0.0.1", () => socket.end(text));
    let got = "";
    socket.on("data", (d) => { got += d.toString("latin1"); });
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
  });
}

/** GET of a pushed VM's page through its forwarded port. */
function page(k: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(BASE_PORT + 1 + k, "127.0.0.1", () => socket.end("GET / HTTP/1.0\r\n\r\n"));
    let got = "";
    socket.on("data", (d) => { got += d.toString("latin1"); });
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
  });
}

test.serial("the control VM listens, and every request without a valid, fresh signature is refused: 401, 400",
  async (t) => {
  t.regex(serial, /^\[vm 0\] vm 0 control API on port 80$/m, serial.slice(-2000));
  const before = await listVms();
  t.is(before.vms.length, 1);
  t.is(before.vms[0].state, "running");
  // Unsigned, a signature of another key, a forged timestamp, a replay.
  const unsigned = await send("GET", "/vms", undefined, { unsigned: true });
  t.is(unsigned.status, 401);
  t.is(json(unsigned).error, "EAUTH");
  const wrongKey = await controlSend(URL_, Buffer.alloc(32, 7), "POST", "/images", httpd);
  t.is(wrongKey.status, 401);
  t.is(json(wrongKey).reason, "bad signature");
  const signed = await send("GET", "/vms/0");
  t.is(signed.status, 200);
  // The same timestamp and signature again: a replay.
  const timestamp = nextTimestamp();
  const headers = { "X-Denali-Timestamp": timestamp, "X-Denali-Signature": signRequest(key, "DELETE", "/vms/0",
    timestamp, Buffer.alloc(0)) };
  const first = await send("DELETE", "/vms/0", undefined, { unsigned: true, headers });
  t.is(first.status, 400, "the control VM is not stopped this way (the request itself was accepted)");
  const replay = await send("DELETE", "/vms/0", undefined, { unsigned: true, headers });
  t.is(replay.status, 401);
  t.regex(String(json(replay).reason), /^replayed/);
  // Signed for another body than the one sent.
  const tsBody = nextTimestamp();
  const forged = await send("POST", "/images", Buffer.from("not the body signed"), {
    unsigned: true, headers: { "X-Denali-Timestamp": tsBody, "X-Denali-Signature": signRequest(key, "POST", "/images",
      tsBody, httpd) },
  });
  t.is(forged.status, 401);
  // Malformed: not HTTP, a bad header, chunked framing, an unknown route, a bad method.
  t.regex(await raw("GARBAGE\r\n\r\n"), /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.regex(await raw("GET /vms HTTP/1.1\r\nX-Denali-Timestamp: 12x\r\n\r\n"), /^HTTP\/1\.1 400 /);
  t.regex(await raw("POST /images HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), /^HTTP\/1\.1 400 /);
  t.is((await send("GET", "/nothing")).status, 404);
  t.is((await send("PATCH", "/vms")).status, 405);
  // Nothing changed: one VM, no image kept.
  const after = await listVms();
  t.is(after.vms.length, 1);
  t.deepEqual(json(await send("GET", "/images")), { images: [] });
});

test.serial("an image that is not a guest is refused with the reason, and nothing starts", async (t) => {
  const bad = Buffer.from(httpd);
  bad[4] = 2;                                   // ELFCLASS64
  const pushed = await send("POST", "/images", bad);
  t.is(pushed.status, 201);
  const image = json(pushed).image as number;
  const created = await send("POST", "/vms", Buffer.from(JSON.stringify({ image, count: 2, memoryKiB: 1024 })));
  t.is(created.status, 422);
  t.deepEqual(json(created), { error: "ENOEXEC", reason: "refused image: not an ELF32 i386 executable" });
  t.is((await send("DELETE", `/images/${image}`)).status, 200);
  t.is((await send("POST", "/vms", Buffer.from("{\"count\": 2}"))).status, 400);
  t.is((await send("POST", "/vms", Buffer.from("{\"image\": 0, \"count\": 2"))).status, 400);
  for (const share of [{ cpuWeight: 0 }, { cpuWeight: 10001 }, { cpuCapPercent: 0 }, { cpuCapPercent: 101 },
    { txBytesPerSecond: 1513 }, { rxBytesPerSecond: 1 }, { txPacketsPerSecond: -1 }, { memoryCapKiB: 6 }]) {
    const refused = await send("POST", "/vms", Buffer.from(JSON.stringify({ image: 0, ...share })));
    t.is(refused.status, 400, JSON.stringify(share));
  }
  t.is((await listVms()).vms.length, 1);
});

test.serial(`the httpd image pushed on ${PUSHED} VMs: each serves its page, is listed and stopped`, async (t) => {
  const pushed = await send("POST", "/images", httpd);
  t.is(pushed.status, 201, pushed.body.toString());
  t.is(json(pushed).bytes, httpd.length);
  const before = (await listVms()).machine;
  const belowReservation = await send("POST", "/vms", Buffer.from(JSON.stringify({ image: json(pushed).image,
    memoryKiB: 1024, memoryCapKiB: 4 })));
  t.is(belowReservation.status, 400, "a memory cap below the reservation");
  const created = await send("POST", "/vms", Buffer.from(JSON.stringify({ image: json(pushed).image, count: PUSHED,
    memoryKiB: 1024, cpuWeight: 300, cpuCapPercent: 50, txPacketsPerSecond: 20000, rxBytesPerSecond: 10_000_000,
    memoryCapKiB: 768 })));
  t.is(created.status, 201, created.body.toString());
  const vms = json(created).vms as { id: number; ip: string }[];
  t.deepEqual(vms.map((v) => v.ip), Array.from({ length: PUSHED }, (_, k) => `10.0.2.${16 + k}`));
  for (const [k, vm] of vms.entries()) {
    const got = await page(k);
    t.regex(got, /^HTTP\/1\.1 200 OK\r\n/, `vm ${vm.id}`);
    t.true(got.includes(`<h1>Denali VM ${vm.id}</h1>`), `vm ${vm.id} serves its own page`);
  }
  const listed = await listVms();
  for (const vm of vms) {
    const v = listed.vms.find((x) => x.id === vm.id);
    t.is(v?.ip, vm.ip);
    t.true((v?.residentKiB ?? 0) > 0);
  }
  const one = await send("GET", `/vms/${vms[0].id}`);
  t.is(json(one).id, vms[0].id);
  t.is(json(one).cpuWeight, 300);
  t.is(json(one).cpuCapPercent, 50);
  t.like(json(one), { txPacketsPerSecond: 20000, txBytesPerSecond: null, rxPacketsPerSecond: null,
    rxBytesPerSecond: 10_000_000, txLimited: 0, rxLimited: 0, memoryCapKiB: 768, swapKiB: 0 });
  t.true((json(one).cpuKcycles as number) > 0, "it served a page: its CPU is charged");
  const control = json(await send("GET", "/vms/0"));
  t.deepEqual([control.cpuWeight, control.cpuCapPercent], [100, null], "the manifest's defaults: 100, no cap");
  t.like(control, { txPacketsPerSecond: null, txBytesPerSecond: null, rxPacketsPerSecond: null,
    rxBytesPerSecond: null, memoryCapKiB: null }, "no rate limits, no memory cap");
  const console_ = await send("GET", `/vms/${vms[0].id}/console`);
  t.is(console_.body.toString("latin1"), `vm ${vms[0].id} httpd on port 80\n`);
  for (const vm of vms) t.is((await send("DELETE", `/vms/${vm.id}`)).status, 200);
  t.is((await send("DELETE", `/vms/${vms[0].id}`)).status, 404, "stopped already");
  const after = await listVms();
  for (const vm of vms) t.deepEqual(after.vms.find((x) => x.id === vm.id)?.end, { reason: "stopped" });
  t.true(after.machine.framesFree >= before.framesFree - 64,
    `frames ${before.framesFree} -> ${after.machine.framesFree}`);
  t.is(after.machine.vmsLive, 1);
  t.is((await send("DELETE", `/images/${json(pushed).image}`)).status, 200);
});

/** `denali ARGS...` (without blocking the event loop: QEMU's output is being polled). */
function denali(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "tools", "denali.mjs"), ...args], { cwd: dir });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test.serial("the CLI: push prints the new VMs, vms lists them, stop stops one; errors name their cause", async (t) => {
  const to = ["--to", URL_, "--key", keyPath];
  const pushed = await denali("push", ...to, join(ROOT, "guest-src", "apps", "httpd.ts"), "--count", "2",
    "--weight", "50", "--cap", "30", "--tx-packets", "8000", "--rx-bytes", "4000000");
  t.is(pushed.status, 0, pushed.stderr);
  const lines = pushed.stdout.trim().split("\n");
  t.is(lines.length, 2);
  const ids = lines.map((l) => Number(/^vm (\d+) 10\.0\.2\.(\d+)$/.exec(l)?.[1]));
  t.false(ids.some(Number.isNaN), pushed.stdout);
  // The image was forgotten once the VMs started: the kernel keeps its own copy.
  t.deepEqual(json(await send("GET", "/images")), { images: [] });
  const listed = await denali("vms", ...to);
  t.is(listed.status, 0, listed.stderr);
  for (const id of ids) t.regex(listed.stdout,
    new RegExp(`^vm ${id} 10\\.0\\.2\\.\\d+ (idle|runnable) memory 1024 KiB .* weight 50 cap 30% `
      + `limits tx 8000/s 0 B/s rx 0/s 4000000 B/s dropped tx 0 rx 0$`, "m"));
  t.regex(listed.stdout, /^vm 0 10\.0\.2\.15 running control memory 8192 KiB /m);
  t.regex(listed.stdout, /^machine: 3 VMs live of \d+ ids, frames free \d+ of \d+ \(\d+ unreserved\)$/m);
  const stopped = await denali("stop", ...to, String(ids[0]));
  t.is(stopped.status, 0, stopped.stderr);
  t.is(stopped.stdout, `vm ${ids[0]} stopped\n`);
  const again = await denali("stop", ...to, String(ids[0]));
  t.is(again.status, 1);
  t.is(again.stderr, "denali: 404 ESRCH: no such VM, or it has ended\n");
  await denali("stop", ...to, String(ids[1]));
  const wrong = join(dir, "wrong-key");
  writeFileSync(wrong, "ab".repeat(32) + "\n");
  const unauthorized = await denali("vms", "--to", URL_, "--key", wrong);
  t.is(unauthorized.status, 1);
  t.is(unauthorized.stderr, "denali: 401 unauthorized (bad signature): is the key the control VM's?\n");
  const unreachable = await denali("vms", "--to", "http://127.0.0.1:9", "--key", keyPath);
  t.is(unreachable.status, 1);
  t.is(unreachable.stderr, "denali: cannot reach http://127.0.0.1:9: ECONNREFUSED\n");
  const tooSmall = await denali("push", ...to, join(ROOT, "guest-src", "apps", "httpd.ts"), "--memory", "16");
  t.is(tooSmall.status, 1);
  t.regex(tooSmall.stderr, /^denali: 400 EINVAL: bad count, memoryKiB/);
});
