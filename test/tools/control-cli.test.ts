// Contract: the control plane's command line (tools/control-cli.ts, tools/cli.ts; docs/control.md).
// push, vms and stop check their options with zod (exit 2, the option named) before any request; a
// key file must hold 64 hex digits. `denali boot --manifest manifests/control.json --net user` creates
// the key under out/ on first use, passes it as the boot module `control-key`, prints `control: URL key
// FILE` before the banner (and the forwarded ports of the VMs it will push), and `denali vms` with that
// URL and file reaches the control VM at once. (Pushing and stopping through the CLI:
// test/kernel/control-api.test.ts.)
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../../tools/build.ts';
import { readControlKey, controlKeyFile, signRequest, ControlError } from '../../tools/control-client.ts';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const scratch = mkdtempSync(join(tmpdir(), 'denali-control-cli-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
const denali = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args],
  { encoding: 'utf8', cwd: scratch, timeout: 60_000 });

test('push, vms, stop: bad options get zod\'s message naming the option, exit 2, no request', t => {
  const key = controlKeyFile(join(scratch, 'key'));
  const cases: [string[], RegExp][] = [
    [['vms', '--key', key], /^denali: --to: --to must be the control API's URL, http:\/\/HOST:PORT$/m],
    [['vms', '--to', 'ftp://x', '--key', key], /^denali: --to: --to must be the control API's URL/m],
    [['vms', '--to', 'http://127.0.0.1:9'], /^denali: --key: --key needs the key FILE$/m],
    [['vms', '--to', 'http://127.0.0.1:9', '--key', join(scratch, 'none')], /^denali: --key: no such file$/m],
    [['stop', '--to', 'http://127.0.0.1:9', '--key', key], /^denali: --id: a VM ID \(a whole number\) is required$/m],
    [['stop', '--to', 'http://127.0.0.1:9', '--key', key, 'x'], /^denali: --id: a VM ID/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key], /^denali: --file: a guest FILE\.ts to push is required$/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--count', '0'],
      /^denali: --count: --count must be a whole number from 1 to 1000$/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--memory', '1025'],
      /^denali: --memory: --memory must be a whole number of KiB, a multiple of 4/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--weight', '0'],
      /^denali: --weight: --weight must be a whole number from 1 to 10000$/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--cap', '101'],
      /^denali: --cap: --cap must be a whole percentage from 1 to 100$/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--tx-packets', '-1'],
      /^denali: --tx-packets: --tx-packets must be a whole number of packets a second/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--rx-bytes', '1513'],
      /^denali: --rx-bytes: --rx-bytes must be 0 \(no limit\) or a whole number of bytes a second from 1514$/m],
    [['push', '--to', 'http://127.0.0.1:9', '--key', key, 'guest-src/apps/httpd.ts', '--memory-cap', '1030'],
      /^denali: --memory-cap: --memory-cap must be a whole number of KiB, a multiple of 4$/m],
  ];
  for (const [args, message] of cases) {
    const r = denali(...args.map(a => (a === 'guest-src/apps/httpd.ts' ? join(ROOT, a) : a)));
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
  }
  writeFileSync(join(scratch, 'short'), 'abcd\n');
  const short = denali('vms', '--to', 'http://127.0.0.1:9', '--key', join(scratch, 'short'));
  t.is(short.status, 1);
  t.regex(short.stderr, /^denali: .*short is not a key: it must hold 64 hex digits$/m);
});

test('push --weight --cap and the rate flags: POST /vms carries them, signed; absent flags are left out', async t => {
  const key = readControlKey(controlKeyFile(join(scratch, 'push-key')));
  const seen: { method: string; url: string; body: string; signed: boolean }[] = [];
  // A stand-in for the control API: checks each request's signature, answers as guest-src/apps/control.ts does.
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks), timestamp = String(req.headers['x-denali-timestamp']);
      const signed = req.headers['x-denali-signature'] === signRequest(key, req.method!, req.url!, timestamp, body);
      seen.push({ method: req.method!, url: req.url!, body: body.toString(), signed });
      const answer = req.url === '/images' ? { image: 3, bytes: body.length }
        : req.url === '/vms' ? { image: 3, first: 7, count: 1, vms: [{ id: 7, ip: '10.0.2.16' }] } : {};
      res.writeHead(req.url === '/images' || req.url === '/vms' ? 201 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = (...extra: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>(done => {
    const child = spawn(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), 'push', '--to', url, '--key',
      join(scratch, 'push-key'), join(ROOT, 'guest-src', 'demos', 'counter.ts'), ...extra], { cwd: scratch });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', status => done({ status, stdout, stderr }));
  });
  try {
    const full = await run('--count', '1', '--weight', '300', '--cap', '25', '--tx-packets', '5000', '--tx-bytes',
      '1514', '--rx-packets', '0', '--rx-bytes', '2000000', '--memory-cap', '512');
    t.is(full.status, 0, full.stderr);
    t.is(full.stdout, 'vm 7 10.0.2.16\n');
    t.deepEqual(seen.map(r => `${r.method} ${r.url} ${r.signed}`),
      ['POST /images true', 'POST /vms true', 'DELETE /images/3 true']);
    t.deepEqual(JSON.parse(seen[1].body), { image: 3, count: 1, memoryKiB: 1024, argument: 0, cpuWeight: 300,
      cpuCapPercent: 25, txPacketsPerSecond: 5000, txBytesPerSecond: 1514, rxPacketsPerSecond: 0,
      rxBytesPerSecond: 2000000, memoryCapKiB: 512 });
    seen.length = 0;
    const plain = await run();
    t.is(plain.status, 0, plain.stderr);
    t.deepEqual(JSON.parse(seen[1].body), { image: 3, count: 1, memoryKiB: 1024, argument: 0 },
      'the API\'s defaults: weight 100, no cap, no limits');
  } finally {
    server.close();
  }
});

test('the key file: 64 hex digits made once, read back; the signature is HMAC-SHA256 over the request', t => {
  const file = controlKeyFile(join(scratch, 'made', 'key'));
  const text = readFileSync(file, 'utf8');
  t.regex(text, /^[0-9a-f]{64}\n$/);
  t.is(controlKeyFile(file), file);
  t.is(readFileSync(file, 'utf8'), text, 'not made again');
  const key = readControlKey(file);
  t.is(key.length, 32);
  const body = Buffer.from('{"image":0}');
  t.is(signRequest(key, 'POST', '/vms', '1700000000000', body),
    createHmac('sha256', key).update('POST\n/vms\n1700000000000\n{"image":0}').digest('hex'));
  t.throws(() => readControlKey(join(scratch, 'missing')), { instanceOf: ControlError,
    message: /^no such key file: / });
});

test('boot --manifest manifests/control.json --net user prints `control: URL key FILE`, and vms reaches it',
  async t => {
  const hostPort = 21000 + (process.pid % 20000);
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), 'boot', '--manifest',
    join(ROOT, 'manifests', 'control.json'), '--net', 'user', '--host-port', String(hostPort), '--timeout', '180'],
  { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>(done => child.on('close', status => done(status)));
  try {
    for (let i = 0; i < 1800 && !/^\[vm 0\] vm 0 control API on port 80$/m.test(out.replace(/\r/g, ''))
      && child.exitCode === null; i++) await new Promise(r => setTimeout(r, 100));
    out = out.replace(/\r/g, '');
    t.regex(out, /^\[vm 0\] vm 0 control API on port 80$/m, `${out.slice(-2000)}\n${err}`);
    const line = /^control: (http:\/\/localhost:(\d+)) key (\S+)$/m.exec(out);
    t.truthy(line, out.slice(0, 3000));
    t.is(Number(line![2]), hostPort);
    t.is(resolve(ROOT, line![3]), join(ROOT, 'out', 'control-key'));
    t.true(out.indexOf(line![0]) < out.search(/^Denali\/TS isolation kernel/m), 'the line comes before the banner');
    t.regex(out,
      new RegExp(`^net user: 10\\.0\\.2\\.16:80 <- http://localhost:${hostPort + 1}/ \\(a VM pushed at run time\\)$`,
        'm'));
    t.regex(out, /^module \d+: .* name .*\/out\/control-key$/m);
    const vms = spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), 'vms', '--to', line![1], '--key',
      line![3]],
      { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    t.is(vms.status, 0, vms.stderr);
    t.regex(vms.stdout, /^vm 0 10\.0\.2\.15 running control memory 8192 KiB /m);
    child.stdin.write('stop\n');
    t.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
});
