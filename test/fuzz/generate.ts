// Random DSL programs (YARPGen / Csmith style): from a seed, an AST that is printed to a standalone
// program whose output is the same on the interpreter, in QEMU (-O0 and -O2) and under Node.
// Undefined and non-portable behaviour is avoided BY CONSTRUCTION, in the printer: every + - * is
// wrapped (`| 0`, `>>> 0`, Math.imul), every divisor is forced non-zero (`| 1`), every index is masked
// to an in-bounds value (`& (N - 1)`, N a power of two), loops have constant trip counts and a counter
// the body cannot assign, recursion carries a depth parameter (at most 3) with a base case the shrinker
// may not remove, and calls only go to functions defined earlier (or through a table of such).
// Because the safety is in the printer, the shrinker may replace any expression by a constant or by a
// sub-expression of the same type and the program stays well-defined.

// ---- PRNG -----------------------------------------------------------------------------------------
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed ^ 0x9e3779b9) >>> 0 || 1; for (let i = 0; i < 4; i++) this.next(); }
  next(): number { let x = this.s; x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; this.s = x; return x; }
  int(n: number): number { return this.next() % n; }               // 0..n-1
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.next() / 4294967296 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  weighted<T>(xs: readonly [number, T][]): T {
    const total = xs.reduce((s, [w]) => s + w, 0);
    let r = this.next() / 4294967296 * total;
    for (const [w, x] of xs) { if ((r -= w) < 0) return x; }
    return xs[xs.length - 1][1];
  }
}

// ---- AST ------------------------------------------------------------------------------------------
export type Ty = 'i32' | 'u32' | 'bool';
export type VarTy = 'i32' | 'u32' | 'bool' | 'u8';
export type FieldTy = 'i32' | 'u8' | 'i16' | 'bool';

/** An array: a global or local typed array / i32[] literal, a struct's array field, or an Int32Array parameter (len null). */
export interface ArrRef { name: string; len: number | null; elt: 'i32' | 'u8'; lit?: boolean }
/** A struct: a global or local instance (idx undefined) or an element of a struct array. */
export interface ObjRef { name: string; len: number | null; idx?: Expr }

export type Expr =
  | { k: 'c'; ty: Ty; v: number }
  | { k: 'v'; ty: Ty; name: string }
  | { k: 'b'; ty: Ty; op: string; a: Expr; b: Expr }
  | { k: 'u'; ty: Ty; op: string; a: Expr }
  | { k: 't'; ty: Ty; c: Expr; a: Expr; b: Expr }
  | { k: 'call'; ty: Ty; fn: string; args: Expr[] }
  | { k: 'rcall'; ty: Ty; fn: string; depth: Expr; args: Expr[] }   // fn(depth & 3, ...)
  | { k: 'self'; ty: Ty; fn: string; args: Expr[] }                 // fn(d - 1, ...)
  | { k: 'tcall'; ty: Ty; table: string; len: number; idx: Expr; args: Expr[] }
  | { k: 'el'; ty: Ty; arr: ArrRef; idx: Expr }
  | { k: 'fd'; ty: Ty; obj: ObjRef; field: string; fty: FieldTy }
  | { k: 'ap'; ty: Ty; name: string }                              // an Int32Array passed as an argument
  /** An assignment inside an expression: `(x = e)`, `(x op= e)`, `(x++)`, `(--x)` ... (op 'x++' etc. for steps). */
  | { k: 'asg'; ty: Ty; name: string; op: string; e: Expr | null };

export type LValue =
  | { k: 'v'; name: string; vty: VarTy }
  | { k: 'el'; arr: ArrRef; idx: Expr }
  | { k: 'fd'; obj: ObjRef; field: string; fty: FieldTy };

export interface Case { vals: number[]; body: Stmt[]; brk: boolean }
export type Stmt =
  | { k: 'decl'; name: string; vty: VarTy; konst: boolean; init: Expr }
  | { k: 'set'; lv: LValue; op: string; e: Expr }
  | { k: 'print'; e: Expr }
  | { k: 'if'; c: Expr; t: Stmt[]; f: Stmt[] | null }
  | { k: 'loop'; form: 'for' | 'while' | 'do'; v: string; n: number; body: Stmt[]; label: string }
  | { k: 'switch'; e: Expr; mask: number; cases: Case[]; dflt: Case | null }
  | { k: 'jump'; kw: 'break' | 'continue'; label: string | null }
  | { k: 'ret'; e: Expr }
  | { k: 'do'; e: Expr }
  | { k: 'base'; d: string; x: string }                              // if (d <= 0) return x;  (never removed)
  | { k: 'localarr'; name: string; ctor: 'Int32Array' | 'Uint8Array'; len: number }
  | { k: 'localstruct'; name: string; sname: string };

export interface Param { name: string; ty: VarTy | 'Int32Array' }
export interface Fn { name: string; params: Param[]; body: Stmt[]; ret: Expr; recursive: boolean; cost: number }
export interface StructDef { name: string; fields: { name: string; fty: FieldTy | 'Int32Array'; len?: number }[] }
export type Global =
  | { k: 'scalar'; name: string; ty: VarTy; init: number }
  | { k: 'arr'; name: string; ctor: 'Int32Array' | 'Uint8Array'; len: number }
  | { k: 'lit'; name: string; vals: number[] }
  | { k: 'struct'; name: string; sname: string }
  | { k: 'sarr'; name: string; sname: string; len: number };
export interface Table { name: string; type: string; fns: string[] }
export interface Program { seed: number; structs: StructDef[]; globals: Global[]; fns: Fn[]; table: Table | null; main: Stmt[] }

// ---- generator ------------------------------------------------------------------------------------
const INT_MIN = -2147483648;
const INTERESTING = [0, 1, -1, 2, 3, 5, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, -128, -256,
  0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, -0x7fffffff, INT_MIN, 1000, -1000, 0x55555555, 0x12345678];

interface Scope {
  /** `step`: an i32 local only ever changed by ++, --, += c, -= c (c <= 9), so it cannot overflow. */
  vars: { name: string; ty: VarTy; mutable: boolean; step?: boolean }[];
  arrs: ArrRef[];
  objs: { name: string; sname: string; len: number | null }[];
}
interface Ctx {
  scope: Scope;
  loops: string[];           // enclosing loop labels, innermost last
  breakable: boolean;        // inside a loop or switch (plain break allowed)
  depth: number;             // statement nesting
  mult: number;              // product of enclosing trip counts
  self: Fn | null;           // the recursive function being generated (for its self call)
  callable: Fn[];            // functions that may be called from here
  tableOk: boolean;
  inMain: boolean;
}

export interface GenOptions { maxFunctions?: number; budget?: number }

export function generate(seed: number, options: GenOptions = {}): Program {
  const r = new Rng(seed);
  let counter = 0;
  const fresh = (p: string) => `${p}${counter++}`;
  const p: Program = { seed, structs: [], globals: [], fns: [], table: null, main: [] };
  let remaining = 0;                                  // the cost budget of the function being generated
  const D = r.range(2, 3);                            // expression depth of this program

  // structs
  for (let s = r.int(3); s > 0; s--) {
    const def: StructDef = { name: `S${p.structs.length}`, fields: [] };
    for (let f = r.range(1, 4); f > 0; f--) {
      const fty = r.weighted<FieldTy | 'Int32Array'>([[4, 'i32'], [2, 'u8'], [2, 'i16'], [1, 'bool'], [1, 'Int32Array']]);
      def.fields.push(fty === 'Int32Array' ? { name: `f${def.fields.length}`, fty, len: r.pick([2, 4, 8]) } : { name: `f${def.fields.length}`, fty });
    }
    p.structs.push(def);
  }
  // globals
  const globalScope: Scope = { vars: [], arrs: [], objs: [] };
  for (let g = r.range(2, 7); g > 0; g--) {
    const ty = r.weighted<VarTy>([[5, 'i32'], [2, 'u32'], [1, 'bool'], [1, 'u8']]);
    const name = fresh('g');
    const init = ty === 'bool' ? r.int(2) : ty === 'u8' ? r.int(256) : ty === 'u32' ? r.next() : constI32();
    p.globals.push({ k: 'scalar', name, ty, init });
    globalScope.vars.push({ name, ty, mutable: true });
  }
  for (let g = r.range(1, 3); g > 0; g--) {
    const name = fresh('ga');
    if (r.chance(0.25)) {
      const len = r.pick([2, 4, 8]);
      p.globals.push({ k: 'lit', name, vals: Array.from({ length: len }, () => constI32()) });
      globalScope.arrs.push({ name, len, elt: 'i32', lit: true });
    } else {
      const ctor = r.chance(0.7) ? 'Int32Array' : 'Uint8Array';
      const len = r.pick([4, 8, 16, 32]);
      p.globals.push({ k: 'arr', name, ctor, len });
      globalScope.arrs.push({ name, len, elt: ctor === 'Int32Array' ? 'i32' : 'u8' });
    }
  }
  for (const s of p.structs) {
    if (r.chance(0.7)) {
      const name = fresh('gs');
      p.globals.push({ k: 'struct', name, sname: s.name });
      globalScope.objs.push({ name, sname: s.name, len: null });
      for (const f of s.fields) if (f.fty === 'Int32Array') globalScope.arrs.push({ name: `${name}.${f.name}`, len: f.len!, elt: 'i32' });
    }
    if (r.chance(0.5)) {
      const name = fresh('gsa'), len = r.pick([2, 4, 8]);
      p.globals.push({ k: 'sarr', name, sname: s.name, len });
      globalScope.objs.push({ name, sname: s.name, len });
    }
  }

  // functions, each may call the ones before it
  const nfns = r.range(1, options.maxFunctions ?? 5);
  const tableSize = r.chance(0.5) ? r.pick([2, 4]) : 0;
  for (let i = 0; i < nfns + tableSize; i++) {
    const inTable = i < tableSize;
    const recursive = !inTable && r.chance(0.25);
    const fn: Fn = { name: fresh(inTable ? 'op' : recursive ? 'rec' : 'f'), params: [], body: [], ret: { k: 'c', ty: 'i32', v: 0 }, recursive, cost: 0 };
    if (inTable) fn.params = [{ name: 'a', ty: 'i32' }, { name: 'b', ty: 'i32' }];
    else {
      if (recursive) fn.params.push({ name: 'd', ty: 'i32' });
      for (let n = r.int(recursive ? 4 : 7); n > 0; n--) {
        const ty = r.weighted<Param['ty']>([[6, 'i32'], [2, 'u32'], [1, 'bool'], [globalScope.arrs.some(a => a.elt === 'i32' && !a.lit && !a.name.includes('.')) ? 1 : 0, 'Int32Array']]);
        fn.params.push({ name: `p${fn.params.length}`, ty });
      }
    }
    const scope: Scope = { vars: [...globalScope.vars], arrs: [...globalScope.arrs], objs: [...globalScope.objs] };
    for (const prm of fn.params) {
      if (prm.ty === 'Int32Array') scope.arrs.push({ name: prm.name, len: null, elt: 'i32' });
      else scope.vars.push({ name: prm.name, ty: prm.ty, mutable: prm.name !== 'd' });
    }
    remaining = (options.budget ?? 40000) / (recursive ? 4 : 1) / (nfns + tableSize);
    const start = remaining;
    const ctx: Ctx = { scope, loops: [], breakable: false, depth: 0, mult: 1, self: recursive ? fn : null, callable: [...p.fns], tableOk: !!p.table, inMain: false };
    if (recursive) fn.body.push({ k: 'base', d: 'd', x: fn.params.find(q => q.ty === 'i32' && q.name !== 'd')?.name ?? '0' });
    fn.body.push(...block(ctx, r.range(1, 5)));
    fn.ret = recursive
      ? { k: 'b', ty: 'i32', op: r.pick(['xor', 'add', 'sub']), a: { k: 'self', ty: 'i32', fn: fn.name, args: fn.params.slice(1).map(q => argFor(ctx, q)) }, b: expr(ctx, 'i32', 2) }
      : expr(ctx, 'i32', D);
    fn.cost = (start - remaining + 10) * (recursive ? 4 : 1);
    p.fns.push(fn);
    if (i === tableSize - 1) p.table = { name: 'ops', type: 'Op', fns: Array.from({ length: tableSize }, (_, j) => p.fns[r.int(tableSize) === 0 ? j : r.int(tableSize)].name) };
  }
  // main
  remaining = options.budget ?? 40000;
  const mainCtx: Ctx = { scope: { vars: [...globalScope.vars], arrs: [...globalScope.arrs], objs: [...globalScope.objs] }, loops: [], breakable: false, depth: 0, mult: 1, self: null, callable: p.fns, tableOk: !!p.table, inMain: true };
  p.main = block(mainCtx, r.range(3, 8));
  for (let i = 0; i < 2; i++) p.main.push({ k: 'print', e: expr(mainCtx, r.chance(0.8) ? 'i32' : 'u32', 3) });
  return p;

  // ---- helpers (closures over r, p, remaining) ----
  function constI32(): number {
    return r.weighted<() => number>([[5, () => r.pick(INTERESTING)], [4, () => r.range(-20, 100)], [2, () => r.next() | 0]])();
  }
  function constOf(ty: Ty): Expr {
    if (ty === 'bool') return { k: 'c', ty, v: r.int(2) };
    if (ty === 'u32') return { k: 'c', ty, v: r.chance(0.5) ? r.next() : r.pick(INTERESTING) >>> 0 };
    return { k: 'c', ty, v: constI32() };
  }
  function varsOf(ctx: Ctx, ty: Ty) {
    return ctx.scope.vars.filter(v => (v.ty === 'u8' ? 'i32' : v.ty) === ty);
  }
  function leaf(ctx: Ctx, ty: Ty): Expr {
    const vs = varsOf(ctx, ty);
    if (vs.length && r.chance(0.7)) return { k: 'v', ty, name: r.pick(vs).name };
    if (ty === 'i32' && r.chance(0.3)) { const a = access(ctx, 1); if (a) return a; }
    return constOf(ty);
  }
  /** An array element or a struct field read (i32 or bool). */
  function access(ctx: Ctx, d: number, wantBool = false): Expr | null {
    const { arrs, objs } = ctx.scope;
    if (!wantBool && arrs.length && (r.chance(0.6) || !objs.length)) {
      const arr = r.pick(arrs);
      return { k: 'el', ty: 'i32', arr, idx: expr(ctx, 'i32', d - 1) };
    }
    const cands = objs.flatMap(o => p.structs.find(s => s.name === o.sname)!.fields
      .filter(f => f.fty !== 'Int32Array' && (f.fty === 'bool') === wantBool).map(f => ({ o, f })));
    if (!cands.length) return null;
    const { o, f } = r.pick(cands);
    const obj: ObjRef = { name: o.name, len: o.len, idx: o.len !== null ? expr(ctx, 'i32', d - 1) : undefined };
    return { k: 'fd', ty: wantBool ? 'bool' : 'i32', obj, field: f.name, fty: f.fty as FieldTy };
  }
  function argFor(ctx: Ctx, q: Param): Expr {
    if (q.ty === 'Int32Array') {
      const arrs = ctx.scope.arrs.filter(a => a.elt === 'i32' && !a.lit && !a.name.includes('.'));
      return { k: 'ap', ty: 'i32', name: r.pick(arrs).name };   // there is always one (see the parameter types)
    }
    return expr(ctx, q.ty === 'u8' ? 'i32' : q.ty, 2);
  }
  function expr(ctx: Ctx, ty: Ty, d: number): Expr {
    remaining -= ctx.mult;
    if (d <= 0 || r.chance(0.2)) return leaf(ctx, ty);
    if (ty === 'bool') {
      return r.weighted<() => Expr>([
        [5, () => { const op = r.pick(['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'eqq']); return { k: 'b', ty, op, a: expr(ctx, r.chance(0.7) ? 'i32' : 'u32', d - 1), b: expr(ctx, r.chance(0.7) ? 'i32' : 'u32', d - 1) }; }],
        [2, () => ({ k: 'b', ty, op: r.pick(['land', 'lor', 'beq']), a: expr(ctx, 'bool', d - 1), b: expr(ctx, 'bool', d - 1) })],
        [1, () => ({ k: 'u', ty, op: 'not', a: expr(ctx, 'bool', d - 1) })],
        [1, () => ({ k: 'u', ty, op: 'tobool', a: expr(ctx, 'i32', d - 1) })],
        [1, () => access(ctx, d, true) ?? leaf(ctx, ty)],
        [1, () => leaf(ctx, ty)],
      ])();
    }
    if (ty === 'u32') {
      return r.weighted<() => Expr>([
        [4, () => ({ k: 'b', ty, op: r.pick(['uadd', 'usub', 'umul', 'udiv', 'urem']), a: expr(ctx, 'u32', d - 1), b: expr(ctx, 'u32', d - 1) })],
        [3, () => ({ k: 'b', ty, op: 'ushr', a: expr(ctx, r.chance(0.5) ? 'i32' : 'u32', d - 1), b: expr(ctx, 'i32', d - 1) })],
        [3, () => ({ k: 'u', ty, op: 'tou', a: expr(ctx, 'i32', d - 1) })],
        [1, () => ({ k: 't', ty, c: expr(ctx, 'bool', d - 1), a: expr(ctx, ty, d - 1), b: expr(ctx, ty, d - 1) })],
        [1, () => mixedSign(ctx, 'max', d)],
        [3, () => leaf(ctx, ty)],
      ])();
    }
    const mixed = () => (r.chance(0.25) ? 'u32' : 'i32') as Ty;
    return r.weighted<() => Expr>([
      [6, () => ({ k: 'b', ty, op: r.pick(['add', 'sub', 'mul', 'and', 'or', 'xor']), a: expr(ctx, mixed(), d - 1), b: expr(ctx, mixed(), d - 1) })],
      // divz/remz print their divisor twice: it is a leaf, so that it has no side effect and no cost
      [3, () => { const op = r.pick(['div', 'divz', 'rem', 'remz']); return { k: 'b', ty, op, a: expr(ctx, 'i32', d - 1), b: op.endsWith('z') ? leaf(ctx, 'i32') : expr(ctx, 'i32', d - 1) }; }],
      [3, () => ({ k: 'b', ty, op: r.pick(['shl', 'shr', 'ushri', 'shlm', 'shrm']), a: expr(ctx, mixed(), d - 1), b: expr(ctx, 'i32', d - 1) })],
      [1, () => ({ k: 'b', ty, op: r.pick(['max', 'min', 'ior', 'iand']), a: expr(ctx, 'i32', d - 1), b: expr(ctx, 'i32', d - 1) })],
      [1, () => mixedSign(ctx, 'min', d)],
      [3, () => evaluationOrder(ctx, d)],
      [2, () => {
        const op = r.pick(['neg', 'bnot', 'abs', 'u8', 'i8', 'u16', 'i16', 'fromu', 'fromb']);
        const a = op === 'fromb' ? expr(ctx, 'bool', d - 1) : op === 'fromu' ? expr(ctx, 'u32', d - 1) : expr(ctx, r.chance(0.15) ? 'u32' : 'i32', d - 1);
        return { k: 'u', ty, op, a };
      }],
      [2, () => ({ k: 't', ty, c: expr(ctx, 'bool', d - 1), a: expr(ctx, ty, d - 1), b: expr(ctx, ty, d - 1) })],
      [3, () => access(ctx, d) ?? leaf(ctx, ty)],
      [3, () => call(ctx, d) ?? leaf(ctx, ty)],
      [3, () => leaf(ctx, ty)],
    ])();
  }
  /** Math.max (a u32) or Math.min (an i32) of an i32 and a u32, in either order: mathematical values. */
  function mixedSign(ctx: Ctx, which: 'max' | 'min', d: number): Expr {
    const signed = expr(ctx, 'i32', d - 1), unsigned = expr(ctx, 'u32', d - 1);
    const [a, b] = r.chance(0.5) ? [signed, unsigned] : [unsigned, signed];
    return { k: 'b', ty: which === 'max' ? 'u32' : 'i32', op: which === 'max' ? 'mmax' : 'mmin', a, b };
  }
  /** An assignment, compound assignment, ++ or -- of a local inside an expression, or null. */
  function sideEffect(ctx: Ctx, d: number): (Expr & { k: 'asg' }) | null {
    const steps = ctx.scope.vars.filter(v => v.step), plain = ctx.scope.vars.filter(v => v.mutable && v.ty === 'i32');
    if (steps.length && (r.chance(0.5) || !plain.length)) {
      const op = r.pick(['x++', 'x--', '++x', '--x', '+=', '-=']);
      return {
        k: 'asg', ty: 'i32', name: r.pick(steps).name, op,
        e: op.endsWith('=') ? { k: 'c', ty: 'i32', v: r.range(1, 9) } : null,
      };
    }
    if (!plain.length) return null;
    return {
      k: 'asg', ty: 'i32', name: r.pick(plain).name, op: r.pick(['=', '=', '&=', '|=', '^=', '<<=', '>>=']),
      e: expr(ctx, 'i32', d - 1),
    };
  }
  /** A variable read as an operand before (or after) an operand that assigns it: `x + (x = e)`, `x * x++`. */
  function evaluationOrder(ctx: Ctx, d: number): Expr {
    const s = sideEffect(ctx, d);
    if (!s) return leaf(ctx, 'i32');
    const read: Expr = { k: 'v', ty: 'i32', name: s.name };
    return r.weighted<() => Expr>([
      [4, () => ({
        k: 'b', ty: 'i32', op: r.pick(['add', 'sub', 'mul', 'xor', 'and', 'or', 'max', 'min']), a: read, b: s,
      })],
      [1, () => ({ k: 'b', ty: 'i32', op: r.pick(['add', 'xor']), a: s, b: read })],
      [2, () => ({
        k: 'u', ty: 'i32', op: 'fromb', a: { k: 'b', ty: 'bool', op: r.pick(['lt', 'gt', 'eq', 'ne']), a: read, b: s },
      })],
      [1, () => s],
    ])();
  }
  function call(ctx: Ctx, d: number): Expr | null {
    const options: (() => Expr)[] = [];
    const fits = (cost: number) => ctx.mult * cost <= remaining;
    for (const f of ctx.callable) {
      if (!fits(f.cost) || (p.table?.fns.includes(f.name) && r.chance(0.5))) continue;
      options.push(() => {
        remaining -= ctx.mult * f.cost;
        const args = f.params.slice(f.recursive ? 1 : 0).map(q => argFor(ctx, q));
        return f.recursive ? { k: 'rcall', ty: 'i32', fn: f.name, depth: expr(ctx, 'i32', d - 1), args } : { k: 'call', ty: 'i32', fn: f.name, args };
      });
    }
    const t = p.table;
    if (t && ctx.tableOk) {
      const cost = Math.max(...t.fns.map(n => p.fns.find(f => f.name === n)!.cost));
      if (fits(cost)) options.push(() => { remaining -= ctx.mult * cost; return { k: 'tcall', ty: 'i32', table: t.name, len: t.fns.length, idx: expr(ctx, 'i32', d - 1), args: [expr(ctx, 'i32', d - 1), expr(ctx, 'i32', d - 1)] }; });
    }
    return options.length ? r.pick(options)() : null;
  }
  function lvalue(ctx: Ctx): { lv: LValue; ty: Ty } | null {
    const vs = ctx.scope.vars.filter(v => v.mutable);
    const choice = r.int(3);
    if (choice === 0 && vs.length) { const v = r.pick(vs); return { lv: { k: 'v', name: v.name, vty: v.ty }, ty: v.ty === 'u8' ? 'i32' : v.ty }; }
    if (choice === 1 && ctx.scope.arrs.length) {
      const arr = r.pick(ctx.scope.arrs);
      return { lv: { k: 'el', arr, idx: expr(ctx, 'i32', 1) }, ty: !arr.lit && r.chance(0.2) ? 'u32' : 'i32' };
    }
    const a = access(ctx, 2, r.chance(0.15));
    if (a && a.k === 'fd') return { lv: { k: 'fd', obj: a.obj, field: a.field, fty: a.fty }, ty: a.ty };
    if (vs.length) { const v = r.pick(vs); return { lv: { k: 'v', name: v.name, vty: v.ty }, ty: v.ty === 'u8' ? 'i32' : v.ty }; }
    return null;
  }
  function block(ctx: Ctx, n: number): Stmt[] {
    const saved = { vars: ctx.scope.vars.length, arrs: ctx.scope.arrs.length, objs: ctx.scope.objs.length };
    const out: Stmt[] = [];
    for (let i = 0; i < n && remaining > 0; i++) out.push(stmt(ctx, i === n - 1));
    ctx.scope.vars.length = saved.vars; ctx.scope.arrs.length = saved.arrs; ctx.scope.objs.length = saved.objs;
    return out;
  }
  function nested(ctx: Ctx, patch: Partial<Ctx>, n: number): Stmt[] {
    const c: Ctx = { ...ctx, ...patch, depth: ctx.depth + 1, scope: { vars: [...ctx.scope.vars], arrs: [...ctx.scope.arrs], objs: [...ctx.scope.objs] } };
    return block(c, n);
  }
  function stmt(ctx: Ctx, last: boolean): Stmt {
    remaining -= ctx.mult;
    const deep = ctx.depth >= 3;
    const kinds: [number, () => Stmt][] = [
      [5, () => {
        const vty = r.weighted<VarTy>([[6, 'i32'], [2, 'u32'], [1, 'bool'], [1, 'u8']]);
        const name = fresh('v');
        const konst = r.chance(0.2);
        const s: Stmt = { k: 'decl', name, vty, konst, init: expr(ctx, vty === 'u8' ? 'i32' : vty, D) };
        ctx.scope.vars.push({ name, ty: vty, mutable: !konst });
        return s;
      }],
      [8, () => {
        const t = lvalue(ctx);
        if (!t) return { k: 'print', e: expr(ctx, 'i32', D) };
        const compound = t.ty === 'i32' && (t.lv.k !== 'v' || t.lv.vty === 'i32') && (t.lv.k !== 'fd' || t.lv.fty === 'i32') && r.chance(0.3);
        return { k: 'set', lv: t.lv, op: compound ? r.pick(['&=', '|=', '^=', '<<=', '>>=']) : '=', e: expr(ctx, t.ty, D) };
      }],
      [4, () => ({ k: 'print', e: expr(ctx, r.chance(0.8) ? 'i32' : 'u32', D) })],
      [1, () => {
        const name = fresh('st');
        ctx.scope.vars.push({ name, ty: 'i32', mutable: false, step: true });
        return { k: 'decl', name, vty: 'i32', konst: false, init: { k: 'c', ty: 'i32', v: r.range(-20, 20) } };
      }],
      [deep ? 0 : 3, () => ({ k: 'if', c: expr(ctx, r.chance(0.85) ? 'bool' : 'i32', 2), t: nested(ctx, {}, r.range(1, D)), f: r.chance(0.5) ? nested(ctx, {}, r.range(1, 3)) : null })],
      [deep || ctx.mult * 30 > remaining ? 0 : 3, () => {
        const n = r.chance(0.1) ? r.int(2) : r.range(2, 10), v = fresh('k'), label = fresh('L');
        const vars = [...ctx.scope.vars, { name: v, ty: 'i32' as VarTy, mutable: false }];
        const body = nested({ ...ctx, scope: { ...ctx.scope, vars } }, { loops: [...ctx.loops, label], breakable: true, mult: ctx.mult * Math.max(n, 1) }, r.range(1, 4));
        return { k: 'loop', form: r.weighted<'for' | 'while' | 'do'>([[3, 'for'], [1, 'while'], [1, 'do']]), v, n, body, label };
      }],
      [deep ? 0 : 1, () => {
        const cases: Case[] = [];
        const used = new Set<number>();
        const mask = r.pick([3, 7, 15]);
        for (let c = r.range(1, 4); c > 0; c--) {
          const vals = [r.int(mask + 1), ...(r.chance(0.3) ? [r.int(mask + 1)] : [])].filter(v => !used.has(v) && (used.add(v), true));
          if (vals.length) cases.push({ vals, body: nested(ctx, { breakable: true }, r.range(0, 2)), brk: r.chance(0.6) });
        }
        return { k: 'switch', e: expr(ctx, 'i32', 2), mask, cases, dflt: r.chance(0.5) ? { vals: [], body: nested(ctx, { breakable: true }, r.range(1, 2)), brk: r.chance(0.5) } : null };
      }],
      [last && (ctx.loops.length || ctx.breakable) ? 3 : 0, () => {
        if (ctx.loops.length && r.chance(0.5)) return { k: 'jump', kw: r.chance(0.5) ? 'break' : 'continue', label: r.pick(ctx.loops) };
        if (ctx.breakable && r.chance(0.5)) return { k: 'jump', kw: 'break', label: null };
        return ctx.loops.length ? { k: 'jump', kw: 'continue', label: null } : { k: 'jump', kw: 'break', label: null };
      }],
      [last && !ctx.inMain && ctx.depth > 0 ? 1 : 0, () => ({ k: 'ret', e: expr(ctx, 'i32', 2) })],
      [2, () => { const e = call(ctx, 2); return e ? { k: 'do', e } : { k: 'print', e: expr(ctx, 'i32', 2) }; }],
      [ctx.depth === 0 ? 1 : 0, () => {
        const name = fresh('la'), len = r.pick([4, 8, 16]), ctor = r.chance(0.7) ? 'Int32Array' as const : 'Uint8Array' as const;
        ctx.scope.arrs.push({ name, len, elt: ctor === 'Int32Array' ? 'i32' : 'u8' });
        return { k: 'localarr', name, ctor, len };
      }],
      [ctx.depth === 0 && p.structs.length ? 1 : 0, () => {
        const s = r.pick(p.structs), name = fresh('ls');
        ctx.scope.objs.push({ name, sname: s.name, len: null });
        for (const f of s.fields) if (f.fty === 'Int32Array') ctx.scope.arrs.push({ name: `${name}.${f.name}`, len: f.len!, elt: 'i32' });
        return { k: 'localstruct', name, sname: s.name };
      }],
    ];
    return r.weighted(kinds)();
  }
}

// ---- printer --------------------------------------------------------------------------------------
function lit(v: number, ty: Ty): string {
  if (ty === 'bool') return v ? 'true' : 'false';
  if (ty === 'u32') return v > 0x7fffffff ? `(${v | 0} >>> 0)` : String(v);
  if (v === INT_MIN) return '(-2147483647 - 1)';
  return v < 0 ? `(${v})` : String(v);
}
function arrText(a: ArrRef): string { return a.name; }
function maskIdx(a: ArrRef, idx: string): string { return a.len === null ? `${idx} & (${a.name}.length - 1)` : `${idx} & ${a.len - 1}`; }
function objText(o: ObjRef): string { return o.idx ? `${o.name}[${expr(o.idx)} & ${o.len! - 1}]` : o.name; }

// A right operand after `<` / `<<` / `<=` starts with `0 + `: tsc reads `x << (a > (b) ? ...)` (even
// `x << (0 | (a > (b) ...))`) as the start of type arguments, but `0 +` cannot begin a type (seed 1429).
const BIN: Record<string, (a: string, b: string) => string> = {
  add: (a, b) => `((${a} + ${b}) | 0)`, sub: (a, b) => `((${a} - ${b}) | 0)`, mul: (a, b) => `Math.imul(${a}, ${b})`,
  and: (a, b) => `(${a} & ${b})`, or: (a, b) => `(${a} | ${b})`, xor: (a, b) => `(${a} ^ ${b})`,
  div: (a, b) => `((${a} / (${b} | 1)) | 0)`, divz: (a, b) => `((${a} / (${b} === 0 ? 7 : ${b})) | 0)`,
  rem: (a, b) => `(${a} % (${b} | 1))`, remz: (a, b) => `((${a} % (${b} === 0 ? 3 : ${b})) | 0)`,
  shl: (a, b) => `(${a} << (0 + ${b}))`, shr: (a, b) => `(${a} >> ${b})`, ushri: (a, b) => `((${a} >>> ${b}) | 0)`,
  shlm: (a, b) => `(${a} << (0 + (${b} & 31)))`, shrm: (a, b) => `(${a} >> (${b} & 31))`,
  max: (a, b) => `Math.max(${a}, ${b})`, min: (a, b) => `Math.min(${a}, ${b})`,
  mmax: (a, b) => `Math.max(${a}, ${b})`, mmin: (a, b) => `Math.min(${a}, ${b})`,
  ior: (a, b) => `(${a} || ${b})`, iand: (a, b) => `(${a} && ${b})`,
  uadd: (a, b) => `((${a} + ${b}) >>> 0)`, usub: (a, b) => `((${a} - ${b}) >>> 0)`, umul: (a, b) => `(Math.imul(${a}, ${b}) >>> 0)`,
  udiv: (a, b) => `((${a} / ((${b} | 1) >>> 0)) >>> 0)`, urem: (a, b) => `(${a} % ((${b} | 1) >>> 0))`, ushr: (a, b) => `(${a} >>> ${b})`,
  lt: (a, b) => `(${a} < (0 + ${b}))`, le: (a, b) => `(${a} <= (0 + ${b}))`, gt: (a, b) => `(${a} > ${b})`, ge: (a, b) => `(${a} >= ${b})`,
  eq: (a, b) => `(${a} === ${b})`, ne: (a, b) => `(${a} !== ${b})`, eqq: (a, b) => `(${a} == ${b})`,
  land: (a, b) => `(${a} && ${b})`, lor: (a, b) => `(${a} || ${b})`, beq: (a, b) => `(bool(${a}) === bool(${b}))`,   // bool(): no narrowing by tsc
};
const UN: Record<string, (a: string) => string> = {
  neg: a => `(-${a} | 0)`, bnot: a => `(~${a})`, abs: a => `(Math.abs(${a}) | 0)`, u8: a => `u8(${a})`, i8: a => `i8(${a})`,
  u16: a => `u16(${a})`, i16: a => `i16(${a})`, fromu: a => `(${a} | 0)`, fromb: a => `(${a} ? 1 : 0)`, tou: a => `(${a} >>> 0)`,
  not: a => `!${a}`, tobool: a => `(${a} !== 0)`,
};

/** A constant where tsc's literal types would object (`5 === 0`, `7 || x`, `if (true)`): a conversion call hides it. */
function opaque(e: Expr): string {
  if (e.k === 't') return `(${opaque(e.c)} ? ${opaque(e.a)} : ${opaque(e.b)})`;
  if (e.k !== 'c') return expr(e);
  if (e.ty === 'bool') return `bool(${e.v ? 'true' : 'false'})`;
  if (e.ty === 'u32') return e.v > 0x7fffffff ? lit(e.v, 'u32') : `u32(${e.v})`;
  return `i32(${lit(e.v, 'i32')})`;
}
const OPAQUE = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'eqq', 'land', 'lor', 'beq', 'ior', 'iand', 'divz', 'remz']);

export function expr(e: Expr): string {
  switch (e.k) {
    case 'c': return lit(e.v, e.ty);
    case 'b': if (OPAQUE.has(e.op)) return BIN[e.op](opaque(e.a), opaque(e.b)); break;
    case 'u': if (e.op === 'not' || e.op === 'tobool' || e.op === 'fromb') return UN[e.op](opaque(e.a)); break;
    // A literal branch of a u32 ternary is typed i32 by the compiler (`c ? 0 : u` is i32, Node keeps u's
    // value): reported in /tmp/compiler-requests.md; until settled such literals are written u32(v).
    case 't': return e.ty === 'u32' ? `(${opaque(e.c)} ? ${opaque(e.a)} : ${opaque(e.b)})` : `(${opaque(e.c)} ? ${expr(e.a)} : ${expr(e.b)})`;
  }
  switch (e.k) {
    case 'v': return e.name;
    case 'b': return BIN[e.op](expr(e.a), expr(e.b));
    case 'u': return UN[e.op](expr(e.a));
    case 'call': return `${e.fn}(${e.args.map(expr).join(', ')})`;
    case 'rcall': return `${e.fn}(${[`${expr(e.depth)} & 3`, ...e.args.map(expr)].join(', ')})`;
    case 'self': return `${e.fn}(${['d - 1', ...e.args.map(expr)].join(', ')})`;
    case 'tcall': return `${e.table}[${expr(e.idx)} & ${e.len - 1}](${e.args.map(expr).join(', ')})`;
    case 'el': return `${arrText(e.arr)}[${maskIdx(e.arr, expr(e.idx))}]`;
    case 'fd': return `${objText(e.obj)}.${e.field}`;
    case 'ap': return e.name;
    case 'asg': {
      if (!e.e) return e.op.startsWith('x') ? `(${e.name}${e.op.slice(1)})` : `(${e.op.slice(0, 2)}${e.name})`;
      const value = expr(e.e);
      return `(${e.name} ${e.op} ${e.op === '<<=' || e.op === '>>=' ? `(${value} & 31)` : value})`;
    }
  }
}

const VT: Record<VarTy, string> = { i32: 'i32', u32: 'u32', bool: 'bool', u8: 'u8' };

function storeValue(fty: FieldTy | VarTy, e: Expr, op: string): string {
  const s = expr(e);
  if (op !== '=') return op === '<<=' || op === '>>=' ? `${s} & 31` : s;
  if (fty === 'u8') return `u8(${s})`;
  if (fty === 'i16') return `i16(${s})`;
  return s;
}

export function print(p: Program): string {
  const out: string[] = [];
  const used = new Set<string>();
  const collect = (ss: Stmt[]) => { for (const s of ss) walkStmt(s); };
  function walkStmt(s: Stmt) {
    if (s.k === 'jump' && s.label) used.add(s.label);
    if (s.k === 'if') { collect(s.t); if (s.f) collect(s.f); }
    if (s.k === 'loop') collect(s.body);
    if (s.k === 'switch') { for (const c of s.cases) collect(c.body); if (s.dflt) collect(s.dflt.body); }
  }
  for (const f of p.fns) collect(f.body);
  collect(p.main);

  const w = (ind: number, line: string) => out.push('  '.repeat(ind) + line);
  const stmts = (ss: Stmt[], ind: number) => { for (const s of ss) stmt(s, ind); };
  function stmt(s: Stmt, ind: number): void {
    switch (s.k) {
      case 'decl': {
        const init = s.vty === 'u8' ? `u8(${expr(s.init)})` : expr(s.init);
        w(ind, `${s.konst ? 'const' : 'let'} ${s.name}: ${VT[s.vty]} = ${init};`); return;
      }
      case 'set': {
        const lv = s.lv;
        const target = lv.k === 'v' ? lv.name : lv.k === 'el' ? `${arrText(lv.arr)}[${maskIdx(lv.arr, expr(lv.idx))}]` : `${objText(lv.obj)}.${lv.field}`;
        const ty = lv.k === 'v' ? lv.vty : lv.k === 'fd' ? lv.fty : 'i32';
        w(ind, `${target} ${s.op} ${storeValue(ty, s.e, s.op)};`); return;
      }
      case 'print': w(ind, `print(${expr(s.e)});`); return;
      case 'do': w(ind, `${expr(s.e)};`); return;
      case 'ret': w(ind, `return ${expr(s.e)};`); return;
      case 'base': w(ind, `if (${s.d} <= 0) return ${s.x};`); return;
      case 'jump': w(ind, `${s.kw}${s.label ? ' ' + s.label : ''};`); return;
      case 'localarr': w(ind, `const ${s.name} = new ${s.ctor}(${s.len});`); return;
      case 'localstruct': w(ind, `const ${s.name} = new ${s.sname}();`); return;
      case 'if':
        w(ind, `if (${opaque(s.c)}) {`); stmts(s.t, ind + 1);
        if (s.f) { w(ind, '} else {'); stmts(s.f, ind + 1); }
        w(ind, '}'); return;
      case 'loop': {
        const label = used.has(s.label) ? `${s.label}: ` : '';
        if (s.form === 'for') { w(ind, `${label}for (let ${s.v}: i32 = 0; ${s.v} < ${s.n}; ${s.v}++) {`); stmts(s.body, ind + 1); w(ind, '}'); return; }
        w(ind, `let ${s.v}: i32 = 0;`);
        if (s.form === 'while') { w(ind, `${label}while (${s.v} < ${s.n}) {`); w(ind + 1, `${s.v} = (${s.v} + 1) | 0;`); stmts(s.body, ind + 1); w(ind, '}'); return; }
        w(ind, `${label}do {`); w(ind + 1, `${s.v} = (${s.v} + 1) | 0;`); stmts(s.body, ind + 1); w(ind, `} while (${s.v} < ${s.n});`); return;
      }
      case 'switch': {
        w(ind, `switch (${opaque(s.e)} & ${s.mask}) {`);
        for (const c of [...s.cases, ...(s.dflt ? [s.dflt] : [])]) {
          w(ind + 1, `${c === s.dflt ? 'default:' : c.vals.map(v => `case ${v}:`).join(' ')} {`);
          stmts(c.body, ind + 2);
          if (c.brk) w(ind + 2, 'break;');
          w(ind + 1, '}');
        }
        w(ind, '}'); return;
      }
    }
  }

  out.push(`// Generated by test/fuzz/generate.ts from seed ${p.seed}.`);
  out.push('import { bool, i8, i16, i32, u8, u16, u32, print, structArray } from "dsl";');
  out.push('');
  for (const s of p.structs) {
    out.push(`class ${s.name} {`);
    for (const f of s.fields) out.push(f.fty === 'Int32Array' ? `  ${f.name} = new Int32Array(${f.len});` : `  ${f.name}: ${f.fty} = ${f.fty === 'bool' ? 'false' : '0'};`);
    out.push('}');
  }
  for (const g of p.globals) {
    if (g.k === 'scalar') out.push(`let ${g.name}: ${VT[g.ty]} = ${g.ty === 'bool' ? (g.init ? 'true' : 'false') : g.ty === 'u32' ? String(g.init) : lit(g.init, 'i32')};`);
    if (g.k === 'arr') out.push(`const ${g.name} = new ${g.ctor}(${g.len});`);
    if (g.k === 'lit') out.push(`const ${g.name}: i32[] = [${g.vals.map(v => lit(v, 'i32')).join(', ')}];`);
    if (g.k === 'struct') out.push(`const ${g.name} = new ${g.sname}();`);
    if (g.k === 'sarr') out.push(`const ${g.name} = structArray(${g.sname}, ${g.len});`);
  }
  if (p.table) out.push(`type ${p.table.type} = (a: i32, b: i32) => i32;`);
  for (const f of p.fns) {
    out.push('');
    out.push(`function ${f.name}(${f.params.map(q => `${q.name}: ${q.ty}`).join(', ')}): i32 {`);
    stmts(f.body, 1);
    w(1, `return ${expr(f.ret)};`);
    out.push('}');
    if (p.table && p.fns.indexOf(f) === Math.max(...p.table.fns.map(n => p.fns.findIndex(g => g.name === n)))) {
      out.push(`const ${p.table.name}: ${p.table.type}[] = [${p.table.fns.join(', ')}];`);
    }
  }
  out.push('');
  out.push('export function main(): i32 {');
  stmts(p.main, 1);
  // the checksum of every global
  w(1, 'let checksum: i32 = 0;');
  const mix = (v: string) => w(1, `checksum = (Math.imul(checksum, 31) + ${v}) | 0;`);
  for (const g of p.globals) {
    if (g.k === 'scalar') mix(g.ty === 'bool' ? `(${g.name} ? 1 : 0)` : g.name);
    if (g.k === 'arr' || g.k === 'lit') w(1, `for (let k: i32 = 0; k < ${g.name}.length; k++) checksum = (Math.imul(checksum, 31) + ${g.name}[k]) | 0;`);
    const fieldsOf = (obj: string, sname: string, ind: number) => {
      for (const f of p.structs.find(s => s.name === sname)!.fields) {
        const v = `${obj}.${f.name}`;
        if (f.fty === 'Int32Array') w(ind, `for (let k: i32 = 0; k < ${v}.length; k++) checksum = (Math.imul(checksum, 31) + ${v}[k]) | 0;`);
        else w(ind, `checksum = (Math.imul(checksum, 31) + ${f.fty === 'bool' ? `(${v} ? 1 : 0)` : v}) | 0;`);
      }
    };
    if (g.k === 'struct') fieldsOf(g.name, g.sname, 1);
    if (g.k === 'sarr') { w(1, `for (let j: i32 = 0; j < ${g.name}.length; j++) {`); fieldsOf(`${g.name}[j]`, g.sname, 2); w(1, '}'); }
  }
  w(1, 'print(checksum);');
  w(1, 'return 0;');
  out.push('}');
  return out.join('\n') + '\n';
}

export function generateProgram(seed: number, options?: GenOptions): string { return print(generate(seed, options)); }
