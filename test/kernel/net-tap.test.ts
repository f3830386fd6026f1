// Contract: the kernel's network path against a real Linux peer (issue 5; needs root, as CI has):
// a network namespace of its own with a tap device (host side 198.18.0.1/15), QEMU started inside it
// with `-netdev tap` and a virtio-net card; a VM at 198.18.0.2 answers ARP and ICMP echo (the guest
// test/kernel/guests/net.ts, mode responder), and `ping -c 3 198.18.0.2` inside the namespace gets
// its three replies through the driver and the switch (a fourth ping makes the guest exit). The namespace (and with it
// the tap) and QEMU are removed in an always-run cleanup. Skipped with the reason when not root or without ping.
import test from "ava";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemuArgs } from "../../tools/qemu.ts";
import { buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, workerArgument } from "./guests/build.ts";
import { tapMissing } from "./net-machine.ts";

const NAMESPACE = `denali-net-${process.pid}`;
const TAP = "dtap0";
const RESPONDER = 1;   // guests/net.ts mode
const ip = (a: number, b: number, c: number, d: number) => (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;


function run(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr || r.error}`);
}
const inNamespace = (args: string[]) => ["ip", "netns", "exec", NAMESPACE, ...args];

const why = tapMissing(["ping", "iputils-ping"]);
if (why) {
  test.skip(`tap networking (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let dir: string | undefined;
  let qemu: ChildProcess | undefined;
  test.after.always(() => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", NAMESPACE]);      // removes the tap with it
    kernel?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("ping from a network namespace reaches a VM through a tap device, the NIC driver and the switch", async (t) => {
    kernel = buildKernelInTemp(false);
    dir = mkdtempSync(join(tmpdir(), "denali-net-tap-"));
    const guest = buildTestGuest("net", dir);
    const manifest = writeManifest(dir, "tap", [{ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(RESPONDER, 4), ipBase: ip(198, 18, 0, 2) }]);
    run(["ip", "netns", "add", NAMESPACE]);
    run(inNamespace(["ip", "link", "set", "lo", "up"]));
    run(inNamespace(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]));   // no IPv6 chatter on the tap
    run(inNamespace(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"]));
    run(inNamespace(["ip", "addr", "add", "198.18.0.1/15", "dev", TAP]));
    run(inNamespace(["ip", "link", "set", TAP, "up"]));
    const serialFile = join(dir, "com1.txt");
    const args = qemuArgs({ kernel: kernel.elf, initrd: [guest, manifest] }, { memoryMiB: 64, extraArgs: [
      "-netdev", `tap,id=n0,ifname=${TAP},script=no,downscript=no`, "-device", "virtio-net-pci,netdev=n0"] }, serialFile);
    qemu = spawn("ip", inNamespace(["qemu-system-i386", ...args]).slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<number | null>((resolve) => qemu!.on("close", (status) => resolve(status)));
    const serial = () => (existsSync(serialFile) ? serialLines(readFileSync(serialFile, "latin1")) : "");
    const deadline = Date.now() + 30_000;
    while (!/^\[vm 0\] vm 0 responder ready$/m.test(serial()) && Date.now() < deadline && qemu.exitCode === null)
      await new Promise((r) => setTimeout(r, 100));
    t.regex(serial(), /^\[vm 0\] vm 0 responder ready$/m, serial().slice(-2000));
    const ping = spawnSync("ip", inNamespace(["ping", "-c", "3", "-i", "0.2", "-W", "5", "198.18.0.2"]).slice(1), { encoding: "utf8", timeout: 30_000 });
    t.is(ping.status, 0, `${ping.stdout}\n${ping.stderr}\n${serial().slice(-2000)}`);
    t.regex(ping.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
    // The guest exits after its fourth echo reply; the kernel then prints the summary and exits. That
    // last reply races with the exit (it may still sit in the NIC's ring when QEMU stops), so it is a
    // separate ping whose answer is not required.
    spawnSync("ip", inNamespace(["ping", "-c", "1", "-W", "2", "198.18.0.2"]).slice(1), { encoding: "utf8", timeout: 30_000 });
    const status = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 20_000))]);
    t.is(status, 1, serial().slice(-2000));                 // isa-debug-exit 0: (0 << 1) | 1
    const out = serial();
    t.regex(out, /^virtio-net 00:03\.0 mac 52:54:00:12:34:56 link up /m);
    t.regex(out, /^\[vm 0\] vm 0 answered arp from 198\.18\.0\.1$/m);
    for (let k = 1; k <= 3; k++)
      t.regex(out, new RegExp(`^\\[vm 0\\] vm 0 answered echo ${k} from 198\\.18\\.0\\.1$`, "m"));
    const counters = new RegExp('^vm 0 net: rx (\\d+) packets (\\d+) bytes, tx (\\d+) packets (\\d+) bytes, '
      + 'dropped 0, spoofed 0, refused 0, evicted 0$', 'm').exec(out);
    t.truthy(counters, out.slice(-2000));
    t.true(Number(counters![1]) >= 4 && Number(counters![3]) >= 4, counters![0]);   // ARP + 3 echoes each way
    t.log(ping.stdout.split("\n").filter((l) => /time=|rtt/.test(l)).join("\n"));
    t.log(out.match(/^(vm 0 net|switch|nic):.*$/gm)?.join("\n"));
  });
}
