// Runs images in QEMU (TCG, never KVM) and reads their serial output: the one place that knows the flags.
import { spawn, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, truncateSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { SWAP_SIGNATURE } from '../abi/swap-disk.ts';

export interface MachineRun { serial: string; status: number | null; debugExit: number | null; timedOut: boolean; stderr: string }

export type BootMedium = { kernel: string; initrd?: string[] } | { cdrom: string } | { usb: string };

export interface QemuOptions {
  memoryMiB?: number;
  timeoutMs?: number;
  icount?: boolean;          // -icount shift=0,sleep=off: deterministic, rdtsc counts instructions
  extraArgs?: string[];
  /** Stop QEMU once the serial output contains this text (for images that never exit by themselves). */
  until?: string;
  /** Runs QEMU through this command prefix (e.g. `ip netns exec NS`), which must exec it in place. */
  prefix?: string[];
  /** Aborting kills QEMU; the run resolves as stopped (not timed out). */
  signal?: AbortSignal;
  /**
   * COM1 both ways (ConsoleLine): its output read from the line, commands sent on it to the kernel's
   * console monitor (vms, net, stop).
   */
  console?: ConsoleLine;
  /** Called with COM1 output as it arrives (polled every 100 ms), for a live console. */
  onOutput?: (text: string) => void;
}

/**
 * The network cards the kernel drives (kernel-src/nic.ts), by the name `denali boot --nic` takes, and
 * QEMU's device for each: virtio-net, the Intel 82540EM (e1000, a PCI card) and 82574L (e1000e, PCIe;
 * QEMU plugs it into the i440FX machine's bus as well, so no q35 is needed).
 */
export const NIC_MODELS = ['virtio', 'e1000', 'e1000e'] as const;
export type NicModel = typeof NIC_MODELS[number];
const NIC_DEVICES: Record<NicModel, string> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e' };

/** `-device CARD,netdev=ID[,options]`: the card of `nic` on the network backend `netdev`. */
export function nicDeviceArgs(nic: NicModel, netdev = 'n0', options = ''): string[] {
  return ['-device', `${NIC_DEVICES[nic]},netdev=${netdev}${options ? `,${options}` : ''}`];
}

/**
 * `-netdev user` with a card (virtio-net unless told); each forward maps 127.0.0.1:hostPort to
 * guestIp:guestPort (TCP).
 */
export function userNetArgs(
  forwards: { hostPort: number; ip: string; guestPort: number }[] = [], nic: NicModel = 'virtio',
): string[] {
  const fwd = forwards.map(f => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-${f.ip}:${f.guestPort}`).join('');
  return ['-netdev', `user,id=n0${fwd}`, ...nicDeviceArgs(nic)];
}

/** `-netdev tap` on an existing tap device (no scripts) with a card (virtio-net unless told). */
export function tapNetArgs(device: string, nic: NicModel = 'virtio'): string[] {
  return ['-netdev', `tap,id=n0,ifname=${device},script=no,downscript=no`, ...nicDeviceArgs(nic)];
}

/**
 * A fresh sparse raw image of `bytes` (a multiple of 512) at `path`, marked as a swap disk (its first bytes
 * abi/swap-disk.ts's signature, without which the kernel does not use it): the disk swapDiskArgs attaches.
 * Built under a name of its own and renamed, so `path` never shows a half-made image (the signature alone).
 */
export function createSwapImage(path: string, bytes: number): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, SWAP_SIGNATURE, 'latin1');
  truncateSync(partial, bytes);
  renameSync(partial, path);
}

let ioUring: boolean | undefined;
/**
 * Whether QEMU opens a raw image with `aio=io_uring` here (built with liburing, io_uring allowed by the host's
 * kernel): QEMU itself opens a scratch image and quits at its monitor; asked once a process.
 */
export function qemuIoUring(): boolean {
  if (ioUring !== undefined) return ioUring;
  const dir = mkdtempSync(join(tmpdir(), 'denali-aio-'));
  try {
    const image = join(dir, 'probe.img');
    writeFileSync(image, Buffer.alloc(4096));
    const r = spawnSync('qemu-system-i386', ['-nodefaults', '-display', 'none', '-machine', 'none', '-S',
      '-monitor', 'stdio', '-drive', `if=none,id=probe,format=raw,aio=io_uring,file=${image}`],
    { input: 'quit\n', timeout: 30_000, encoding: 'utf8' });
    ioUring = r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ioUring;
}

/** The swap disks `denali boot --disk` offers: the kernel drives each (kernel-src/disk.ts). */
export const DISK_KINDS = ['virtio', 'ahci', 'nvme'] as const;
export type DiskKind = (typeof DISK_KINDS)[number];

/** What the kernel calls each kind of disk on its `swap:` line. */
export const DISK_DRIVER_NAMES: Record<DiskKind, string> = { virtio: 'virtio-blk', ahci: 'ahci', nvme: 'nvme' };

/**
 * The swap disk: `image` (raw) on the controller `disk` names, on QEMU's default i440FX machine:
 * - virtio: a virtio-blk PCI function (kernel-src/virtio-blk.ts), served by an I/O thread of its own
 *   (`-object iothread`: QEMU's dataplane), not QEMU's main loop: there every request and completion
 *   contended with the tap's frames for the lock the virtual CPU needs at each port access, and at
 *   bench:request's swap point (10,000 httpd VMs in 128 MiB) the CPU stood waiting: 1,030 requests/s
 *   without, 1,320 with (two runs each, alternating, same host);
 * - ahci: an Intel ICH9 AHCI controller (`-device ahci`, the q35 machine's own SATA controller) with the
 *   image as the SATA disk on its port 0 (kernel-src/ahci.ts);
 * - nvme: an NVMe controller with the image as its namespace 1 (kernel-src/nvme.ts).
 * Every kind reads and writes the image by io_uring where QEMU and the host allow it (qemuIoUring): a read the
 * host's page cache holds completes as it is submitted, where QEMU's default (aio=threads) hands each request
 * to a pool thread and its completion back, each a wake-up on the host's CPU that the load generator and the
 * tap share. At bench:request's real-time point of 100,000 httpd VMs the virtual CPU stood idle, waiting for
 * read-ins, 346,000 and 559,000 host cycles a request with threads and 48,000 and 85,000 with io_uring (runs
 * alternating; 1,555 and 1,233 requests/s against 1,968 and 1,936).
 * Put after the network card's flags, so the card keeps its PCI slot (00:03.0). With `blkdebugRules`
 * (a file of QEMU blkdebug `[inject-error]` sections) the requests the rules name fail with their errno,
 * which the device reports as its own I/O error status: the tests of the kernel's error paths.
 */
export function swapDiskArgs(image: string, disk: DiskKind = 'virtio', blkdebugRules?: string): string[] {
  const quote = (path: string) => path.replace(/,/g, ',,');     // a comma inside a QEMU option value
  const file = blkdebugRules
    ? `file.driver=blkdebug,file.config=${quote(blkdebugRules)},file.image.filename=${quote(image)}`
    : `file=${quote(image)}`;
  const aio = blkdebugRules === undefined && qemuIoUring() ? 'aio=io_uring,' : '';
  const drive = ['-drive', `if=none,id=swap,format=raw,${aio}${file}`];
  if (disk === 'ahci') return [...drive, '-device', 'ahci,id=swapahci', '-device', 'ide-hd,drive=swap,bus=swapahci.0'];
  if (disk === 'nvme') return [...drive, '-device', 'nvme,serial=denali-swap,drive=swap'];
  return ['-object', 'iothread,id=swapio', ...drive, '-device', 'virtio-blk-pci,drive=swap,iothread=swapio'];
}

/**
 * COM1 as a two-way line: QEMU listens on a Unix socket and does not start the machine (wait=on) until
 * connect() is in, so the connection carries every byte COM1 prints, in order, and commands go the other
 * way on it. (A log file beside a socket, QEMU 7.2, now and then held a byte twice.)
 */
export class ConsoleLine {
  readonly path: string;
  private output = '';
  private socket: Promise<Socket | null> | null = null;
  private ended: Promise<void> = Promise.resolve();
  constructor(dir: string) { this.path = join(dir, 'com1.sock'); }

  /** Connects once QEMU's socket appears; null if `gone()` (QEMU exited) first. */
  connect(gone: () => boolean): Promise<Socket | null> {
    return this.socket ??= (async () => {
      let socket: Socket | null = null;
      while (!socket) {
        if (gone()) return null;
        socket = existsSync(this.path) ? await new Promise<Socket | null>(resolve => {
          const s = connect(this.path, () => resolve(s));
          s.once('error', () => resolve(null));       // not listening yet
        }) : null;
        if (!socket) await new Promise(r => setTimeout(r, 20));
      }
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => { this.output += d.toString('latin1'); });
      this.ended = new Promise(r => socket.on('close', () => r()));
      return socket;
    })();
  }
  /** All COM1 output so far. */
  text(): string { return this.output; }
  /** Resolves once QEMU closed the line (all output is in). */
  finished(): Promise<void> { return this.ended; }
  async send(text: string): Promise<void> {
    const socket = await this.socket;
    if (!socket || socket.destroyed) throw new Error('COM1: not connected');
    await new Promise<void>((resolve, reject) => socket.write(text, e => (e ? reject(e) : resolve())));
  }
}

/**
 * The whole lines of `text` after offset `from`, for matching line-anchored patterns against output still
 * coming: the line being written is left out, so a pattern ending in `$` cannot match a line cut short.
 */
export function wholeLines(text: string, from = 0): string {
  return text.slice(from, Math.max(from, text.lastIndexOf('\n') + 1));
}

/**
 * The CPU QEMU emulates unless a caller passes its own `-cpu`: QEMU's default (qemu32) with SSSE3, SSE4.1,
 * SSE4.2 and POPCNT, which every PC since 2008 has, as a set (glibc in the Linux peer takes SSE4.2 to mean
 * SSE4.1 too: with SSE4.2 alone its init died on `ptest`). The kernel checksums swapped pages with the
 * `crc32` instruction (kernel-src/crc32c.ts; with plain qemu32 it uses tables).
 */
const QEMU_CPU = 'qemu32,+ssse3,+sse4.1,+sse4.2,+popcnt';

/** `serial`: where COM1 goes — a file (tests: never blocks, nothing lost) or 'stdio' (interactive). */
export function qemuArgs(medium: BootMedium, options: QemuOptions = {}, serial = 'stdio'): string[] {
  const com1 = options.console
    ? ['-chardev', `socket,id=com1,path=${options.console.path},server=on,wait=on`, '-serial', 'chardev:com1']
    : serial === 'stdio' ? ['-serial', 'stdio']
    : ['-serial', `file:${serial}`];
  // `-nic none`: no default card (QEMU would add an e1000, which the kernel drives): a machine has the
  // network card its caller asks for in extraArgs (userNetArgs, tapNetArgs), or none.
  const args = ['-accel', 'tcg', '-m', String(options.memoryMiB ?? 64), ...com1, '-display', 'none', '-monitor', 'none',
    '-no-reboot', '-nic', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];
  if ('kernel' in medium) {
    args.push('-kernel', medium.kernel);
    if (medium.initrd?.length) args.push('-initrd', medium.initrd.join(','));
  } else if ('cdrom' in medium) {
    args.push('-cdrom', medium.cdrom, '-boot', 'd');
  } else {
    // The ISO is a hybrid image: written to a USB stick it boots as a disk.
    args.push('-drive', `if=none,id=stick,format=raw,file=${medium.usb},readonly=on`, '-device', 'qemu-xhci', '-device', 'usb-storage,drive=stick,bootindex=0');
  }
  if (options.icount) args.push('-icount', 'shift=0,sleep=off');
  if (!options.extraArgs?.includes('-cpu')) args.push('-cpu', QEMU_CPU);
  return [...args, ...(options.extraArgs ?? [])];
}

/**
 * Boots QEMU with COM1 written to a file (QEMU never blocks on a slow reader, so no byte is lost even
 * when the test process is busy) or to `options.console`. The timeout counts only while QEMU is really running.
 */
export function runQemu(medium: BootMedium, options: QemuOptions = {}): Promise<MachineRun> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-qemu-'));
  const serialFile = join(dir, 'com1.txt');
  const read = () => options.console ? options.console.text()
    : existsSync(serialFile) ? readFileSync(serialFile).toString('latin1') : '';
  return new Promise((resolve, reject) => {
    const command = [...(options.prefix ?? []), 'qemu-system-i386', ...qemuArgs(medium, options, serialFile)];
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    options.console?.connect(() => child.exitCode !== null || child.signalCode !== null).catch(() => {});
    let timedOut = false, stoppedByUs = false;
    const timer = setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) return; // it finished; 'close' is on its way
      timedOut = true; child.kill('SIGKILL');
    }, options.timeoutMs === 0 ? 2 ** 31 - 1 : options.timeoutMs ?? 30_000);   // 0: no timeout (~24 days)
    let shown = 0, untilSeen = false;
    const poll = options.until || options.onOutput ? setInterval(() => {
      const text = read();
      if (options.onOutput && text.length > shown) { options.onOutput(text.slice(shown)); shown = text.length; }
      // One more poll after the text appears, so the lines printed right after it are in the file too.
      if (untilSeen) { stoppedByUs = true; child.kill('SIGKILL'); }
      else if (options.until && text.includes(options.until)) untilSeen = true;
    }, 100) : undefined;
    const abort = () => { stoppedByUs = true; child.kill('SIGKILL'); };
    if (options.signal?.aborted) abort(); else options.signal?.addEventListener('abort', abort, { once: true });
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', e => { clearTimeout(timer); clearInterval(poll); reject(new Error(`cannot start qemu-system-i386 (${e.message}): run tools/setup.sh`)); });
    child.on('close', async (status, signal) => {
      clearTimeout(timer); clearInterval(poll); options.signal?.removeEventListener('abort', abort);
      await options.console?.finished();
      // A busy test process may run the timer only after QEMU has already exited on its own: then the
      // kill found a zombie and QEMU's own exit status (not SIGKILL) shows it was no timeout.
      if (timedOut && signal !== 'SIGKILL') timedOut = false;
      const serial = read();
      if (options.onOutput && serial.length > shown) options.onOutput(serial.slice(shown));
      rmSync(dir, { recursive: true, force: true });
      if (options.until && serial.includes(options.until)) stoppedByUs = true;
      const debugExit = status !== null && (status & 1) === 1 && !stoppedByUs ? status >> 1 : null;
      resolve({ serial, status, debugExit, timedOut: timedOut && !stoppedByUs, stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Splits what a program wrote on its serial line: \x02 lines are stderr, "\x01EXIT n" is the exit status. */
export function parseProgramSerial(serial: string): { stdout: string; stderr: string; status: number | null } {
  let stdout = '', stderr = '', status: number | null = null;
  const lines = serial.split('\n');
  const last = lines.pop() ?? '';
  for (const line of lines) {
    // The runtime's control lines start where the program's output stands: after `write("abc")` with
    // no newline yet, "abc" comes first on the same line, then \x01 or \x02.
    const control = line.search(/[\x01\x02]/);
    if (control < 0) { stdout += line + '\n'; continue; }
    stdout += line.slice(0, control);
    const rest = line.slice(control);
    if (rest.startsWith('\x01EXIT ')) status = Number(rest.slice(6)) & 255;
    else if (rest.startsWith('\x02')) stderr += rest.slice(1) + '\n';
  }
  const control = last.search(/[\x01\x02]/);
  stdout += control < 0 ? last : last.slice(0, control);
  return { stdout, stderr, status };
}

/**
 * A program's outcome on the bytecode interpreter as `denali run --target interp` reports it: what it
 * wrote, and when the machine stopped it with an error (a stack overflow, a wild access) exit status 101
 * with `interpreter: MESSAGE` on stderr.
 */
export function interpreterOutcome(r: { serial: string; stop: string; error?: string }):
  { stdout: string; stderr: string; status: number | null } {
  const o = parseProgramSerial(r.serial);
  return r.stop === 'error' ? { stdout: o.stdout, stderr: `${o.stderr}interpreter: ${r.error}\n`, status: 101 } : o;
}
