// Contract: the pieces of `npm run bench:web` (bench/web.ts, bench/loadgen.ts, bench/plot.ts,
// tools/linux-peer.ts). The load generator's popularity: Zipf(0.8) draws server i with probability
// proportional to 1/(i+1)^0.8, uniform draws all alike, the same seed gives the same draws. The PNG
// writer gives a valid PNG (signature, IHDR with the size, chunk CRCs, the IDAT inflating to one
// filtered row per line); the plot and the CSV of a set of points. The initramfs: a newc cpio that
// reads back entry for entry (header fields, 4-byte alignment, the trailer), kernel modules ordered
// after their dependencies from .modinfo's depends=, /init loading them in that order, the peer's page
// exactly 2,048 bytes. No timing is asserted. As root with the peer already prepared (out/linux-peer/,
// made by the bench; the test downloads nothing), the peer boots in a namespace of its own and serves
// its page.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  mulberry32, makeSampler, popularityWeights, parseLoadArgs, loadArgs, runLoad, DEFAULT_LOAD,
} from '../../bench/loadgen.ts';
import { crc32, encodePng, Bitmap, FONT, niceStep } from '../../bench/plot.ts';
import { parsePng, colouredPixels } from '../harness/png.ts';
import { webCsv, webTable, webPlot, combineRuns, type WebPoint } from '../../bench/web.ts';
import { listeningVms } from '../../bench/machine.ts';
import {
  writeCpio, readCpio, moduleDepends, moduleLoadOrder, moduleName, initScript, initramfsEntries, linuxPeerPage, webPage,
  LINUX_PEER_EPOLL_PORT,
  PAGE_BYTES, S_IFDIR, S_IFREG, S_IFLNK, LINUX_PEER_DIR, LINUX_PEER_READY, LINUX_PEER_NAME, prepareLinuxPeer,
} from '../../tools/linux-peer.ts';

// ---- popularity

test('Zipf(0.8) draws server i in proportion to 1/(i+1)^0.8; uniform all alike; frequencies match over 200,000 draws', t => {
  const n = 10, draws = 200_000;
  const weights = popularityWeights(n, 'zipf', 0.8);
  t.true(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  t.true(Math.abs(weights[0] / weights[1] - Math.pow(2, 0.8)) < 1e-12);
  t.true(Math.abs(weights[0] / weights[9] - Math.pow(10, 0.8)) < 1e-12);
  for (const popularity of ['zipf', 'uniform'] as const) {
    const draw = makeSampler(n, popularity, mulberry32(7), 0.8);
    const counts = new Array(n).fill(0);
    for (let k = 0; k < draws; k++) counts[draw()]++;
    const expected = popularityWeights(n, popularity, 0.8);
    for (let i = 0; i < n; i++) t.true(Math.abs(counts[i] / draws - expected[i]) < 0.005, `${popularity} server ${i}: ${counts[i] / draws} vs ${expected[i]}`);
  }
});

test('Zipf over 1,000 servers: every draw in range, the most popular ~15% of requests, the same seed the same draws', t => {
  const n = 1000;
  const draw = makeSampler(n, 'zipf', mulberry32(1));
  const seen = Array.from({ length: 50_000 }, draw);
  t.true(seen.every(i => Number.isInteger(i) && i >= 0 && i < n));
  const share0 = seen.filter(i => i === 0).length / seen.length;
  t.true(Math.abs(share0 - popularityWeights(n, 'zipf')[0]) < 0.01, String(share0));
  const again = makeSampler(n, 'zipf', mulberry32(1));
  t.deepEqual(Array.from({ length: 1000 }, again), seen.slice(0, 1000));
  const other = makeSampler(n, 'zipf', mulberry32(2));
  t.notDeepEqual(Array.from({ length: 1000 }, other), seen.slice(0, 1000));
  t.throws(() => popularityWeights(0, 'uniform'));
  const one = makeSampler(1, 'uniform', mulberry32(3));
  t.true(Array.from({ length: 100 }, one).every(i => i === 0));
});

test('load generator options: command-line round trip, required and bad values refused', t => {
  const o = { ...DEFAULT_LOAD, base: '198.18.0.2', servers: 100, popularity: 'zipf' as const, mustContain: '<h1>Denali VM {id}</h1>' };
  t.deepEqual(parseLoadArgs(loadArgs(o)), o);
  t.throws(() => parseLoadArgs(['--servers', '1', '--popularity', 'zipf']), { message: /--base/ });
  t.throws(() => parseLoadArgs(['--base', '1.2.3.4', '--servers', '1', '--popularity', 'pareto']), { message: /uniform or zipf/ });
  t.throws(() => parseLoadArgs(['--base', '1.2.3.4', '--popularity', 'uniform']), { message: /--servers is required/ });
});

// Serial (ava runs serial tests before the concurrent ones): its 2-second windows must not overlap the
// Linux-peer test below, whose synchronous builds and curls block this process's event loop for longer.
const LOCAL_LOAD_TITLE = 'load generator against a local server: successes need the right length and text, '
  + 'the rest are failures by kind';
test.serial(LOCAL_LOAD_TITLE, async t => {
  const http = await import('node:http');
  const page = webPage('Denali VM 0', 'a test');
  const server = http.createServer((req, res) => { res.writeHead(200, { 'Content-Length': page.length }); res.end(page); });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = {
    ...DEFAULT_LOAD, base: '127.0.0.1', port: (server.address() as { port: number }).port, servers: 1,
    popularity: 'uniform' as const, seconds: 2, warmup: 0, concurrency: 4, perServer: 2, timeoutMs: 2000,
  };
  const good = await runLoad({ ...base, mustContain: '<h1>Denali VM {id}</h1>' });
  t.true(good.requests > 0);
  t.is(good.failures, 0, JSON.stringify(good.failureKinds));
  t.is(good.distinctServers, 1);
  t.true(good.connections <= 2, 'keep-alive: at most perServer connections');
  const { p50, p90, p99, max } = good.latencyMs;
  t.true(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max && max < base.timeoutMs, JSON.stringify(good.latencyMs));
  t.truthy(good.tcp, 'the client TCP counters of /proc/net are read on Linux');
  t.true(good.tcp!.retransmitted >= 0 && good.tcp!.synRetransmitted >= 0 && good.tcp!.timeouts >= 0);
  // Latency from the draw to the body: a server that answers after 60 ms shows it at every percentile.
  const slow = http.createServer((req, res) => setTimeout(() => {
    res.writeHead(200, { 'Content-Length': page.length }); res.end(page);
  }, 60));
  await new Promise<void>(r => slow.listen(0, '127.0.0.1', r));
  t.teardown(() => slow.close());
  const late = await runLoad({ ...base, port: (slow.address() as { port: number }).port, seconds: 1 });
  t.true(late.requests > 0 && late.latencyMs.p50 >= 60 && late.latencyMs.p50 < 1000, JSON.stringify(late.latencyMs));
  const wrongLength = await runLoad({ ...base, bytes: 100 });
  t.is(wrongLength.requests, 0);
  t.true(wrongLength.failures > 0);
  t.deepEqual(Object.keys(wrongLength.failureKinds), ['body 2048 bytes']);
  const wrongPage = await runLoad({ ...base, mustContain: '<h1>Denali VM 5</h1>' });
  t.is(wrongPage.requests, 0);
  t.deepEqual(Object.keys(wrongPage.failureKinds), ['wrong page']);
  // A server like busybox httpd: `Connection: close` and no length, the body ends with the connection.
  const net = await import('node:net');
  const closing = net.createServer(socket => socket.once('data', () => {
    socket.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n'), Buffer.from(page)]));
  }));
  await new Promise<void>(r => closing.listen(0, '127.0.0.1', r));
  t.teardown(() => closing.close());
  // No warm-up: a request that ends in the window then always had its connection opened in it (with a warm-up,
  // one opened before the window and answered inside it would count as a request but not a connection).
  const once = await runLoad({ ...base, port: (closing.address() as { port: number }).port, seconds: 1 });
  t.true(once.requests > 0);
  t.is(once.failures, 0, JSON.stringify(once.failureKinds));
  t.true(once.connections >= once.requests, 'a connection a request');
});

// ---- PNG and plot

test('crc32 is the PNG/zlib CRC-32', t => {
  t.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  t.is(crc32(Buffer.from('IEND')), 0xae426082);
});

test('encodePng: signature, IHDR with the size, CRCs, rows of filter 0 with the pixels', t => {
  const b = new Bitmap(3, 2, [255, 255, 255]);
  b.set(1, 0, [10, 20, 30]);
  b.set(2, 1, [1, 2, 3]);
  const { width, height, raw } = parsePng(t, encodePng(b));
  t.deepEqual([width, height], [3, 2]);
  t.deepEqual([...raw], [0, 255, 255, 255, 10, 20, 30, 255, 255, 255, 0, 255, 255, 255, 255, 255, 255, 1, 2, 3]);
});

test('the font has 5-column glyphs of 7 rows (9 with descenders); niceStep picks 1, 2 or 5 times a power of ten', t => {
  for (const [ch, glyph] of Object.entries(FONT)) {
    t.true(glyph.length === 7 || glyph.length === 9, ch);
    t.true(glyph.every(row => /^[#.]{5}$/.test(row)), ch);
  }
  for (const ch of 'Web server throughput, 2 KB pages (uniform, Zipf(0.8)): 1,000 VMs/s') t.truthy(FONT[ch], ch);
  t.is(niceStep(1100), 200);
  t.is(niceStep(130), 50);
  t.is(niceStep(6), 1);
});

const point = (system: WebPoint['system'], vms: number, popularity: WebPoint['popularity'], rps: number, note = ''): WebPoint => ({
  system, vms, popularity, requests: Math.round(rps * 12), seconds: 12, requestsPerSecond: rps, failures: note ? 3 : 0,
  failureKinds: note ? { ECONNRESET: 2, timeout: 1 } : {}, distinctServers: vms, shareOfServer0: 0.5, connections: 10,
  qemuCpuPercent: 90, requestsPerQemuCpuSecond: 133, clientCpuPercent: 80, hostLoad: 1.5, counters: null, switchesPerRequest: 2.5, note, runs: [rps],
});
const POINTS = [
  point('linux', 1, 'single', 120),
  ...[1, 10, 100, 500, 1000].flatMap(n => [point('denali', n, 'uniform', 1000 - n / 2), point('denali', n, 'zipf', 1050 - n / 3, n === 1000 ? '3 failed: ECONNRESET 2, timeout 1' : '')]),
];

test('the plot of the points is a valid 960x600 PNG with lines drawn', t => {
  const png = parsePng(t, webPlot(POINTS, 'test'));
  t.deepEqual([png.width, png.height], [960, 600]);
  const coloured = colouredPixels(png);
  t.true(coloured > 1000, `${coloured} coloured pixels`);
  // No Denali figures at all (every boot failed) still gives a picture.
  parsePng(t, webPlot([point('linux', 1, 'single', 120)]));
});

test('CSV: the header, one line per point, fields with commas quoted; the table has a line per point', t => {
  const csv = webCsv(POINTS).trimEnd().split('\n');
  t.is(csv[0], 'system,vms,popularity,requests,seconds,requests_per_second,runs_requests_per_second,failures,failure_kinds,connections,qemu_cpu_percent,requests_per_qemu_cpu_second,switches_per_request,client_cpu_percent,host_load,note');
  t.is(csv.length, 1 + POINTS.length);
  t.is(csv[1], 'linux,1,single,1440,12,120,120,0,,10,90,133,2.5,80,1.5,');
  t.is(csv[csv.length - 1], 'denali,1000,zipf,8600,12,716.6666666666667,716.6666666666667,3,ECONNRESET: 2; timeout: 1,10,90,133,2.5,80,1.5,"3 failed: ECONNRESET 2, timeout 1"');
  const table = webTable(POINTS).split('\n');
  t.is(table.length, 2 + POINTS.length);
  t.regex(table[2], /^\| Linux peer \(busybox httpd\) \| 1 \| one address \| \*\*120\*\* \| 120 \| 0 \|/);
  t.regex(table[table.length - 1], /^\| Denali\/TS httpd VMs \| 1,000 \| Zipf\(0\.8\) \|/);
});

test('combineRuns: the requests/s of the median run, sums of requests, seconds and failures, every run kept', t => {
  const runs = [point('denali', 10, 'zipf', 900), point('denali', 10, 'zipf', 1200, '3 failed: ECONNRESET 2, timeout 1'), point('denali', 10, 'zipf', 1000)];
  const p = combineRuns(runs);
  t.is(p.requestsPerSecond, 1000);
  t.deepEqual(p.runs, [900, 1200, 1000]);
  t.is(p.requests, runs.reduce((a, r) => a + r.requests, 0));
  t.is(p.seconds, 36);
  t.is(p.failures, 3);
  t.deepEqual(p.failureKinds, { ECONNRESET: 2, timeout: 1 });
  t.is(p.note, '3 failed: ECONNRESET 2, timeout 1');
  t.is(combineRuns([runs[0]]), runs[0]);
  t.is(combineRuns([point('denali', 1, 'uniform', 5), point('denali', 1, 'uniform', 7)]).requestsPerSecond, 5, 'the lower middle of an even count');
});

test('listeningVms reads the `[vm N] vm N httpd on port P` lines, never a forged one', t => {
  const log = 'boot ok\n[vm 0] vm 0 httpd on port 80\n[vm 12] vm 12 httpd on port 80\n[vm 3] vm 3 count 1\n'
    + 'vm 5 httpd on port 80\n[vm 0] vm 0 httpd on port 80\n';
  t.deepEqual([...listeningVms(log)].sort((a, b) => a - b), [0, 12]);
});

// ---- initramfs

test('writeCpio: newc headers, 4-byte alignment, the trailer; readCpio gives the entries back', t => {
  const entries = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: new Uint8Array([1, 2, 3, 4, 5]) },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
    { name: 'init', mode: S_IFREG | 0o755, data: '#!/bin/busybox sh\n' },
  ];
  const cpio = writeCpio(entries);
  t.is(cpio.length % 4, 0);
  t.is(cpio.toString('ascii', 0, 6), '070701');
  // The first header: ino 1, mode 040755, uid 0, gid 0, nlink 2, mtime 0, size 0, ..., namesize 4 ("bin\0").
  t.is(cpio.toString('ascii', 6, 6 + 13 * 8), ['00000001', '000041ed', '00000000', '00000000', '00000002', '00000000', '00000000', '00000000', '00000000', '00000000', '00000000', '00000004', '00000000'].join(''));
  t.is(cpio.toString('ascii', 110, 114), 'bin\0');
  t.true(cpio.includes(Buffer.from('TRAILER!!!\0')));
  const back = readCpio(cpio);
  t.deepEqual(back.map(e => [e.name, e.mode]), entries.map(e => [e.name, e.mode]));
  t.deepEqual([...(back[1].data as Uint8Array)], [1, 2, 3, 4, 5]);
  t.is(Buffer.from(back[2].data as Uint8Array).toString(), 'busybox');
  t.deepEqual(writeCpio(entries), cpio, 'the same entries, the same bytes');
  t.throws(() => readCpio(Buffer.from('070707')), { message: /bad magic/ });
});

const fakeModule = (depends: string) => Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from(`\0license=GPL\0depends=${depends}\0retpoline=Y\0`)]);

test('modules: depends= from .modinfo, the load order puts dependencies first, each once', t => {
  t.deepEqual(moduleDepends(fakeModule('virtio_ring,virtio,net_failover')), ['virtio_ring', 'virtio', 'net_failover']);
  t.deepEqual(moduleDepends(fakeModule('')), []);
  t.is(moduleName('/x/net_failover.ko.xz'), 'net_failover');
  t.is(moduleName('virtio-gpu.ko'), 'virtio_gpu');
  const deps: Record<string, string> = {
    virtio_net: 'virtio_ring,virtio,net_failover', net_failover: 'failover', failover: '', virtio: '', virtio_ring: '',
    virtio_pci: 'virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio', virtio_pci_modern_dev: '', virtio_pci_legacy_dev: '',
  };
  const files = new Map(Object.keys(deps).map(n => [n, `/m/${n}.ko`]));
  const order = moduleLoadOrder(['virtio_pci', 'virtio_net'], files, path => fakeModule(deps[moduleName(path)])).map(m => m.name);
  t.deepEqual(order, ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio', 'virtio_pci', 'failover', 'net_failover', 'virtio_net']);
  for (const [name, d] of Object.entries(deps)) for (const dep of d.split(',').filter(Boolean)) t.true(order.indexOf(dep) < order.indexOf(name), `${dep} before ${name}`);
  t.throws(() => moduleLoadOrder(['virtio_net'], new Map([['virtio_net', '/m/virtio_net.ko']]), () => fakeModule('virtio')), { message: /no module virtio \(needed by virtio_net\)/ });
});

test('the initramfs: /init insmods the modules in order, sets the address, starts httpd; the page is 2,048 bytes', t => {
  const page = linuxPeerPage();
  t.is(Buffer.byteLength(page), PAGE_BYTES);
  t.true(page.includes(`<h1>${LINUX_PEER_NAME}</h1>`));
  t.is(webPage('Denali VM 123', 'x').length, PAGE_BYTES);
  const init = initScript(['failover', 'net_failover'], '198.18.0.9');
  t.true(init.startsWith('#!/bin/busybox sh\n'));
  t.true(init.indexOf('insmod /lib/modules/failover.ko') < init.indexOf('insmod /lib/modules/net_failover.ko'));
  t.regex(init, /ip addr add 198\.18\.0\.9\/15 dev "\$nic"/);
  t.regex(init, /httpd -f -p 80 -h \/www &/);
  t.true(init.includes(`/bin/httpd-epoll ${LINUX_PEER_EPOLL_PORT} /www/index.html &`));
  t.true(init.includes(LINUX_PEER_READY));
  const entries = initramfsEntries(new Uint8Array([0x7f, 0x45]), [{ name: 'failover', bytes: new Uint8Array([9]) }], page);
  const back = readCpio(writeCpio(entries));
  const byName = new Map(back.map(e => [e.name, e]));
  for (const name of ['init', 'bin/busybox', 'bin/sh', 'bin/httpd-epoll',
    'lib/modules/failover.ko', 'www/index.html', 'proc', 'sys', 'dev']) t.true(byName.has(name), name);
  t.is(byName.get('init')!.mode, S_IFREG | 0o755);
  t.is(Buffer.from(byName.get('www/index.html')!.data as Uint8Array).toString(), page);
});

// ---- the peer itself (root, peer already prepared)

const peerPrepared = existsSync(join(LINUX_PEER_DIR, 'peer.json'));
const isRoot = process.getuid?.() === 0;
const peerSkip = !isRoot ? 'needs root (a namespace with a tap)' : !peerPrepared ? 'the peer is not prepared: run npm run bench:web once (it downloads the Debian packages)' : '';
(peerSkip ? test.skip : test)(`the Linux peer boots in QEMU in a namespace of its own and serves its 2 KB page${peerSkip ? ` (skipped: ${peerSkip})` : ''}`, async t => {
  const { createTapNamespace } = await import('../../tools/net.ts');
  const { runQemu, tapNetArgs } = await import('../../tools/qemu.ts');
  const { spawnSync } = await import('node:child_process');
  const peer = prepareLinuxPeer();
  const ns = createTapNamespace(`denali-peer-test-${process.pid}`);
  t.teardown(() => ns.remove());
  const controller = new AbortController();
  const run = runQemu({ kernel: peer.kernel, initrd: [peer.initrd] }, { memoryMiB: 256, timeoutMs: 150_000, prefix: ns.exec, signal: controller.signal, extraArgs: [...tapNetArgs(ns.device), '-append', peer.append] });
  // Poll with curl until the page comes (the boot takes some seconds under TCG).
  let body = '';
  for (let k = 0; k < 120 && !body; k++) {
    await new Promise(r => setTimeout(r, 1000));
    const r = spawnSync(ns.exec[0], [...ns.exec.slice(1), 'curl', '-s', '--max-time', '2', `http://${peer.address}/`], { encoding: 'latin1' });
    if (r.status === 0) body = r.stdout;
  }
  // The fair peer (bench/peer/httpd.c): two requests on one kept-alive connection, then a 404.
  const url = `http://${peer.address}:${LINUX_PEER_EPOLL_PORT}`;
  const summary = ' connects=%{num_connects} status=%{http_code}\n';
  const epoll = spawnSync(ns.exec[0], [...ns.exec.slice(1), 'curl', '-s', '--max-time', '5', '-w', summary,
    `${url}/`, `${url}/index.html`, `${url}/missing`], { encoding: 'latin1' });
  await new Promise(r => setTimeout(r, 2000));   // /init prints its ready line a second after httpd starts
  controller.abort();
  const result = await run;
  t.is(body.length, PAGE_BYTES, result.serial.slice(-2000));
  t.true(body.includes(`<h1>${LINUX_PEER_NAME}</h1>`));
  t.true(result.serial.includes(LINUX_PEER_READY), result.serial.slice(-2000));
  const summaries = [...epoll.stdout.matchAll(/ connects=(\d+) status=(\d+)$/gm)].map(m => `${m[1]} ${m[2]}`);
  t.deepEqual(summaries, ['1 200', '0 200', '0 404'], epoll.stdout.slice(-500) + epoll.stderr);
  t.true(epoll.stdout.includes(`<h1>${LINUX_PEER_NAME}</h1>`));
});
