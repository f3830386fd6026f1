// Contract: networking in the kernel (kernel-src/{pci,virtio,virtio-net,netbuf,switch}.ts, issue 5
// items 1-3): PCI enumeration lists the devices; the virtio-net driver finds QEMU's card, prints its MAC
// and link, and receives through its interrupt (QEMU user networking answers ARP and ICMP echo for
// 10.0.2.2); the switch delivers an ARP request for a VM's IP to that VM alone, switches frames
// between VMs in the kernel, drops frames sent with another VM's MAC or IP and counts them, and
// prints per-VM packet and byte counters. No root needed (see net-tap.test.ts for the tap device).
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, userNetArgs } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";
import { buildTestGuest, writeManifest, workerArgument, type Group } from "./guests/build.ts";

const NET_MODE = { gateway: 0, responder: 1, peer: 2, listener: 3, spoofer: 4 } as const;
const USER_NET = userNetArgs();
/** a.b.c.d as the manifest's u32 (network byte order: its little-endian bytes are a, b, c, d). */
const ip = (a: number, b: number, c: number, d: number) => (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;

let kernel: KernelBuild;
let dir: string;
let guest: string;
test.before(() => {
  kernel = buildKernelInTemp(false);
  dir = mkdtempSync(join(tmpdir(), "denali-net-test-"));
  guest = buildTestGuest("net", dir);
});
test.after.always(() => { kernel?.remove(); if (dir) rmSync(dir, { recursive: true, force: true }); });

async function boot(name: string, groups: Group[], extraArgs: string[] = [], icount = false) {
  const manifest = writeManifest(dir, name, groups);
  const r = await runQemu({ kernel: kernel.elf, initrd: [guest, manifest] }, { memoryMiB: 64, timeoutMs: 60_000, extraArgs, icount });
  return { ...r, out: serialLines(r.serial) };
}

test("PCI lists the devices; the virtio-net card comes up with its MAC and link; a VM resolves and pings 10.0.2.2 through QEMU user networking", async (t) => {
  const r = await boot("gateway", [{ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.gateway), ipBase: ip(10, 0, 2, 15) }], USER_NET);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  t.regex(r.out, /^pci 00:00\.0 8086:1237 class 0600$/m);                   // i440FX host bridge
  t.regex(r.out, /^pci 00:03\.0 1af4:1000 class 0200 bar0 io 0x[0-9a-f]+ size 32 .*irq \d+ msi-x$/m);
  t.regex(r.out, /^virtio-net 00:03\.0 mac 52:54:00:12:34:56 link up irq \d+ \(INTx\) /m);
  // The reply came from the wire: QEMU's slirp answers with its own MAC.
  t.regex(r.out, /^\[vm 0\] vm 0 arp 10\.0\.2\.2 is-at 52:55:0a:00:02:02$/m);
  t.regex(r.out, /^\[vm 0\] vm 0 echo reply seq \d from 10\.0\.2\.2$/m);
  const counters = new RegExp('^vm 0 net: rx (\\d+) packets (\\d+) bytes, tx (\\d+) packets (\\d+) bytes, '
    + 'dropped 0, spoofed 0, refused 0, evicted 0$', 'm').exec(r.out);
  t.truthy(counters, "per-VM counters");
  t.true(Number(counters![1]) >= 2 && Number(counters![3]) >= 2, counters![0]);
  // The card was told of the frames sent (doorbells: batched, never more than the frames).
  const nic = new RegExp("^nic: rx [1-9]\\d* frames .*, tx (\\d+) frames .* interrupts [1-9]\\d* \\(INTx\\), "
    + "frames polled \\d+, doorbells (\\d+)$", "m").exec(r.out);
  t.truthy(nic, "nic line");
  t.true(Number(nic![2]) >= 1 && Number(nic![2]) <= Number(nic![1]), nic![0]);
  t.log(r.out.match(/^(virtio-net|vm 0 net|switch|nic):.*$|^virtio-net .*$/gm)?.join("\n"));
});

test("an ARP request for a VM's IP reaches that VM alone; VM-to-VM frames are switched in the kernel", async (t) => {
  const r = await boot("arp", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.peer), ipBase: ip(10, 0, 0, 1) },
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.responder, 1), ipBase: ip(10, 0, 0, 2) },
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.listener, 30), ipBase: ip(10, 0, 0, 3) },
  ], USER_NET);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  t.regex(r.out, /^\[vm 1\] vm 1 answered arp from 10\.0\.0\.1$/m);
  t.regex(r.out, /^\[vm 0\] vm 0 arp 10\.0\.0\.2 is-at 02:00:00:00:00:01$/m);
  t.regex(r.out, /^\[vm 1\] vm 1 answered echo 1 from 10\.0\.0\.1$/m);
  t.regex(r.out, /^\[vm 0\] vm 0 echo reply seq 1 from 10\.0\.0\.2$/m);
  t.regex(r.out, /^\[vm 2\] vm 2 heard 0 frames$/m);
  t.notRegex(r.out, /^vm 2 net:/m);                                          // not even queued for it
  t.regex(r.out,
    /^vm 0 net: rx 2 packets 116 bytes, tx 2 packets 116 bytes, dropped 0, spoofed 0, refused 0, evicted 0$/m);
  t.regex(r.out,
    /^vm 1 net: rx 2 packets 116 bytes, tx 2 packets 116 bytes, dropped 0, spoofed 0, refused 0, evicted 0$/m);
  t.regex(r.out, /^switch: vm-to-vm 4, vm-to-wire 0, wire-to-vm 0, arp directed 1, acks held 0 \(0 /m);
});

test("a VM sending with another VM's MAC or IP (or ARP-spoofing it) is dropped and counted; its honest frame arrives", async (t) => {
  const r = await boot("spoof", [
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.spoofer), ipBase: ip(10, 0, 0, 1) },
    { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.listener, 20), ipBase: ip(10, 0, 0, 2) },
  ]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  t.regex(r.out, /^\[vm 0\] vm 0 spoofer sent 5$/m);
  t.regex(r.out, /^\[vm 1\] vm 1 heard type 2048 from 02:00:00:00:00:00$/m);
  t.regex(r.out, /^\[vm 1\] vm 1 heard 1 frames$/m);
  t.regex(r.out,
    /^vm 0 net: rx 0 packets 0 bytes, tx 1 packets 74 bytes, dropped 0, spoofed 4, refused 0, evicted 0$/m);
  t.regex(r.out,
    /^vm 1 net: rx 1 packets 74 bytes, tx 0 packets 0 bytes, dropped 0, spoofed 0, refused 0, evicted 0$/m);
  t.regex(r.out, /^switch: .*; dropped: spoofed 4, /m);
});

test("bench net under -icount: receive-path stages (driver, switch, copy into the VM) of a frame from the wire; identical on two runs", async (t) => {
  const run = () => boot("bench", [{ moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.gateway), ipBase: ip(10, 0, 2, 15) }],
    [...USER_NET, "-append", "bench"], true);
  const [a, b] = await Promise.all([run(), run()]);
  t.is(a.debugExit, EXIT_SUCCESS, a.out.slice(-3000));
  const lines = (out: string) => Object.fromEntries([...out.matchAll(/^bench (net-\S+) (\d+) bytes (\d+)$/gm)].map((m) => [m[1], [Number(m[2]), Number(m[3])]]));
  const bench = lines(a.out);
  for (const name of ["net-rx-driver", "net-rx-switch", "net-rx-copy"]) t.true(name in bench, name);
  t.deepEqual(bench, lines(b.out));
  t.log(JSON.stringify(bench));
});

// The Intel cards (kernel-src/e1000.ts): the same gateway VM through each, on QEMU user networking. The
// 82540EM has no MSI: INTx#; the 82574L offers MSI and MSI-X and interrupts by MSI (kernel-src/msi.ts),
// or by INTx# with irq=intx on the command line (the local APIC left unused).
const INTEL_CARDS = [
  { nic: "e1000", device: "100e", model: "82540EM", append: "", caps: "", irq: "\\d+ \\(INTx\\)", mode: "INTx" },
  { nic: "e1000e", device: "10d3", model: "82574L", append: "", caps: " msi msi-x", irq: "msi vector 0x4[0-9a-f]",
    mode: "msi" },
  { nic: "e1000e", device: "10d3", model: "82574L", append: "irq=intx", caps: " msi msi-x", irq: "\\d+ \\(INTx\\)",
    mode: "INTx" },
] as const;
const GATEWAY_VM = {
  moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(NET_MODE.gateway), ipBase: ip(10, 0, 2, 15),
};

for (const { nic, device, model, append, caps, irq, mode } of INTEL_CARDS) {
  test(`${nic} (Intel ${model})${append ? ` with ${append}` : ""}: PCI lists it, the kernel drives it (MAC from its `
    + `EEPROM, link up, interrupts by ${mode}) and lists the functions it has no driver for; a VM resolves and pings `
    + "10.0.2.2 through it", async (t) => {
    const r = await boot(`gateway-${nic}${append ? "-intx" : ""}`, [GATEWAY_VM],
      [...(append ? ["-append", append] : []), ...userNetArgs([], nic)]);
    t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
    const listed = `^pci 00:03\\.0 8086:${device} class 0200 bar0 mem 0x[0-9a-f]+ size 131072 .*irq \\d+${caps}$`;
    t.regex(r.out, new RegExp(listed, "m"));
    t.regex(r.out, new RegExp(`^${nic} 00:03\\.0 ${model} mac 52:54:00:12:34:56 \\(eeprom\\) `
      + `link up 1000 Mb/s full duplex irq ${irq} mem 0x[0-9a-f]+ rx 128 tx 256$`, "m"));
    // What the kernel has no driver for (i440FX: the PIIX3 IDE function and the VGA card); no bridge.
    t.regex(r.out, /^pci 00:01\.1 8086:7010 class 0101: no driver \(mass storage controller\)$/m);
    t.regex(r.out, /^pci 00:02\.0 1234:1111 class 0300: no driver \(display controller\)$/m);
    t.notRegex(r.out, /^pci 00:0[03]\.0 .*: no driver/m);
    t.regex(r.out, /^\[vm 0\] vm 0 arp 10\.0\.2\.2 is-at 52:55:0a:00:02:02$/m);
    t.regex(r.out, /^\[vm 0\] vm 0 echo reply seq \d from 10\.0\.2\.2$/m);
    // at least 2 each way (the ARP exchange and a ping): 2-9, or two digits and more
    const twoOrMore = "(?:[2-9]|[1-9]\\d+)";
    t.regex(r.out, new RegExp(`^vm 0 net: rx ${twoOrMore} packets \\d+ bytes, tx ${twoOrMore} packets \\d+ bytes, `
      + "dropped 0, spoofed 0, ", "m"));
    t.regex(r.out, /^nic: rx [1-9]\d* frames \d+ bytes \(0 refused by the switch, 0 no buffer, 0 bad\), tx [1-9]/m);
    // Delivered that way: the card's count, and for a message the count where its vector arrived.
    const interrupts = new RegExp(
      `^nic: .* interrupts ([1-9]\\d*) \\(${mode}\\), frames polled \\d+, doorbells [1-9]\\d*$`, "m").exec(r.out);
    t.truthy(interrupts, r.out.slice(-2000));
    const messages = /^msi: 00:03\.0 vector 0x4[0-9a-f] \(msi\) interrupts (\d+)$/m.exec(r.out);
    if (mode === "msi") t.true(Number(messages?.[1]) >= Number(interrupts![1]), messages?.[0] ?? "no msi: line");
    else t.is(messages, null);
    t.log(r.out.match(/^(e1000e?|vm 0 net|switch|nic|msi|lapic)[: ].*$/gm)?.join("\n"));
  });
}

test("e1000e on the q35 machine (a PCIe slot; the ICH9's AHCI looked at, no disk): a VM pings 10.0.2.2 through it",
  async (t) => {
  const r = await boot("gateway-q35", [GATEWAY_VM], ["-machine", "q35", ...userNetArgs([], "e1000e")]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  t.regex(r.out, /^e1000e 00:02\.0 82574L mac 52:54:00:12:34:56 \(eeprom\) link up /m);
  t.regex(r.out, /^disk: ahci 00:1f\.2: no ATA disk on its 6 ports, not used$/m);     // kernel-src/ahci.ts
  t.regex(r.out, /^\[vm 0\] vm 0 echo reply seq \d from 10\.0\.2\.2$/m);
});

test("two cards: the first one found is driven, the other is listed as not driven", async (t) => {
  const r = await boot("two-cards", [GATEWAY_VM], [...USER_NET, "-netdev", "user,id=n1", "-device", "e1000,netdev=n1"]);
  t.is(r.debugExit, EXIT_SUCCESS, r.out.slice(-3000));
  t.regex(r.out, /^virtio-net 00:03\.0 mac 52:54:00:12:34:56 link up /m);
  t.regex(r.out, new RegExp("^nic 00:04\\.0 8086:100e class 0200: not driven, the switch has one uplink "
    + "\\(pci 00:03\\.0 1af4:1000 class 0200\\)$", "m"));
  t.notRegex(r.out, /^e1000 /m);
  t.regex(r.out, /^\[vm 0\] vm 0 echo reply seq \d from 10\.0\.2\.2$/m);
});
