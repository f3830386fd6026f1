// The load generator of `npm run bench:web`: HTTP GETs from many connections at once against servers
// at consecutive addresses (VM i at base + i), each request to a server drawn from a popularity
// distribution, for a fixed time. Run by bench/web.ts inside the benchmark's network namespace
// (`ip netns exec NS node --import=tsx bench/loadgen.ts --base ... --servers N ...`); prints one JSON
// line (LoadResult), after a `window start` and a `window end` line when the measured window starts
// and ends (bench/web.ts reads QEMU's CPU time then).
//
// Popularity: uniform, or Zipf with exponent s over the server ids: P(i) = (1/(i+1)^s) / H(N,s)
// (server 0 the most popular), drawn by binary search in the cumulative distribution with a seeded
// PRNG (mulberry32), so the same seed draws the same sequence of servers.
// Connections: HTTP/1.1 on plain sockets (node:net), the request node:http sent (`GET path`, Host and
// `Connection: keep-alive`), a third less of the client's CPU a request than node:http's agents (bench:request
// under -icount: 29-35% of a core for 7,500-8,700 requests/s at 1 VM against 51-56% for 9,400-10,300), kept
// alive, at most `perServer` per server (more requests for a busy server wait for one of them), and at most
// `idleLimit` idle ones kept over all servers: beyond that the longest idle one is closed. A response is its
// head, then Content-Length bytes (or, with `Connection: close` and no length, all until the close).
// `concurrency` loops each issue one request, wait for it, draw the next.
// A request counts when it ends inside the measured window (after `warmup` seconds, for `seconds`
// seconds): a success is status 200 with a body of exactly `bytes` bytes (and, with --must-contain,
// the text with {id} replaced by the server's id in it); anything else (another status or length, a
// connection refused or reset, no answer within `timeout` ms) is a failure, counted by kind. Also measured over
// the window: each success's latency (from the draw of its server, a wait for a connection included; p50, p90,
// p99 and max) and the client's TCP retransmissions (its network namespace's /proc/net counters, read as the
// window opens and closes).
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

export type Popularity = 'uniform' | 'zipf';

/** mulberry32: a small seeded PRNG with uniform doubles in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The probabilities of servers 0..n-1: uniform, or Zipf(s) with P(i) proportional to 1/(i+1)^s. */
export function popularityWeights(n: number, popularity: Popularity, s = 0.8): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`loadgen: ${n} servers`);
  const raw = Array.from({ length: n }, (_, i) => (popularity === 'uniform' ? 1 : 1 / Math.pow(i + 1, s)));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map(w => w / total);
}

/** Draws server ids 0..n-1 from the distribution with `random` (uniform in [0, 1)). */
export function makeSampler(n: number, popularity: Popularity, random: () => number, s = 0.8): () => number {
  if (popularity === 'uniform') return () => Math.min(n - 1, Math.floor(random() * n));
  const cdf: number[] = [];
  let sum = 0;
  for (const w of popularityWeights(n, popularity, s)) cdf.push((sum += w));
  cdf[n - 1] = 1;
  return () => {
    const u = random();
    let lo = 0, hi = n - 1;           // the first i with u < cdf[i]
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (u < cdf[mid]) hi = mid; else lo = mid + 1;
    }
    return lo;
  };
}

export interface LoadOptions {
  /** Dotted quad of server 0; server i is at base + i. */
  base: string;
  servers: number;
  /** The servers' TCP port (80). */
  port: number;
  popularity: Popularity;
  zipfExponent: number;
  seed: number;
  seconds: number;
  warmup: number;
  concurrency: number;
  perServer: number;
  /** The most idle keep-alive sockets kept over all servers; beyond, the longest idle is closed. */
  idleLimit: number;
  bytes: number;
  path: string;
  timeoutMs: number;
  /** When set, a success's body must contain this with {id} replaced by the server id. */
  mustContain?: string;
  /** Called when the measured window starts and ends (the command line prints `window start|end`). */
  onWindow?: (edge: 'start' | 'end') => void;
}

export interface LoadResult {
  servers: number; popularity: Popularity; requests: number; failures: number; seconds: number;
  requestsPerSecond: number; failureKinds: Record<string, number>; distinctServers: number;
  /** Share of the successful requests that went to server 0 (the most popular under Zipf). */
  shareOfServer0: number;
  /** Every request that ended, warm-up and failures included (for costs per request of the whole run). */
  allRequests: number;
  /** Connections opened in the measured window (the other requests went on kept-alive ones). */
  connections: number; concurrency: number; perServer: number;
  /** The load generator's own CPU time over the measured window, as a share of one core. */
  clientCpuPercent: number;
  /** Latency of the window's successful requests in ms (from the draw: waiting for a connection included). */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** The client's TCP over the window (its network namespace's /proc/net/snmp and netstat; null off Linux):
   *  segments retransmitted, SYNs retransmitted, retransmission timeouts. A lost or late frame shows here. */
  tcp: { retransmitted: number; synRetransmitted: number; timeouts: number } | null;
}

export const DEFAULT_LOAD: Omit<LoadOptions, 'base' | 'servers' | 'popularity'> = {
  port: 80, zipfExponent: 0.8, seed: 1, seconds: 12, warmup: 2, concurrency: 64, perServer: 8, idleLimit: 1024, bytes: 2048, path: '/', timeoutMs: 5000,
};

const addressOf = (base: string, i: number) => {
  const n = (base.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0) + i) >>> 0;
  return [24, 16, 8, 0].map(s => (n >>> s) & 255).join('.');
};

/** A kept-alive connection to server `id` and the response being read on it. */
interface Conn {
  id: number; socket: Socket;
  /** The response so far (until its head is whole), then the body bytes still to come. */
  chunks: Buffer[]; buffered: number; bodyLeft: number; status: number; closeAfter: boolean; body: Buffer[];
  /** Ends the request in flight on it (null: idle). */
  done: ((kind: string | null, body?: Buffer) => void) | null;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The client's TCP counters (LoadResult.tcp) now: Tcp RetransSegs, TcpExt TCPSynRetrans and TCPTimeouts. */
function tcpCounters(): LoadResult['tcp'] {
  try {
    const field = (file: string, table: string, name: string) => {
      const lines = readFileSync(file, 'latin1').split('\n').filter(l => l.startsWith(`${table}:`));
      const at = lines[0]?.split(/\s+/).indexOf(name) ?? -1;
      return at > 0 ? Number(lines[1].split(/\s+/)[at]) : 0;
    };
    return {
      retransmitted: field('/proc/net/snmp', 'Tcp', 'RetransSegs'),
      synRetransmitted: field('/proc/net/netstat', 'TcpExt', 'TCPSynRetrans'),
      timeouts: field('/proc/net/netstat', 'TcpExt', 'TCPTimeouts'),
    };
  } catch { return null; }
}

/** Percentiles of `ms` (sorted in place), rounded to 0.1 ms. */
function percentiles(ms: number[]): LoadResult['latencyMs'] {
  ms.sort((a, b) => a - b);
  const at = (q: number) =>
    ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] * 10) / 10 : 0;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CONNECTION_CLOSE = /\r\nconnection:[ \t]*close/i;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const draw = makeSampler(o.servers, o.popularity, mulberry32(o.seed), o.zipfExponent);
  // Per server: its idle connections (the newest last) and how many it has open; the requests waiting for
  // one of its perServer connections. Over all servers: the idle ones, the longest idle first.
  const idleOf = new Map<number, Conn[]>(), openOf = new Map<number, number>();
  const waiting = new Map<number, ((c: Conn | null) => void)[]>();
  const idle = new Set<Conn>();
  const start = performance.now();
  const measureFrom = start + o.warmup * 1000, measureTo = measureFrom + o.seconds * 1000;
  const inWindow = (t: number) => t >= measureFrom && t <= measureTo;
  let connections = 0;

  const forget = (c: Conn) => {
    idle.delete(c);
    const list = idleOf.get(c.id);
    const at = list ? list.indexOf(c) : -1;
    if (at >= 0) list!.splice(at, 1);
  };
  const closed = (c: Conn) => {
    forget(c);
    openOf.set(c.id, (openOf.get(c.id) ?? 1) - 1);
    const next = waiting.get(c.id)?.shift();
    if (next) next(null);                             // a connection of its own may be opened now
  };
  /** Hands connection `c` on: to a request waiting for its server, else into the idle pools. */
  const release = (c: Conn) => {
    const next = waiting.get(c.id)?.shift();
    if (next) { next(c); return; }
    let list = idleOf.get(c.id);
    if (!list) idleOf.set(c.id, (list = []));
    list.push(c);
    idle.add(c);
    while (idle.size > o.idleLimit) {
      const oldest = idle.values().next().value as Conn;
      forget(oldest);
      oldest.socket.destroy();
    }
  };
  const onData = (c: Conn, data: Buffer) => {
    if (!c.done) { c.socket.destroy(); return; }     // bytes nobody asked for: the connection is unusable
    if (c.status === 0) {
      c.chunks.push(data);
      c.buffered += data.length;
      const all = c.chunks.length === 1 ? c.chunks[0] : Buffer.concat(c.chunks, c.buffered);
      const end = all.indexOf(HEAD_END);
      if (end < 0) { c.chunks = [all]; return; }
      const head = all.toString('latin1', 0, end);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head), length = CONTENT_LENGTH.exec(head);
      c.chunks = [];
      c.buffered = 0;
      c.closeAfter = CONNECTION_CLOSE.test(head);
      if (!status || (!length && !c.closeAfter)) { c.done('bad response'); return; }
      c.status = Number(status[1]);
      c.bodyLeft = length ? Number(length[1]) : Infinity;      // no length: the body ends with the connection
      data = all.subarray(end + HEAD_END.length);
    }
    if (data.length > c.bodyLeft) { c.done('body too long'); return; }
    if (data.length) c.body.push(data);
    c.bodyLeft -= data.length;
    if (c.bodyLeft > 0) return;
    const body = c.body.length === 1 ? c.body[0] : Buffer.concat(c.body);
    c.body = [];
    c.done(c.status === 200 ? null : `status ${c.status}`, body);
  };
  const open = (id: number): Conn => {
    const socket = connect({ host: addressOf(o.base, id), port: o.port, noDelay: true });
    const c: Conn = {
      id, socket, chunks: [], buffered: 0, bodyLeft: 0, status: 0, closeAfter: false, body: [], done: null,
    };
    openOf.set(id, (openOf.get(id) ?? 0) + 1);
    if (inWindow(performance.now())) connections++;
    socket.setTimeout(o.timeoutMs);
    socket.on('data', data => onData(c, data));
    socket.on('timeout', () => c.done?.('timeout'));
    socket.on('error', e => c.done?.((e as NodeJS.ErrnoException).code ?? e.message));
    socket.on('close', () => {
      if (c.done && c.status !== 0 && c.bodyLeft === Infinity) c.done(c.status === 200 ? null : `status ${c.status}`,
        Buffer.concat(c.body));
      c.done?.('connection closed');
      closed(c);
    });
    return c;
  };
  /** A connection to server `id`: an idle one, a new one, or, at perServer open, the next one released. */
  const connectionTo = (id: number) => new Promise<Conn | null>(resolve => {
    const list = idleOf.get(id);
    const c = list?.pop();
    if (c) { idle.delete(c); resolve(c); return; }
    if ((openOf.get(id) ?? 0) < o.perServer) { resolve(open(id)); return; }
    let queue = waiting.get(id);
    if (!queue) waiting.set(id, (queue = []));
    queue.push(resolve);
  });

  let requests = 0, failures = 0, allRequests = 0;
  const latencies: number[] = [];
  const failureKinds: Record<string, number> = {};
  const perServer = new Map<number, number>();
  const request = `GET ${o.path} HTTP/1.1\r\nHost: `;
  const get = async (id: number): Promise<void> => {
    const drawn = performance.now();
    let c: Conn | null = null;
    while (c === null) c = await connectionTo(id);   // null: a connection closed, one may be opened
    const conn = c;
    const kind = await new Promise<string | null>(resolve => {
      conn.status = 0;
      conn.done = (failure, body) => {
        conn.done = null;
        if (failure === null && body !== undefined) {
          if (body.length !== o.bytes) failure = `body ${body.length} bytes`;
          else if (o.mustContain && !body.toString('latin1').includes(o.mustContain.replace('{id}', String(id)))) {
            failure = 'wrong page';
          }
        }
        if (failure !== null || conn.closeAfter) conn.socket.destroy();
        else release(conn);
        resolve(failure);
      };
      conn.socket.write(`${request}${addressOf(o.base, id)}\r\nConnection: keep-alive\r\n\r\n`);
    });
    allRequests++;
    const ended = performance.now();
    if (!inWindow(ended)) return;
    if (kind === null) {
      requests++;
      latencies.push(ended - drawn);
      perServer.set(id, (perServer.get(id) ?? 0) + 1);
      return;
    }
    failures++;
    failureKinds[kind] = (failureKinds[kind] ?? 0) + 1;
  };

  let cpuAtStart = process.cpuUsage(), cpuInWindow = 0;
  let tcpAtStart = tcpCounters(), tcpInWindow: LoadResult['tcp'] = null;
  const windowStart = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    tcpAtStart = tcpCounters();
    o.onWindow?.('start');
  }, measureFrom - start);
  let windowEnded = false;
  const endWindow = () => {
    if (windowEnded) return;
    windowEnded = true;
    const u = process.cpuUsage(cpuAtStart), t = tcpCounters();
    cpuInWindow = (u.user + u.system) / 1e6;
    if (t && tcpAtStart) {
      tcpInWindow = {
        retransmitted: t.retransmitted - tcpAtStart.retransmitted,
        synRetransmitted: t.synRetransmitted - tcpAtStart.synRetransmitted,
        timeouts: t.timeouts - tcpAtStart.timeouts,
      };
    }
    o.onWindow?.('end');
  };
  const windowEnd = setTimeout(endWindow, measureTo - start);
  const loop = async () => { while (performance.now() < measureTo) await get(draw()); };
  await Promise.race([
    Promise.all(Array.from({ length: o.concurrency }, loop)),
    new Promise(r => setTimeout(r, measureTo - start + o.timeoutMs + 1000)),
  ]);
  clearTimeout(windowStart); clearTimeout(windowEnd);
  endWindow();                                       // the loops can end before its timer fires
  for (const list of idleOf.values()) for (const c of list) c.socket.destroy();
  const seconds = o.seconds;
  return {
    servers: o.servers, popularity: o.popularity, requests, failures, seconds,
    requestsPerSecond: Math.round((requests / seconds) * 10) / 10, failureKinds,
    allRequests, distinctServers: perServer.size,
    shareOfServer0: requests ? Math.round(((perServer.get(0) ?? 0) / requests) * 1000) / 1000 : 0,
    connections, concurrency: o.concurrency, perServer: o.perServer,
    clientCpuPercent: Math.round((cpuInWindow / o.seconds) * 100),
    latencyMs: percentiles(latencies), tcp: tcpInWindow,
  };
}

/** `--name value` pairs over DEFAULT_LOAD; --base, --servers and --popularity are required. */
export function parseLoadArgs(argv: string[]): LoadOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`loadgen: expected --name value, got ${argv[i]}`);
    flags.set(argv[i].slice(2), argv[i + 1]);
  }
  const num = (name: string, fallback?: number) => {
    const v = flags.get(name);
    if (v === undefined) { if (fallback === undefined) throw new Error(`loadgen: --${name} is required`); return fallback; }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`loadgen: --${name} must be a number`);
    return n;
  };
  const popularity = flags.get('popularity');
  if (popularity !== 'uniform' && popularity !== 'zipf') throw new Error('loadgen: --popularity must be uniform or zipf');
  const base = flags.get('base');
  if (!base || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) throw new Error('loadgen: --base must be a dotted quad');
  const d = DEFAULT_LOAD;
  return {
    base, servers: num('servers'), port: num('port', d.port), popularity, zipfExponent: num('zipf-exponent', d.zipfExponent), seed: num('seed', d.seed),
    seconds: num('seconds', d.seconds), warmup: num('warmup', d.warmup), concurrency: num('concurrency', d.concurrency),
    perServer: num('per-server', d.perServer), idleLimit: num('idle-limit', d.idleLimit), bytes: num('bytes', d.bytes), path: flags.get('path') ?? d.path,
    timeoutMs: num('timeout', d.timeoutMs), mustContain: flags.get('must-contain'),
  };
}

/** The command-line arguments for `options` (what bench/web.ts passes). */
export function loadArgs(o: LoadOptions): string[] {
  const args = ['--base', o.base, '--servers', String(o.servers), '--port', String(o.port), '--popularity', o.popularity, '--zipf-exponent', String(o.zipfExponent),
    '--seed', String(o.seed), '--seconds', String(o.seconds), '--warmup', String(o.warmup), '--concurrency', String(o.concurrency),
    '--per-server', String(o.perServer), '--idle-limit', String(o.idleLimit), '--bytes', String(o.bytes), '--path', o.path, '--timeout', String(o.timeoutMs)];
  return o.mustContain ? [...args, '--must-contain', o.mustContain] : args;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runLoad({ ...parseLoadArgs(process.argv.slice(2)), onWindow: edge => process.stdout.write(`window ${edge}\n`) }).then(
    r => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); },
    e => { console.error(e instanceof Error ? e.message : e); process.exit(1); });
}
