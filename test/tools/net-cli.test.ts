// Contract: `denali boot --net user|tap|none` (tools/cli.ts, tools/net.ts; issue 5 item 6, host side).
// A bad --net or --host-port gets zod's message naming the option and exit status 2, before anything
// is built. The forwards are computed from the manifest's addresses: only VMs inside QEMU's user
// network 10.0.2.0/24 (at most the first 16) get host port N+i -> their port 80, and a manifest
// outside it is told so. With --net user a manifest of two echo servers at 10.0.2.15.. boots: the URLs
// are printed before the kernel's banner, the virtio-net card comes up and both VMs listen.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../../tools/build.ts';
import { userForwards, describeUserNet, vmAddresses, inUserNetwork, MAX_FORWARDS } from '../../tools/net.ts';
import { userNetArgs, tapNetArgs } from '../../tools/qemu.ts';
import { parseIp } from '../../tools/manifest.ts';

const scratch = mkdtempSync(join(tmpdir(), 'denali-net-cli-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
const denali = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args], { encoding: 'utf8', cwd: scratch, timeout: 90_000 });
const manifest = (name: string, json: unknown) => { const f = join(scratch, `${name}.json`); writeFileSync(f, JSON.stringify(json)); return f; };

test('a bad --net or --host-port gets zod\'s message naming the option, exit status 2, nothing built', t => {
  for (const args of [['--net', 'bridge'], ['--net'], ['--net=USER']]) {
    const r = denali('boot', ...args);
    t.is(r.status, 2, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, /^denali: --net: --net must be one of 'user', 'tap', 'none'$/m, args.join(' '));
  }
  const port = denali('boot', '--net', 'user', '--host-port', '80');
  t.is(port.status, 2);
  t.regex(port.stderr, /^denali: --host-port: --host-port must be a port number from 1024 to 65535$/m);
  const bochs = denali('boot', '--bochs', '--net', 'user');
  t.is(bochs.status, 2);
  t.regex(bochs.stderr, /^denali: --net: --net needs QEMU \(not --bochs\)$/m);
  if (process.getuid?.() !== 0) {
    const tap = denali('boot', '--net', 'tap');
    t.is(tap.status, 2);
    t.regex(tap.stderr, /^denali: --net: --net tap needs root/m);
  }
});

test('forwards: host port N+i to port 80 of the first VMs inside 10.0.2.0/24; the QEMU flags', t => {
  const groups = [{ moduleIndex: 1, vmCount: 2, memoryKiB: 256, argument: 0, ipBase: parseIp('10.0.2.15') },
    { moduleIndex: 1, vmCount: 1, memoryKiB: 256, argument: 0, ipBase: parseIp('198.18.0.2') }];
  const addresses = vmAddresses(groups);
  t.deepEqual(addresses, [parseIp('10.0.2.15'), parseIp('10.0.2.16'), parseIp('198.18.0.2')]);
  const forwards = userForwards(addresses, 9000);
  t.deepEqual(forwards, [{ vm: 0, ip: '10.0.2.15', hostPort: 9000, guestPort: 80 }, { vm: 1, ip: '10.0.2.16', hostPort: 9001, guestPort: 80 }]);
  const lines = describeUserNet(addresses, forwards);
  t.is(lines[0], 'net user: vm 0 10.0.2.15:80 <- http://localhost:9000/');
  t.regex(lines[2], /1 of the first VMs have addresses outside QEMU's user network 10\.0\.2\.0\/24/);
  t.false(inUserNetwork(parseIp('10.0.2.2')));   // slirp's host
  t.false(inUserNetwork(parseIp('10.0.2.255')));
  t.is(userForwards(Array.from({ length: 40 }, (_, i) => parseIp('10.0.2.15') + i)).length, MAX_FORWARDS);
  t.deepEqual(userNetArgs(forwards), ['-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:9000-10.0.2.15:80,hostfwd=tcp:127.0.0.1:9001-10.0.2.16:80', '-device', 'virtio-net-pci,netdev=n0']);
  t.deepEqual(tapNetArgs('dtap0'), ['-netdev', 'tap,id=n0,ifname=dtap0,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0']);
});

test('--net user: echo VMs at 10.0.2.15.. boot with the URLs printed first and the NIC up', t => {
  const file = manifest('echo-user', { groups: [{ image: 'guest-src/apps/echo.ts', count: 2, memoryKiB: 512, argument: 80, ipBase: '10.0.2.15' }] });
  const r = denali('boot', '--manifest', file, '--net', 'user', '--host-port', String(20000 + (process.pid % 20000)), '--timeout', '30');
  // Today the kernel stops once every VM idles with no timer pending (exit 0); once it keeps serving
  // while a NIC is up, the boot runs until --timeout (124).
  t.true(r.status === 0 || r.status === 124, `${r.status}\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  const out = r.stdout.replace(/\r/g, '');
  const url = out.search(/^net user: vm 0 10\.0\.2\.15:80 <- http:\/\/localhost:\d+\/$/m);
  t.true(url >= 0, out.slice(0, 2000));
  t.regex(out, /^net user: vm 1 10\.0\.2\.16:80 <- http:\/\/localhost:\d+\/$/m);
  t.true(url < out.search(/^Denali\/TS isolation kernel/m), 'URLs before the banner');
  t.regex(out, /^pci 00:03\.0 1af4:1000 class 0200 /m);
  t.regex(out, /^virtio-net 00:03\.0 mac 52:54:00:12:34:56 link up irq \d+ /m);
  t.regex(out, /^vm 0 echo on port 80$/m);
  t.regex(out, /^vm 1 echo on port 80$/m);
});
