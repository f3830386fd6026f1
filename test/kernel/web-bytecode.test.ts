// Contract: httpd and echo as bytecode VMs (issue 18, docs/bytecode.md "Threads"): their libos threads run
// on the in-kernel interpreter's contexts (contextSwitch, contextCreate). One kernel, a tap device in a
// network namespace of its own (host side 198.18.0.1/15), virtio-net, and a mix of VMs:
//   vm 0, 1  guest-src/apps/httpd.ts as hardware VMs   198.18.0.2, .3
//   vm 2, 3  the same httpd as bytecode VMs             198.18.0.4, .5
//   vm 4     guest-src/apps/echo.ts as a bytecode VM   198.18.0.6, port 7
// - every httpd VM answers `curl http://IP/` with its own 2,048-byte page (`<h1>Denali VM i</h1>`);
// - ApacheBench against a bytecode httpd, without and with keep-alive (its workers are threads: one a
//   connection, up to 8 at once), completes every request with no failure and no non-2xx answer, and so
//   does a smaller run against a hardware one at the same time;
// - 64 KiB sent to the bytecode echo VM come back byte for byte;
// - then `stop` on the console: every VM alive (none ended by the kernel, none exited).
// Needs root (CI runs as root) and ip, curl, ab; skipped with the reason otherwise. The namespace and QEMU
// are removed in an always-run cleanup.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TapNamespace } from "../../tools/net.ts";
import {
  tapMissing, tapNamespace, inNamespaceAsync, buildVms, startMachine, writeEchoClient, echoTransfer, type Machine,
} from "./net-machine.ts";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";

const ipOf = (vm: number) => `198.18.0.${2 + vm}`;
const HARDWARE = [0, 1];
const BYTECODE = [2, 3];
const ECHO = 4;
const ECHO_PORT = 7;
const REQUESTS = 300;
const ECHO_BYTES = 65536;

const why = tapMissing(["curl", "curl"], ["ab", "apache2-utils"]);
const title = "httpd as hardware and bytecode VMs and echo as a bytecode VM in one kernel: curl, ab, echo";
if (why) test.skip(`${title} (skipped: ${why})`, () => {});
else webBytecodeTest();

function webBytecodeTest(): void {
  let kernel: KernelBuild | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  const dir = mkdtempSync(join(tmpdir(), "denali-web-bytecode-"));
  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test.serial(title, async t => {
    kernel = buildKernelInTemp(false);
    const modules = buildVms(dir, "web-bytecode", [
      { image: "guest-src/apps/httpd.ts", count: HARDWARE.length, memoryKiB: 1024, argument: 0, ipBase: ipOf(0) },
      { image: "guest-src/apps/httpd.ts", count: BYTECODE.length, memoryKiB: 1024, argument: 0, ipBase: ipOf(2),
        isolation: "bytecode" },
      { image: "guest-src/apps/echo.ts", count: 1, memoryKiB: 512, argument: ECHO_PORT, ipBase: ipOf(ECHO),
        isolation: "bytecode" },
    ]);
    ns = tapNamespace("webbc");
    machine = await startMachine({ kernel: kernel.elf, modules, namespace: ns, nic: "virtio", memoryMiB: 256 });
    for (const vm of [...HARDWARE, ...BYTECODE]) {
      await machine.waitFor(new RegExp(`^\\[vm ${vm}\\] vm ${vm} httpd on port 80$`, "m"), 120_000);
    }
    await machine.waitFor(new RegExp(`^\\[vm ${ECHO}\\] vm ${ECHO} echo on port ${ECHO_PORT}$`, "m"), 120_000);
    t.regex(machine.out(), /^vms: group 1: bytecode image verified, \d+ bytes, \d+ bytes of data$/m);

    for (const vm of [...HARDWARE, ...BYTECODE]) {
      const r = await inNamespaceAsync(ns, ["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code} %{size_download}",
        `http://${ipOf(vm)}/`]);
      t.true(r.status === 0 && r.stdout.includes(`<h1>Denali VM ${vm}</h1>`) && r.stdout.endsWith("\n200 2048"),
        `vm ${vm}: status ${r.status} ${r.stderr.trim()} ${r.stdout.slice(-60)}`);
    }

    // ApacheBench, 8 concurrent connections, at a bytecode httpd and (fewer) at a hardware one beside it.
    for (const keepAlive of [false, true]) {
      const ab = (vm: number, n: number) => ["ab", ...(keepAlive ? ["-k"] : []), "-q", "-n", String(n), "-c", "8",
        "-s", "30", `http://${ipOf(vm)}/`];
      const loads = [{ vm: BYTECODE[0], n: REQUESTS }, { vm: HARDWARE[1], n: REQUESTS / 3 }];
      const runs = await Promise.all(loads.map(l => inNamespaceAsync(ns!, ab(l.vm, l.n), 180_000)));
      runs.forEach((r, k) => {
        const label = `ab ${keepAlive ? "-k " : ""}vm ${loads[k].vm}`;
        t.is(r.status, 0, `${label}: ${r.stderr}`);
        t.regex(r.stdout, new RegExp(`^Complete requests:\\s+${loads[k].n}$`, "m"), label);
        t.regex(r.stdout, /^Failed requests:\s+0$/m, label);
        t.notRegex(r.stdout, /^Non-2xx responses:/m, label);
        t.regex(r.stdout, /^Document Length:\s+2048 bytes$/m, label);
        t.log(`${label} (${BYTECODE.includes(loads[k].vm) ? "bytecode" : "hardware"}): `
          + `${/^Requests per second:\s+(\S+)/m.exec(r.stdout)?.[1]} requests/s`);
      });
    }

    const echo = echoTransfer(ns, writeEchoClient(dir), ipOf(ECHO), ECHO_PORT, ECHO_BYTES, 18);
    t.is(echo.bytesReceived, ECHO_BYTES);
    t.is(echo.received, echo.sent, "the echo came back byte for byte");

    const run = await machine.stop();
    t.false(/^exception: /m.test(run.serial), "no kernel exception");
    t.false(/^vm \d+ ended: /m.test(run.serial), run.serial.match(/^vm \d+ ended: .*$/m)?.[0] ?? "");
    t.regex(run.serial, /^vms: 5 started, 0 exited, 0 ended by the kernel, 5 idle;/m);
  });
}
