// Contract: the guest ABI has one definition (abi/, issue 13) and the docs say what it says.
// 1. No file outside abi/ defines an ABI constant again: not under its own name, not as an alias
//    (`const VIRQ_TIMER = 1`, `NET_ERROR_AGAIN = -3`, `{ setAlarm: 2 }`), no raw hypercall number in
//    guest or kernel code, no boot-information offset (`bootInfo + 4`, `BOOT_VM_ID = 4`).
// 2. docs/virtual-architecture.md's tables and numbers equal abi/'s: the boot-information table
//    against the compiler's layout of BootInfo (tools/abi.ts), the hypercall table, the error codes,
//    the interrupt bits, GUEST_BASE, GUEST_MAGIC, the ABI version, HYPERCALL_ERROR_LIMIT.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as hypercalls from '../../abi/hypercalls.ts';
import * as boot from '../../abi/boot.ts';
import { ROOT } from '../../tools/build.ts';
import { bootInfoLayout } from '../../tools/abi.ts';
import { typeName, type StructField } from '../../compiler/frontend/types.ts';

const THIS_FILE = 'test/abi/abi.test.ts';
const abiNumbers = { ...hypercalls, ...boot } as Record<string, unknown>;
const abiNames = [...Object.keys(hypercalls), ...Object.keys(boot)];

/** Every source file of the project outside abi/ (and this test), with its text. */
function sources(): { path: string; text: string }[] {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.(ts|mjs|js|py|sh)$/.test(e.name) ? [join(dir, e.name)] : []);
  const tops = ['bench', 'compiler', 'dsl', 'guest-src', 'kernel-src', 'test', 'tools'];
  return tops.flatMap(top => walk(join(ROOT, top))).map(file => relative(ROOT, file)).filter(path => path !== THIS_FILE)
    .map(path => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;
const literal = (s: string) => Number(s.replace(/_/g, ''));
const camel = (snake: string) => snake.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The token an alias of an ABI constant would end with, e.g. HYPERCALL_SET_ALARM -> ALARM, EAGAIN -> AGAIN. */
function aliasToken(name: string): string | undefined {
  const errors: Record<string, string> = { EINVAL: 'INVAL', EFAULT: 'FAULT', EAGAIN: 'AGAIN', EMSGSIZE: 'SIZE' };
  if (errors[name]) return errors[name];
  if (name === 'GUEST_BASE' || name === 'GUEST_MAGIC') return name.split('_')[1];
  const m = /^(?:HYPERCALL|INTERRUPT)_(?:\w+_)?([A-Z]+)$/.exec(name);
  const collective = ['HYPERCALL_COUNT', 'HYPERCALL_ERROR_LIMIT', 'INTERRUPT_ALL'];
  // A generic last word (a device register's MASK) says nothing alone: the alias must end with two words.
  const generic = ['MASK'];
  if (m && generic.includes(m[1])) return name.split('_').slice(-2).join('_');
  return m && !collective.includes(name) ? m[1] : undefined;
}

const ALIAS = /(?:\b(?:const|let|var)\s+|,\s*)([A-Z][A-Z0-9_]*)\s*(?::\s*\w+\s*)?=\s*(-?(?:0x[0-9a-fA-F]+|\d+))\b/g;
const BOOT_OFFSET = /\bbootInfo\s*\+\s*\d+|\bBOOT_[A-Z_]+\s*(?::\s*\w+\s*)?=\s*\d+|\bpage\.set(?:Ui|I)nt\d+\(\s*\d+/g;
const GUEST_OR_KERNEL = /^(kernel-src|guest-src|test\/kernel\/guests|test\/libos\/guests)\//;
/** HYPERCALL_ constants that are not a call's number: the count, the error limit, the interrupt vector. */
const NOT_NUMBERS = ['HYPERCALL_COUNT', 'HYPERCALL_ERROR_LIMIT', 'HYPERCALL_VECTOR'];
const hypercallNames = Object.keys(hypercalls).filter(n => /^HYPERCALL_/.test(n) && !NOT_NUMBERS.includes(n));

/** What in `text` (the file `path`) defines the ABI a second time, one line each. */
function secondDefinitions(path: string, text: string): string[] {
  const problems: string[] = [];
  const report = (index: number, what: string) => problems.push(`${path}:${lineOf(text, index)}: ${what}`);
  // The ABI's own names, defined again (a declaration, a Python assignment, an object key with a value).
  for (const name of abiNames) {
    const definition = new RegExp(
      `\\b(?:const|let|var|class|function)\\s+${name}\\b|^\\s*${name}\\s*=|\\b${name}\\s*:\\s*-?\\d`, 'gm');
    for (const m of text.matchAll(definition)) report(m.index!, `defines ${name} again: ${m[0].trim()}`);
  }
  // Aliases: a constant whose last name token is the ABI constant's and whose value is the same literal.
  for (const m of text.matchAll(ALIAS)) {
    const [, name, value] = m;
    for (const abiName of abiNames) {
      const token = aliasToken(abiName);
      if (token && (name === token || name.endsWith(`_${token}`)) && abiNumbers[abiName] === literal(value))
        report(m.index!, `${name} = ${value} is an alias of ${abiName}: import it from abi/`);
    }
  }
  // The hypercall numbers as object keys (`{ exit: 0, idle: 1, setAlarm: 2 }`): a table of them, so two
  // such keys near each other (one `exit: 0` alone is an exit status, not the ABI).
  const keyed: { at: number; text: string; name: string }[] = [];
  for (const name of hypercallNames) {
    const key = camel(name.slice('HYPERCALL_'.length));
    for (const m of text.matchAll(new RegExp(`[{,]\\s*${key}\\s*:\\s*(\\d+)\\s*[,}]`, 'g')))
      if (Number(m[1]) === abiNumbers[name]) keyed.push({ at: m.index!, text: m[0], name });
  }
  for (const k of keyed)
    if (keyed.some(o => o.name !== k.name && Math.abs(o.at - k.at) < 120)) report(k.at, `${k.text} copies ${k.name}`);
  // A raw hypercall number in guest or kernel code (numbers >= HYPERCALL_COUNT are deliberate bad calls).
  if (GUEST_OR_KERNEL.test(path))
    for (const m of text.matchAll(/\bhypercall\(\s*(\d+)\s*,/g))
      if (Number(m[1]) < hypercalls.HYPERCALL_COUNT) report(m.index!, `${m[0]} is a raw hypercall number`);
  // Boot-information offsets by hand: the struct is the only layout.
  for (const m of text.matchAll(BOOT_OFFSET)) report(m.index!, `a boot-information offset by hand: ${m[0]}`);
  return problems;
}

test('no file outside abi/ defines an ABI constant, an alias of one, a raw hypercall number or a boot offset', (t) => {
  t.deepEqual(sources().flatMap(({ path, text }) => secondDefinitions(path, text)), []);
});

test('the scan finds the kinds of copies the tree had before abi/', (t) => {
  // So that the test above cannot pass by matching nothing.
  const copies = [
    'export const VIRQ_TIMER: u32 = INTERRUPT_TIMER;\nexport const VIRQ_WAKEUP: u32 = 4;',
    'export const NET_ERROR_AGAIN = -3;',
    'const EXIT = 0, IDLE = 1, SET_ALARM = 2;', 'export const GUEST_BASE = 0x40000000;',
    'export const HYPERCALL = { exit: 0, idle: 1, setAlarm: 2 } as const;', 'vmId = load32(bootInfo + 4);',
    'const BOOT_VM_ID = 4;', 'page.setUint32(44, config.argument ?? 0, true);',
    'if (lineLength !== 0) hypercall(4, a, n, 0, 0);',
    'const EAGAIN = -3;', 'export const GUEST_MAGIC: u32 = 0x444e4c49;',
  ];
  t.deepEqual(copies.filter(c => secondDefinitions('test/kernel/guests/copy.ts', c).length === 0), []);
  t.deepEqual(secondDefinitions('kernel-src/machine.ts', 'export const EXIT_SUCCESS = 0;'), []);
  t.deepEqual(secondDefinitions('test/ir/ir.test.ts', 'return { serial, exit: 0 };'), []);
});

const docs = readFileSync(join(ROOT, 'docs', 'virtual-architecture.md'), 'utf8');

/** The rows of the first Markdown table after `heading` (cells trimmed, header and rule dropped). */
function tableAfter(heading: string): string[][] {
  const start = docs.indexOf(heading);
  if (start < 0) throw new Error(`docs/virtual-architecture.md: no "${heading}"`);
  const lines = docs.slice(start).split('\n');
  const first = lines.findIndex(l => l.trim().startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.trim().startsWith('|')) break;
    rows.push(line.trim().slice(1, -1).split('|').map(c => c.trim()));
  }
  return rows;
}

test('the docs\' boot-information table is the compiler\'s layout of abi/boot.ts BootInfo', (t) => {
  const layout = bootInfoLayout();
  const typeOf = (f: StructField) => f.type.kind === 'array' && f.type.staticLength
    ? `${typeName(f.type.element)}[${f.type.staticLength}]` : typeName(f.type);
  const fromCompiler = [...layout.fields.values()].map(f => [String(f.offset), `${typeOf(f)} ${f.name}`]);
  const fromDocs = tableAfter('**Boot information**').map(([offset, field]) => [offset, field]);
  t.deepEqual(fromDocs, fromCompiler);
  t.is(layout.size, 180);             // the page holds it with room to spare
});

test('the docs\' hypercall table, error codes and interrupt bits are abi/hypercalls.ts\'s', (t) => {
  const numbers = Object.entries(hypercalls).filter(([n]) => hypercallNames.includes(n))
    .sort(([, a], [, b]) => Number(a) - Number(b))
    .map(([n, v]) => [String(v), camel(n.slice('HYPERCALL_'.length))]);
  t.deepEqual(tableAfter('## Hypercalls').map(([number, name]) => [number, name]), numbers);
  t.is(numbers.length, hypercalls.HYPERCALL_COUNT);
  const errors = [...docs.matchAll(/(-\d+) `(E[A-Z]+)`/g)].map(m => [m[2], Number(m[1])]);
  const abiErrors = Object.entries(hypercalls).filter(([n]) => /^E[A-Z]+$/.test(n)) as [string, number][];
  t.deepEqual(errors, abiErrors.sort(([, a], [, b]) => b - a));
  const bits = [...docs.matchAll(/bit (\d) `([A-Z_]+)`/g)].map(m => [`INTERRUPT_${m[2]}`, 1 << Number(m[1])]);
  const abiBits = Object.entries(hypercalls)
    .filter(([n]) => /^INTERRUPT_/.test(n) && n !== 'INTERRUPT_ALL') as [string, number][];
  t.deepEqual(bits, abiBits.sort(([, a], [, b]) => a - b));
  t.true(docs.includes(`every bit is enabled (mask ${hypercalls.INTERRUPT_ALL})`));
  t.true(docs.includes(`\`HYPERCALL_ERROR_LIMIT\` (${hypercalls.HYPERCALL_ERROR_LIMIT},`));
  t.true(docs.includes(`one Ethernet frame, ${hypercalls.FRAME_MIN}..${hypercalls.FRAME_MAX} bytes`));
});

test('the docs\' GUEST_BASE, GUEST_MAGIC and ABI version are abi/boot.ts\'s', (t) => {
  const hex = (x: number) => `0x${x.toString(16).toUpperCase()}`;
  t.true(docs.includes(`\`GUEST_BASE\` = ${hex(boot.GUEST_BASE)}`));
  t.true(docs.includes(`\`GUEST_MAGIC\` (${hex(boot.GUEST_MAGIC)}, "DNLI")`));
  const magic = boot.GUEST_MAGIC;
  t.is(Buffer.from([magic >>> 24, magic >>> 16 & 255, magic >>> 8 & 255, magic & 255]).toString('latin1'), 'DNLI');
  t.true(docs.includes(`ABI version ${boot.ABI_VERSION}.`));
});

test('the kernel\'s hypercallTable has one handler per number, in abi/hypercalls.ts\'s order', (t) => {
  // Entry n must handle number n: the handlers are named call + the number's name (callSetAlarm).
  const source = readFileSync(join(ROOT, 'kernel-src', 'hypercall.ts'), 'utf8');
  const table = /const hypercallTable: Hypercall\[\] = \[([^\]]*)\]/.exec(source);
  t.truthy(table, 'kernel-src/hypercall.ts has no hypercallTable');
  const handlers = table![1].split('\n').map(l => l.replace(/\/\/.*$/, '').trim().replace(/,$/, '')).filter(Boolean);
  const pascal = (snake: string) => camel(snake).replace(/^./, c => c.toUpperCase());
  const expected = [...hypercallNames].sort((a, b) => Number(abiNumbers[a]) - Number(abiNumbers[b]))
    .map(n => `call${pascal(n.slice('HYPERCALL_'.length))}`);
  t.deepEqual(handlers, expected);
});
