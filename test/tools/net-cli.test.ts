// Contract: `denali boot --net user|tap|none --nic virtio|e1000|e1000e` (tools/cli.ts, tools/net.ts;
// issue 5 item 6, host side; issue 22's card choice). A bad --net, --nic or --host-port gets zod's
// message naming the option and exit status 2, before anything is built. The forwards are computed from
// the manifest's addresses: only VMs inside QEMU's user network 10.0.2.0/24 (at most the first 16) get
// host port N+i -> their port 80, and a manifest outside it is told so; each --nic gives its QEMU card.
// With `--nic e1000` alone (QEMU user networking) a manifest of two web servers at 10.0.2.15.. boots:
// the URLs are printed before the kernel's banner, the e1000 card comes up, both web VMs answer through
// their forwarded ports with their own page (the console is live), and `stop` typed on stdin ends it.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
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
  for (const args of [['--net', 'bridge'], ['--net=USER']]) {
    const r = denali('boot', ...args);
    t.is(r.status, 2, args.join(' '));
    t.is(r.stdout, '');
    t.regex(r.stderr, /^denali: --net: --net must be one of 'user', 'tap', 'none'$/m, args.join(' '));
  }
  const missing = denali('boot', '--net');           // the parser's (tools/cli-options.ts), before zod
  t.is(missing.status, 2);
  t.regex(missing.stderr, /^denali boot: --net needs a value \(user\|tap\|none\)$/m);
  const port = denali('boot', '--net', 'user', '--host-port', '80');
  t.is(port.status, 2);
  t.regex(port.stderr, /^denali: --host-port: --host-port must be a port number from 1024 to 65535$/m);
  const bochs = denali('boot', '--bochs', '--net', 'user');
  t.is(bochs.status, 2);
  t.regex(bochs.stderr, /^denali: --net: --net needs QEMU \(not --bochs\)$/m);
  const nic = denali('boot', '--nic', 'rtl8139');
  t.is(nic.status, 2);
  t.regex(nic.stderr, /^denali: --nic: --nic must be one of 'virtio', 'e1000', 'e1000e'$/m);
  const noNet = denali('boot', '--nic', 'e1000', '--net', 'none');
  t.is(noNet.status, 2);
  t.regex(noNet.stderr, /^denali: --nic: --nic needs QEMU with --net user or tap$/m);
  if (process.getuid?.() !== 0) {
    const tap = denali('boot', '--net', 'tap');
    t.is(tap.status, 2);
    t.regex(tap.stderr, /^denali: --net: --net tap needs root/m);
  }
});

test('forwards: host port N+i to port 80 of the first VMs inside 10.0.2.0/24; the QEMU flags', t => {
  const groups = [
    { moduleIndex: 1, vmCount: 2, memoryKiB: 256, argument: 0, ipBase: parseIp('10.0.2.15'), guaranteedKiB: 64 },
    { moduleIndex: 1, vmCount: 1, memoryKiB: 256, argument: 0, ipBase: parseIp('198.18.0.2'), guaranteedKiB: 64 }];
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
  t.deepEqual(userNetArgs([], 'e1000').slice(2), ['-device', 'e1000,netdev=n0']);
  t.deepEqual(tapNetArgs('dtap0', 'e1000e').slice(2), ['-device', 'e1000e,netdev=n0']);
});

test('--nic e1000 (on --net user): web VMs at 10.0.2.15.. serve curl-able pages through forwarded ports; '
  + 'a console `stop` ends the boot', async t => {
  const file = manifest('web-user', { groups: [{ image: 'guest-src/apps/httpd.ts', count: 2, memoryKiB: 1024, argument: 0, ipBase: '10.0.2.15' }] });
  const hostPort = 20000 + (process.pid % 20000);
  const bootArgs = ['boot', '--manifest', file, '--nic', 'e1000', '--host-port', String(hostPort), '--timeout', '120'];
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...bootArgs],
    { cwd: scratch, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>(resolve => child.on('close', status => resolve(status)));
  try {
    // The console is live: the VMs' lines arrive while QEMU runs.
    for (let i = 0; i < 1200 && !/^\[vm 1\] vm 1 httpd on port 80$/m.test(out.replace(/\r/g, ''))
      && child.exitCode === null; i++) await new Promise(r => setTimeout(r, 100));
    out = out.replace(/\r/g, '');
    t.regex(out, /^\[vm 1\] vm 1 httpd on port 80$/m, `${out.slice(-2000)}\n${err}`);
    const url = out.search(/^net user: vm 0 10\.0\.2\.15:80 <- http:\/\/localhost:\d+\/$/m);
    t.true(url >= 0 && url < out.search(/^Denali\/TS isolation kernel/m), 'URLs before the banner');
    t.regex(out, /^e1000 00:03\.0 82540EM mac 52:54:00:12:34:56 \(eeprom\) link up /m);
    for (const vm of [0, 1]) {
      const page = await get(`http://127.0.0.1:${hostPort + vm}/`);
      t.is(page.status, 200);
      t.is(page.body.length, 2048);
      t.true(page.body.includes(`<h1>Denali VM ${vm}</h1>`), page.body.slice(0, 200));
    }
    t.is((await get(`http://127.0.0.1:${hostPort}/missing`)).status, 404);
    child.stdin.write('stop\n');
    const status = await exited;
    out = out.replace(/\r/g, '');
    t.is(status, 0, `${out.slice(-2000)}\n${err}`);
    t.regex(out, /^vms done: stopped from the console$/m);
    t.regex(out, /^vm 0 net: rx \d+ packets \d+ bytes, tx \d+ packets/m);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 30_000 }, response => {
      let body = '';
      response.setEncoding('latin1');
      response.on('data', (d: string) => { body += d; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in 30 s`)));
    request.on('error', reject);
  });
}
