// `denali push`, `denali vms`, `denali stop` (issue 19 item 3; docs/control.md): a running kernel's
// control VM driven from the host through its HTTP API, every request signed with the key file
// (tools/control-client.ts). push compiles the guest (buildGuest), sends the image (POST /images),
// starts the VMs (POST /vms), forgets the image (DELETE /images/K: the kernel keeps its own copy) and
// prints `vm ID IP` per VM; --weight, --cap and the rate flags (--tx-packets, --tx-bytes, --rx-packets,
// --rx-bytes, per second) and --memory-cap go into POST /vms as cpuWeight, cpuCapPercent, the rate limits
// and memoryCapKiB. Errors name
// their cause (unreachable, 401 and the key, a refused image and why) and exit 1; bad options exit 2 (zod,
// in cli.ts).
import { z } from 'zod';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildGuest } from './build.ts';
import { readControlKey, controlCall, ControlError } from './control-client.ts';
import {
  SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_WEIGHT_DEFAULT, SHARE_CAP_MAX, NET_BYTE_RATE_MIN,
} from '../abi/hypercalls.ts';

const URL_MESSAGE = '--to must be the control API\'s URL, http://HOST:PORT';
const isHttpUrl = (s: string) => { try { return new URL(s).protocol === 'http:'; } catch { return false; } };
const target = z.string({ message: URL_MESSAGE }).refine(isHttpUrl, { message: URL_MESSAGE });
const keyFile = z.string({ message: '--key needs the key FILE' }).min(1).refine(f => existsSync(resolve(f)),
  { message: 'no such file' });
const COUNT_MESSAGE = '--count must be a whole number from 1 to 1000';
const MEMORY_MESSAGE = '--memory must be a whole number of KiB, a multiple of 4, from 16 to 65536';
const ARGUMENT_MESSAGE = '--argument must be a whole number from 0 to 4294967295';
const WEIGHT_MESSAGE = `--weight must be a whole number from ${SHARE_WEIGHT_MIN} to ${SHARE_WEIGHT_MAX}`;
const CAP_MESSAGE = `--cap must be a whole percentage from 1 to ${SHARE_CAP_MAX}`;
const MEMORY_CAP_MESSAGE = '--memory-cap must be a whole number of KiB, a multiple of 4';

/** A whole number from `min` to `max`, or absent; `message` for anything else. */
const wholeNumber = (min: number, max: number, message: string) => z.coerce.number({ message })
  .int({ message }).min(min, { message }).max(max, { message }).optional();
/** A packet rate flag: a u32, 0 for none. */
const packetRate = (flag: string) => wholeNumber(0, 0xffffffff,
  `${flag} must be a whole number of packets a second (0: no limit)`);
/** A byte rate flag: 0 (none) or at least NET_BYTE_RATE_MIN. */
const byteRate = (flag: string) => {
  const message = `${flag} must be 0 (no limit) or a whole number of bytes a second from ${NET_BYTE_RATE_MIN}`;
  return wholeNumber(0, 0xffffffff, message).refine(r => r === undefined || r === 0 || r >= NET_BYTE_RATE_MIN,
    { message });
};

export const PushOptions = z.object({
  to: target, key: keyFile,
  file: z.string({ message: 'a guest FILE.ts to push is required' }).min(1)
    .refine(f => f.endsWith('.ts') && existsSync(resolve(f)),
      { message: 'must be an existing guest source file (.ts)' }),
  count: z.coerce.number({ message: COUNT_MESSAGE }).int({ message: COUNT_MESSAGE }).min(1, { message: COUNT_MESSAGE })
    .max(1000, { message: COUNT_MESSAGE }).default(1),
  memory: z.coerce.number({ message: MEMORY_MESSAGE }).int({ message: MEMORY_MESSAGE }).min(16,
    { message: MEMORY_MESSAGE })
    .max(65536, { message: MEMORY_MESSAGE }).multipleOf(4, { message: MEMORY_MESSAGE }).default(1024),
  argument: z.coerce.number({ message: ARGUMENT_MESSAGE }).int({ message: ARGUMENT_MESSAGE })
    .min(0, { message: ARGUMENT_MESSAGE }).max(0xffffffff, { message: ARGUMENT_MESSAGE }).default(0),
  weight: wholeNumber(SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, WEIGHT_MESSAGE),
  cap: wholeNumber(1, SHARE_CAP_MAX, CAP_MESSAGE),
  'tx-packets': packetRate('--tx-packets'), 'tx-bytes': byteRate('--tx-bytes'),
  'rx-packets': packetRate('--rx-packets'), 'rx-bytes': byteRate('--rx-bytes'),
  'memory-cap': z.coerce.number({ message: MEMORY_CAP_MESSAGE }).int({ message: MEMORY_CAP_MESSAGE })
    .min(4, { message: MEMORY_CAP_MESSAGE }).max(0xffffffff, { message: MEMORY_CAP_MESSAGE })
    .multipleOf(4, { message: MEMORY_CAP_MESSAGE }).optional(),
});

/** POST /vms's body for push's options (absent flags: the API's defaults). */
function createBody(image: number, o: z.infer<typeof PushOptions>): Record<string, number> {
  const body: Record<string, number | undefined> = {
    image, count: o.count, memoryKiB: o.memory, argument: o.argument, cpuWeight: o.weight, cpuCapPercent: o.cap,
    txPacketsPerSecond: o['tx-packets'], txBytesPerSecond: o['tx-bytes'],
    rxPacketsPerSecond: o['rx-packets'], rxBytesPerSecond: o['rx-bytes'], memoryCapKiB: o['memory-cap'],
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Record<string, number>;
}
export const ListOptions = z.object({ to: target, key: keyFile });
const ID_MESSAGE = 'a VM ID (a whole number) is required';
export const StopOptions = z.object({
  to: target, key: keyFile,
  id: z.coerce.number({ message: ID_MESSAGE }).int({ message: ID_MESSAGE }).min(0, { message: ID_MESSAGE }),
});

/** Runs `fn`; a ControlError (or a bad key file) is printed as `denali: WHY` and exits 1. */
async function guarded(fn: () => Promise<void>): Promise<number> {
  try { await fn(); return 0; } catch (e) {
    if (e instanceof ControlError) { console.error(`denali: ${e.message}`); return 1; }
    throw e;
  }
}

interface Created { first: number; vms: { id: number; ip: string }[] }

export function push(o: z.infer<typeof PushOptions>): Promise<number> {
  return guarded(async () => {
    const key = readControlKey(resolve(o.key));
    const dir = mkdtempSync(join(tmpdir(), 'denali-push-'));
    let image: Buffer;
    try { image = readFileSync(buildGuest('pushed', resolve(o.file), 2, dir, dir).elfPath); }
    finally { rmSync(dir, { recursive: true, force: true }); }
    const stored = await controlCall(o.to, key, 'POST', '/images', image) as { image: number };
    try {
      const body = Buffer.from(JSON.stringify(createBody(stored.image, o)));
      const created = await controlCall(o.to, key, 'POST', '/vms', body) as Created;
      for (const vm of created.vms) console.log(`vm ${vm.id} ${vm.ip}`);
    } finally {
      await controlCall(o.to, key, 'DELETE', `/images/${stored.image}`).catch(() => {});
    }
  });
}

interface ListedVm {
  id: number; state: string; ip: string; memoryKiB: number; residentKiB: number; cpuKcycles: number; switches: number;
  rxPackets: number; txPackets: number; control: boolean; cpuWeight: number; cpuCapPercent: number | null;
  txPacketsPerSecond: number | null; txBytesPerSecond: number | null; rxPacketsPerSecond: number | null;
  rxBytesPerSecond: number | null; txLimited: number; rxLimited: number;
  end: { reason: string; status?: number; vector?: number } | null;
}

/**
 * `vm ID IP STATE memory M KiB resident R KiB cpu K kcycles switches S rx P tx Q` (then ` weight W cap C%` when
 * not the defaults, ` limits tx P/s B B/s rx P/s B B/s dropped tx T rx R` when it has any), then the machine's line.
 */
export function listVms(o: z.infer<typeof ListOptions>): Promise<number> {
  return guarded(async () => {
    const key = readControlKey(resolve(o.key));
    let from: number | null = 0;
    let machine: Record<string, number> = {};
    while (from !== null) {
      const page = await controlCall(o.to, key, 'GET', from === 0 ? '/vms' : `/vms?from=${from}`) as
        { machine: Record<string, number>; vms: ListedVm[]; next: number | null };
      machine = page.machine;
      for (const v of page.vms) {
        const status = v.end?.status !== undefined ? ` ${v.end.status}` : '';
        const vector = v.end?.vector !== undefined ? ` vector ${v.end.vector}` : '';
        const end = v.end ? ` (${v.end.reason}${status}${vector})` : '';
        console.log(`vm ${v.id} ${v.ip} ${v.state}${end}${v.control ? ' control' : ''} memory ${v.memoryKiB} KiB `
          + `resident ${v.residentKiB} KiB cpu ${v.cpuKcycles} kcycles switches ${v.switches} `
          + `rx ${v.rxPackets} tx ${v.txPackets}${share(v)}${limits(v)}`);
      }
      from = page.next;
    }
    console.log(`machine: ${machine.vmsLive} VMs live of ${machine.vmSlots} ids, frames free ${machine.framesFree} of `
      + `${machine.framesTotal} (${machine.framesUnreserved} unreserved)`);
  });
}

/** ` weight W cap C%` (`cap none`) when the VM's CPU share is not the default, else ''. */
function share(v: ListedVm): string {
  if (v.cpuWeight === SHARE_WEIGHT_DEFAULT && v.cpuCapPercent === null) return '';
  return ` weight ${v.cpuWeight} cap ${v.cpuCapPercent === null ? 'none' : `${v.cpuCapPercent}%`}`;
}

/** ` limits tx P/s B B/s rx P/s B B/s dropped tx T rx R` (0: none) when the VM has a rate limit, else ''. */
function limits(v: ListedVm): string {
  const rates = [v.txPacketsPerSecond, v.txBytesPerSecond, v.rxPacketsPerSecond, v.rxBytesPerSecond];
  if (rates.every(r => r === null) && v.txLimited === 0 && v.rxLimited === 0) return '';
  const [txP, txB, rxP, rxB] = rates.map(r => r ?? 0);
  return ` limits tx ${txP}/s ${txB} B/s rx ${rxP}/s ${rxB} B/s dropped tx ${v.txLimited} rx ${v.rxLimited}`;
}

export function stopVm(o: z.infer<typeof StopOptions>): Promise<number> {
  return guarded(async () => {
    const key = readControlKey(resolve(o.key));
    await controlCall(o.to, key, 'DELETE', `/vms/${o.id}`);
    console.log(`vm ${o.id} stopped`);
  });
}
