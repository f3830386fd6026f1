// Contract: VM manifests (tools/manifest.ts). A bad manifest is refused before anything is built, with
// zod's message prefixed by the field's path (`manifest.groups[1].count: ...`) and, through the CLI,
// exit status 2; a good one compiles each distinct image once and packs exactly the DNMF module the
// kernel reads (checked byte by byte with a DataView). Every guest in guest-src/ compiles with buildGuest.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT, buildGuest } from '../../tools/build.ts';
import {
  buildManifest, parseManifest, packManifest, parseIp, formatIp, fieldPath, groupAddresses, ManifestError,
  MANIFEST_MAGIC, MANIFEST_VERSION, MANIFEST_GROUP_BYTES, MAX_GROUPS, DEFAULT_GUARANTEED_KIB,
  TAP_NETWORK, USER_NETWORK, OTHER_NETMASK, NO_GATEWAY,
} from '../../tools/manifest.ts';

const scratch = mkdtempSync(join(tmpdir(), 'denali-manifest-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

function writeManifest(name: string, json: unknown): string {
  const file = join(scratch, `${name}.json`);
  writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

const denali = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args], { encoding: 'utf8', cwd: scratch });

/** The problems parseManifest reports for `json` (none: []). */
function problems(json: unknown): string[] {
  try { parseManifest(json); return []; } catch (e) { if (e instanceof ManifestError) return e.issues; throw e; }
}

const COUNTER = 'guest-src/demos/counter.ts';

test('fieldPath: manifest.groups[1].count', t => {
  t.is(fieldPath(['groups', 1, 'count']), 'manifest.groups[1].count');
  t.is(fieldPath([]), 'manifest');
});

test('CLI: a bad manifest gets zod\'s message with the field path and exit status 2, before any build', t => {
  const file = writeManifest('bad', { groups: [{ image: COUNTER, count: 1 }, { image: COUNTER, count: 0 }] });
  for (const args of [['build', '--no-iso'], ['boot']]) {
    const command = args[0];
    const r = denali(...args, '--manifest', file);
    t.is(r.status, 2, command);
    t.is(r.stdout, '', command);   // nothing was built
    t.regex(r.stderr, /^denali: manifest\.groups\[1\]\.count: Too small: expected number to be >0$/m, command);
  }
});

test('CLI: a bad netmask or gateway gets zod\'s message with its field, exit status 2', t => {
  const file = writeManifest('badnet', { network: { netmask: '255.0.255.0' },
    groups: [{ image: COUNTER, count: 1, ipBase: '10.0.2.15', gateway: '10.0.3.2' }] });
  const r = denali('build', '--no-iso', '--manifest', file);
  t.is(r.status, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^denali: manifest\.network\.netmask: must be a netmask: ones from the top, then zeros/m);
  const off = writeManifest('offnet', {
    groups: [{ image: COUNTER, count: 1, ipBase: '10.0.2.15', gateway: '10.0.3.2' }],
  });
  const r2 = denali('build', '--no-iso', '--manifest', off);
  t.is(r2.status, 2);
  t.true(r2.stderr.split('\n').includes('denali: manifest.groups[0].gateway: 10.0.3.2 is not in the network of the '
    + 'group\'s addresses (10.0.2.15..10.0.2.15, netmask 255.255.255.0)'), r2.stderr);
});

test('CLI: --manifest is validated as an option (missing file, missing value)', t => {
  const missing = denali('build', '--manifest', join(scratch, 'nope.json'));
  t.is(missing.status, 2);
  t.regex(missing.stderr, /denali: --manifest: no such file/);
  const empty = denali('boot', '--manifest');          // the parser's (tools/cli-options.ts), before zod
  t.is(empty.status, 2);
  t.regex(empty.stderr, /^denali boot: --manifest needs a value \(FILE\)$/m);
});

test('CLI: a file that is not JSON is refused with its name', t => {
  const file = writeManifest('notjson', '{ groups: [');
  const r = denali('build', '--manifest', file);
  t.is(r.status, 2);
  t.regex(r.stderr, /denali: manifest: .*notjson\.json is not valid JSON/);
});

test('validation: every field is checked and named', t => {
  t.deepEqual(problems({ groups: [{ image: COUNTER, count: 1 }] }), []);
  t.deepEqual(problems({}), ['manifest.groups: Invalid input: expected array, received undefined']);
  t.deepEqual(problems({ groups: [] }), ['manifest.groups: Too small: expected array to have >=1 items']);
  const g = (extra: object) => ({ groups: [{ image: COUNTER, count: 2 }, { image: COUNTER, count: 1, ...extra }] });
  t.deepEqual(problems(g({ count: 1.5 })), ['manifest.groups[1].count: Invalid input: expected int, received number']);
  t.deepEqual(problems(g({ count: '3' })), ['manifest.groups[1].count: Invalid input: expected number, received string']);
  t.deepEqual(problems(g({ memoryKiB: 70000 })), ['manifest.groups[1].memoryKiB: Too big: expected number to be <=65536']);
  t.deepEqual(problems(g({ memoryKiB: 130 })), ['manifest.groups[1].memoryKiB: Invalid number: must be a multiple of 4']);
  t.deepEqual(problems(g({ argument: -1 })), ['manifest.groups[1].argument: Too small: expected number to be >=0']);
  t.deepEqual(problems(g({ argument: 2 ** 32 })), ['manifest.groups[1].argument: Too big: expected number to be <=4294967295']);
  t.deepEqual(problems(g({ ipBase: '10.0.0.256' })), ['manifest.groups[1].ipBase: must be a dotted quad such as 198.18.0.2']);
  t.deepEqual(problems(g({ image: 'guest-src/demos/counter.js' })), ['manifest.groups[1].image: must be a guest source file (guest-src/....ts)']);
  t.deepEqual(problems(g({ guaranteedKiB: 130 })),
    ['manifest.groups[1].guaranteedKiB: Invalid number: must be a multiple of 4']);
  t.deepEqual(problems(g({ memoryKiB: 128, guaranteedKiB: 132 })),
    ['manifest.groups[1].guaranteedKiB: 132 KiB is more than memoryKiB (128)']);
  t.deepEqual(problems(g({ memoryKiB: 128, guaranteedKiB: 128 })), []);
  t.deepEqual(problems(g({ colour: 'red' })), ['manifest.groups[1]: Unrecognized key: "colour"']);
  // Several problems at once: all of them, each with its path.
  t.is(problems({ groups: [{ image: COUNTER, count: 0, memoryKiB: 0 }] }).length, 2);
  // The kernel's limits.
  t.deepEqual(problems({ groups: Array.from({ length: MAX_GROUPS + 1 }, () => ({ image: COUNTER, count: 1 })) }),
    [`manifest.groups: Too big: expected array to have <=${MAX_GROUPS} items`]);
  t.deepEqual(problems({ groups: [{ image: COUNTER, count: 131000, ipBase: '10.0.0.2', netmask: '255.0.0.0' },
    { image: COUNTER, count: 73, ipBase: '10.2.0.0', netmask: '255.0.0.0' }] }),
  ['manifest.groups: 131073 VMs in all: at most 131072']);
});

test('buildManifest: a missing image and a memory size below the image are refused with the field', t => {
  const missing = writeManifest('missing', { groups: [{ image: 'guest-src/demos/none.ts', count: 1 }] });
  const e1 = t.throws(() => buildManifest(missing, { imagesDir: scratch, outDir: scratch }), { instanceOf: ManifestError });
  t.deepEqual(e1.issues, ['manifest.groups[0].image: no such file: guest-src/demos/none.ts']);
  const small = writeManifest('small', { groups: [{ image: COUNTER, count: 1, memoryKiB: 12 }] });
  const e2 = t.throws(() => buildManifest(small, { imagesDir: scratch, outDir: scratch }), { instanceOf: ManifestError });
  t.regex(e2.issues[0], /^manifest\.groups\[0\]\.memoryKiB: 12 KiB is too small for guest-src\/demos\/counter\.ts \(\d+ bytes\): at least \d+ KiB$/);
});

test('packManifest: the exact bytes of the DNMF format (version 7)', t => {
  const bytes = packManifest([
    { moduleIndex: 1, vmCount: 3, memoryKiB: 256, argument: 0xfedcba98, ipBase: parseIp('198.18.0.2'),
      guaranteedKiB: 128, netmask: parseIp('255.254.0.0'), gateway: parseIp('198.18.0.1') },
    { moduleIndex: 2, vmCount: 1, memoryKiB: 64, argument: 0, ipBase: parseIp('10.1.2.3'), guaranteedKiB: 0,
      netmask: parseIp('255.255.255.0'), gateway: 0, control: true, cpuWeight: 400, cpuCapPercent: 10,
      limits: {
        txPacketsPerSecond: 1000, txBytesPerSecond: 0xfffffffe, rxPacketsPerSecond: 7, rxBytesPerSecond: 1514,
      }, memoryCapKiB: 512 },
  ]);
  t.is(bytes.length, 12 + 2 * 64);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  t.is(v.getUint32(0, true), 0x464d4e44);
  t.deepEqual([...bytes.slice(0, 4)], [0x44, 0x4e, 0x4d, 0x46]);   // "DNMF" as bytes
  t.is(v.getUint32(4, true), 7);
  t.is(v.getUint32(8, true), 2);
  t.deepEqual([12, 16, 20, 24].map(o => v.getUint32(o, true)), [1, 3, 256, 0xfedcba98]);
  t.deepEqual([...bytes.slice(28, 32)], [198, 18, 0, 2]);          // network byte order
  t.is(v.getUint32(32, true), 128);
  t.deepEqual([...bytes.slice(36, 40)], [255, 254, 0, 0]);
  t.deepEqual([...bytes.slice(40, 44)], [198, 18, 0, 1]);
  t.is(v.getUint32(44, true), 0);                                   // flags: no control
  t.deepEqual([48, 52].map(o => v.getUint32(o, true)), [100, 0]);  // cpuWeight default, no cap
  t.deepEqual([56, 60, 64, 68, 72].map(o => v.getUint32(o, true)), [0, 0, 0, 0, 0]);  // no limits, no memory cap
  t.deepEqual([76, 80, 84, 88].map(o => v.getUint32(o, true)), [2, 1, 64, 0]);
  t.deepEqual([...bytes.slice(92, 96)], [10, 1, 2, 3]);
  t.is(v.getUint32(96, true), 0);
  t.deepEqual([...bytes.slice(100, 108)], [255, 255, 255, 0, 0, 0, 0, 0]);
  t.is(v.getUint32(108, true), 1);                                  // flags: GROUP_FLAG_CONTROL
  t.deepEqual([112, 116].map(o => v.getUint32(o, true)), [400, 10]);
  t.deepEqual([120, 124, 128, 132].map(o => v.getUint32(o, true)), [1000, 0xfffffffe, 7, 1514]);
  t.is(v.getUint32(136, true), 512);                                // memoryCapKiB
});

test('validation: rate limits are u32s (0: none), byte rates 0 or at least 1514; a memory cap in 4 KiB pages', t => {
  const limits = { txPacketsPerSecond: 5000, txBytesPerSecond: 1514, rxPacketsPerSecond: 0, rxBytesPerSecond: 2e6 };
  const ok = parseManifest({ groups: [{ image: COUNTER, count: 1, ...limits }, { image: COUNTER, count: 1 }] });
  t.like(ok.groups[0], limits);
  t.is(ok.groups[1].txPacketsPerSecond, undefined);
  const bad = (group: object) => t.throws(() => parseManifest({ groups: [{ image: COUNTER, count: 1, ...group }] }),
    { instanceOf: ManifestError }).issues;
  t.regex(bad({ txBytesPerSecond: 1513 })[0],
    /^manifest\.groups\[0\]\.txBytesPerSecond: must be 0 \(no limit\) or at least 1514/);
  t.regex(bad({ rxBytesPerSecond: 1 })[0], /^manifest\.groups\[0\]\.rxBytesPerSecond: must be 0/);
  t.regex(bad({ rxPacketsPerSecond: -1 })[0], /^manifest\.groups\[0\]\.rxPacketsPerSecond: Too small/);
  t.regex(bad({ txPacketsPerSecond: 2 ** 32 })[0], /^manifest\.groups\[0\]\.txPacketsPerSecond: Too big/);
  t.regex(bad({ txPacketsPerSecond: 1.5 })[0], /^manifest\.groups\[0\]\.txPacketsPerSecond: /);
  t.is(parseManifest({ groups: [{ image: COUNTER, count: 1, memoryCapKiB: 128 }] }).groups[0].memoryCapKiB, 128);
  t.regex(bad({ memoryCapKiB: 130 })[0], /^manifest\.groups\[0\]\.memoryCapKiB: /);
  t.regex(bad({ memoryCapKiB: 0 })[0], /^manifest\.groups\[0\]\.memoryCapKiB: Too small/);
  const bytecode = packManifest([{ moduleIndex: 1, vmCount: 1, memoryKiB: 64, argument: 0, ipBase: 0, guaranteedKiB: 0,
    netmask: 0, gateway: 0, bytecode: true }]);
  t.is(new DataView(bytecode.buffer).getUint32(12 + 32, true), 2);   // flags: GROUP_FLAG_BYTECODE
});

test('buildManifest: isolation bytecode compiles the guest to DNBC, one module per source and isolation', t => {
  t.deepEqual(problems({ groups: [{ image: COUNTER, count: 1, isolation: 'software' }] }),
    ['manifest.groups[0].isolation: Invalid option: expected one of "hardware"|"bytecode"']);
  t.is(parseManifest({ groups: [{ image: COUNTER, count: 1 }] }).groups[0].isolation, 'hardware');
  const file = writeManifest('isolation', { groups: [
    { image: COUNTER, count: 2, isolation: 'bytecode' }, { image: COUNTER, count: 1 },
    { image: COUNTER, count: 3, isolation: 'bytecode', memoryKiB: 64 },
  ] });
  const b = buildManifest(file, { imagesDir: scratch, outDir: scratch });
  t.deepEqual(b.modules.map(m => relative(scratch, m)),
    [join('vms-isolation', 'manifest'), 'guest-demos-counter.dnbc', 'guest-demos-counter.elf']);
  t.deepEqual(b.groups.map(g => [g.moduleIndex, g.bytecode]), [[1, true], [2, false], [1, true]]);
  const dnbc = readFileSync(b.modules[1]);
  t.is(dnbc.subarray(0, 4).toString('latin1'), 'DNBC');
  const v = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
  t.deepEqual([0, 1, 2].map(i => v.getUint32(12 + MANIFEST_GROUP_BYTES * i + 32, true)), [2, 0, 2]);
  const image = b.images[0];
  t.true(image.isolation === 'bytecode' && image.spanBytes > 16 * 1024);   // its data and its stack
  // The memory check holds for bytecode groups too: their data and stack must fit.
  const small = writeManifest('bytecode-small',
    { groups: [{ image: COUNTER, count: 1, memoryKiB: 12, isolation: 'bytecode' }] });
  const e = t.throws(() => buildManifest(small, { imagesDir: scratch, outDir: scratch }),
    { instanceOf: ManifestError });
  t.regex(e.issues[0], /^manifest\.groups\[0\]\.memoryKiB: 12 KiB is too small for guest-src\/demos\/counter\.ts/);
});

test('validation: CPU weight 1..10000 (default 100), cap 1..100 percent (default none)', t => {
  const ok = parseManifest({ groups: [{ image: COUNTER, count: 1, cpuWeight: 1, cpuCapPercent: 100 },
    { image: COUNTER, count: 2, cpuWeight: 10000, cpuCapPercent: 1 }, { image: COUNTER, count: 1 }] });
  t.deepEqual(ok.groups.map(g => [g.cpuWeight, g.cpuCapPercent]), [[1, 100], [10000, 1], [100, undefined]]);
  const bad = (group: object) => t.throws(() => parseManifest({ groups: [{ image: COUNTER, count: 1, ...group }] }),
    { instanceOf: ManifestError }).issues;
  t.regex(bad({ cpuWeight: 0 })[0], /^manifest\.groups\[0\]\.cpuWeight: Too small/);
  t.regex(bad({ cpuWeight: 10001 })[0], /^manifest\.groups\[0\]\.cpuWeight: Too big/);
  t.regex(bad({ cpuWeight: 1.5 })[0], /^manifest\.groups\[0\]\.cpuWeight: /);
  t.regex(bad({ cpuCapPercent: 0 })[0], /^manifest\.groups\[0\]\.cpuCapPercent: Too small/);
  t.regex(bad({ cpuCapPercent: 101 })[0], /^manifest\.groups\[0\]\.cpuCapPercent: Too big/);
});

test('validation: the control capability is one VM\'s (a group of count 1, one such group)', t => {
  const ok = parseManifest({ groups: [{ image: COUNTER, count: 1, control: true }, { image: COUNTER, count: 4 }] });
  t.deepEqual(ok.groups.map(g => g.control), [true, false]);
  const many = t.throws(() => parseManifest({ groups: [{ image: COUNTER, count: 2, control: true }] }),
    { instanceOf: ManifestError });
  t.deepEqual(many.issues,
    ['manifest.groups[0].control: the control capability is one VM\'s: a control group has count 1, not 2']);
  const two = t.throws(() => parseManifest({ groups: [{ image: COUNTER, count: 1, control: true },
    { image: COUNTER, count: 1 }, { image: COUNTER, count: 1, control: true }] }), { instanceOf: ManifestError });
  t.deepEqual(two.issues,
    ['manifest.groups[2].control: only one VM may have the control capability; groups[0] has it already']);
  const notBool = t.throws(() => parseManifest({ groups: [{ image: COUNTER, count: 1, control: 'yes' }] }),
    { instanceOf: ManifestError });
  t.regex(notBool.issues[0], /^manifest\.groups\[0\]\.control: /);
});

test('validation: netmask and gateway, per group or for the network, checked against the addresses', t => {
  const g = (extra: object, network?: object) =>
    ({ ...(network ? { network } : {}), 
      groups: [{ image: COUNTER, count: 2 }, { image: COUNTER, count: 3, ...extra }] });
  const notNetmask = 'must be a netmask: ones from the top, then zeros (255.255.255.0, 255.254.0.0, ...)';
  const notQuad = 'must be a dotted quad such as 198.18.0.2';
  t.deepEqual(problems(g({ netmask: '255.255.255.0', gateway: '198.18.0.1' })), []);
  t.deepEqual(problems(g({ netmask: '255.255.0.255' })), [`manifest.groups[1].netmask: ${notNetmask}`]);
  t.deepEqual(problems(g({ netmask: '255.255.255.256' })), [`manifest.groups[1].netmask: ${notQuad}`]);
  t.deepEqual(problems(g({ gateway: '198.18.0' })), [`manifest.groups[1].gateway: ${notQuad}`]);
  t.deepEqual(problems(g({}, { netmask: '0.255.255.0' })), [`manifest.network.netmask: ${notNetmask}`]);
  t.deepEqual(problems(g({}, { gateway: '198.18.0.1', mask: 1 })), ['manifest.network: Unrecognized key: "mask"']);
  // The gateway must be on the group's network (its VMs: 198.18.0.4..198.18.0.6), and not one of them.
  const offNetwork = (field: string, gateway: string, range: string) =>
    `manifest.${field}: ${gateway} is not in the network of the group's addresses (${range})`;
  t.deepEqual(problems(g({ ipBase: '10.0.3.1', gateway: '10.0.2.2', netmask: '255.255.255.0' })),
    [offNetwork('groups[1].gateway', '10.0.2.2', '10.0.3.1..10.0.3.3, netmask 255.255.255.0')]);
  t.deepEqual(problems(g({ gateway: '198.18.0.5' })), ['manifest.groups[1].gateway: 198.18.0.5 is one of the '
    + 'group\'s addresses (198.18.0.4..198.18.0.6, netmask 255.254.0.0)']);
  // The manifest's network applies to every group; a group's own field wins; 0.0.0.0 is no gateway.
  t.deepEqual(problems(g({}, { gateway: '10.0.0.1' })), [
    offNetwork('network.gateway', '10.0.0.1', '198.18.0.2..198.18.0.3, netmask 255.254.0.0'),
    offNetwork('network.gateway', '10.0.0.1', '198.18.0.4..198.18.0.6, netmask 255.254.0.0'),
  ]);
  t.deepEqual(problems(g({ gateway: '198.18.0.1' }, { gateway: '0.0.0.0', netmask: '255.0.0.0' })), []);
  // A group's addresses that leave their default network: the default gateway is then off the network.
  t.deepEqual(problems(g({ ipBase: '10.0.2.254' })),
    [offNetwork('groups[1].ipBase', '10.0.2.2', '10.0.2.254..10.0.3.0, netmask 255.255.255.0')]);
  // A netmask alone that leaves the default gateway off the network: the netmask is named.
  t.deepEqual(problems(g({ ipBase: '198.18.5.2', netmask: '255.255.255.0' })),
    [offNetwork('groups[1].netmask', '198.18.0.1', '198.18.5.2..198.18.5.4, netmask 255.255.255.0')]);
  t.deepEqual(problems(g({ ipBase: '255.255.255.254' })),
    ['manifest.groups[1].ipBase: 255.255.255.254 + 3 VMs runs past 255.255.255.255']);
});

test('groupAddresses: defaults by network (tap, user, other), then the manifest\'s network, then the group', t => {
  const show = (m: Parameters<typeof groupAddresses>[0]) =>
    groupAddresses(m).map(a => [formatIp(a.ipBase), formatIp(a.netmask), formatIp(a.gateway)]);
  const groups = [
    { image: COUNTER, count: 2 }, { image: COUNTER, count: 1, ipBase: '10.0.2.15' },
    { image: COUNTER, count: 1, ipBase: '10.1.0.1' },
    { image: COUNTER, count: 1, ipBase: '10.1.0.9', netmask: '255.255.255.248' },
  ].map(g => ({ memoryKiB: 256, argument: 0, ...g }));
  t.deepEqual(show({ groups }), [
    ['198.18.0.2', TAP_NETWORK.netmask, TAP_NETWORK.gateway], ['10.0.2.15', USER_NETWORK.netmask, USER_NETWORK.gateway],
    ['10.1.0.1', OTHER_NETMASK, NO_GATEWAY], ['10.1.0.9', '255.255.255.248', NO_GATEWAY]]);
  t.deepEqual(show({ network: { netmask: '255.0.0.0', gateway: '10.0.0.1' }, groups }), [
    ['198.18.0.2', '255.0.0.0', '10.0.0.1'], ['10.0.2.15', '255.0.0.0', '10.0.0.1'],
    ['10.1.0.1', '255.0.0.0', '10.0.0.1'], ['10.1.0.9', '255.255.255.248', '10.0.0.1']]);
});

test('buildManifest: a good manifest compiles each distinct image once and packs modules in order', t => {
  const file = writeManifest('good', {
    description: 'two images, three groups',
    groups: [
      { image: 'guest-src/demos/pingpong.ts', count: 2, argument: 7 },
      { image: COUNTER, count: 3, memoryKiB: 128, argument: 10, guaranteedKiB: 96 },
      { image: 'guest-src/demos/pingpong.ts', count: 4, ipBase: '10.0.0.1' },
      { image: COUNTER, count: 1, memoryKiB: 48 },
    ],
  });
  const b = buildManifest(file, { imagesDir: scratch, outDir: scratch });
  t.is(b.images.length, 2);
  t.deepEqual(b.modules.map(m => relative(scratch, m)), [join('vms-good', 'manifest'), 'guest-demos-pingpong.elf', 'guest-demos-counter.elf']);
  t.deepEqual([...readFileSync(b.manifestPath)], [...b.bytes]);
  const v = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
  t.is(b.bytes.length, 12 + 4 * MANIFEST_GROUP_BYTES);
  t.is(v.getUint32(0, true), MANIFEST_MAGIC);
  t.is(v.getUint32(4, true), MANIFEST_VERSION);
  t.is(v.getUint32(8, true), 4);
  const group = (i: number) => {
    const at = 12 + MANIFEST_GROUP_BYTES * i;
    const dotted = (o: number) => [...b.bytes.slice(at + o, at + o + 4)].join('.');
    return { module: v.getUint32(at, true), count: v.getUint32(at + 4, true), kib: v.getUint32(at + 8, true),
      argument: v.getUint32(at + 12, true), ip: dotted(16), guaranteed: v.getUint32(at + 20, true),
      netmask: dotted(24), gateway: dotted(28) };
  };
  // Defaults: 256 KiB, the first IP, 64 KiB guaranteed (capped at the memory: group 3), the tap network.
  const tap = { netmask: '255.254.0.0', gateway: '198.18.0.1' }, other = { netmask: '255.255.0.0', gateway: '0.0.0.0' };
  t.deepEqual(group(0), { module: 1, count: 2, kib: 256, argument: 7, ip: '198.18.0.2',
    guaranteed: DEFAULT_GUARANTEED_KIB, ...tap });
  // Consecutive after 2 VMs; the same image: module 1; consecutive after an explicit base.
  t.deepEqual(group(1), { module: 2, count: 3, kib: 128, argument: 10, ip: '198.18.0.4', guaranteed: 96, ...tap });
  t.deepEqual(group(2), { module: 1, count: 4, kib: 256, argument: 0, ip: '10.0.0.1', guaranteed: 64, ...other });
  t.deepEqual(group(3), { module: 2, count: 1, kib: 48, argument: 0, ip: '10.0.0.5', guaranteed: 48, ...other });
  // The images are guest ELFs linked at GUEST_BASE.
  for (const m of b.modules.slice(1)) {
    const elf = readFileSync(m);
    t.deepEqual([...elf.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46], m);
    t.is(elf.readUInt32LE(24) >>> 0 >= 0x40000000, true, m);   // e_entry
  }
});

test('the manifests in manifests/ are valid', t => {
  const dir = join(ROOT, 'manifests');
  for (const f of readdirSync(dir).filter(f => f.endsWith('.json'))) {
    t.deepEqual(problems(JSON.parse(readFileSync(join(dir, f), 'utf8'))), [], f);
  }
});

// Every guest compiles in 'guest' mode with the guest runtime (the runtime's own files are libraries).
const guestFiles = ['demos', 'attacks'].flatMap(d => readdirSync(join(ROOT, 'guest-src', d)).filter(f => f.endsWith('.ts') && f !== 'common.ts').map(f => `${d}/${f}`));
for (const g of guestFiles) {
  test(`buildGuest compiles guest-src/${g}`, t => {
    const built = buildGuest(`test-${g.replace(/[/.]/g, '-')}`, join(ROOT, 'guest-src', g), 2, scratch, scratch);
    t.true(built.image.symbols.has('guestMain'));
    t.is(built.image.entryAddress >= 0x40000000, true);
  });
}
