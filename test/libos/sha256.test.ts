// Contract: guest-src/libos/sha256.ts and hmac.ts (written in the DSL) compute what Node's crypto computes.
// test/libos/guests/sha256-vectors.ts prints the digests and MACs of FIPS 180-4's examples (its million
// 'a' shortened to 100,000: the interpreter's time), RFC 4231's seven cases and 381 random messages
// drawn from xorshift32 (every length 0..130, then random lengths up to 319; keys of 0..199 bytes, longer
// than the block among them; whole, split and byte-at-a-time adds), and checks that hmacEqual tells a MAC
// from each of its one-bit changes. This test draws the same bytes, asks Node's crypto, and compares
// every line. The program runs on the bytecode interpreter (the reference semantics) at -O0 and -O2,
// and natively in QEMU at -O2.
import test from 'ava';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { compile, optimize } from '../../compiler/pipeline.ts';
import { formatDiagnostic } from '../../compiler/frontend/diagnostics.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { runQemu, parseProgramSerial, interpreterOutcome } from '../../tools/qemu.ts';
import { programImage, ROOT } from '../../tools/build.ts';
import type { Module } from '../../compiler/ir.ts';

const PROGRAM = join(ROOT, 'test', 'libos', 'guests', 'sha256-vectors.ts');
// The program's constants (sha256-vectors.ts), mirrored: a mismatch shows as a wrong line count.
const RANDOM_ALL_LENGTHS = 130, RANDOM_MORE = 250, SEED = 0x2545f491;

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer, data: Buffer | string) => createHmac('sha256', key).update(data).digest('hex');
const repeat = (byte: number, n: number) => Buffer.alloc(n, byte);

/** The lines the program must print, from Node's crypto over the same inputs. */
function expectedLines(): string[] {
  const lines: string[] = [];
  const fips = ['abc', '', 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu'];
  fips.forEach((m, n) => lines.push(`sha ${n} ${sha(m)}`));
  lines.push(`sha 4 ${sha(repeat(0x61, 100_000))}`);
  const rfc: [Buffer, Buffer | string][] = [
    [repeat(0x0b, 20), 'Hi There'],
    [Buffer.from('Jefe'), 'what do ya want for nothing?'],
    [repeat(0xaa, 20), repeat(0xdd, 50)],
    [Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)), repeat(0xcd, 50)],
    [repeat(0x0c, 20), 'Test With Truncation'],
    [repeat(0xaa, 131), 'Test Using Larger Than Block-Size Key - Hash Key First'],
    [repeat(0xaa, 131), 'This is a test using a larger than block-size key and a larger than block-size data. '
      + 'The key needs to be hashed before being used by the HMAC algorithm.'],
  ];
  rfc.forEach(([key, data], i) => lines.push(`hmac ${i + 1} ${hmac(key, data)}`));
  let state = SEED;
  const next = () => {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    return state;
  };
  const vector = (n: number, length: number) => {
    const keyLength = next() % 200;
    const key = Buffer.from(Array.from({ length: keyLength }, () => next() & 0xff));
    const message = Buffer.from(Array.from({ length }, () => next() & 0xff));
    if (length !== 0) next();                          // the split point: the program's business
    lines.push(`sha ${n} ${sha(message)}`, `hmac ${n} ${hmac(key, message)}`);
  };
  for (let length = 0; length <= RANDOM_ALL_LENGTHS; length++) vector(100 + length, length);
  for (let k = 0; k < RANDOM_MORE; k++) vector(101 + RANDOM_ALL_LENGTHS + k, next() % 320);
  lines.push('equal ok');
  return lines;
}

test('RFC 4231 as printed by Node agrees with the RFC (the expectations are themselves right)', (t) => {
  const lines = expectedLines();
  t.is(lines.find(l => l.startsWith('sha 0 ')),
    'sha 0 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.is(lines.find(l => l.startsWith('hmac 1 ')),
    'hmac 1 b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  // RFC 4231 §4.6: case 5's MAC truncated to 128 bits.
  t.true(lines.find(l => l.startsWith('hmac 5 '))!.startsWith('hmac 5 a3b6167473100ee06e0c796c2955552b'));
  t.is(lines.find(l => l.startsWith('sha 2 ')),
    'sha 2 248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  t.is(lines.length, 5 + 7 + 2 * (RANDOM_ALL_LENGTHS + 1 + RANDOM_MORE) + 1);
});

let compiled: Module | undefined;
function program(): Module {
  if (compiled) return compiled;
  const result = compile({ files: [PROGRAM], optimize: 0 });
  if (!result.module) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  compiled = result.module;
  return compiled;
}

type Outcome = { stdout: string; stderr: string; status: number | null };

function compare(t: import('ava').ExecutionContext, how: string, o: Outcome) {
  t.is(o.status, 0, `${how}: exit status (stderr: ${o.stderr.trim()})`);
  const got = o.stdout.trimEnd().split('\n');
  const want = expectedLines();
  const wrong = want.filter((line, i) => got[i] !== line).slice(0, 5);
  t.deepEqual(wrong, [], `${how}: lines that differ (first 5)`);
  t.is(got.length, want.length, `${how}: line count`);
}

for (const level of [0, 2] as const) {
  test(`SHA-256 and HMAC-SHA256 on the bytecode interpreter at -O${level}`, (t) => {
    const module = level === 0 ? program() : optimize(structuredClone(program()));
    compare(t, `interp -O${level}`, interpreterOutcome(runModule(module)));
  });
}

test('SHA-256 and HMAC-SHA256 natively in QEMU at -O2', async (t) => {
  const elf = join(mkdtempSync(join(tmpdir(), 'denali-sha256-')), 'sha256.elf');
  writeFileSync(elf, programImage(optimize(structuredClone(program())), 2).elf);
  const r = await runQemu({ kernel: elf }, { timeoutMs: 60_000 });
  t.false(r.timedOut, 'qemu timed out');
  compare(t, 'qemu -O2', parseProgramSerial(r.serial));
});
