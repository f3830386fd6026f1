// The host side of VM networking for `denali boot --net user|tap` (issue 5 item 6).
// user: QEMU user networking (slirp, no root). Its network is 10.0.2.0/24: the host is 10.0.2.2, DNS
//   10.0.2.3, and guests are expected from 10.0.2.15 up. Slirp forwards a host port only to an address
//   inside that network, so a VM is reachable only when the manifest gives it one (ipBase "10.0.2.15":
//   VM i gets 10.0.2.15 + i). Slirp finds the VM's MAC with an ARP request, which the kernel's switch
//   hands to that VM alone. Host port hostPort + i (on 127.0.0.1) goes to VM i's guestPort.
// tap (root): a network namespace of its own holding a tap device with the host side 198.18.0.1/15;
//   QEMU runs inside it with `-netdev tap`; the VMs keep the manifest's addresses (by default
//   198.18.0.2 up). Deleting the namespace removes the tap; QEMU is killed first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { formatIp, parseIp, TAP_NETWORK, USER_NETWORK as USER_NETWORK_DEFAULTS, type PackedGroup } from './manifest.ts';

export const NET_MODES = ['none', 'user', 'tap'] as const;

/** `a.b.c.d/N` of a known network's netmask: N, the ones of the mask. */
const prefix = (netmask: string) => 32 - Math.log2((~parseIp(netmask) >>> 0) + 1);
const USER_NETWORK = `${USER_NETWORK_DEFAULTS.network}/${prefix(USER_NETWORK_DEFAULTS.netmask)}`;
const USER_FIRST_GUEST = '10.0.2.15';
export const DEFAULT_HOST_PORT = 8080;
const GUEST_PORT = 80;
/** At most this many VMs get a forwarded port ("the first VMs"). */
export const MAX_FORWARDS = 16;

const TAP_DEVICE = 'dtap0';
/** The host's side of the tap: the VMs' default gateway, on their default network (tools/manifest.ts). */
export const TAP_HOST_ADDRESS = `${TAP_NETWORK.gateway}/${prefix(TAP_NETWORK.netmask)}`;

/** The VMs' IPv4 addresses (as numbers, a.b.c.d = a << 24 | ...) in VM id order: group by group. */
export function vmAddresses(groups: Pick<PackedGroup, 'ipBase' | 'vmCount'>[]): number[] {
  return groups.flatMap(g => Array.from({ length: g.vmCount }, (_, k) => (g.ipBase + k) >>> 0));
}

interface Forward { vm: number; ip: string; hostPort: number; guestPort: number }

/** Whether slirp can forward to `ip`: inside 10.0.2.0/24, not the network, host, DNS or broadcast address. */
export function inUserNetwork(ip: number): boolean {
  const host = ip & 255;
  return (ip >>> 8) === (parseIp(USER_NETWORK_DEFAULTS.network) >>> 8) && host >= 4 && host <= 254;
}

/** Port forwards to the first VMs (at most MAX_FORWARDS) whose addresses slirp can reach. */
export function userForwards(addresses: number[], hostPort = DEFAULT_HOST_PORT, guestPort = GUEST_PORT): Forward[] {
  const forwards: Forward[] = [];
  addresses.forEach((ip, vm) => {
    if (vm < MAX_FORWARDS && inUserNetwork(ip) && hostPort + vm <= 65535) forwards.push({ vm, ip: formatIp(ip), hostPort: hostPort + vm, guestPort });
  });
  return forwards;
}

/** Lines to print before booting: the URLs, or why there are none. */
export function describeUserNet(addresses: number[], forwards: Forward[]): string[] {
  const lines = forwards.map(f => `net user: vm ${f.vm} ${f.ip}:${f.guestPort} <- http://localhost:${f.hostPort}/`);
  const outside = addresses.filter((ip, vm) => vm < MAX_FORWARDS && !inUserNetwork(ip)).length;
  if (outside) lines.push(`net user: ${outside} of the first VMs have addresses outside QEMU's user network ${USER_NETWORK} and get no forwarded port (give the group "ipBase": "${USER_FIRST_GUEST}")`);
  if (addresses.length > MAX_FORWARDS) lines.push(`net user: only the first ${MAX_FORWARDS} VMs get forwarded ports (use --net tap to reach them all)`);
  return lines;
}

/** Why `--net tap` cannot run here, or null. */
export function tapUnavailable(): string | null {
  if (process.getuid?.() !== 0) return '--net tap needs root (a network namespace and a tap device); run as root or use --net user';
  if (spawnSync('ip', ['-V']).status !== 0) return '--net tap needs the `ip` command (Debian iproute2)';
  if (!existsSync('/dev/net/tun')) return '--net tap needs /dev/net/tun';
  return null;
}

export interface TapNamespace { name: string; device: string; /** Prefix that runs a command inside the namespace. */ exec: string[]; remove(): void }

function run(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr || r.error}`);
}

/**
 * Creates network namespace `name` with loopback up, IPv6 off (no chatter on the tap) and tap device
 * `device` at TAP_HOST_ADDRESS (198.18.0.1/15). On failure, whatever was made is removed before the error is thrown.
 */
export function createTapNamespace(name: string, device = TAP_DEVICE): TapNamespace {
  const exec = ['ip', 'netns', 'exec', name];
  const remove = () => { spawnSync('ip', ['netns', 'del', name]); };
  run(['ip', 'netns', 'add', name]);
  try {
    run([...exec, 'ip', 'link', 'set', 'lo', 'up']);
    run([...exec, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
    run([...exec, 'ip', 'tuntap', 'add', 'dev', device, 'mode', 'tap']);
    run([...exec, 'ip', 'addr', 'add', TAP_HOST_ADDRESS, 'dev', device]);
    run([...exec, 'ip', 'link', 'set', device, 'up']);
  } catch (e) { remove(); throw e; }
  return { name, device, exec, remove };
}
