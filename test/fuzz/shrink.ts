// Shrinks a failing generated program on its AST while the failure persists (same targets disagree
// with Node, or the same compiler crash): deletes functions, globals, statements; replaces an if by a
// branch, a loop by one trip or by its body; replaces expressions by 0, 1 or a sub-expression of the
// same type. The printer keeps every candidate well-typed and its loops and recursion bounded, so a
// candidate is either a valid program or rejected by the compiler / a quick name check.
//   tsx test/fuzz/shrink.ts --seed N [--qemu]      regenerate seed N, check it, shrink it into out/fuzz/
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, print, type Expr, type Program, type ProgramFile, type Stmt } from './generate.ts';
import { check, writeProgram, FUZZ_OUT, type Verdict, type RunOptions } from './harness.ts';

type Path = (string | number)[];
const get = (root: unknown, path: Path): any => path.reduce((n: any, k) => n[k], root);

function isExpr(n: any): n is Expr { return n && typeof n === 'object' && typeof n.k === 'string' && typeof n.ty === 'string' && !Array.isArray(n); }
function isStmtList(n: any, key: string | number | undefined): n is Stmt[] {
  return Array.isArray(n) && (key === 'body' || key === 'main' || key === 't' || key === 'f');
}
function walk(n: any, path: Path, visit: (n: any, path: Path) => void): void {
  if (!n || typeof n !== 'object') return;
  visit(n, path);
  if (Array.isArray(n)) n.forEach((c, i) => walk(c, [...path, i], visit));
  else for (const k of Object.keys(n)) walk(n[k], [...path, k], visit);
}
function childExprs(e: Expr): Expr[] {
  const out: Expr[] = [];
  walk(e, [], (n, path) => { if (path.length && isExpr(n)) out.push(n); });
  return out;
}
const constant = (ty: Expr['ty'], v: number): Expr => ({ k: 'c', ty, v });

/** A candidate: a mutation of a clone of the program, with the names it removes (checked for left-over uses). */
interface Candidate { apply: (p: Program) => void; removes?: string[] }

function candidates(p: Program): Candidate[] {
  const out: Candidate[] = [];
  // whole functions, the table, globals, structs
  p.fns.forEach((f, i) => out.push({ apply: q => { q.fns.splice(i, 1); if (q.table) q.table.fns = q.table.fns.filter(n => n !== f.name); }, removes: [f.name] }));
  if (p.table) out.push({ apply: q => { q.table = null; }, removes: [p.table.name] });
  p.globals.forEach((g, i) => out.push({ apply: q => { q.globals.splice(i, 1); }, removes: [g.name] }));
  p.structs.forEach((s, i) => out.push({ apply: q => { q.structs.splice(i, 1); }, removes: [s.name] }));
  // statements: halves of long lists, then one by one; then simpler forms of compound statements
  const lists: Path[] = [], stmts: Path[] = [], exprs: Path[] = [];
  walk(p, [], (n, path) => {
    if (isStmtList(n, path[path.length - 1])) { lists.push(path); n.forEach((_, i) => stmts.push([...path, i])); }
    else if (isExpr(n) && n.k !== 'ap') exprs.push(path);
  });
  const declared = (s: Stmt): string[] => {
    const names: string[] = [];
    walk(s, [], n => { if (n && (n.k === 'decl' || n.k === 'localarr' || n.k === 'localstruct')) names.push(n.name); if (n && n.k === 'loop') names.push(n.v, n.label); });
    return names;
  };
  for (const path of lists) {
    const list = get(p, path) as Stmt[];
    if (list.length >= 4) {
      const half = list.length >> 1;
      for (const [from, to] of [[0, half], [half, list.length]]) {
        const removed = list.slice(from, to);
        if (removed.some(s => s.k === 'base')) continue;
        out.push({ apply: q => { get(q, path).splice(from, to - from); }, removes: removed.flatMap(declared) });
      }
    }
  }
  for (const path of stmts) {
    const s = get(p, path) as Stmt, list = path.slice(0, -1), i = path[path.length - 1] as number;
    if (s.k === 'base') continue;
    out.push({ apply: q => { get(q, list).splice(i, 1); }, removes: declared(s) });
    if (s.k === 'if') {
      out.push({ apply: q => { get(q, list).splice(i, 1, ...s.t); } });
      if (s.f) out.push({ apply: q => { get(q, list).splice(i, 1, ...s.f!); } }, { apply: q => { get(q, path).f = null; } });
    }
    if (s.k === 'loop') {
      if (s.n > 1) out.push({ apply: q => { get(q, path).n = 1; } });
      out.push({ apply: q => { get(q, list).splice(i, 1, ...s.body); }, removes: [s.v, s.label] });
    }
    if (s.k === 'switch') {
      s.cases.forEach((_, c) => out.push({ apply: q => { get(q, path).cases.splice(c, 1); } }));
      if (s.dflt) out.push({ apply: q => { get(q, path).dflt = null; } });
      s.cases.forEach((c, ci) => { if (!c.brk) out.push({ apply: q => { get(q, path).cases[ci].brk = true; } }); });
    }
  }
  // expressions: a constant, or a sub-expression of the same type
  for (const path of exprs) {
    const e = get(p, path) as Expr, parent = path.slice(0, -1), key = path[path.length - 1];
    const replace = (r: Expr) => ({ apply: (q: Program) => { get(q, parent)[key] = structuredClone(r); } });
    if (e.k !== 'c' || e.v !== 0) out.push(replace(constant(e.ty, 0)));
    if (e.k !== 'c') out.push(replace(constant(e.ty, 1)));
    for (const c of childExprs(e)) if (c.ty === e.ty && c.k !== 'ap') out.push(replace(c));
    if (e.k === 'c' && e.v !== 1 && e.v !== 0) out.push(replace(constant(e.ty, 1)));
  }
  return out;
}

interface ShrinkOptions extends RunOptions { maxTests?: number; timeLimitMs?: number; log?: (s: string) => void }
interface ShrinkResult {
  program: Program; files: ProgramFile[]; verdict: Verdict; tests: number; lines: [number, number];
}
const text = (files: ProgramFile[]) => files.map(f => f.source).join('\n');
const lineCount = (files: ProgramFile[]) => text(files).split('\n').length;

// Without QEMU in the loop, only the targets that ran are compared.
const targetsRun = (f: string | undefined, qemu: boolean) => (f ?? '').split(',').filter(t => qemu || !t.startsWith('qemu')).sort().join(',');
const sameFailure = (a: Verdict, b: Verdict, qemu: boolean) => targetsRun(a.failure, qemu) === targetsRun(b.failure, qemu) &&
  (a.failure !== 'compile-crash' || a.detail?.split(' | ')[0] === b.detail?.split(' | ')[0]) &&
  (a.failure !== 'compile-error' || diagnosticCode(a) === diagnosticCode(b));
const diagnosticCode = (v: Verdict) => /error (\w+):/.exec(v.detail ?? '')?.[1];

export async function shrink(program: Program, original: Verdict, options: ShrinkOptions = {}): Promise<ShrinkResult> {
  // QEMU is needed in the loop only when the interpreter agrees with Node (a back-end bug).
  const f = original.failure ?? '';
  const needsQemu = /qemu/.test(f) && !/interp|compile|node/.test(f);
  const run: RunOptions = { ...options, qemu: needsQemu && (options.qemu ?? true) };
  const deadline = Date.now() + (options.timeLimitMs ?? 300_000);
  const maxTests = options.maxTests ?? 2000;
  let best = program, bestFiles = print(program), verdict = original, tests = 0;
  const startLines = lineCount(bestFiles);
  const seen = new Set<string>([text(bestFiles)]);
  for (let round = 0, improved = true; improved && round < 4; round++) {
    improved = false;
    let list = candidates(best);
    for (let i = 0; i < list.length && tests < maxTests && Date.now() < deadline; i++) {
      const q = structuredClone(best);
      let files: ProgramFile[];
      try { list[i].apply(q); files = print(q); } catch { continue; }   // e.g. a global of a deleted struct
      const source = text(files);
      if (seen.has(source)) continue;
      seen.add(source);
      // A removed name still used: the compiler would reject it; skip without compiling.
      if (list[i].removes?.some(n => new RegExp(`\\b${n.replace('.', '\\.')}\\b`).test(source))) continue;
      tests++;
      const v = await check(writeProgram(files, `shrink-${program.seed}`), run);
      if (!sameFailure(v, original, !!run.qemu)) continue;
      best = q; bestFiles = files; verdict = v; improved = true;
      options.log?.(`  shrink seed ${program.seed}: ${lineCount(bestFiles)} lines (${tests} tests)`);
      list = candidates(best);
      i--;                                   // the list changed under us: try the same position again
    }
  }
  return { program: best, files: bestFiles, verdict, tests, lines: [startLines, lineCount(bestFiles)] };
}

/** What every target printed, as a comment above the minimized main.ts. */
function report(result: ShrinkResult): string {
  const lines = [`// Minimized by test/fuzz/shrink.ts from seed ${result.program.seed} (${result.lines[0]} -> ${result.lines[1]} lines, ${result.tests} tests).`,
    `// failure: ${result.verdict.failure}: ${result.verdict.detail ?? ''}`.split('\n').join('\n// ')];
  for (const [t, o] of Object.entries(result.verdict.outcomes)) lines.push(`// ${t}: ${JSON.stringify(o)}`);
  return lines.join('\n') + '\n';
}

/** Writes the minimized program into out/fuzz/seed-N.min/ (main.ts opens with the report); returns its main.ts. */
export function saveMinimized(result: ShrinkResult): string {
  const dir = join(FUZZ_OUT, `seed-${result.program.seed}.min`);
  mkdirSync(dir, { recursive: true });
  for (const f of result.files) {
    writeFileSync(join(dir, f.path), f.path === 'main.ts' ? report(result) + f.source : f.source);
  }
  return join(dir, 'main.ts');
}

// CLI
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const seed = Number(args[args.indexOf('--seed') + 1]);
  const qemu = args.includes('--qemu');
  const program = generate(seed);
  const verdict = await check(writeProgram(print(program), `seed-${seed}`), { qemu });
  if (!verdict.failure) { console.log(`seed ${seed}: every target agrees`); process.exit(0); }
  console.log(`seed ${seed}: ${verdict.failure}: ${verdict.detail}`);
  const result = await shrink(program, verdict, { qemu, log: console.log });
  console.log(`minimized to ${result.lines[1]} lines: ${saveMinimized(result)}`);
}
