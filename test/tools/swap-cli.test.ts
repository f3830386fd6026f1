// Contract: `denali boot --swap SIZE [--disk virtio|ahci|nvme]` (tools/cli.ts, tools/qemu.ts; issue 15 item 2
// and issue 22 item 3, host side). A bad size or disk gets zod's message naming the option and exit status 2,
// before anything is built. A good one makes a fresh sparse raw image out/swap-PID.img of exactly that size,
// attaches it as the disk (virtio-blk, or on an AHCI or NVMe controller) the kernel takes as its swap device
// (the `swap: virtio-blk|ahci|nvme ... MiB (N sectors)` boot line), the VMs of a manifest run as without it,
// and the image is gone when the boot ends. The disk is read and written by io_uring where QEMU opens an image
// with it here (tools/qemu.ts qemuIoUring), by QEMU's pool of threads otherwise.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../../tools/build.ts';
import { qemuIoUring, swapDiskArgs, DISK_KINDS } from '../../tools/qemu.ts';

const scratch = mkdtempSync(join(tmpdir(), 'denali-swap-cli-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
const denali = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args],
  { encoding: 'utf8', cwd: scratch, timeout: 300_000 });

const MESSAGE = new RegExp('^denali: --swap: --swap must be a size such as 64M or 8G '
  + '\\(a whole number and K, M, G or T; whole 4K pages\\), from 1M to 1T$', 'm');

test('a bad --swap gets zod\'s message naming the option, exit status 2, nothing built', t => {
  // Each spawn loads the whole toolchain (seconds): no unit, too large, not whole pages; then no size.
  const bad = [['--swap', '8'], ['--swap=2T'], ['--swap', '1025K']];
  for (const args of bad) {
    const r = denali('boot', ...args);
    t.is(r.status, 2, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, MESSAGE, args.join(' '));
  }
  const missing = denali('boot', '--swap');          // the parser's (tools/cli-options.ts), before zod
  t.is(missing.status, 2);
  t.regex(missing.stderr, /^denali boot: --swap needs a value \(SIZE\)$/m);
  const bochs = denali('boot', '--bochs', '--swap', '8G');
  t.is(bochs.status, 2);
  t.regex(bochs.stderr, /^denali: --swap: --swap needs QEMU \(not --bochs\)$/m);
  const noSwap = denali('boot', '--disk', 'nvme');
  t.is(noSwap.status, 2);
  t.regex(noSwap.stderr, /^denali: --disk: --disk needs --swap SIZE \(the disk is the swap disk\)$/m);
  const unknown = denali('boot', '--swap', '64M', '--disk', 'sata');
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /^denali: --disk: --disk must be one of 'virtio', 'ahci', 'nvme'$/m);
});

test('--swap 64M: a sparse image of 64 MiB as the kernel\'s swap disk; the VMs run; the image is removed', t => {
  const manifest = join(scratch, 'counters.json');
  const counters = { image: 'guest-src/demos/counter.ts', count: 2, memoryKiB: 128, argument: 3 };
  writeFileSync(manifest, JSON.stringify({ groups: [counters] }));
  const before = new Set(readdirSync(join(ROOT, 'out')).filter(f => f.startsWith('swap-')));
  const r = denali('boot', '--swap', '64M', '--manifest', manifest, '--timeout', '120');
  const out = r.stdout.replace(/\r/g, '');
  t.is(r.status, 0, `${out.slice(-2000)}\n${r.stderr}`);
  const image = /^swap image: (out\/swap-(\d+)\.img), 64 MiB sparse, virtio-blk; removed at exit$/m.exec(out);
  t.truthy(image, out.slice(0, 2000));
  t.regex(out, /^swap: virtio-blk 00:0[0-9a-f]\.0 64 MiB \(131072 sectors\), queue \d+, \d+ requests of up to /m);
  t.regex(out, /^vms done: every VM has ended$/m);
  t.regex(out, /^vm 0: cpu \d+ kcycles, switches \d+, exit status 0$/m);
  t.regex(out, /^vm 1: cpu \d+ kcycles, switches \d+, exit status 0$/m);
  t.regex(out, /^blk: reads 0 \(0 pages\), writes 0 \(0 pages\), completed 0, failed 0, in flight 0 /m);
  t.false(existsSync(join(ROOT, image![1])), 'the image is removed at exit');
  t.deepEqual(readdirSync(join(ROOT, 'out')).filter(f => f.startsWith('swap-') && !before.has(f)), []);
});

for (const [disk, line] of [['ahci', /^swap: ahci 00:03\.0 port 0 64 MiB \(131072 sectors\), /m],
  ['nvme', /^swap: nvme 00:03\.0 64 MiB \(131072 sectors\), /m]] as const) {
  test(`--swap 64M --disk ${disk}: the image on that controller is the kernel's swap disk; the VMs run`, t => {
    const manifest = join(scratch, `counters-${disk}.json`);
    writeFileSync(manifest, JSON.stringify({ groups: [{ image: 'guest-src/demos/counter.ts', count: 2, memoryKiB: 128,
      argument: 3 }] }));
    const r = denali('boot', '--swap', '64M', '--disk', disk, '--manifest', manifest, '--timeout', '120');
    const out = r.stdout.replace(/\r/g, '');
    t.is(r.status, 0, `${out.slice(-2000)}\n${r.stderr}`);
    t.regex(out, new RegExp(`^swap image: out/swap-\\d+\\.img, 64 MiB sparse, ${disk}; removed at exit$`, 'm'));
    t.regex(out, line);
    t.regex(out, /^vms done: every VM has ended$/m);
    t.regex(out, /^blk: reads 0 \(0 pages\), writes 0 \(0 pages\), completed 0, failed 0, in flight 0 /m);
  });
}

test('the image is sparse and of the exact size while the boot runs', async t => {
  // The image exists from before QEMU starts until after it exits: look at it meanwhile.
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), 'boot', '--swap', '8G', '--timeout', '60'],
    { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>(resolve => child.on('close', status => resolve(status)));
  const path = join(ROOT, 'out', `swap-${child.pid}.img`);
  for (let i = 0; i < 600 && !existsSync(path) && child.exitCode === null; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  t.true(existsSync(path), out);
  const stat = statSync(path);
  t.is(stat.size, 8 * 2 ** 30);
  t.true(stat.blocks * 512 < 2 ** 20, `allocated ${stat.blocks * 512} bytes`);
  const status = await exited;
  t.is(status, 0);
  t.regex(out.replace(/\r/g, ''), /^swap: virtio-blk 00:0[0-9a-f]\.0 8192 MiB \(16777216 sectors\), /m);
  t.false(existsSync(path));
});

test('the swap disk goes through io_uring where QEMU opens an image with it here, QEMU\'s threads otherwise; '
  + 'an error-injecting disk (blkdebug) never', t => {
  const uring = qemuIoUring();
  // The probe's own answer, asked of QEMU directly: a drive with aio=io_uring opens (exit 0 at `quit`) or not.
  const image = join(scratch, 'aio.img');
  writeFileSync(image, Buffer.alloc(4096));
  const r = spawnSync('qemu-system-i386', ['-nodefaults', '-display', 'none', '-machine', 'none', '-S', '-monitor',
    'stdio', '-drive', `if=none,id=d,format=raw,aio=io_uring,file=${image}`], { input: 'quit\n', encoding: 'utf8' });
  t.is(uring, r.status === 0, r.stderr);
  for (const disk of DISK_KINDS) {
    t.is(swapDiskArgs(image, disk).some(a => a.includes('aio=io_uring,')), uring, disk);
    t.false(swapDiskArgs(image, disk, join(scratch, 'rules')).some(a => a.includes('aio=')), `${disk} with blkdebug`);
  }
});
