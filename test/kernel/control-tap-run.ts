// Run by test/kernel/control-tap.test.ts inside the test's network namespace (the control VM's address is
// reachable only there): `node --import tsx control-tap-run.ts URL KEYFILE IMAGE COUNT`. Through the
// control API (tools/control-client.ts) it pushes IMAGE, starts COUNT VMs of it, fetches each one's page
// (`<h1>Denali VM ID</h1>` expected), stops them all, then starts and stops COUNT again, and prints one
// JSON line: the VMs, the pages that were right, the stops that succeeded, and before, after the first
// round and after the second the free frames and the control VM's own (it touches pages of its own as it
// serves: a second worker's buffers): their sum is what the pushed VMs did not give back.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { readControlKey, controlCall } from '../../tools/control-client.ts';

const [url, keyFile, imageFile, countText] = process.argv.slice(2);
const key = readControlKey(keyFile);
const count = Number(countText);

type Machine = { framesFree: number; vmsLive: number };
type Listed = { machine: Machine; vms: { control: boolean; residentKiB: number }[] };
async function machine(): Promise<Machine & { controlFrames: number }> {
  const listed = await controlCall(url, key, 'GET', '/vms') as Listed;
  return { ...listed.machine, controlFrames: (listed.vms.find(v => v.control)?.residentKiB ?? 0) / 4 };
}

function page(ip: string): Promise<string> {
  return new Promise((resolve) => {
    const request = http.get(`http://${ip}/`, { agent: false, timeout: 60_000 }, (response) => {
      let body = '';
      response.setEncoding('latin1');
      response.on('data', (d: string) => { body += d; });
      response.on('end', () => resolve(body));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (e) => resolve(`error ${e.message}`));
  });
}

/** `task(i)` for i in 0..n-1, `width` at a time. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) await task(next++); }));
}

async function round(image: number,
  fetch: boolean): Promise<{ vms: { id: number; ip: string }[]; pages: number; stops: number }> {
  const body = Buffer.from(JSON.stringify({ image, count, memoryKiB: 1024 }));
  const created = await controlCall(url, key, 'POST', '/vms', body) as { vms: { id: number; ip: string }[] };
  let pages = 0, stops = 0;
  if (fetch) {
    await pool(created.vms.length, 8, async (i) => {
      const vm = created.vms[i];
      if ((await page(vm.ip)).includes(`<h1>Denali VM ${vm.id}</h1>`)) pages++;
    });
  }
  for (const vm of created.vms) {
    try { await controlCall(url, key, 'DELETE', `/vms/${vm.id}`); stops++; } catch { /* counted */ }
  }
  return { vms: created.vms, pages, stops };
}

const stored = await controlCall(url, key, 'POST', '/images', readFileSync(imageFile)) as { image: number };
const before = await machine();
const first = await round(stored.image, true);
const afterFirst = await machine();
const second = await round(stored.image, false);
const afterSecond = await machine();
console.log(JSON.stringify({
  vms: first.vms, pages: first.pages, stops: [first.stops, second.stops], secondIds: second.vms.map(v => v.id),
  frames: [before.framesFree, afterFirst.framesFree, afterSecond.framesFree],
  controlFrames: [before.controlFrames, afterFirst.controlFrames, afterSecond.controlFrames], live: afterSecond.vmsLive,
}));
