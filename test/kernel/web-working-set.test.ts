// Contract: an httpd image's working set, as the kernel learns it (issue 15; kernel-src/swap-learn.ts): 300 VMs
// of guest-src/apps/httpd.ts in a 16 MiB machine with a swap disk, on a tap device in a network namespace of its
// own (host side 198.18.0.1/15, VM i at 198.18.0.2 + i), where about half fit. curl fetches the pages of
// 240 of them in turn, a few at a time: each is read back from the disk, serves its page, and is written out
// again as later ones come in: measured write-outs, from which the image learns its VMs' working set. Then
// `stop`: every page right, no checksum failure, and the summary's `swap: image 0's working set: N pages (...)`
// at most 8 pages: the small data and frames (3 pages), worker 0's stack, the main stack, a TCB page and a ring
// page, the boot page. A page more is a page more read and written at every swap-in and out (httpd's spare
// worker, started at a VM's first request rather than with the VM, put its stack in the set), and of the threads'
// stacks only one page: one worker's.
// Needs root (CI runs as root) and ip, curl; skipped with the reason otherwise.
import test from "ava";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import elfy from "elfy";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu, ConsoleLine, tapNetArgs, createSwapImage, swapDiskArgs, type MachineRun } from "../../tools/qemu.ts";
import { createTapNamespace, type TapNamespace } from "../../tools/net.ts";
import { tapMissing, inNamespaceAsync, stopMachine } from "./net-machine.ts";
import { buildManifest } from "../../tools/manifest.ts";
import { buildKernelInTemp, type KernelBuild } from "./helpers.ts";
import { GUEST_BASE } from "../../abi/boot.ts";

const VMS = 300;
const FETCHED = 240;
const MEMORY_MIB = 16;
const WORKING_SET_MOST = 8;
const ipOf = (vm: number) => `198.18.${(2 + vm) >> 8}.${(2 + vm) & 255}`;

/** The pages (from GUEST_BASE) an ELF32 symbol's object spans, by its .symtab and .strtab. */
function symbolPages(elfPath: string, name: string): { first: number; last: number } {
  const sections = elfy.parse(readFileSync(elfPath)).body.sections as { name: string; data: Buffer }[];
  const symtab = sections.find(s => s.name === ".symtab")!.data;
  const strtab = sections.find(s => s.name === ".strtab")!.data;
  for (let at = 0; at + 16 <= symtab.length; at += 16) {
    const nameAt = symtab.readUInt32LE(at);
    if (strtab.toString("latin1", nameAt, strtab.indexOf(0, nameAt)) !== name) continue;
    const value = symtab.readUInt32LE(at + 4), size = symtab.readUInt32LE(at + 8);
    return { first: (value - GUEST_BASE) >>> 12, last: (value + size - 1 - GUEST_BASE) >>> 12 };
  }
  throw new Error(`${elfPath}: no symbol ${name}`);
}

const why = tapMissing(["curl", "curl"]);
if (why) {
  test.skip(`an httpd image's learned working set (skipped: ${why})`, () => {});
} else {
  let kernel: KernelBuild | undefined;
  let ns: TapNamespace | undefined;
  const dir = mkdtempSync(join(tmpdir(), "denali-web-ws-"));
  const controller = new AbortController();
  let machine: Promise<MachineRun> | undefined;
  test.after.always(() => stopMachine({ controller, machine, ns, kernel, dir }));

  test(`${VMS} httpd VMs in ${MEMORY_MIB} MiB: the image's learned working set is at most ${WORKING_SET_MOST} pages`,
    async t => {
    t.timeout(600_000);
    kernel = buildKernelInTemp(false);
    const manifestFile = join(dir, "web-ws.json");
    writeFileSync(manifestFile, JSON.stringify({ groups: [{ image: "guest-src/apps/httpd.ts", count: VMS,
      memoryKiB: 1024, argument: 0, ipBase: ipOf(0), netmask: "255.254.0.0" }] }));
    const built = buildManifest(manifestFile, { optimize: 2, imagesDir: kernel.dir, outDir: kernel.dir });
    const image = join(dir, "swap.img");
    createSwapImage(image, 1024 * 2 ** 20);
    ns = createTapNamespace(`denali-wws-${process.pid}`);
    const line = new ConsoleLine(dir);
    let serial = "";
    machine = runQemu({ kernel: kernel.elf, initrd: built.modules }, {
      memoryMiB: MEMORY_MIB, timeoutMs: 0, prefix: ns.exec,
      extraArgs: [...tapNetArgs(ns.device), ...swapDiskArgs(image)],
      console: line, signal: controller.signal, onOutput: text => { serial += text; },
    });
    const started = () => (serial.match(/^\[vm \d+\] vm \d+ httpd on port 80/gm) ?? []).length;
    const deadline = Date.now() + 300_000;
    while (started() < VMS && Date.now() < deadline) await new Promise(r => setTimeout(r, 250));
    t.is(started(), VMS, `VMs that printed their httpd line; last output:\n${serial.slice(-3000)}`);

    const wrong: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < FETCHED) {
        const vm = next++;
        const r = await inNamespaceAsync(ns!,
          ["curl", "-sS", "--max-time", "60", "-w", "\n%{http_code} %{size_download}", `http://${ipOf(vm)}/`]);
        if (!(r.status === 0 && r.stdout.includes(`<h1>Denali VM ${vm}</h1>`) && r.stdout.endsWith("\n200 2048"))) {
          wrong.push(`vm ${vm}: status ${r.status} ${r.stderr.trim()} ${r.stdout.slice(-40)}`);
        }
      }
    }));
    t.deepEqual(wrong, [], "VMs whose page was wrong");

    await line.send("stop\n");
    const run = await machine;
    t.is(run.debugExit, 0, serial.slice(-3000));
    t.regex(serial, new RegExp(`^vms: ${VMS} started, 0 exited, 0 ended by the kernel`, "m"), serial.slice(-3000));
    const swap = /^swap: resident .*read-ins (\d+) \(\d+ pages\), checksum failures (\d+), read errors (\d+)/m
      .exec(serial);
    t.truthy(swap, serial.slice(-3000));
    t.log(swap![0].slice(0, 300));
    t.true(Number(swap![1]) >= FETCHED / 2, swap![0]);
    t.is(Number(swap![2]) + Number(swap![3]), 0, swap![0]);
    const learned = /^swap: image 0's working set: (\d+) pages \(([\d -]+)\) learned from (\d+) write-outs$/m
      .exec(serial);
    t.truthy(learned, serial.slice(-3000));
    t.log(learned![0]);
    t.true(Number(learned![3]) >= 8, learned![0]);
    t.true(Number(learned![1]) >= 4 && Number(learned![1]) <= WORKING_SET_MOST, learned![0]);
    // One worker's stack (libos threads.ts `stacks`): a VM serving a connection at a time runs one worker.
    const pages = learned![2].split(" ").flatMap(r => {
      const [a, b] = r.split("-").map(Number);
      return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k);
    });
    const stacks = symbolPages(built.images[0].path, "stacks");
    const stackPages = pages.filter(p => p >= stacks.first && p <= stacks.last);
    t.true(stackPages.length === 1, `worker stack pages ${stackPages} (stacks: pages ${stacks.first}-${stacks.last})`);
  });
}
