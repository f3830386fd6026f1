// The Linux peer of `npm run bench:web` (issue 5): the same 2 KB page served by a Linux guest under the
// same qemu-system-i386, to compare the Denali VMs with. Debian's i386 kernel (linux-image-686) and
// busybox httpd (busybox-static:i386) in an initramfs of our own:
//   /init (busybox sh) mounts proc, sys and devtmpfs, insmods virtio_pci and virtio_net with their
//   dependencies (Debian builds them as modules; the order comes from each module's `depends=` in its
//   .modinfo, decompressed first when Debian ships .ko.xz), gives the first Ethernet interface
//   LINUX_PEER_ADDRESS/15, starts `busybox httpd -f -p 80 -h /www` and, on LINUX_PEER_EPOLL_PORT, the
//   fair peer bench/peer/httpd.c (keep-alive, epoll; built here with `gcc -m32 -O2 -static`), and
//   prints LINUX_PEER_READY.
// Everything is cached under out/linux-peer/ (gitignored; the .debs in /var/cache/denali/ for root, so
// that tools/setup.sh prepares it once per machine): the .debs (`apt-get download`, after
// `dpkg --add-architecture i386 && apt-get update` when apt does not know i386 yet), what `dpkg-deb -x`
// unpacked, vmlinuz and initramfs.cpio.gz. The cpio (newc) is written here, in TypeScript.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { join, basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { ROOT } from './build.ts';

export const LINUX_PEER_DIR = join(ROOT, 'out', 'linux-peer');
/**
 * Where the downloaded .debs are kept: a machine-wide cache for root (fresh clones, CI's among them,
 * download once), out/linux-peer/debs otherwise.
 */
const DEB_CACHE = process.getuid?.() === 0 ? '/var/cache/denali/linux-peer-debs' : join(LINUX_PEER_DIR, 'debs');
/** The peer's address: in 198.18.0.0/15 like the VMs; it lives in a namespace of its own. */
const LINUX_PEER_ADDRESS = '198.18.0.2';
/** The port of the fair peer (bench/peer/httpd.c); busybox httpd has port 80. */
export const LINUX_PEER_EPOLL_PORT = 8080;
const EPOLL_SOURCE = join(ROOT, 'bench', 'peer', 'httpd.c');
const EPOLL_FLAGS = ['-m32', '-O2', '-static', '-Wall', '-Wextra', '-Werror'];
/** What /init prints once httpd listens. */
export const LINUX_PEER_READY = 'linux-peer: httpd listening on port 80';
const LINUX_KERNEL_PACKAGE = 'linux-image-686:i386';
const BUSYBOX_PACKAGE = 'busybox-static:i386';
/** The kernel command line: the console on COM1 (qemuArgs writes it to a file), few messages. */
const LINUX_PEER_APPEND = 'console=ttyS0 quiet panic=-1';
/** The modules the peer needs (their dependencies are added): the PCI transport and the NIC. */
const LINUX_PEER_MODULES = ['virtio_pci', 'virtio_net'];
export const PAGE_BYTES = 2048;

/**
 * The page the benchmark fetches, exactly PAGE_BYTES long, laid out like guest-src/apps/httpd.ts's
 * (title, `<h1>NAME</h1>`, a line saying who served it, a comment padding it with lines of dots).
 */
export function webPage(name: string, servedBy: string): string {
  const head = `<!DOCTYPE html>\n<html><head><title>${name}</title></head>\n<body><h1>${name}</h1>\n<p>Served by ${servedBy}.</p>\n<!--`;
  const tail = '--></body></html>\n';
  let page = head;
  while (page.length < PAGE_BYTES - tail.length) page += page.length % 64 === 63 ? '\n' : '.';
  return page + tail;
}

/** The peer's page: named "Linux peer" where a VM's names the VM. */
export const LINUX_PEER_NAME = 'Linux peer';
export const linuxPeerPage = () => webPage(LINUX_PEER_NAME, 'busybox httpd on Linux (the peer of the Denali/TS web-server VMs)');

// ---- cpio "new ASCII" (newc): the initramfs format (Documentation/driver-api/early-userspace/buffer-format.rst)

interface CpioEntry { name: string; mode: number; data?: Uint8Array | string }
export const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000;

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/**
 * The newc archive of `entries` and the TRAILER!!! record: per entry the magic 070701, thirteen 8-digit
 * hex fields (ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
 * namesize with its NUL, check 0), the name NUL-terminated and padded to 4 bytes, the data padded to 4.
 * A symlink's data is its target. Owner root, mtime 0: the same entries give the same bytes.
 */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const record = (ino: number, name: string, mode: number, data: Buffer) => {
    const nameBytes = Buffer.from(name + '\0', 'utf8');
    const nlink = (mode & 0o170000) === S_IFDIR ? 2 : 1;
    const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = Buffer.from('070701' + fields.map(f => f.toString(16).padStart(8, '0')).join(''), 'ascii');
    parts.push(header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  entries.forEach((e, i) => record(i + 1, e.name.replace(/^\/+/, ''), e.mode, Buffer.from(e.data ?? '')));
  record(0, 'TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Reads a newc archive back (for the tests): names, modes and data in order, without the trailer. */
export function readCpio(bytes: Uint8Array): CpioEntry[] {
  const buf = Buffer.from(bytes);
  const entries: CpioEntry[] = [];
  let at = 0;
  for (;;) {
    if (buf.toString('ascii', at, at + 6) !== '070701') throw new Error(`cpio: bad magic at ${at}`);
    const field = (k: number) => parseInt(buf.toString('ascii', at + 6 + 8 * k, at + 14 + 8 * k), 16);
    const mode = field(1), size = field(6), nameSize = field(11);
    const nameAt = at + 110;
    const name = buf.toString('utf8', nameAt, nameAt + nameSize - 1);
    const dataAt = nameAt + nameSize + pad4(110 + nameSize);
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode, data: buf.subarray(dataAt, dataAt + size) });
    at = dataAt + size + pad4(size);
  }
}

// ---- kernel modules

/** A module's name as the kernel knows it: file name without .ko(.xz|.zst|.gz), '-' as '_'. */
export const moduleName = (file: string) => basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

/** The `depends=` field of a module's .modinfo section (module names, possibly none). */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko).toString('latin1');
  const at = text.indexOf('\0depends=');
  if (at < 0) return [];
  const end = text.indexOf('\0', at + 1);
  return text.slice(at + 9, end).split(',').filter(Boolean);
}

/**
 * The modules `wanted` needs, dependencies first (each once), as { name, bytes } with the module
 * decompressed. `files` maps module names to their file paths; `read` reads (and decompresses) one.
 */
export function moduleLoadOrder(wanted: string[], files: Map<string, string>, read: (path: string) => Uint8Array): { name: string; bytes: Uint8Array }[] {
  const order: { name: string; bytes: Uint8Array }[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`linux-peer: module dependency cycle at ${name}`);
    const path = files.get(name);
    if (!path) throw new Error(`linux-peer: no module ${name} (needed by ${from}) in the kernel package`);
    state.set(name, 'visiting');
    const bytes = read(path);
    for (const dep of moduleDepends(bytes)) visit(dep, name);
    state.set(name, 'done');
    order.push({ name, bytes });
  };
  for (const w of wanted) visit(w, 'the peer');
  return order;
}

function listModules(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) listModules(path, into);
    else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) into.set(moduleName(e.name), path);
  }
  return into;
}

function readModule(path: string): Uint8Array {
  if (path.endsWith('.ko')) return readFileSync(path);
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : 'gzip';
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`linux-peer: ${tool} -dc ${path} failed: ${r.stderr}`);
  return r.stdout;
}

// ---- the initramfs

/** /init: busybox sh; `modules` in load order; the interface is the first one that is not lo. */
export function initScript(modules: string[], address = LINUX_PEER_ADDRESS): string {
  return [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    ...modules.map(m => `insmod /lib/modules/${m}.ko || echo "linux-peer: insmod ${m} failed"`),
    'ip link set lo up',
    'for i in 1 2 3 4 5 6 7 8 9 10; do',
    '  nic=$(ls /sys/class/net | grep -v "^lo$" | head -n 1)',
    '  [ -n "$nic" ] && break',
    '  sleep 1',
    'done',
    'if [ -z "$nic" ]; then echo "linux-peer: no network interface"; ls /sys/class/net; poweroff -f; fi',
    'ip link set "$nic" up',
    `ip addr add ${address}/15 dev "$nic"`,
    'httpd -f -p 80 -h /www &',
    `/bin/httpd-epoll ${LINUX_PEER_EPOLL_PORT} /www/index.html &`,
    'sleep 1',
    `echo "${LINUX_PEER_READY} ($nic ${address})"`,
    'while true; do sleep 3600; done',
    '',
  ].join('\n');
}

/** The initramfs entries: busybox, the epoll server, /init, the modules, /www/index.html holding `page`. */
export function initramfsEntries(busybox: Uint8Array, modules: { name: string; bytes: Uint8Array }[], page: string,
  address = LINUX_PEER_ADDRESS, epoll: Uint8Array = new Uint8Array(0)): CpioEntry[] {
  const dirs = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'www', 'lib', 'lib/modules'];
  return [
    ...dirs.map(name => ({ name, mode: S_IFDIR | 0o755 })),
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
    { name: 'bin/httpd-epoll', mode: S_IFREG | 0o755, data: epoll },
    { name: 'init', mode: S_IFREG | 0o755, data: initScript(modules.map(m => m.name), address) },
    ...modules.map(m => ({ name: `lib/modules/${m.name}.ko`, mode: S_IFREG | 0o644, data: m.bytes })),
    { name: 'www/index.html', mode: S_IFREG | 0o644, data: page },
  ];
}

// ---- Debian packages

function sh(command: string, args: string[], cwd?: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) throw new Error(`linux-peer: ${command} ${args.join(' ')} failed (status ${r.status}): ${(r.stderr || String(r.error)).slice(-2000)}`);
  return r.stdout;
}

/** Downloads `pkg` (apt-get download, resolving a metapackage like linux-image-686 to the image it depends on). */
function download(pkg: string, dir: string): string {
  const before = new Set(readdirSync(dir));
  sh('apt-get', ['download', pkg], dir);
  const added = readdirSync(dir).filter(f => f.endsWith('.deb') && !before.has(f));
  if (added.length !== 1) throw new Error(`linux-peer: apt-get download ${pkg} gave ${added.join(', ') || 'nothing'}`);
  return join(dir, added[0]);
}

/** Makes apt know i386 packages (dpkg --add-architecture i386, apt-get update) when it does not yet. */
function ensureI386(): void {
  if (!sh('dpkg', ['--print-foreign-architectures']).split('\n').includes('i386')) sh('dpkg', ['--add-architecture', 'i386']);
  if (spawnSync('apt-cache', ['show', LINUX_KERNEL_PACKAGE], { stdio: 'ignore' }).status === 0) return;
  // A mirror in sync may fail one index (status 100) while the others are fine: check what we need after.
  spawnSync('apt-get', ['update'], { stdio: 'ignore' });
  if (spawnSync('apt-cache', ['show', LINUX_KERNEL_PACKAGE], { stdio: 'ignore' }).status !== 0) throw new Error(`linux-peer: apt knows no ${LINUX_KERNEL_PACKAGE} even after dpkg --add-architecture i386 && apt-get update`);
}

/** The kernel image package a metapackage (linux-image-686:i386) depends on: linux-image-6.1.0-N-686:i386. */
function kernelImagePackage(): string {
  const deps = sh('apt-cache', ['depends', LINUX_KERNEL_PACKAGE]);
  const m = /Depends: (linux-image-[\w.+-]+)(:i386)?/.exec(deps);
  if (!m) throw new Error(`linux-peer: apt-cache depends ${LINUX_KERNEL_PACKAGE} names no kernel image:\n${deps}`);
  return `${m[1]}:i386`;
}

export interface LinuxPeer {
  kernel: string; initrd: string; address: string; append: string;
  kernelPackage: string; busyboxPackage: string; modules: string[];
  /** The fair peer: bench/peer/httpd.c's sha256 (a change rebuilds), the compiler and flags, its port. */
  epoll: { sourceSha256: string; compiler: string; flags: string[]; port: number };
}

/** bench/peer/httpd.c compiled for the peer (gcc-multilib, which tools/setup.sh installs). */
function buildEpollServer(dir: string): { binary: Uint8Array; compiler: string } {
  const out = join(dir, 'httpd-epoll');
  sh('gcc', [...EPOLL_FLAGS, '-o', out, EPOLL_SOURCE]);
  return { binary: readFileSync(out), compiler: sh('gcc', ['--version']).split('\n')[0] };
}

const epollSourceSha256 = () => createHash('sha256').update(readFileSync(EPOLL_SOURCE)).digest('hex');

/**
 * The peer's kernel and initramfs, made once and cached in out/linux-peer/ (peer.json records what
 * they came from; delete the directory to rebuild). `page` is what /www/index.html holds: a rebuild of
 * the initramfs alone happens when it changes. Needs apt-get, dpkg-deb and, once, the package mirror.
 */
export function prepareLinuxPeer(page = linuxPeerPage(), log: (line: string) => void = () => {}): LinuxPeer {
  const dir = LINUX_PEER_DIR;
  const recordPath = join(dir, 'peer.json');
  const kernel = join(dir, 'vmlinuz'), initrd = join(dir, 'initramfs.cpio.gz'), pagePath = join(dir, 'index.html');
  if (existsSync(recordPath) && existsSync(kernel) && existsSync(initrd) && existsSync(pagePath) && readFileSync(pagePath, 'utf8') === page) {
    const recorded = JSON.parse(readFileSync(recordPath, 'utf8')) as LinuxPeer;
    if (recorded.epoll?.sourceSha256 === epollSourceSha256()) return recorded;
  }
  mkdirSync(dir, { recursive: true });
  const debs = DEB_CACHE, root = join(dir, 'root');
  mkdirSync(debs, { recursive: true });
  let kernelDeb = readdirSync(debs).find(f => f.startsWith('linux-image-') && f.endsWith('_i386.deb'));
  let busyboxDeb = readdirSync(debs).find(f => f.startsWith('busybox-static_') && f.endsWith('_i386.deb'));
  if (!kernelDeb || !busyboxDeb) {
    ensureI386();
    if (!kernelDeb) { const pkg = kernelImagePackage(); log(`linux-peer: apt-get download ${pkg}`); kernelDeb = basename(download(pkg, debs)); }
    if (!busyboxDeb) { log(`linux-peer: apt-get download ${BUSYBOX_PACKAGE}`); busyboxDeb = basename(download(BUSYBOX_PACKAGE, debs)); }
  }
  if (!existsSync(join(root, 'boot')) || !existsSync(join(root, 'bin', 'busybox'))) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    sh('dpkg-deb', ['-x', join(debs, kernelDeb), root]);
    sh('dpkg-deb', ['-x', join(debs, busyboxDeb), root]);
  }
  const vmlinuz = readdirSync(join(root, 'boot')).find(f => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`linux-peer: no vmlinuz in ${kernelDeb}`);
  const version = vmlinuz.slice('vmlinuz-'.length);
  const modules = moduleLoadOrder(LINUX_PEER_MODULES, listModules(join(root, 'lib', 'modules', version)), readModule);
  const busybox = readFileSync(join(root, 'bin', 'busybox'));
  const epoll = buildEpollServer(dir);
  const cpio = writeCpio(initramfsEntries(busybox, modules, page, LINUX_PEER_ADDRESS, epoll.binary));
  writeFileSync(kernel, readFileSync(join(root, 'boot', vmlinuz)));
  writeFileSync(initrd, gzipSync(cpio));
  writeFileSync(pagePath, page);
  const pkgVersion = (deb: string) => deb.replace(/\.deb$/, '').split('_').slice(0, 2).join(' ').replace('%3a', ':');
  const peer: LinuxPeer = {
    kernel, initrd, address: LINUX_PEER_ADDRESS, append: LINUX_PEER_APPEND,
    kernelPackage: pkgVersion(kernelDeb), busyboxPackage: pkgVersion(busyboxDeb), modules: modules.map(m => m.name),
    epoll: {
      sourceSha256: epollSourceSha256(), compiler: epoll.compiler, flags: EPOLL_FLAGS, port: LINUX_PEER_EPOLL_PORT,
    },
  };
  writeFileSync(recordPath, JSON.stringify(peer, null, 2) + '\n');
  log(`linux-peer: ${peer.kernelPackage}, ${peer.busyboxPackage}; modules ${peer.modules.join(' ')}; initramfs ${statSync(initrd).size} bytes`);
  return peer;
}
