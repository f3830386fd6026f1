// A wire with delay, reordering and duplication (issue 17), for the relay test and `npm run bench:relay`:
// tools/relay.ts between two ends, each a tap device bridged to UDP by socat or QEMU's `-netdev dgram`, all
// inside one network namespace (the relay's datagrams stay on its loopback).
// - toward a Denali/TS kernel: a tap namespace (198.18.0.1, tools/net.ts) whose tap socat bridges to the
//   relay's side A; the kernel's card on side B (`qemuArgs()`), so a client in the namespace reaches the VMs
//   only through the relay;
// - Linux to Linux: a second tap in the same namespace, bridged to side B, then moved (still bridged: a tap
//   keeps its file descriptor across namespaces) into a server namespace at 198.18.0.2, where a Linux echo
//   server stands where the VM would: the same relay, the same client, Linux's TCP at both ends.
// Contract: `createRelayPath` starts the relay and the bridge(s) and resolves once they are up; `stop()`
// ends them and resolves with the relay's counters; `remove()` deletes what it made (idempotent).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { nicDeviceArgs, type NicModel } from "../../tools/qemu.ts";
import type { TapNamespace } from "../../tools/net.ts";
import type { RelayCounters } from "../../tools/relay.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** The relay's ports, and the ends' (QEMU's or socat's) on the namespace's loopback. */
const RELAY_A = 41001, RELAY_B = 41002, END_A = 41011, END_B = 41012;

export interface Impairments { delayMs: number; reorderPercent: number; duplicatePercent: number; seed: number }
export const ISSUE_17_IMPAIRMENTS: Impairments = { delayMs: 20, reorderPercent: 5, duplicatePercent: 1, seed: 17 };

export interface RelayPath {
  /** `-netdev dgram` on side B with the kernel's card (virtio-net unless told): for startMachine's netArgs. */
  qemuArgs(nic?: NicModel): string[];
  /** The Linux to Linux path's server namespace (its echo server at 198.18.0.2), when made. */
  server?: Pick<TapNamespace, "name" | "exec">;
  stop(): Promise<RelayCounters>;
  remove(): void;
}

function run(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr || r.error}`);
}

/** socat between tap `device` (an existing one) and the relay's `relayPort`, from `endPort`. */
function bridge(ns: Pick<TapNamespace, "exec">, device: string, endPort: number, relayPort: number): ChildProcess {
  return spawn(ns.exec[0], [...ns.exec.slice(1), "socat",
    `TUN,tun-type=tap,tun-name=${device},iff-no-pi,iff-up`,
    `UDP-DATAGRAM:127.0.0.1:${relayPort},bind=127.0.0.1:${endPort}`], { stdio: "ignore" });
}

/**
 * The relay in `ns` (a tap namespace: its tap is side A's end). `linuxPeer`: side B is a second tap moved
 * into a server namespace (for Linux to Linux), else QEMU's dgram netdev.
 */
export async function createRelayPath(ns: TapNamespace, impairments: Impairments, linuxPeer = false)
  : Promise<RelayPath> {
  const children: ChildProcess[] = [];
  const serverName = `${ns.name}-sv`;
  const remove = () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    if (linuxPeer) spawnSync("ip", ["netns", "del", serverName]);
  };
  try {
    const relay = spawn(ns.exec[0], [...ns.exec.slice(1), process.execPath, "--import", "tsx",
      join(ROOT, "tools", "relay.ts"), "--a", String(RELAY_A), "--to-a", String(END_A),
      "--b", String(RELAY_B), "--to-b", String(END_B),
      "--delay", String(impairments.delayMs), "--reorder", String(impairments.reorderPercent),
      "--duplicate", String(impairments.duplicatePercent), "--seed", String(impairments.seed)],
      { stdio: ["ignore", "pipe", "inherit"], cwd: ROOT });
    children.push(relay);
    let output = "";
    relay.stdout!.on("data", (d: Buffer) => { output += d.toString(); });
    for (let i = 0; i < 300 && !output.includes("relay: listening"); i++) {
      if (relay.exitCode !== null) throw new Error(`relay exited with ${relay.exitCode}`);
      await new Promise(r => setTimeout(r, 50));
    }
    if (!output.includes("relay: listening")) throw new Error("relay: not listening after 15 s");
    children.push(bridge(ns, ns.device, END_A, RELAY_A));
    let server: RelayPath["server"];
    if (linuxPeer) {
      const device = "denali-sv0";
      spawnSync("ip", ["netns", "del", serverName]);
      run(["ip", "netns", "add", serverName]);
      server = { name: serverName, exec: ["ip", "netns", "exec", serverName] };
      run([...server.exec, "ip", "link", "set", "lo", "up"]);
      run([...server.exec, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
      run([...ns.exec, "ip", "tuntap", "add", "dev", device, "mode", "tap"]);
      children.push(bridge(ns, device, END_B, RELAY_B));
      // socat attaches before the tap moves (it opens the device by name in its own namespace).
      for (let i = 0; i < 100; i++) {
        const link = spawnSync(ns.exec[0], [...ns.exec.slice(1), "ip", "link", "show", device], { encoding: "utf8" });
        if (/\bUP\b/.test(link.stdout)) break;
        await new Promise(r => setTimeout(r, 50));
      }
      run([...ns.exec, "ip", "link", "set", device, "netns", serverName]);
      run([...server.exec, "ip", "addr", "add", "198.18.0.2/15", "dev", device]);
      run([...server.exec, "ip", "link", "set", device, "up"]);
    }
    return {
      server,
      qemuArgs: (nic: NicModel = "virtio") => ["-netdev", `dgram,id=n0,local.type=inet,local.host=127.0.0.1,`
        + `local.port=${END_B},remote.type=inet,remote.host=127.0.0.1,remote.port=${RELAY_B}`, ...nicDeviceArgs(nic)],
      async stop() {
        const ended = new Promise<void>(r => relay.once("close", () => r()));
        relay.kill("SIGTERM");
        await ended;
        const last = output.trim().split("\n").pop() ?? "";
        remove();
        return JSON.parse(last) as RelayCounters;
      },
      remove,
    };
  } catch (e) { remove(); throw e; }
}
