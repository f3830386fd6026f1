// Contract: the libos TCP's active open on the real path (issue 17 item 3): a client VM (test guest
// test/kernel/guests/fetch.ts, socketConnect from an ephemeral port) fetches `/` over HTTP/1.1
// - from another VM's httpd (guest-src/apps/httpd.ts) in the same kernel, through the kernel's switch: status
//   200 and the page naming the server VM;
// - from a Linux HTTP server on the host side of a tap device (a network namespace of its own, QEMU inside it,
//   net-machine.ts), through the NIC driver: status 200 and the page the host served. Needs root (CI has it);
//   skipped with the reason otherwise.
import test from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import { tapMissing, tapNamespace, startMachine, buildVms, type Machine } from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";

/** a.b.c.d as the number fetch.ts takes for its argument. */
const ipNumber = (ip: string) => ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);
const FETCHED = (vm: number, server: string) => new RegExp(
  `^\\[vm ${vm}\\] vm ${vm} fetch ${server.replace(/\./g, "\\.")}: connected from port (\\d+)$[\\s\\S]*`
  + `^\\[vm ${vm}\\] vm ${vm} fetch: (\\d+) bytes, status (-?\\d+), page for VM (-?\\d+)$`, "m");

let kernel: KernelBuild | undefined;
let dir: string | undefined;
const machines: Machine[] = [];
let ns: TapNamespace | undefined;
let server: ChildProcess | undefined;

test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-net-connect-"));
});
test.after.always(() => {
  for (const m of machines) m.kill();
  server?.kill();
  ns?.remove();
  kernel?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.serial("a VM fetches a page from another VM's httpd through connect, over the kernel's switch", async (t) => {
  const modules = buildVms(dir!, "vm-to-vm", [
    { image: "guest-src/apps/httpd.ts", count: 1, memoryKiB: 1024, ipBase: "10.0.0.2" },
    { image: "test/kernel/guests/fetch.ts", count: 1, memoryKiB: 1024, ipBase: "10.0.0.3",
      argument: ipNumber("10.0.0.2") },
  ]);
  const machine = await startMachine({ kernel: kernel!.elf, modules });
  machines.push(machine);
  const out = await machine.waitFor(/^\[vm 1\] vm 1 fetch done$/m, 60_000);
  machine.kill();
  const m = FETCHED(1, "10.0.0.2").exec(out);
  t.truthy(m, out.slice(-3000));
  if (!m) return;
  const [, port, bytes, status, page] = m.map(Number);
  t.true(port >= 49152 && port <= 65535, `an ephemeral port: ${port}`);
  t.is(status, 200);
  t.is(page, 0, "the page of VM 0, the server");
  t.true(bytes > 2048, `the head and the 2,048-byte page: ${bytes}`);
  t.log(m[0].split("\n").filter((l) => /fetch/.test(l)).join("\n"));
});

const why = tapMissing();
const HOST_SERVER = `
import http from 'node:http';
const page = '<html><body><h1>Denali VM 77</h1></body></html>';
http.createServer((q, s) => { s.setHeader('Connection', 'close'); s.end(page); })
  .listen(80, '198.18.0.1', () => console.log('listening'));
`;

if (why) {
  test.serial.skip(`a VM fetches a page from a server on the host over the tap (skipped: ${why})`, () => {});
} else {
  test.serial("a VM fetches a page from a server on the host, through connect, the NIC and the tap", async (t) => {
    ns = tapNamespace("connect");
    const script = join(dir!, "host-server.mjs");
    writeFileSync(script, HOST_SERVER);
    const child = spawn(ns.exec[0], [...ns.exec.slice(1), process.execPath, script],
      { stdio: ["ignore", "pipe", "ignore"] });
    server = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => { if (d.toString().includes("listening")) resolve(); });
      child.on("exit", (code) => reject(new Error(`the host server exited with ${code}`)));
    });
    const modules = buildVms(dir!, "vm-to-host", [
      { image: "test/kernel/guests/fetch.ts", count: 1, memoryKiB: 1024, ipBase: "198.18.0.2",
        argument: ipNumber("198.18.0.1") },
    ]);
    const machine = await startMachine({ kernel: kernel!.elf, modules, namespace: ns });
    machines.push(machine);
    const out = await machine.waitFor(/^\[vm 0\] vm 0 fetch done$/m, 60_000);
    machine.kill();
    const m = FETCHED(0, "198.18.0.1").exec(out);
    t.truthy(m, out.slice(-3000));
    if (!m) return;
    const [, port, , status, page] = m.map(Number);
    t.true(port >= 49152 && port <= 65535, `an ephemeral port: ${port}`);
    t.is(status, 200);
    t.is(page, 77, "the host's page");
    t.log(m[0].split("\n").filter((l) => /fetch/.test(l)).join("\n"));
  });
}
