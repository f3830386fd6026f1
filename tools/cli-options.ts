// The `denali` command line's options: one table per command (COMMANDS), the one definition that the
// parser (parseCommandLine), the usage lines of `denali --help` and each command's `--help` come from,
// so what the help lists and what the parser accepts cannot drift apart (test/cli-options.test.ts).
// The parser only knows the shape: an unknown option, a missing value, a value given to a flag or an
// extra argument is an error naming it (with the closest option when one is near: "did you mean
// --host-port?"), and the caller exits 2; the values themselves are checked by zod in cli.ts.

import {
  SHARE_WEIGHT_MIN, SHARE_WEIGHT_MAX, SHARE_WEIGHT_DEFAULT, SHARE_CAP_MAX, NET_BYTE_RATE_MIN,
} from '../abi/hypercalls.ts';

/** One option: `flag` (`--memory`, `-O2`), its value's placeholder when it takes one, a line of help. */
interface OptionSpec {
  flag: string;
  value?: string;
  help: string;
  /** Options of one group exclude each other and show as one choice: `[-O0|-O2]`. */
  group?: string;
  /** Shown without brackets (zod reports it when missing). */
  required?: boolean;
}

interface CommandSpec {
  /** What the command does, the lines under its usage. */
  summary: string[];
  options: OptionSpec[];
  /** The positional argument's placeholder (`FILE.ts`), when the command takes one. */
  positional?: string;
}

const OPTIMIZE: OptionSpec[] = [
  { flag: '-O0', help: 'no optimization', group: 'optimize' },
  { flag: '-O2', help: 'optimize (the default)', group: 'optimize' },
];
const MANIFEST: OptionSpec = {
  flag: '--manifest', value: 'FILE', help: 'a VM manifest (JSON, docs/virtual-architecture.md): its VMs too',
};

export const COMMANDS: Record<string, CommandSpec> = {
  build: {
    summary: [
      'compile kernel-src/ to images/denali.elf (+ images/denali.iso), listing out/denali.lst, IR',
      'out/denali.ir; with a VM manifest also its guest images and images/manifest-NAME.bin, the ISO with',
      'them as modules',
    ],
    options: [...OPTIMIZE, { flag: '--no-iso', help: 'only the ELF, no ISO' }, MANIFEST],
  },
  run: {
    summary: [
      'compile and run a DSL program; prints what it printed, exits with main() & 255 (2: compile errors,',
      '101: trap/panic); node: the DSL\'s semantics made explicit in TypeScript (faithful mode), or with',
      '--plain the file itself unchanged',
    ],
    options: [
      { flag: '--target', value: 'interp|qemu|node', help: 'where it runs', required: true },
      ...OPTIMIZE,
      { flag: '--emit-ir', help: 'print the IR to stderr' },
      { flag: '--plain', help: 'with --target node: the file as plain TypeScript' },
      { flag: '--timeout', value: 'SECONDS', help: 'with --target qemu: stop after this long (60)' },
    ],
    positional: 'FILE.ts',
  },
  doctor: {
    summary: ['check what each feature needs on this machine: per feature ready, or what to install or change'],
    options: [],
  },
  boot: {
    summary: [
      'boot images/denali.elf (or the ISO; rebuilt when kernel-src/ or compiler/ is newer) with the serial',
      'console here; with a manifest, its VMs (modules: the manifest, then the images)',
    ],
    options: [
      { flag: '--cdrom', help: 'boot the ISO as a CD', group: 'medium' },
      { flag: '--usb', help: 'boot the ISO as a USB stick', group: 'medium' },
      { flag: '--bochs', help: 'boot the ISO in Bochs', group: 'medium' },
      { flag: '--timeout', value: 'SECONDS', help: 'stop after this long; 0: until stopped (30; 0 with --net)' },
      { flag: '--memory', value: 'MIB', help: 'guest RAM, 16 to 3072 (128)' },
      MANIFEST,
      {
        flag: '--net', value: 'user|tap|none', help: 'a network card: user = QEMU user networking, '
          + '127.0.0.1:N+i -> VM i port 80; tap (root) = a namespace of its own, tap at 198.18.0.1/15',
      },
      {
        flag: '--nic', value: 'virtio|e1000|e1000e', help: 'which card (virtio); alone it means --net user '
          + '(docs/hardware.md)',
      },
      { flag: '--host-port', value: 'N', help: 'with --net user: the first forwarded port (8080)' },
      {
        flag: '--swap', value: 'SIZE', help: 'a swap disk: a fresh sparse raw image of SIZE (64M, 8G; 1M to 1T), '
          + 'removed at exit (docs/swap.md)',
      },
      {
        flag: '--disk', value: 'virtio|ahci|nvme', help: 'with --swap: the disk\'s controller: virtio-blk, an AHCI '
          + 'SATA controller, or NVMe (virtio; docs/hardware.md)',
      },
    ],
  },
  push: {
    summary: [
      'compile a guest and start VMs of it on a running kernel, through its control VM\'s API (docs/control.md):',
      'signs the requests with the key, prints each new VM\'s id and address',
    ],
    options: [
      { flag: '--to', value: 'URL', help: 'the control API (what `denali boot` prints: control: URL key FILE)',
        required: true },
      { flag: '--key', value: 'FILE', help: 'the control VM\'s key file (64 hex digits)', required: true },
      { flag: '--count', value: 'N', help: 'VMs to start, 1 to 1000 (1)' },
      { flag: '--memory', value: 'KIB', help: 'each VM\'s memory in KiB, a multiple of 4 (1024)' },
      { flag: '--argument', value: 'N', help: 'the VMs\' boot argument (0)' },
      { flag: '--weight', value: 'N',
        help: `each VM's CPU weight, ${SHARE_WEIGHT_MIN} to ${SHARE_WEIGHT_MAX} (${SHARE_WEIGHT_DEFAULT})` },
      { flag: '--cap', value: 'PCT', help: `each VM's CPU cap, a percentage 1 to ${SHARE_CAP_MAX} per 100 ms (none)` },
      { flag: '--tx-packets', value: 'N', help: 'frames each VM may send a second (0: no limit)' },
      { flag: '--tx-bytes', value: 'N', help: `bytes each VM may send a second, 0 or at least ${NET_BYTE_RATE_MIN}`
        + ' (0: no limit)' },
      { flag: '--rx-packets', value: 'N', help: 'frames each VM may be given a second (0: no limit)' },
      { flag: '--memory-cap', value: 'KIB', help: 'memory each VM may hold at once (pages and page tables), a '
        + 'multiple of 4, at least its reservation (none)' },
      { flag: '--rx-bytes', value: 'N', help: `bytes each VM may be given a second, 0 or at least ${NET_BYTE_RATE_MIN}`
        + ' (0: no limit)' },
    ],
    positional: 'FILE.ts',
  },
  vms: {
    summary: ['list the VMs of a running kernel through its control VM\'s API: state, address, memory, CPU, packets'],
    options: [
      { flag: '--to', value: 'URL', help: 'the control API', required: true },
      { flag: '--key', value: 'FILE', help: 'the control VM\'s key file', required: true },
    ],
  },
  stop: {
    summary: ['stop a VM of a running kernel through its control VM\'s API (its memory is free at once)'],
    options: [
      { flag: '--to', value: 'URL', help: 'the control API', required: true },
      { flag: '--key', value: 'FILE', help: 'the control VM\'s key file', required: true },
    ],
    positional: 'ID',
  },
  debug: {
    summary: [
      'boot images/denali.elf (rebuilt when kernel-src/ or compiler/ is newer; with a manifest, its VMs) in QEMU',
      'stopped before its first instruction and start gdb on it: the kernel\'s symbols and DWARF, for --vm N also',
      'VM N\'s image\'s, and the helpers denali-vms, denali-vm N, denali-back, denali-break (docs/debugging.md)',
    ],
    options: [
      MANIFEST,
      { flag: '--vm', value: 'N', help: 'with --manifest: VM N\'s image symbols too; denali-break stops in VM N only' },
      { flag: '--memory', value: 'MIB', help: 'guest RAM, 16 to 3072 (128)' },
      { flag: '--commands', value: 'FILE', help: 'gdb in batch mode: run FILE\'s commands, then stop (scripts)' },
    ],
  },
};

const HELP_FLAG: OptionSpec = { flag: '--help', help: 'this text (also -h)' };

/** `[-O0|-O2] [--no-iso] [--manifest FILE]`: a command's options as one usage line. */
function synopsis(name: string, spec: CommandSpec): string {
  const parts: string[] = [];
  const groups = new Set<string>();
  for (const o of spec.options) {
    if (o.group !== undefined) {
      if (groups.has(o.group)) continue;
      groups.add(o.group);
      parts.push(`[${spec.options.filter(p => p.group === o.group).map(p => p.flag).join('|')}]`);
      continue;
    }
    const text = o.value === undefined ? o.flag : `${o.flag}${NO_BREAK}${o.value}`;
    parts.push(o.required ? text : `[${text}]`);
  }
  if (spec.positional) parts.push(spec.positional);
  return `denali ${name} ${parts.join(' ')}`;
}

/** Joins an option to its value in a usage line, so wrap() never splits them. */
const NO_BREAK = '\u00a0';

/** `text` in lines of at most WIDTH columns, each after `indent` (the first after `first`). */
function wrap(text: string, first: string, indent: string): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const start = line.length === indent.length || line === first;
    if (!start && line.length + 1 + word.length > WIDTH) { lines.push(line); line = indent + word; } else {
      line += (start ? '' : ' ') + word;
    }
  }
  lines.push(line);
  return lines.map(l => l.replaceAll(NO_BREAK, ' '));
}
const WIDTH = 100;

/** `denali --help`: every command's usage and what it does. */
export function overallHelp(): string {
  const commands = Object.entries(COMMANDS).map(([name, spec]) =>
    [...wrap(synopsis(name, spec), '  ', '      '), ...spec.summary.map(line => `      ${line}`)].join('\n'));
  return ['denali — the Denali/TS toolchain', '', 'usage:', ...commands,
    '  denali COMMAND --help', '      that command\'s options', '  denali --version',
    '      the version and the commit', '', 'The DSL is described in dsl/README.md.'].join('\n');
}

/** `denali NAME --help`: the usage line, the summary, then every option the parser accepts. */
export function commandHelp(name: string): string {
  const spec = COMMANDS[name];
  const rows = [...spec.options, HELP_FLAG].flatMap(o => {
    const left = o.value === undefined ? o.flag : `${o.flag} ${o.value}`;
    return wrap(o.help, `  ${left.padEnd(26)} `, ' '.repeat(29));
  });
  return [...wrap(synopsis(name, spec), 'usage: ', '         '), '', ...spec.summary, '', 'options:', ...rows]
    .join('\n');
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/** The option of `spec` nearest to `word`, when it is near enough to be what was meant. */
function closest(spec: CommandSpec, word: string): string | undefined {
  let best: string | undefined, bestDistance = Infinity;
  for (const o of [...spec.options, HELP_FLAG]) {
    const d = distance(word, o.flag);
    if (d < bestDistance) { best = o.flag; bestDistance = d; }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

interface ParsedCommandLine {
  /** Each given option by its flag: its value, or true for a flag without one. */
  options: Map<string, string | true>;
  positional?: string;
  help: boolean;
}

/** Parses `args` for command `name`; an Error whose message names the bad argument, for exit 2. */
export function parseCommandLine(name: string, args: string[]): ParsedCommandLine | Error {
  const spec = COMMANDS[name];
  const parsed: ParsedCommandLine = { options: new Map(), help: false };
  const chosen = new Map<string, string>();             // group -> the option given from it
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') { parsed.help = true; continue; }
    if (!arg.startsWith('-') || arg === '-') {
      if (spec.positional === undefined || parsed.positional !== undefined) {
        return new Error(`unexpected argument '${arg}'${spec.positional ? ` (one ${spec.positional} only)` : ''}`);
      }
      parsed.positional = arg;
      continue;
    }
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = equals > 0 ? arg.slice(0, equals) : arg;
    const option = spec.options.find(o => o.flag === flag);
    if (!option) {
      const near = closest(spec, flag);
      return new Error(`unknown option '${flag}'${near ? ` (did you mean ${near}?)` : ''}`);
    }
    if (option.group !== undefined) {
      const other = chosen.get(option.group);
      if (other !== undefined && other !== flag) return new Error(`${other} and ${flag} exclude each other`);
      chosen.set(option.group, flag);
    }
    if (option.value === undefined) {
      if (equals > 0) return new Error(`${flag} takes no value`);
      parsed.options.set(flag, true);
      continue;
    }
    const value = equals > 0 ? arg.slice(equals + 1) : args[i + 1];
    if (value === undefined || value === '' || (equals < 0 && value.startsWith('--'))) {
      return new Error(`${flag} needs a value (${option.value})`);
    }
    if (equals < 0) i++;
    parsed.options.set(flag, value);
  }
  return parsed;
}
