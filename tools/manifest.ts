// VM manifests: which guest images the kernel runs, how many VMs of each, their memory, guaranteed
// memory (the reservation's demand pages, docs/virtual-architecture.md "Memory quotas"), argument, IP
// addresses, netmask and gateway, each VM's CPU weight and cap (kernel-src/scheduler.ts), and which one VM
// (if any) has the control capability (the management
// hypercalls: docs/virtual-architecture.md "Management hypercalls"; "The manifest"), and each group's
// isolation: `hardware` (an ELF run in ring 3 in its own address space) or `bytecode` (the same guest
// compiled to DNBC, verified and interpreted by the kernel: docs/bytecode.md "Bytecode VMs"). A manifest is a JSON
// file validated with zod; errors name the field (`manifest.groups[1].count: Too small: expected number
// to be >0`). buildManifest compiles each distinct image once (buildGuest) and packs the binary manifest
// module the kernel reads (packManifest, written to imagesDir/vms-NAME/manifest, little-endian):
//   u32 magic 0x464D4E44 ("DNMF"), u32 version 7, u32 groupCount,
//   groupCount x { u32 moduleIndex, u32 vmCount, u32 memoryKiB, u32 argument, u32 ipBase, u32 guaranteedKiB,
//                  u32 netmask, u32 gateway, u32 flags (GROUP_FLAG_CONTROL, GROUP_FLAG_BYTECODE), u32 cpuWeight,
//                  u32 cpuCapPercent,
//                  u32 txPacketsPerSecond, u32 txBytesPerSecond, u32 rxPacketsPerSecond, u32 rxBytesPerSecond,
//                  u32 memoryCapKiB }
// moduleIndex is the multiboot module holding the group's guest: an ELF, or with GROUP_FLAG_BYTECODE a DNBC
// image (version 7 added the flag). The manifest is module 0, the distinct images (a source and its
// isolation) follow in order of first use. ipBase, netmask and gateway are in network byte order
// (their bytes in memory are a.b.c.d); VM k of a group gets ipBase + k. The result lists the module
// files in order, for QEMU `-initrd` or GRUB `module` lines.
import { z } from 'zod';
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { ROOT, buildGuest, buildGuestBytecode, type BuiltImage, type BuiltBytecode } from './build.ts';
import { GUEST_BASE, VM_LIMIT } from '../abi/boot.ts';
import {
  SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_WEIGHT_DEFAULT, SHARE_CAP_MAX, NET_BYTE_RATE_MIN,
} from '../abi/hypercalls.ts';
import { Progress, type ProgressStream } from './progress.ts';

export const MANIFEST_MAGIC = 0x464d4e44;   // "DNMF" as a little-endian u32
export const MANIFEST_VERSION = 7;
const MANIFEST_HEADER_BYTES = 12;
export const MANIFEST_GROUP_BYTES = 64;
/** A group's flags: its VM has the control capability (kernel-src/manifest.ts). */
const GROUP_FLAG_CONTROL = 1;
/** A group's flags: its module is DNBC bytecode, its VMs bytecode VMs (kernel-src/manifest.ts). */
const GROUP_FLAG_BYTECODE = 2;

const DEFAULT_MEMORY_KIB = 256;
const MAX_MEMORY_KIB = 64 * 1024;
/**
 * Demand-zero memory reserved for each VM when its group does not say (at most its memoryKiB): pages a
 * VM within it always gets, whatever its neighbours do; beyond it a VM borrows from what nobody reserved.
 */
export const DEFAULT_GUARANTEED_KIB = 64;
/** Memory a VM needs beyond its image: at least the boot-information page and a little heap. */
const MEMORY_SLACK_KIB = 8;
/** Upper bound on the groups of a manifest: kernel-src/manifest.ts MANIFEST_GROUP_LIMIT. */
export const MAX_GROUPS = 16;
/**
 * The manifest module's file name: the kernel finds the manifest by its module name, `manifest` or a
 * path ending in `/manifest` (kernel-src/manifest.ts), so each manifest gets a directory
 * imagesDir/vms-NAME/ holding a file named `manifest`.
 */
const MANIFEST_FILE_NAME = 'manifest';
const DEFAULT_IP_BASE = '198.18.0.2';

/** A network the tools make (tools/net.ts) and what its VMs get when the manifest does not say. */
interface KnownNetwork { network: string; netmask: string; gateway: string }
/** `--net tap`: RFC 2544's benchmark range 198.18.0.0/15, the host (the tap's side) at 198.18.0.1. */
export const TAP_NETWORK: KnownNetwork = { network: '198.18.0.0', netmask: '255.254.0.0', gateway: '198.18.0.1' };
/** `--net user`: QEMU user networking's 10.0.2.0/24, whose host and router is 10.0.2.2. */
export const USER_NETWORK: KnownNetwork = { network: '10.0.2.0', netmask: '255.255.255.0', gateway: '10.0.2.2' };
/** Addresses in neither: a /16 and no gateway (every destination on the link, as before manifests said). */
export const OTHER_NETMASK = '255.255.0.0';
export const NO_GATEWAY = '0.0.0.0';

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const dottedQuad = () => z.string().regex(DOTTED_QUAD, { message: 'must be a dotted quad such as 198.18.0.2' });
/** A netmask: a dotted quad whose ones are contiguous from the top (255.255.255.0, not 255.0.255.0). */
const netmask = () => dottedQuad().refine(s => contiguousNetmask(parseIp(s)),
  { message: 'must be a netmask: ones from the top, then zeros (255.255.255.0, 255.254.0.0, ...)' });
/** netmask and gateway (0.0.0.0: none), for a group or for every group (the manifest's `network`). */
const networkFields = { netmask: netmask().optional(), gateway: dottedQuad().optional() };

/** A rate limit: a u32, 0 or absent for none (kernel-src/netlimit.ts). */
const packetRate = () => z.number().int().min(0).max(0xffffffff).optional();
const byteRate = () => packetRate().refine(r => r === undefined || r === 0 || r >= NET_BYTE_RATE_MIN,
  { message: `must be 0 (no limit) or at least ${NET_BYTE_RATE_MIN} (one largest frame a second)` });
/** Each VM's network rate limits on send (tx) and receive (rx), per second of the kernel clock. */
const limitFields = {
  txPacketsPerSecond: packetRate(), txBytesPerSecond: byteRate(),
  rxPacketsPerSecond: packetRate(), rxBytesPerSecond: byteRate(),
};
/** The limit fields of a group, packed in this order. */
const LIMIT_FIELDS = [
  'txPacketsPerSecond', 'txBytesPerSecond', 'rxPacketsPerSecond', 'rxBytesPerSecond',
] as const;
export type NetLimits = Partial<Record<typeof LIMIT_FIELDS[number], number>>;

const Group = z.object({
  image: z.string().min(1).refine(s => s.endsWith('.ts'), { message: 'must be a guest source file (guest-src/....ts)' })
    .refine(s => !/[,\s]/.test(s), { message: 'must not contain commas or spaces (QEMU -initrd splits on them)' }),
  count: z.number().int().positive(),
  memoryKiB: z.number().int().min(MEMORY_SLACK_KIB + 4).max(MAX_MEMORY_KIB).multipleOf(4).default(DEFAULT_MEMORY_KIB),
  guaranteedKiB: z.number().int().min(0).max(MAX_MEMORY_KIB).multipleOf(4).optional(),
  argument: z.number().int().min(0).max(0xffffffff).default(0),
  ipBase: dottedQuad().optional(),
  /** The group's VM may use the management hypercalls: one VM at most, in all the manifest. */
  control: z.boolean().default(false),
  /** How the group's VMs are isolated: page tables and ring 3, or the kernel's verifier and interpreter. */
  isolation: z.enum(['hardware', 'bytecode']).default('hardware'),
  /** Each VM's CPU weight: runnable VMs get the CPU in proportion (kernel-src/scheduler.ts). */
  cpuWeight: z.number().int().min(SHARE_WEIGHT_MIN).max(SHARE_WEIGHT_MAX).default(SHARE_WEIGHT_DEFAULT),
  /** Each VM's CPU cap, a percentage of the CPU it may not exceed in any 100 ms period; absent: none. */
  cpuCapPercent: z.number().int().min(1).max(SHARE_CAP_MAX).optional(),
  ...limitFields,
  /** Each VM's memory cap: what it may hold at once (pages, page tables); at least its reservation (kernel-checked). */
  memoryCapKiB: z.number().int().min(4).max(0xffffffff).multipleOf(4).optional(),
  ...networkFields,
}).strict().superRefine((g, ctx) => {
  if (g.guaranteedKiB !== undefined && g.guaranteedKiB > g.memoryKiB) {
    const message = `${g.guaranteedKiB} KiB is more than memoryKiB (${g.memoryKiB})`;
    ctx.addIssue({ code: 'custom', path: ['guaranteedKiB'], message });
  }
  if (g.control && g.count !== 1) {
    const message = `the control capability is one VM's: a control group has count 1, not ${g.count}`;
    ctx.addIssue({ code: 'custom', path: ['control'], message });
  }
});

/** The group's guaranteed memory: its own, or DEFAULT_GUARANTEED_KIB capped at its memory. */
export function guaranteedKiBOf(g: { memoryKiB: number; guaranteedKiB?: number }): number {
  return g.guaranteedKiB ?? Math.min(DEFAULT_GUARANTEED_KIB, g.memoryKiB);
}

const ManifestFields = z.object({
  description: z.string().optional(),
  network: z.object(networkFields).strict().optional(),
  groups: z.array(Group).min(1).max(MAX_GROUPS),
}).strict();

const ManifestSchema = ManifestFields.superRefine((m, ctx) => {
  const total = m.groups.reduce((sum, g) => sum + g.count, 0);
  if (total > VM_LIMIT) {
    ctx.addIssue({ code: 'custom', path: ['groups'], message: `${total} VMs in all: at most ${VM_LIMIT}` });
  }
  const controls = m.groups.flatMap((g, i) => (g.control ? [i] : []));
  for (const i of controls.slice(1)) {
    const message = `only one VM may have the control capability; groups[${controls[0]}] has it already`;
    ctx.addIssue({ code: 'custom', path: ['groups', i, 'control'], message });
  }
  // The addresses together (zod runs this even when a field failed: then the field's own message says it).
  if (!ManifestFields.safeParse(m).success) return;
  groupAddresses(m).forEach((a, i) => {
    const last = (a.ipBase + m.groups[i].count - 1) >>> 0;
    if (last < a.ipBase) {
      const message = `${formatIp(a.ipBase)} + ${m.groups[i].count} VMs runs past 255.255.255.255`;
      ctx.addIssue({ code: 'custom', path: ['groups', i, 'ipBase'], message });
      return;
    }
    if (a.gateway === 0) return;
    const gateway = formatIp(a.gateway);
    const where = `the group's addresses (${formatIp(a.ipBase)}..${formatIp(last)}, netmask ${formatIp(a.netmask)})`;
    const outside = ((a.ipBase ^ a.gateway) & a.netmask) !== 0 || ((last ^ a.gateway) & a.netmask) !== 0;
    const own = a.gateway >= a.ipBase && a.gateway <= last;
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: a.gatewayField, message });
    if (outside) issue(`${gateway} is not in the network of ${where}`);
    else if (own) issue(`${gateway} is one of ${where}`);
  });
});

type Manifest = z.infer<typeof ManifestSchema>;

/** A manifest that failed validation: one line per problem, each naming its field. */
export class ManifestError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
    this.name = 'ManifestError';
  }
}

/** `manifest.groups[1].count` for the path ['groups', 1, 'count']. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return 'manifest' + path.map(p => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** Validates parsed JSON; throws ManifestError with zod's messages prefixed by the field path. */
export function parseManifest(json: unknown): Manifest {
  const r = ManifestSchema.safeParse(json);
  if (!r.success) throw new ManifestError(r.error.issues.map(i => `${fieldPath(i.path)}: ${i.message}`));
  return r.data;
}

/** Reads and validates a manifest file (JSON). */
function loadManifest(file: string): Manifest {
  if (!existsSync(file)) throw new ManifestError([`manifest: no such file: ${file}`]);
  let json: unknown;
  try { json = JSON.parse(readFileSync(file, 'utf8')); }
  catch (e) { throw new ManifestError([`manifest: ${file} is not valid JSON: ${(e as Error).message}`]); }
  return parseManifest(json);
}

/** True when the ones of `mask` are contiguous from the top bit (0.0.0.0 and 255.255.255.255 included). */
function contiguousNetmask(mask: number): boolean {
  const inverted = ~mask >>> 0;
  return (inverted & (inverted + 1)) === 0;
}

/** A group's first address, netmask and gateway as numbers, and the field its gateway came from. */
interface GroupAddresses { ipBase: number; netmask: number; gateway: number; gatewayField: (string | number)[] }

/** The netmask and gateway a VM at `ip` gets when the manifest says neither: its known network's, or OTHER_NETMASK. */
export function defaultNetwork(ip: number): { netmask: number; gateway: number } {
  for (const known of [TAP_NETWORK, USER_NETWORK]) {
    const mask = parseIp(known.netmask);
    if (((ip ^ parseIp(known.network)) & mask) === 0) return { netmask: mask, gateway: parseIp(known.gateway) };
  }
  return { netmask: parseIp(OTHER_NETMASK), gateway: parseIp(NO_GATEWAY) };
}

/**
 * Each group's addresses: ipBase (its own, else right after the previous group's VMs, DEFAULT_IP_BASE for
 * the first), then netmask and gateway each from the group, else the manifest's `network`, else the
 * default of the network ipBase is in (defaultNetwork).
 */
export function groupAddresses(m: {
  network?: Manifest['network']; groups: Pick<Manifest['groups'][number], 'count' | 'ipBase' | 'netmask' | 'gateway'>[];
}): GroupAddresses[] {
  let nextIp = parseIp(DEFAULT_IP_BASE);
  return m.groups.map((g, i) => {
    const ipBase = g.ipBase !== undefined ? parseIp(g.ipBase) : nextIp;
    nextIp = (ipBase + g.count) >>> 0;
    const fallback = defaultNetwork(ipBase);
    const netmask = g.netmask ?? m.network?.netmask;
    const gateway = g.gateway ?? m.network?.gateway;
    // Where a gateway off the network comes from: its field, else (a default) the netmask's, else ipBase.
    const gatewayField = g.gateway !== undefined ? ['groups', i, 'gateway']
      : gateway !== undefined ? ['network', 'gateway']
      : g.netmask !== undefined ? ['groups', i, 'netmask']
      : netmask !== undefined ? ['network', 'netmask'] : ['groups', i, 'ipBase'];
    return {
      ipBase,
      netmask: netmask !== undefined ? parseIp(netmask) : fallback.netmask,
      gateway: gateway !== undefined ? parseIp(gateway) : fallback.gateway,
      gatewayField,
    };
  });
}

export function parseIp(dotted: string): number {
  return dotted.split('.').reduce((ip, octet) => ((ip << 8) | Number(octet)) >>> 0, 0);
}

export function formatIp(ip: number): string {
  return [24, 16, 8, 0].map(s => (ip >>> s) & 255).join('.');
}

/** One group as the kernel reads it. Addresses are numbers (a.b.c.d = a << 24 | ...). */
export interface PackedGroup {
  moduleIndex: number; vmCount: number; memoryKiB: number; argument: number; ipBase: number; guaranteedKiB: number;
  netmask: number; gateway: number; control?: boolean;
  /** The module is DNBC bytecode (a bytecode VM group); absent: an ELF. */
  bytecode?: boolean;
  /** Absent: SHARE_WEIGHT_DEFAULT; cpuCapPercent absent: no cap. */
  cpuWeight?: number; cpuCapPercent?: number;
  /** Network rate limits; absent: none. */
  limits?: NetLimits;
  /** Absent: no memory cap. */
  memoryCapKiB?: number;
}

/** `, limits tx 100 packets/s 0 bytes/s, rx ...` when any limit is set (0: none), else ''. */
function describeLimits(limits: NetLimits | undefined): string {
  if (!limits || LIMIT_FIELDS.every(name => !limits[name])) return '';
  const v = (name: typeof LIMIT_FIELDS[number]) => limits[name] ?? 0;
  return `, limits tx ${v('txPacketsPerSecond')} packets/s ${v('txBytesPerSecond')} bytes/s,` +
    ` rx ${v('rxPacketsPerSecond')} packets/s ${v('rxBytesPerSecond')} bytes/s`;
}

/** The binary manifest module (the header, then one 64-byte record per group). */
export function packManifest(groups: PackedGroup[]): Uint8Array {
  const bytes = new Uint8Array(MANIFEST_HEADER_BYTES + MANIFEST_GROUP_BYTES * groups.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MANIFEST_MAGIC, true);
  view.setUint32(4, MANIFEST_VERSION, true);
  view.setUint32(8, groups.length, true);
  groups.forEach((g, i) => {
    const at = MANIFEST_HEADER_BYTES + MANIFEST_GROUP_BYTES * i;
    view.setUint32(at, g.moduleIndex, true);
    view.setUint32(at + 4, g.vmCount, true);
    view.setUint32(at + 8, g.memoryKiB, true);
    view.setUint32(at + 12, g.argument >>> 0, true);
    view.setUint32(at + 16, g.ipBase >>> 0, false);   // network byte order: a.b.c.d in memory
    view.setUint32(at + 20, g.guaranteedKiB, true);
    view.setUint32(at + 24, g.netmask >>> 0, false);  // network byte order
    view.setUint32(at + 28, g.gateway >>> 0, false);
    view.setUint32(at + 32, (g.control ? GROUP_FLAG_CONTROL : 0) | (g.bytecode ? GROUP_FLAG_BYTECODE : 0), true);
    view.setUint32(at + 36, g.cpuWeight ?? SHARE_WEIGHT_DEFAULT, true);
    view.setUint32(at + 40, g.cpuCapPercent ?? 0, true);
    LIMIT_FIELDS.forEach((name, k) => view.setUint32(at + 44 + 4 * k, g.limits?.[name] ?? 0, true));
    view.setUint32(at + 60, g.memoryCapKiB ?? 0, true);
  });
  return bytes;
}

/** Where an image's source is: paths are relative to the repository root (absolute ones are kept). */
function imageSource(image: string): string {
  return isAbsolute(image) ? image : resolve(ROOT, image);
}

/** The image's name for buildGuest: its path under guest-src without .ts, '/' -> '-' (demos-counter). */
function imageName(source: string): string {
  const rel = relative(join(ROOT, 'guest-src'), source);
  const inside = !rel.startsWith('..') && !isAbsolute(rel);
  return (inside ? rel.slice(0, -extname(rel).length) : basename(source, extname(source))).replace(/[\\/]/g, '-');
}

/** Bytes from GUEST_BASE to the end of the image's last section (.bss with the stack included). */
function imageSpan(built: BuiltImage): number {
  return Math.max(...built.image.sections.map(s => s.address + s.size)) - GUEST_BASE;
}

export interface ManifestBuild {
  manifest: Manifest;
  /** The binary manifest module (module 0): imagesDir/vms-NAME/manifest. */
  manifestPath: string;
  bytes: Uint8Array;
  groups: PackedGroup[];
  /** Every module file in order: the manifest, then the distinct guest images (ELF or DNBC). */
  modules: string[];
  images: BuiltGroupImage[];
}

interface ManifestBuildOptions {
  optimize?: 0 | 2; imagesDir?: string; outDir?: string;
  /** Where to report the compilation of the images (tools/progress.ts: a stage an image); silent without. */
  progress?: ProgressStream;
}

/** One distinct image: a source with its isolation, built as an ELF or as DNBC bytecode. */
type BuiltGroupImage = { source: string; spanBytes: number; path: string } &
  ({ isolation: 'hardware'; built: BuiltImage } | { isolation: 'bytecode'; built: BuiltBytecode });

/** The key of a group's image: the same source is one image per isolation. */
const imageKey = (source: string, isolation: string) => `${isolation}:${source}`;

/**
 * Validates `file`, compiles each distinct image with buildGuest and writes the packed manifest to
 * imagesDir/manifest-NAME.bin. Throws ManifestError (bad manifest, missing image, memory too small
 * for an image) or CompileError (an image outside the DSL).
 */
export function buildManifest(file: string, options: ManifestBuildOptions = {}): ManifestBuild {
  const manifest = loadManifest(file);
  const imagesDir = options.imagesDir ?? join(ROOT, 'images'), outDir = options.outDir ?? join(ROOT, 'out');
  const missing = manifest.groups.flatMap((g, i) => existsSync(imageSource(g.image)) ? [] : [`${fieldPath(['groups', i, 'image'])}: no such file: ${g.image}`]);
  if (missing.length) throw new ManifestError(missing);

  const images: ManifestBuild['images'] = [];
  const moduleOf = new Map<string, number>();
  const keys = new Map(manifest.groups.map(g => [imageKey(imageSource(g.image), g.isolation),
    { source: imageSource(g.image), isolation: g.isolation }]));
  const progress = options.progress && new Progress('images', keys.size, { stream: options.progress });
  for (const [key, { source, isolation }] of keys) {
    const how = isolation === 'bytecode' ? ' (bytecode)' : '';
    progress?.update(images.length, `compiling ${relative(ROOT, source)}${how}`);
    if (isolation === 'bytecode') {
      const built = buildGuestBytecode(imageName(source), source, imagesDir, outDir);
      images.push({ source, isolation, built, spanBytes: built.spanBytes, path: built.path });
    } else {
      const built = buildGuest(imageName(source), source, options.optimize ?? 2, imagesDir, outDir);
      images.push({ source, isolation, built, spanBytes: imageSpan(built), path: built.elfPath });
    }
    moduleOf.set(key, images.length);   // module 0 is the manifest
  }
  progress?.finish(`${images.length} images built`);

  const problems: string[] = [];
  const groups: PackedGroup[] = [];
  const addresses = groupAddresses(manifest);
  manifest.groups.forEach((g, i) => {
    const moduleIndex = moduleOf.get(imageKey(imageSource(g.image), g.isolation))!;
    const needed = Math.ceil(images[moduleIndex - 1].spanBytes / 4096) * 4 + MEMORY_SLACK_KIB;
    if (g.memoryKiB < needed) problems.push(`${fieldPath(['groups', i, 'memoryKiB'])}: ${g.memoryKiB} KiB is too small for ${g.image} (${images[moduleIndex - 1].spanBytes} bytes): at least ${needed} KiB`);
    const { ipBase, netmask, gateway } = addresses[i];
    const guaranteedKiB = guaranteedKiBOf(g);
    groups.push({
      moduleIndex, vmCount: g.count, memoryKiB: g.memoryKiB, argument: g.argument, ipBase, guaranteedKiB,
      netmask, gateway, control: g.control, cpuWeight: g.cpuWeight, cpuCapPercent: g.cpuCapPercent,
      limits: Object.fromEntries(LIMIT_FIELDS.map(name => [name, g[name] ?? 0])), memoryCapKiB: g.memoryCapKiB,
      bytecode: g.isolation === 'bytecode',
    });
  });
  if (problems.length) throw new ManifestError(problems);

  const bytes = packManifest(groups);
  mkdirSync(imagesDir, { recursive: true });
  const manifestDir = join(imagesDir, `vms-${basename(file, extname(file))}`);
  mkdirSync(manifestDir, { recursive: true });
  const manifestPath = join(manifestDir, MANIFEST_FILE_NAME);
  writeFileSync(manifestPath, bytes);
  const modules = [manifestPath, ...images.map(i => i.path)];
  const commas = modules.filter(m => /[,\s]/.test(m));
  if (commas.length) throw new ManifestError(commas.map(m => `manifest: module path ${m} contains a comma or a space (QEMU -initrd splits on them)`));
  return { manifest, manifestPath, bytes, groups, modules, images };
}

/**
 * One line per group, for the CLI: `group 0: 4 x guest-src/demos/counter.ts (module 1), 256 KiB (64 guaranteed),
 * argument 0, ip 198.18.0.2..198.18.0.5 netmask 255.254.0.0 gateway 198.18.0.1`.
 */
export function describeManifest(b: ManifestBuild): string[] {
  return b.manifest.groups.map((g, i) => {
    const p = b.groups[i];
    return `group ${i}: ${p.vmCount} x ${g.image} (module ${p.moduleIndex}), ${p.memoryKiB} KiB` +
      ` (${p.guaranteedKiB} guaranteed), argument ${p.argument},` +
      ` ip ${formatIp(p.ipBase)}..${formatIp((p.ipBase + p.vmCount - 1) >>> 0)}` +
      ` netmask ${formatIp(p.netmask)} gateway ${p.gateway === 0 ? 'none' : formatIp(p.gateway)}` +
      `, cpu weight ${p.cpuWeight ?? SHARE_WEIGHT_DEFAULT}` +
      (p.cpuCapPercent ? ` cap ${p.cpuCapPercent}%` : '') + describeLimits(p.limits) +
      (p.memoryCapKiB ? `, memory cap ${p.memoryCapKiB} KiB` : '') + (p.control ? ', control' : '') +
      (p.bytecode ? ', bytecode' : '');
  });
}
