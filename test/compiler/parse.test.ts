// Contract: compiler/parse.ts is the inverse of compiler/print.ts on real code: every function of the
// kernel and of every corpus program, at -O0 and -O2, and each whole module (data, relocations,
// interrupt entries), parses back to what was printed, but for source locations and unnamed registers
// above the highest one used; bad text is refused with file:line:column.
import test from 'ava';
import { readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import type * as ir from '../../compiler/ir.ts';
import { definedRegister, usedRegisters, terminatorUses } from '../../compiler/ir.ts';
import { optimize } from '../../compiler/pipeline.ts';
import { printFunction, printModule } from '../../compiler/print.ts';
import { parseFunction, parseModule } from '../../compiler/parse.ts';
import { compileOrThrow, KERNEL_MAIN, KERNEL_RUNTIME, ROOT } from '../../tools/build.ts';

/**
 * f as the text gives it back: no locations, no debug variables; vregCount one past the highest register
 * named (or params).
 */
function asPrinted(f: ir.Function): ir.Function {
  const g = structuredClone(f);
  delete g.loc;
  delete g.variables;
  let count = g.params;
  for (const b of g.blocks) {
    delete b.loc;
    delete b.term.loc;
    for (const i of b.instrs) {
      delete i.loc;
      for (const r of [...usedRegisters(i), definedRegister(i) ?? -1]) count = Math.max(count, r + 1);
    }
    for (const r of terminatorUses(b.term)) count = Math.max(count, r + 1);
  }
  g.vregCount = count;
  return g;
}

/** Deep equality through node:util (ava's deepEqual describes every byte: far too slow here); ava's diff on failure. */
function same(t: import('ava').ExecutionContext, actual: unknown, expected: unknown, what: string): void {
  if (isDeepStrictEqual(actual, expected)) t.pass();
  else t.deepEqual(actual, expected, what);
}

/** Round trips of every function of `lowered` and of the module, at -O0 and -O2; returns the functions checked. */
function roundTrips(t: import('ava').ExecutionContext, what: string, lowered: ir.Module): number {
  let checked = 0;
  for (const m of [lowered, optimize(structuredClone(lowered))]) {
    for (const f of m.functions) {
      same(t, parseFunction(printFunction(f), `${what}:${f.name}`), asPrinted(f), `${what}: ${f.name}`);
      checked++;
    }
    const parsed = parseModule(printModule(m, { completeData: true }), what);
    same(t, parsed.functions.map(f => f.name), m.functions.map(f => f.name), `${what}: functions`);
    for (const [k, d] of m.data.entries()) same(t, parsed.data[k], d, `${what}: data ${d.name}`);
    t.is(parsed.data.length, m.data.length);
    const header = (x: typeof parsed) => [x.entry, x.trapHandler, x.interruptEntries ?? []];
    same(t, header(parsed), header(m), `${what}: entry, trap handler, interrupt entries`);
  }
  return checked;
}

test('the kernel at -O0 and -O2: every function and the module print and parse back', t => {
  const kernel = compileOrThrow({
    files: [KERNEL_MAIN], mode: 'kernel', entry: 'kmain', runtime: KERNEL_RUNTIME, optimize: 0,
  });
  t.true(kernel.interruptEntries!.length > 0 && kernel.data.some(d => d.relocations.length > 0));
  t.true(roundTrips(t, 'kernel', kernel) > 500);
});

const corpus = join(ROOT, 'test', 'programs');
for (const name of readdirSync(corpus).filter(f => f.endsWith('.ts')).sort()) {
  test(`corpus ${name} at -O0 and -O2: every function and the module print and parse back`, t => {
    t.true(roundTrips(t, name, compileOrThrow({ files: [join(corpus, name)], optimize: 0 })) > 0);
  });
}

test('the printer elides long data unless asked; the parser refuses elided bytes', t => {
  const m: ir.Module = {
    functions: [{
      name: 'main', params: 0, returnsValue: false, vregCount: 0, slots: [],
      blocks: [{ id: 0, instrs: [], term: { op: 'return', value: null } }],
    }],
    data: [{
      name: 'table', section: 'rodata', align: 4, size: 40,
      bytes: new Uint8Array(40).fill(7), relocations: [],
    }],
    entry: 'main', trapHandler: 'main',
  };
  const short = printModule(m);
  t.regex(short, /^data table \.rodata size 40 align 4 = \[(7 ){32}\.\.\.\]$/m);
  t.throws(() => parseModule(short, 'short.ir'), {
    message: /^short\.ir:2:\d+ - error: the bytes of table were elided/,
  });
  t.deepEqual(parseModule(printModule(m, { completeData: true })).data, m.data);
});

const ERRORS: [string, RegExp][] = [
  ['function f() {\nb0:\n  v1 = frob v0\n  return\n}', /^t\.ir:3:8 - error: unknown op 'frob'/],
  ['function f(v0) -> i32 {\nb0:\n  v1 = add v0\n  return v1\n}', /^t\.ir:3:14 - error: expected ','/],
  ['function f() {\nb0:\n  return\n  v1 = const 1\n}', /^t\.ir:4:3 - error: expected a block label/],
  ['function f() {\nb1:\n  return\n}', /^t\.ir:2:\d+ - error: expected block b0/],
  ['function f() {\nb0:\n  v1 = const 4294967296\n  return\n}', /^t\.ir:3:14 - error: 4294967296 is outside/],
  ['function f() {\nb0:\n  v1 = load.s64 [v0]\n  return\n}', /^t\.ir:3:8 - error: unknown op 'load\.s64'/],
  ['function f() {\nb0:\n  trap no reason\n  unreachable\n}', /^t\.ir:3:8 - error: unknown trap kind/],
  ['function f() {\nb0:\n  v1 = const 1\n}', /^t\.ir:4:1 - error: block b0 has no terminator/],
  ['function f() {\nb0:\n  return', /^t\.ir:3:\d+ - error: function f has no closing '}'/],
  ['data d .text size 4 align 4', /^t\.ir:1:8 - error: unknown section \.text/],
  ['frobnicate', /^t\.ir:1:1 - error: expected function, data, interrupt or entry/],
];

for (const [text, message] of ERRORS) {
  test(`bad IR text is refused: ${message.source.split('error: ')[1]}`, t => {
    t.throws(() => parseModule(text, 't.ir'), { message });
  });
}

test('hand-written text: comments, hex constants, every instruction form', t => {
  const f = parseFunction(`
; a comment line
function f(v0, v1) -> i32 {   ; the header
  slot 0: 8 bytes, align 4, "pair; of words"
b0:  ; line 3
  v2 = const 0x10
  v3 = mulhu v0, v2
  v4 = not v3
  v5 = select v1, v3, v4
  v6 = slot 0
  store.16 [v6 - 2], v5
  v7 = load.s8 [v6 + 1]
  v8 = address table
  v9 = function f
  v10 = call f(v7, v8)
  call *v9(v0, v1)
  v11 = inb(v0)
  outb(v0, v11)
  branch v10, b1, b2
b1:
  trap index out of bounds
  unreachable
b2:
  return v10
}`);
  t.is(f.slots[0].name, 'pair; of words');
  t.is(f.vregCount, 12);
  t.deepEqual(f.blocks[0].instrs.map(i => i.op), [
    'const', 'binary', 'unary', 'select', 'slotAddress', 'store', 'load', 'globalAddress', 'functionAddress', 'call',
    'callIndirect', 'intrinsic', 'intrinsic',
  ]);
  t.deepEqual(f.blocks[0].instrs[5], { op: 'store', width: 2, address: 6, offset: -2, value: 5 });
  t.deepEqual(f.blocks[1].instrs[0], { op: 'trap', kind: 2 });
  t.is(printFunction(parseFunction(printFunction(f))), printFunction(f));
});
