// An impairing Ethernet relay (issue 17): a wire with delay, reordering and duplication, for TCP over
// paths that netem would emulate (this machine's kernel has no netem). Frames arrive as UDP datagrams, one
// Ethernet frame each, on two ports, from QEMU's `-netdev dgram` or from socat bridging a tap device
// (`TUN,tun-type=tap,iff-no-pi`), and leave through the other port toward that side's end (a fixed port:
// an end that has sent nothing yet, a kernel that waits for an ARP request, still hears it).
// Every frame is delayed by `delay` ms; a `reorder` share of them is held back `reorderDelay` ms more (so
// the frames behind it overtake it); a `duplicate` share is sent twice. Choices come from a seeded xorshift32,
// each side its own, so two runs make the same choices for the same frames.
// Contract: `npx tsx tools/relay.ts --a PORT --to-a PORT --b PORT --to-b PORT [--delay MS] [--reorder PCT]
// [--duplicate PCT] [--reorder-delay MS] [--seed N]` listens on 127.0.0.1:a and 127.0.0.1:b, sends what
// side a receives to 127.0.0.1:to-b and the other way to 127.0.0.1:to-a, prints `relay: listening` once both
// are bound, and on SIGTERM or SIGINT prints its counters as one JSON line and exits 0.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const Options = z.object({
  a: z.coerce.number().int().min(1).max(65535),
  b: z.coerce.number().int().min(1).max(65535),
  toA: z.coerce.number().int().min(1).max(65535),
  toB: z.coerce.number().int().min(1).max(65535),
  delay: z.coerce.number().min(0).max(10_000).default(20),
  reorder: z.coerce.number().min(0).max(100).default(0),
  reorderDelay: z.coerce.number().min(0).max(10_000).default(10),
  duplicate: z.coerce.number().min(0).max(100).default(0),
  seed: z.coerce.number().int().min(1).max(0xffffffff).default(1),
});
type RelayOptions = z.infer<typeof Options>;

export interface RelayCounters { frames: number[]; reordered: number[]; duplicated: number[]; bytes: number[] }

/** xorshift32 (Marsaglia): a stream in [0, 1). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

/** Starts the relay; resolves once both ports are bound, with its counters and a stop function. */
async function startRelay(options: RelayOptions): Promise<{ counters: RelayCounters; stop(): void }> {
  const sockets = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
  const ends = [options.toA, options.toB];
  const counters: RelayCounters = { frames: [0, 0], reordered: [0, 0], duplicated: [0, 0], bytes: [0, 0] };
  const draws = [random(options.seed), random(options.seed ^ 0x9e3779b9)];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => { timers.delete(t); f(); }, ms);
    timers.add(t);
  };
  for (const side of [0, 1]) {
    const other = 1 - side;
    sockets[side].on('message', frame => {
      counters.frames[side]++;
      counters.bytes[side] += frame.length;
      const draw = draws[side];
      let ms = options.delay;
      if (draw() * 100 < options.reorder) { ms += options.reorderDelay; counters.reordered[side]++; }
      const copies = draw() * 100 < options.duplicate ? 2 : 1;
      if (copies === 2) counters.duplicated[side]++;
      later(ms, () => { for (let i = 0; i < copies; i++) sockets[other].send(frame, ends[other], '127.0.0.1'); });
    });
  }
  await Promise.all(sockets.map((s, i) => new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(i === 0 ? options.a : options.b, '127.0.0.1', () => resolve());
  })));
  return { counters, stop() { for (const t of timers) clearTimeout(t); for (const s of sockets) s.close(); } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    a: { type: 'string' }, b: { type: 'string' }, 'to-a': { type: 'string' }, 'to-b': { type: 'string' },
    delay: { type: 'string' }, reorder: { type: 'string' },
    'reorder-delay': { type: 'string' }, duplicate: { type: 'string' }, seed: { type: 'string' },
  } });
  const parsed = Options.safeParse({ ...values, reorderDelay: values['reorder-delay'], toA: values['to-a'],
    toB: values['to-b'] });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`relay: --${issue.path.join('.')}: ${issue.message}`);
    process.exit(2);
  }
  const relay = await startRelay(parsed.data);
  console.log('relay: listening');
  const end = () => { relay.stop(); console.log(JSON.stringify(relay.counters)); process.exit(0); };
  process.on('SIGTERM', end);
  process.on('SIGINT', end);
}

if (process.argv[1]?.endsWith('relay.ts')) void main();
