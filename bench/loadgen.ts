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
// Connections: one keep-alive http.Agent per server with at most `perServer` sockets (more requests
// for a busy server wait in its agent), and at most `idleLimit` idle sockets kept over all servers:
// beyond that the longest idle one is closed. `concurrency` loops each issue one request, wait for
// it, draw the next.
// A request counts when it ends inside the measured window (after `warmup` seconds, for `seconds`
// seconds): a success is status 200 with a body of exactly `bytes` bytes (and, with --must-contain,
// the text with {id} replaced by the server's id in it); anything else (another status or length, a
// connection refused or reset, no answer within `timeout` ms) is a failure, counted by kind.
import http from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

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
}

export const DEFAULT_LOAD: Omit<LoadOptions, 'base' | 'servers' | 'popularity'> = {
  port: 80, zipfExponent: 0.8, seed: 1, seconds: 12, warmup: 2, concurrency: 64, perServer: 8, idleLimit: 1024, bytes: 2048, path: '/', timeoutMs: 5000,
};

const addressOf = (base: string, i: number) => {
  const n = (base.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0) + i) >>> 0;
  return [24, 16, 8, 0].map(s => (n >>> s) & 255).join('.');
};

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const draw = makeSampler(o.servers, o.popularity, mulberry32(o.seed), o.zipfExponent);
  const agents = new Map<number, http.Agent>();
  const idle = new Set<Socket>();        // insertion order = idle since; the first is the longest idle
  const seen = new WeakSet<Socket>(), opened = new WeakSet<Socket>();
  let connections = 0;
  const agentOf = (id: number) => {
    let agent = agents.get(id);
    if (!agent) {
      agent = new http.Agent({ keepAlive: true, maxSockets: o.perServer, maxFreeSockets: o.perServer, scheduling: 'lifo' });
      agent.on('free', (socket: Socket) => {
        idle.delete(socket); idle.add(socket);
        if (!seen.has(socket)) { seen.add(socket); socket.once('close', () => idle.delete(socket)); }
        while (idle.size > o.idleLimit) {
          const oldest = idle.values().next().value as Socket;
          idle.delete(oldest);
          oldest.destroy();
        }
      });
      agents.set(id, agent);
    }
    return agent;
  };

  const start = performance.now();
  const measureFrom = start + o.warmup * 1000, measureTo = measureFrom + o.seconds * 1000;
  let requests = 0, failures = 0, allRequests = 0;
  const failureKinds: Record<string, number> = {};
  const perServer = new Map<number, number>();
  const inWindow = (t: number) => t >= measureFrom && t <= measureTo;
  const fail = (kind: string) => { if (inWindow(performance.now())) { failures++; failureKinds[kind] = (failureKinds[kind] ?? 0) + 1; } };

  const get = (id: number) => new Promise<void>(resolve => {
    let done = false;
    const finish = (kind: string | null) => {
      if (done) return;
      done = true;
      allRequests++;
      if (kind) fail(kind);
      else if (inWindow(performance.now())) { requests++; perServer.set(id, (perServer.get(id) ?? 0) + 1); }
      resolve();
    };
    const req = http.request({ host: addressOf(o.base, id), port: o.port, path: o.path, agent: agentOf(id), timeout: o.timeoutMs }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) return finish(`status ${res.statusCode}`);
        if (body.length !== o.bytes) return finish(`body ${body.length} bytes`);
        if (o.mustContain && !body.toString('latin1').includes(o.mustContain.replace('{id}', String(id)))) return finish('wrong page');
        finish(null);
      });
      res.on('error', e => finish((e as NodeJS.ErrnoException).code ?? e.message));
    });
    req.on('socket', (socket: Socket) => {
      idle.delete(socket);
      if (!opened.has(socket)) { opened.add(socket); if (inWindow(performance.now())) connections++; }
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', e => finish((e as NodeJS.ErrnoException).code ?? e.message));
    req.end();
  });

  let cpuAtStart = process.cpuUsage(), cpuInWindow = 0;
  const windowStart = setTimeout(() => { cpuAtStart = process.cpuUsage(); o.onWindow?.('start'); }, measureFrom - start);
  const windowEnd = setTimeout(() => { const u = process.cpuUsage(cpuAtStart); cpuInWindow = (u.user + u.system) / 1e6; o.onWindow?.('end'); }, measureTo - start);
  const loop = async () => { while (performance.now() < measureTo) await get(draw()); };
  await Promise.race([
    Promise.all(Array.from({ length: o.concurrency }, loop)),
    new Promise(r => setTimeout(r, measureTo - start + o.timeoutMs + 1000)),
  ]);
  clearTimeout(windowStart); clearTimeout(windowEnd);
  for (const a of agents.values()) a.destroy();
  const seconds = o.seconds;
  return {
    servers: o.servers, popularity: o.popularity, requests, failures, seconds,
    requestsPerSecond: Math.round((requests / seconds) * 10) / 10, failureKinds,
    allRequests, distinctServers: perServer.size, shareOfServer0: requests ? Math.round(((perServer.get(0) ?? 0) / requests) * 1000) / 1000 : 0,
    connections, concurrency: o.concurrency, perServer: o.perServer, clientCpuPercent: Math.round((cpuInWindow / o.seconds) * 100),
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
