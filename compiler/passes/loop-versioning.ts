// Contract: loop versioning for bounds checks. An innermost counted loop whose bounds checks compare its
// induction variable (plus a constant) with an array length that a parameter-like bound keeps it under
// (inet-checksum's `while (i + 1 < length) sum += bytes[i] << 8 | bytes[i + 1]; i += 2`, checked against
// bytes.length each iteration, where gcc's C checks nothing) runs as two copies: the original, and a copy
// without those checks, entered when a test before the loop shows they cannot fail.
//
// The loop: a header (not the entry) ending in `branch (lts x, n)`, its true side in the loop, its false
// side out of it, n defined nowhere in the loop, x the induction variable i or `add i, d` (0 <= d, a
// constant, defined in the header); i defined once in the loop, in a latch (a block other than the header
// ending in `jump header`), as `add i, s` or a copy of a `t = add i, s` before it (1 <= s). A check: a
// block of the loop ending in `branch (ltu y, L)`, y being i or `add i, e` computed in that block (0 <= e <=
// d), before i's definition when that block is the latch; L a constant, or the length word `load.s32 [a -
// 4]` loaded in that block with a defined nowhere in the loop, in a loop that writes no memory and calls
// nothing (nothing can change the word). The loop has at most MAX_LOOP_INSTRUCTIONS instructions.
//
// The test before the loop (every edge into the header from outside goes to it): i >=s 0, i <=s INT_MAX - d,
// n <=s INT_MAX + 1 - s, and n <=s L for each bound L (the length loaded there). When all hold, every
// header test sees 0 <= i <= INT_MAX - d (so i + d does not wrap): true on entry, and a body that runs has
// i + d < n, so the next i + s <= n - 1 - d + s <= INT_MAX - d. Then 0 <= i + e <= i + d < n <= L: every
// check holds, and the copy's checks are jumps to their in-bounds side. Otherwise the original runs, checks
// and all. The copy defines the registers the original defines, except those used only in the loop and
// live at no entry of its header (temporaries), which it renames (so each stays defined once).
// Requires: a verified Module. Guarantees: the same behaviour; the copy runs exactly when its checks cannot
// fail. Runs before redundant-checks, which removes the copy's length loads once the test has loaded the
// word (and its comparisons go with dce).
import * as ir from '../ir.ts';
import { naturalLoops } from './licm.ts';

const INT_MAX = 0x7fffffff;
const MAX_LOOP_INSTRUCTIONS = 64;
/** Steps and offsets beyond this are not worth the reasoning (and keep every bound in an int32). */
const MAX_CONSTANT = 1 << 16;

type Bound = { constant: number } | { array: ir.VReg };

interface Plan {
  header: number;
  body: Set<number>;
  induction: ir.VReg;
  limit: ir.VReg;
  offset: number;
  step: number;
  /** The blocks whose check the copy drops, and the bounds the test compares the limit with. */
  checks: number[];
  bounds: Bound[];
}

export function versionLoops(m: ir.Module): ir.Module {
  for (const f of m.functions) versionFunction(f);
  return m;
}

function versionFunction(f: ir.Function): void {
  const loops = naturalLoops(f);
  const innermost = loops.filter(l => !loops.some(o => o !== l && l.body.has(o.header)));
  const constants = ir.singleDefinitionConstants(f);
  const plans = innermost.map(l => planLoop(f, l.header, l.body, constants)).filter(p => p !== null);
  for (const plan of plans) version(f, plan);
}

/** The last instruction of b before `before` that defines v, with its index. */
function definition(b: ir.Block, v: ir.VReg, before = b.instrs.length): { at: number; instr: ir.Instr } | null {
  for (let k = before - 1; k >= 0; k--) if (ir.definedRegister(b.instrs[k]) === v) return { at: k, instr: b.instrs[k] };
  return null;
}

function planLoop(f: ir.Function, header: number, body: Set<number>, constants: Map<ir.VReg, number>): Plan | null {
  if (header === 0) return null;
  const blocks = [...body].map(id => f.blocks[id]);
  if (blocks.reduce((n, b) => n + b.instrs.length, 0) > MAX_LOOP_INSTRUCTIONS) return null;
  const definedIn = new Map<ir.VReg, number>();
  for (const b of blocks) for (const i of b.instrs) {
    const d = ir.definedRegister(i);
    if (d !== null) definedIn.set(d, (definedIn.get(d) ?? 0) + 1);
  }
  const writes = blocks.some(b => b.instrs.some(i => ir.propertiesOf(i).sideEffects));
  const small = (v: ir.VReg, min: number): number | null => {
    const k = constants.get(v);
    return k !== undefined && k >= min && k <= MAX_CONSTANT ? k : null;
  };
  /** `add v, k` (either order) with min <= k <= MAX_CONSTANT: [v, k]. */
  const addConstant = (i: ir.Instr | undefined, min: number): [ir.VReg, number] | null => {
    if (i?.op !== 'binary' || i.kind !== 'add') return null;
    const kb = small(i.b, min), ka = small(i.a, min);
    return kb !== null && !constants.has(i.a) ? [i.a, kb] : ka !== null && !constants.has(i.b) ? [i.b, ka] : null;
  };

  // the header's test: x <s n, staying in the loop when it holds
  const h = f.blocks[header];
  if (h.term.op !== 'branch' || !body.has(h.term.ifTrue) || body.has(h.term.ifFalse)) return null;
  const test = definition(h, h.term.cond);
  if (test?.instr.op !== 'binary' || test.instr.kind !== 'lts') return null;
  const limit = test.instr.b, x = test.instr.a;
  if (definedIn.has(limit) || limit === x) return null;
  const xDef = definedIn.get(x) === 1 ? definition(h, x, test.at) : null;
  const shifted = xDef ? addConstant(xDef.instr, 0) : null;
  const [induction, offset] = shifted ?? [x, 0];
  if (!shifted && definedIn.get(x) !== 1) return null;
  if (constants.has(induction)) return null;

  // the induction variable: defined once in the loop, in a latch, as i + s
  if (definedIn.get(induction) !== 1) return null;
  const latch = blocks.find(b => b.id !== header && b.term.op === 'jump' && b.term.target === header
    && definition(b, induction) !== null);
  if (!latch) return null;
  const step = definition(latch, induction)!;
  let increment = addConstant(step.instr, 1);
  if (!increment && step.instr.op === 'copy') {
    const t = step.instr.src;
    const tDef = definedIn.get(t) === 1 ? definition(latch, t, step.at) : null;
    increment = tDef ? addConstant(tDef.instr, 1) : null;
  }
  if (!increment || increment[0] !== induction) return null;

  // the checks: y <u L with y = i + e (0 <= e <= d) of this iteration's i
  const checks: number[] = [];
  const bounds: Bound[] = [];
  for (const b of blocks) {
    if (b.term.op !== 'branch' || b.id === header) continue;
    const cmp = definition(b, b.term.cond);
    if (cmp?.instr.op !== 'binary' || cmp.instr.kind !== 'ltu') continue;
    const { a: y, b: length } = cmp.instr;
    const until = b === latch ? Math.min(cmp.at, step.at) : cmp.at;
    let e = 0;
    if (y !== induction) {
      const yDef = definedIn.get(y) === 1 ? definition(b, y, cmp.at) : null;
      const plus = yDef ? addConstant(yDef.instr, 0) : null;
      if (!plus || plus[0] !== induction || yDef!.at >= until) continue;
      e = plus[1];
    } else if (b === latch && step.at < cmp.at) continue;
    if (e > offset) continue;
    let bound: Bound;
    const k = constants.get(length);
    if (k !== undefined) {
      if (k < 0) continue;
      bound = { constant: k };
    } else {
      const load = definedIn.get(length) === 1 ? definition(b, length, cmp.at) : null;
      const i = load?.instr;
      if (writes || i?.op !== 'load' || i.width !== 4 || i.offset !== -ir.ARRAY_HEADER) continue;
      if (definedIn.has(i.address) || i.address === length) continue;
      bound = { array: i.address };
    }
    checks.push(b.id);
    if (!bounds.some(o => JSON.stringify(o) === JSON.stringify(bound))) bounds.push(bound);
  }
  if (!checks.length) return null;
  return { header, body, induction, limit, offset, step: increment[1], checks, bounds };
}

/** Registers used only in the loop and live at no entry of its header: the copy may rename them. */
function temporaries(f: ir.Function, plan: Plan): Set<ir.VReg> {
  const inLoop = new Set<ir.VReg>(), outside = new Set<ir.VReg>();
  for (const b of f.blocks) {
    const into = plan.body.has(b.id) ? inLoop : outside;
    for (const i of b.instrs) {
      const d = ir.definedRegister(i);
      if (d !== null) into.add(d);
      for (const u of ir.usedRegisters(i)) into.add(u);
    }
    for (const u of ir.terminatorUses(b.term)) into.add(u);
  }
  // liveness inside the loop: a register it reads before defining on some path from the header
  const liveIn = new Map<number, Set<ir.VReg>>([...plan.body].map(id => [id, new Set<ir.VReg>()]));
  for (let changed = true; changed;) {
    changed = false;
    for (const id of plan.body) {
      const b = f.blocks[id];
      const live = new Set<ir.VReg>();
      for (const s of ir.successors(b.term)) for (const v of liveIn.get(s) ?? []) live.add(v);
      for (const u of ir.terminatorUses(b.term)) live.add(u);
      for (let k = b.instrs.length - 1; k >= 0; k--) {
        const d = ir.definedRegister(b.instrs[k]);
        if (d !== null) live.delete(d);
        for (const u of ir.usedRegisters(b.instrs[k])) live.add(u);
      }
      if (live.size !== liveIn.get(id)!.size) { liveIn.set(id, live); changed = true; }
    }
  }
  const atHeader = liveIn.get(plan.header)!;
  return new Set([...inLoop].filter(v => !outside.has(v) && !atHeader.has(v) && v >= f.params));
}

function version(f: ir.Function, plan: Plan): void {
  const renamed = new Map<ir.VReg, ir.VReg>();
  for (const v of temporaries(f, plan)) renamed.set(v, f.vregCount++);
  const rename = (v: ir.VReg) => renamed.get(v) ?? v;
  const ids = [...plan.body].sort((a, b) => a - b);
  const copyOf = new Map(ids.map((id, k) => [id, f.blocks.length + k]));
  const target = (id: number) => copyOf.get(id) ?? id;
  const copies: ir.Block[] = ids.map(id => {
    const b = f.blocks[id];
    const t = ir.mapTerminatorUses(b.term, rename);
    let term: ir.Terminator = t.op === 'jump' ? { ...t, target: target(t.target) }
      : t.op === 'branch' ? { ...t, ifTrue: target(t.ifTrue), ifFalse: target(t.ifFalse) } : t;
    if (plan.checks.includes(id) && t.op === 'branch') term = { op: 'jump', target: target(t.ifTrue) };
    const instrs = b.instrs.map(i => ir.mapDefs(ir.mapUses(i, rename), rename));
    return { id: copyOf.get(id)!, instrs, term, loc: b.loc };
  });

  // the test, one block per comparison: each true side goes on (the last one into the copy), each false
  // side into the original
  const testBlocks = buildTests(plan, () => f.vregCount++);
  const first = f.blocks.length + copies.length;
  const h = f.blocks[plan.header];
  for (const b of f.blocks) {
    if (plan.body.has(b.id)) continue;
    const t = b.term;
    if (t.op === 'jump' && t.target === plan.header) t.target = first;
    if (t.op === 'branch') {
      if (t.ifTrue === plan.header) t.ifTrue = first;
      if (t.ifFalse === plan.header) t.ifFalse = first;
    }
  }
  f.blocks.push(...copies);
  testBlocks.forEach((instrs, k) => {
    const cond = ir.definedRegister(instrs[instrs.length - 1])!;
    const next = k + 1 < testBlocks.length ? first + k + 1 : target(plan.header);
    const term: ir.Terminator = { op: 'branch', cond, ifTrue: next, ifFalse: plan.header };
    f.blocks.push({ id: first + k, instrs, term, loc: h.loc });
  });
}

/** The test's comparisons, each with the constants and the length load it reads: its last instruction. */
function buildTests(plan: Plan, fresh: () => ir.VReg): ir.Instr[][] {
  const blocks: ir.Instr[][] = [];
  const constant = (instrs: ir.Instr[], value: number): ir.VReg => {
    const dst = fresh();
    instrs.push({ op: 'const', dst, value });
    return dst;
  };
  /** `a kind b` in a block of its own, b a register or a number (then a constant defined there). */
  const test = (kind: ir.BinaryOp, a: ir.VReg, b: ir.VReg | { k: number }, before: ir.Instr[] = []): void => {
    const instrs = [...before];
    const right = typeof b === 'object' ? constant(instrs, b.k) : b;
    instrs.push({ op: 'binary', kind, dst: fresh(), a, b: right });
    blocks.push(instrs);
  };
  test('ges', plan.induction, { k: 0 });
  if (plan.offset > 0) test('les', plan.induction, { k: INT_MAX - plan.offset });
  if (plan.step > 1) test('les', plan.limit, { k: INT_MAX + 1 - plan.step });
  for (const bound of plan.bounds) {
    if ('constant' in bound) test('les', plan.limit, { k: bound.constant });
    else {
      const length = fresh();
      test('les', plan.limit, length,
        [{ op: 'load', width: 4, signed: true, dst: length, address: bound.array, offset: -ir.ARRAY_HEADER }]);
    }
  }
  return blocks;
}
