// Contract: the IR text tests (QBE's .ssa files, Cranelift's .clif run tests). Each test/ir/NAME.ir holds
// IR in the printer's text form (compiler/parse.ts) and, in `;` comments:
//   ; passes: fold, dce          the passes to run, in order, by their names in compiler/pipeline.ts PASSES
//   ; passes: -O2                (or the whole -O2 pipeline)
//   ; run: f(3, -1) == 9         a call and its int32 result
//   ; run: f(0) traps integer division by zero   (a trap named as in ir.TRAP_NAMES; the last run line)
// and, below the line `; expect:`, the IR of the file's functions after the passes, as printFunction
// writes them (UPDATE_GOLDEN=1 writes it; a file without it fails). Each test checks: the IR verifies
// before and after every pass; the expected IR; every run line on the interpreter before and after the
// passes, and natively in QEMU on the IR after the passes, lowered at -O0 (no register allocation) and
// at -O2 (the -O2 pipeline on top, then register allocation). The runs go through a driver `main` that
// reads the arguments from memory and calls through function addresses (so no pass sees constant
// arguments or inlines the function under test), prints each result with putHex and exits; the runtime
// of test/x86/helpers.ts (putc, putHex, exit, trap) serves both targets. Every pass of PASSES has a file.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ir from '../../compiler/ir.ts';
import { FunctionBuilder } from '../../compiler/builder.ts';
import { parseModule } from '../../compiler/parse.ts';
import { printFunction } from '../../compiler/print.ts';
import { verifyModule } from '../../compiler/verify.ts';
import { PASSES, optimize } from '../../compiler/pipeline.ts';
import { runModule } from '../../compiler/bytecode/interpreter.ts';
import { compileToImage } from '../../compiler/link/index.ts';
import { ROOT } from '../../tools/build.ts';
import { runtimeFunctions, putHex, boot, writeImage } from '../x86/helpers.ts';
import { matchGoldenTail } from '../harness/golden.ts';
import { limit } from '../harness/limit.ts';

const DIR = join(ROOT, 'test', 'ir');
const EXPECT_MARKER = '; expect:';
const ARGUMENTS = '__run_arguments';
const RESERVED = new Set(['main', ARGUMENTS, ...runtimeFunctions().map(f => f.name)]);
const PASS_BY_NAME = new Map(PASSES);
const O2 = '-O2';
const bootSlots = limit(2);

interface Run { func: string; args: number[]; result: { value: number } | { trap: ir.TrapKind }; line: number }
interface IrTest {
  name: string; file: string; passes: string[]; runs: Run[];
  /** The file's IR with the driver, the arguments and the runtime. */
  input: ir.Module;
  /** The functions the file defines (those the expected IR shows). */
  userFunctions: Set<string>;
}

const int32 = (text: string, where: string): number => {
  const value = text.startsWith('-') ? -Number(text.slice(1)) : Number(text);
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new Error(`${where}: ${text} is not an int32 (or a uint32)`);
  }
  return value | 0;
};

/** Reads a test file: its directives, and its IR as a runnable module (driver, arguments and runtime added). */
function readTest(name: string): IrTest {
  const file = join(DIR, name);
  const lines = readFileSync(file, 'utf8').split('\n');
  const end = lines.indexOf(EXPECT_MARKER);
  const inputLines = end < 0 ? lines : lines.slice(0, end);
  let passes: string[] | null = null;
  const runs: Run[] = [];
  inputLines.forEach((text, k) => {
    const where = `${name}:${k + 1}`;
    const directive = /^; *(passes|run): *(.*)$/.exec(text);
    if (!directive) return;
    if (directive[1] === 'passes') {
      if (passes) throw new Error(`${where}: a second passes line`);
      passes = directive[2].split(',').map(p => p.trim());
      for (const p of passes) if (p !== O2 && !PASS_BY_NAME.has(p)) throw new Error(`${where}: unknown pass '${p}'`);
      return;
    }
    const run = /^([A-Za-z_$.][\w$.]*)\(([^)]*)\) *(?:== *(\S+)|traps (.+))$/.exec(directive[2].trim());
    if (!run) throw new Error(`${where}: expected 'run: f(ARGS) == VALUE' or 'run: f(ARGS) traps KIND'`);
    const args = run[2].trim() === '' ? [] : run[2].split(',').map(a => int32(a.trim(), where));
    const trap = run[4] === undefined ? -1 : ir.TRAP_NAMES.indexOf(run[4].trim() as typeof ir.TRAP_NAMES[number]);
    if (run[4] !== undefined && trap < 0) throw new Error(`${where}: unknown trap '${run[4]}'`);
    if (runs.some(r => 'trap' in r.result)) throw new Error(`${where}: a run line after one that traps`);
    const result = trap >= 0 ? { trap: trap as ir.TrapKind } : { value: int32(run[3], where) };
    runs.push({ func: run[1], args, result, line: k + 1 });
  });
  if (!passes) throw new Error(`${name}: no '; passes:' line`);
  if (runs.length === 0) throw new Error(`${name}: no '; run:' line`);
  const parsed = parseModule(inputLines.join('\n'), file);
  if (parsed.entry !== undefined) throw new Error(`${name}: the test adds the entry and the trap handler itself`);
  for (const f of parsed.functions) {
    if (RESERVED.has(f.name)) throw new Error(`${name}: the name ${f.name} is the test driver's`);
  }
  for (const r of runs) {
    const f = parsed.functions.find(g => g.name === r.func);
    if (!f) throw new Error(`${name}:${r.line}: no function ${r.func}`);
    if (f.params !== r.args.length || !f.returnsValue) {
      throw new Error(`${name}:${r.line}: ${r.func} takes ${f.params} arguments and must return a value`);
    }
  }
  const input: ir.Module = {
    ...parsed, entry: 'main', trapHandler: 'trap',
    functions: [...parsed.functions, driver(runs), ...runtimeFunctions()],
    data: [...parsed.data, argumentTable(runs)],
  };
  return { name, file, passes, runs, input, userFunctions: new Set(parsed.functions.map(f => f.name)) };
}

/** The arguments of every run line, one word each, in order. */
function argumentTable(runs: Run[]): ir.DataSymbol {
  const words = runs.flatMap(r => r.args);
  const bytes = new Uint8Array(4 * words.length);
  words.forEach((w, k) => new DataView(bytes.buffer).setInt32(4 * k, w, true));
  return { name: ARGUMENTS, section: 'data', align: 4, size: bytes.length, bytes, relocations: [] };
}

/** main(): each run line's call, through the function's address with arguments loaded from memory; putHex(result). */
function driver(runs: Run[]): ir.Function {
  const main = new FunctionBuilder('main', 2, false);
  const table = main.globalAddress(ARGUMENTS);
  let word = 0;
  for (const r of runs) {
    const args = r.args.map(() => main.load(4, false, table, 4 * word++));
    putHex(main, main.callIndirect(main.functionAddress(r.func), args));
  }
  main.callVoid('exit', [main.constant(0)]);
  main.unreachable();
  return main.finish();
}

/** What the driver prints and its exit code when every run line holds. */
function expectedRun(runs: Run[]): { serial: string; exit: number } {
  let serial = '';
  for (const r of runs) {
    if ('trap' in r.result) return { serial: `${serial}TRAP ${r.result.trap}\n`, exit: 0x70 + r.result.trap };
    serial += `${(r.result.value >>> 0).toString(16).padStart(8, '0')}\n`;
  }
  return { serial, exit: 0 };
}

/** The module after the test's passes, verified after each one. */
function runPasses(t: IrTest): ir.Module {
  let m = structuredClone(t.input);
  for (const name of t.passes) {
    m = name === O2 ? optimize(m) : PASS_BY_NAME.get(name)!(m);
    verifyModule(m);
  }
  return m;
}

const files = readdirSync(DIR).filter(f => f.endsWith('.ir')).sort();

for (const name of files) {
  test(name, async t => {
    const spec = readTest(name);
    verifyModule(spec.input);
    const after = runPasses(spec);
    const text = after.functions.filter(f => spec.userFunctions.has(f.name)).map(printFunction).join('\n\n');
    matchGoldenTail(t, spec.file, EXPECT_MARKER, `${text}\n`, `the IR after ${spec.passes.join(', ')}`);
    const want = expectedRun(spec.runs);
    const interpreted = [['interpreter, before the passes', spec.input], ['interpreter, after them', after]] as const;
    for (const [what, m] of interpreted) {
      const r = runModule(m, { stepLimit: 10_000_000 });
      t.is(r.error, undefined, `${what}: ${r.error}`);
      t.is(r.serial, want.serial, what);
      t.is(r.exitPortValue, want.exit, `${what}: exit`);
    }
    for (const level of [0, 2] as const) {
      const m = level === 2 ? optimize(structuredClone(after)) : after;
      const image = compileToImage(m, { registerAllocation: level === 2 });
      const r = await bootSlots(() => boot(writeImage(image, `${name}.O${level}`)));
      const what = `x86 -O${level}`;
      t.false(r.timedOut, `${what}: timed out`);
      t.is(r.serial, want.serial, what);
      t.is(r.exitCode, want.exit, `${what}: exit`);
    }
  });
}

test('every pass of compiler/pipeline.ts has an IR test', t => {
  const tested = new Set(files.flatMap(name => readTest(name).passes));
  t.deepEqual([...PASS_BY_NAME.keys()].filter(p => !tested.has(p)), []);
  t.true(tested.has(O2), 'a test of the whole -O2 pipeline');
});
