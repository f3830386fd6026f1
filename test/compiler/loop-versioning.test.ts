// Loop versioning (compiler/passes/loop-versioning.ts) against a model: `while (i + d < n) { sum += a[i + e]
// ...; i += s }` over a Uint8Array of length L, for starts and limits at the edges (negative, past the array,
// next to INT_MAX, where i + d or i + s wraps), each shape at -O2 on the interpreter. The model (this file's
// `expected`, wrapping int32 arithmetic and the bounds check) says what each call returns or that it traps;
// the non-trapping calls run in one program, a trapping one for each start in a program of its own (a trap
// ends it). The shapes with e <= d are versioned (their f has the test `n <= a.length`); the one with e = d + 1
// is not.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { compile, optimize } from '../../compiler/pipeline.ts';
import { printModule } from '../../compiler/print.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { parseProgramSerial } from '../../tools/qemu.ts';

interface Shape { s: number; d: number; e: number; length: number }
const SHAPES: Shape[] = [
  { s: 2, d: 1, e: 1, length: 6 }, // inet-checksum's pairs
  { s: 1, d: 0, e: 0, length: 8 },
  { s: 3, d: 2, e: 0, length: 1 },
  { s: 1, d: 2, e: 2, length: 6 },
  { s: 1, d: 0, e: 1, length: 8 }, // reads past what the test bounds: not versioned
];
const STARTS = [0, 1, 2, -1, -3, 5, 0x7ffffffe, 0x7fffffff, -0x80000000];
const LIMITS = [0, 1, 3, 6, 7, 8, 9, 0x7fffffff, 0x7ffffffe, -5];
const element = (j: number) => (j * 7 + 1) & 0xff;

/** What f(start, n) returns (as u32), or null when it traps; the model of the DSL source below. */
function expected(shape: Shape, start: number, n: number): number | null {
  let sum = 0, i = start | 0;
  for (let steps = 0; ((i + shape.d) | 0) < n; steps++) {
    const index = (i + shape.e) | 0;
    if (index < 0 || index >= shape.length) return null;
    sum = (sum + element(index) * 3 + 1) >>> 0;
    i = (i + shape.s) | 0;
    if (steps > 100) throw new Error('the model runs away: pick other limits');
  }
  return sum;
}

function program(shape: Shape, calls: [number, number][]): string {
  return `import { i32, u32, print } from "dsl";
function f(a: Uint8Array, start: i32, n: i32): u32 {
  let sum: u32 = 0;
  let i: i32 = start;
  while (i + ${shape.d} < n) {
    sum = (sum + a[i + ${shape.e}] * 3 + 1) >>> 0;
    i += ${shape.s};
  }
  return sum;
}
export function main(): i32 {
  const a = new Uint8Array(${shape.length});
  for (let j = 0; j < ${shape.length}; j++) a[j] = j * 7 + 1;
${calls.map(([start, n]) => `  print(f(a, ${start}, ${n}));`).join('\n')}
  return 0;
}
`;
}

const dir = mkdtempSync(join(tmpdir(), 'denali-versioning-'));
let files = 0;
function runO2(source: string): { out: ReturnType<typeof parseProgramSerial>; f: string } {
  const file = join(dir, `p${files++}.ts`);
  writeFileSync(file, source);
  const result = compile({ files: [file], optimize: 0 });
  if (!result.module) throw new Error(`does not compile: ${JSON.stringify(result.diagnostics)}`);
  const module = optimize(result.module);
  const text = printModule(module);
  const f = text.slice(text.indexOf('function f('), text.indexOf('\n}', text.indexOf('function f(')));
  return { out: parseProgramSerial(runModule(module).serial), f };
}

for (const shape of SHAPES) {
  test(`s ${shape.s}, d ${shape.d}, e ${shape.e}, length ${shape.length}: -O2 computes what the model does`, t => {
    const pairs = STARTS.flatMap(start => LIMITS.map(n => [start, n] as [number, number]));
    const fine = pairs.filter(([start, n]) => expected(shape, start, n) !== null);
    const trapping = pairs.filter(([start, n]) => expected(shape, start, n) === null);
    const { out, f } = runO2(program(shape, fine));
    t.is(out.stdout, fine.map(([start, n]) => `${expected(shape, start, n)}\n`).join(''));
    t.is(out.status, 0);
    // versioned: the test before the loop compares n with the array's length (the loop's own test is `lts`)
    t.is(/ = les v\d+, v\d+/.test(f), shape.e <= shape.d, f);
    // one trapping call for each start that has one (a negative start, one past the array, one that wraps)
    const calls = STARTS.flatMap(start => trapping.filter(([s]) => s === start).slice(0, 1));
    t.true(calls.length >= 3);
    for (const call of calls) {
      const r = runO2(program(shape, [call])).out;
      t.is(r.stdout, '', `f(a, ${call.join(', ')})`);
      t.regex(r.stderr, /index out of bounds/, `f(a, ${call.join(', ')})`);
    }
  });
}
