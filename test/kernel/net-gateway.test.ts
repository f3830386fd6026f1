// Contract: a VM's netmask and gateway come from its manifest (tools/manifest.ts, DNMF version 3), reach
// the VM in its boot page (kernel-src/vm.ts) and are what its libos routes by (guest-src/libos/ipv4.ts
// nextHop). The real path, as root (CI runs as root): a network namespace with a tap (host side
// 198.18.0.1/15, tools/net.ts) and a second host address 198.18.1.9 on its loopback, QEMU inside it,
// three echo VMs (guest-src/apps/echo.ts, UDP port 7):
//   vm 0  198.18.0.2  netmask 255.255.255.0  gateway 198.18.0.1  (the manifest's group fields)
//   vm 1  198.18.0.3  netmask 255.254.0.0    gateway 198.18.0.1  (the defaults of the tap network)
//   vm 2  198.18.0.4  netmask 255.255.255.0  gateway none        (the group's fields, gateway 0.0.0.0)
// Each reports its configuration (stackReport). A datagram from 198.18.1.9 reaches all three (the host
// routes 198.18.0.0/15 to the tap), but the echo comes back only from vm 0: 198.18.1.9 is off vm 0's /24,
// so vm 0 sends to its gateway's MAC; vm 1's /15 holds 198.18.1.9, and vm 2 has no gateway, so both ask
// ARP for 198.18.1.9 itself, which the host does not answer on the tap (arp_ignore=1: the address is on
// its loopback). The host's ARP requests carry 198.18.0.1 (arp_announce=2), so no VM learns
// 198.18.1.9's MAC from them. Skipped with the reason when not root.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import { tapMissing, tapNamespace, startMachine, buildVms, inNamespace, type Machine } from "./net-machine.ts";
import type { TapNamespace } from "../../tools/net.ts";

const CLIENT_IP = "198.18.1.9";
const PORT = 7;

/** Sends one datagram from CLIENT_IP to ip:port; prints `reply TEXT` or `no reply` after the timeout. */
const UDP_CLIENT = `
import dgram from 'node:dgram';
const [from, host, port, timeout] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
socket.bind({ address: from, port: 0 }, () => {
  const timer = setTimeout(() => { console.log('no reply'); socket.close(); }, Number(timeout));
  socket.on('message', (m) => { clearTimeout(timer); console.log('reply ' + m.toString()); socket.close(); });
  socket.send('hello ' + host, Number(port), host);
});
`;

const why = tapMissing();
if (why) {
  test.skip(`netmask and gateway from the manifest, through a tap (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let dir: string | undefined;
  let ns: TapNamespace | undefined;
  let machine: Machine | undefined;
  test.after.always(() => {
    machine?.kill();
    ns?.remove();
    kernel?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a VM routes by the manifest's netmask and gateway: only the one whose gateway applies answers", async (t) => {
    kernel = buildKernelInTemp(false);
    dir = mkdtempSync(join(tmpdir(), "denali-net-gateway-"));
    const client = join(dir, "udp-client.mjs");
    writeFileSync(client, UDP_CLIENT);
    const echo = { image: "guest-src/apps/echo.ts", count: 1, memoryKiB: 512, argument: PORT };
    const modules = buildVms(dir, "gateway", [
      { ...echo, ipBase: "198.18.0.2", netmask: "255.255.255.0", gateway: "198.18.0.1" },
      { ...echo, ipBase: "198.18.0.3" },
      { ...echo, ipBase: "198.18.0.4", netmask: "255.255.255.0", gateway: "0.0.0.0" },
    ]);
    ns = tapNamespace("gateway");
    inNamespace(ns, ["ip", "addr", "add", `${CLIENT_IP}/32`, "dev", "lo"]);
    const conf = `net.ipv4.conf.${ns.device}`;
    inNamespace(ns, ["sysctl", "-q", "-w", `${conf}.arp_ignore=1`, `${conf}.arp_announce=2`]);
    machine = await startMachine({ kernel: kernel.elf, modules, namespace: ns });
    await machine.waitFor(/^\[vm 2\] vm 2 echo on port 7$/m, 60_000);
    const out = machine.out();
    t.regex(out, /^\[vm 0\] vm 0 net 198\.18\.0\.2 netmask 255\.255\.255\.0 gateway 198\.18\.0\.1$/m);
    t.regex(out, /^\[vm 1\] vm 1 net 198\.18\.0\.3 netmask 255\.254\.0\.0 gateway 198\.18\.0\.1$/m);
    t.regex(out, /^\[vm 2\] vm 2 net 198\.18\.0\.4 netmask 255\.255\.255\.0 gateway none$/m);
    const send = (ip: string, timeoutMs: number) =>
      inNamespace(ns!, [process.execPath, client, CLIENT_IP, ip, String(PORT), String(timeoutMs)], 60_000).trim();
    t.is(send("198.18.0.2", 10_000), "reply hello 198.18.0.2", machine.out().slice(-2000));
    // The others received the datagram too: their replies wait for an ARP answer that never comes.
    t.is(send("198.18.0.3", 4_000), "no reply");
    t.is(send("198.18.0.4", 4_000), "no reply");
    const counters = await machine.monitor("vms", /^nic: .*$/m);
    for (const vm of [0, 1, 2]) t.regex(counters, new RegExp(`^vm ${vm} net: rx [1-9]\\d* packets`, "m"), counters);
    // And vm 0 answers again, now from its ARP cache.
    t.is(send("198.18.0.2", 10_000), "reply hello 198.18.0.2");
  });
}
