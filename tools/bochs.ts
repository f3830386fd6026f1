// Runs an ISO in Bochs headless (display_library: term, COM1 to a file) and watches the serial file.
// Bochs has no isa-debug-exit, so the harness stops it: when `until` appears, or at the timeout.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { MachineRun } from './qemu.ts';

interface BochsOptions { timeoutMs?: number; until?: string; memoryMiB?: number }

export function runBochs(iso: string, options: BochsOptions = {}): Promise<MachineRun> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-bochs-'));
  const serialFile = join(dir, 'com1.txt');
  const rc = join(dir, 'bochsrc');
  writeFileSync(rc, [
    `megs: ${options.memoryMiB ?? 64}`,
    'romimage: file=/usr/share/bochs/BIOS-bochs-latest',
    'vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest',
    `ata0-master: type=cdrom, path=${iso}, status=inserted`,
    'boot: cdrom',
    'display_library: term',
    `com1: enabled=1, mode=file, dev=${serialFile}`,
    'log: /dev/null',
    'panic: action=fatal',
    'error: action=report',
    'info: action=ignore',
    'debug: action=ignore',
    'clock: sync=none, time0=local',
    'cpu: ips=50000000',
    '',
  ].join('\n'));
  // The built-in debugger stops at the first instruction unless told to continue.
  writeFileSync(join(dir, 'commands'), 'c\n');
  return new Promise((resolve, reject) => {
    const child = spawn('bochs', ['-q', '-f', rc, '-rc', join(dir, 'commands')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false, found = false;
    const read = () => (existsSync(serialFile) ? readFileSync(serialFile).toString('latin1') : '');
    const poll = setInterval(() => {
      if (options.until && read().includes(options.until)) { found = true; child.kill('SIGKILL'); }
    }, 200);
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, options.timeoutMs ?? 120_000);
    child.on('error', e => { clearInterval(poll); clearTimeout(timer); reject(new Error(`cannot start bochs (${e.message}): run tools/setup.sh`)); });
    child.on('close', status => {
      clearInterval(poll); clearTimeout(timer);
      const serial = read();
      rmSync(dir, { recursive: true, force: true });
      resolve({ serial, status, debugExit: null, timedOut: timedOut && !found, stderr: Buffer.concat(err).toString() });
    });
  });
}
