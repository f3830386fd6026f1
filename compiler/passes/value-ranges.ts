// Contract: a branch on a comparison that value ranges decide becomes a jump to the side it always takes:
// the bounds check of `a[i * 40 + k]` in loops whose induction variables are known to stay in range.
//
// Each register holds a signed interval [lo, hi] at each point (absent: any int32). Forward dataflow over
// the CFG (the IR is not SSA: ranges follow the definitions in program order): `const` gives [c, c],
// `copy` its source's range, add/sub/mul and shifts by a constant compute on the bounds and give any
// int32 when the result could wrap, and/remu/shru/narrow loads bound their result, a comparison is 0..1,
// a select the hull of its operands, anything else any int32. The edge to a branch's true side narrows
// the compared registers by the comparison (`i <s n` gives i <= n.hi - 1; `i <u n` with n >= 0 gives
// 0 <= i <= n.hi - 1), the false side by its negation; an edge whose ranges become empty is never taken.
// Where paths meet, the hull; a block entry that keeps growing is widened (a growing bound goes to the
// next constant of the function, one off it, or the end of int32; only at loop headers, and only the
// registers their loops define, unless a block keeps growing), so loops converge: `for (let k = 0;
// k < 40; k++)` has k in [0, 39] in its body.
// A comparison is decided when the ranges of its operands do not overlap in the sense it asks (unsigned
// comparisons when both operands have the same sign throughout).
// Requires: a verified Module. Guarantees: the same behaviour; the comparison stays (dce removes it when
// nothing else reads it) and the side never taken becomes unreachable (simplify-cfg removes it).
import * as ir from '../ir.ts';

interface Range { lo: number; hi: number }
type State = Map<ir.VReg, Range>;

const MIN = -0x80000000, MAX = 0x7fffffff;
/** Entry updates of a loop header before the growing bounds of the registers its loop defines are widened. */
const WIDEN_AFTER = 3;
/** Entry updates of any block before all its growing bounds are widened (irreducible loops: termination). */
const WIDEN_EVERYTHING_AFTER = 30;

const range = (lo: number, hi: number): Range | null => (lo < MIN || hi > MAX ? null : { lo, hi });
const hull = (a: Range, b: Range): Range => ({ lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) });
const nonNegative = (r: Range): boolean => r.lo >= 0;

export function decideBranchesByRanges(m: ir.Module): ir.Module {
  for (const f of m.functions) decideFunction(f);
  return m;
}

/** The range of v in `state` (any int32 when unknown). */
const get = (state: State, v: ir.VReg): Range => state.get(v) ?? { lo: MIN, hi: MAX };

/** The range an instruction's result takes, given the ranges before it (null: any int32). */
function result(i: ir.Instr, state: State): Range | null {
  switch (i.op) {
    case 'const': return { lo: i.value | 0, hi: i.value | 0 };
    case 'copy': return state.get(i.src) ?? null;
    case 'select': return hull(get(state, i.ifTrue), get(state, i.ifFalse));
    case 'load':
      if (i.width === 4) return null;
      if (i.signed) return { lo: -(2 ** (8 * i.width - 1)), hi: 2 ** (8 * i.width - 1) - 1 };
      return { lo: 0, hi: 2 ** (8 * i.width) - 1 };
    case 'binary': return binaryResult(i.kind, get(state, i.a), get(state, i.b));
    default: return null;
  }
}

function binaryResult(kind: ir.BinaryOp, a: Range, b: Range): Range | null {
  const constant = b.lo === b.hi ? b.lo : null;
  switch (kind) {
    case 'add': return range(a.lo + b.lo, a.hi + b.hi);
    case 'sub': return range(a.lo - b.hi, a.hi - b.lo);
    case 'mul': {
      const products = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
      return range(Math.min(...products), Math.max(...products));
    }
    case 'shl':
      if (constant === null || constant < 0 || constant > 31) return null;
      return range(a.lo * 2 ** constant, a.hi * 2 ** constant);
    case 'shrs':
      if (constant === null || constant < 0 || constant > 31) return null;
      return { lo: a.lo >> constant, hi: a.hi >> constant };
    case 'shru':
      if (constant === null || constant <= 0 || constant > 31) return nonNegative(a) && constant === 0 ? a : null;
      if (nonNegative(a)) return { lo: a.lo >>> constant, hi: a.hi >>> constant };
      return { lo: 0, hi: 2 ** (32 - constant) - 1 };
    case 'and':
      if (nonNegative(a) && nonNegative(b)) return { lo: 0, hi: Math.min(a.hi, b.hi) };
      if (nonNegative(a) || nonNegative(b)) return { lo: 0, hi: nonNegative(a) ? a.hi : b.hi };
      return null;
    case 'remu':
      if (constant === null || constant <= 0) return null;
      return { lo: 0, hi: nonNegative(a) ? Math.min(a.hi, constant - 1) : constant - 1 };
    case 'eq': case 'ne': case 'lts': case 'les': case 'gts': case 'ges':
    case 'ltu': case 'leu': case 'gtu': case 'geu':
      return { lo: 0, hi: 1 };
    default: return null;
  }
}

/** Applies instruction i to `state` (in place). */
function transfer(i: ir.Instr, state: State): void {
  const d = ir.definedRegister(i);
  if (d === null) return;
  const r = result(i, state);
  if (r === null || (r.lo === MIN && r.hi === MAX)) state.delete(d);
  else state.set(d, r);
}

type Comparison = Extract<ir.Instr, { op: 'binary' }>;
const NEGATION: Partial<Record<ir.BinaryOp, ir.BinaryOp>> = {
  eq: 'ne', ne: 'eq', lts: 'ges', ges: 'lts', les: 'gts', gts: 'les', ltu: 'geu', geu: 'ltu', leu: 'gtu', gtu: 'leu',
};
/** a kind b == b MIRROR[kind] a */
const MIRROR: Partial<Record<ir.BinaryOp, ir.BinaryOp>> = {
  lts: 'gts', gts: 'lts', les: 'ges', ges: 'les', ltu: 'gtu', gtu: 'ltu', leu: 'geu', geu: 'leu',
};
const SIGNED: Partial<Record<ir.BinaryOp, ir.BinaryOp>> = { ltu: 'lts', leu: 'les', gtu: 'gts', geu: 'ges' };

/** Whether `a kind b` holds (true), fails (false) for every pair of values in the ranges, or is unknown (null). */
function decide(kind: ir.BinaryOp, a: Range, b: Range): boolean | null {
  const signed = SIGNED[kind];
  if (signed !== undefined) {
    // both non-negative or both negative: unsigned order is the signed order
    const sameSign = (nonNegative(a) && nonNegative(b)) || (a.hi < 0 && b.hi < 0);
    return sameSign ? decide(signed, a, b) : null;
  }
  switch (kind) {
    case 'lts': return a.hi < b.lo ? true : a.lo >= b.hi ? false : null;
    case 'les': return a.hi <= b.lo ? true : a.lo > b.hi ? false : null;
    case 'gts': return decide('lts', b, a);
    case 'ges': return decide('les', b, a);
    case 'eq':
      if (a.lo === a.hi && b.lo === b.hi && a.lo === b.lo) return true;
      return a.hi < b.lo || b.hi < a.lo ? false : null;
    case 'ne': { const eq = decide('eq', a, b); return eq === null ? null : !eq; }
    default: return null;
  }
}

/** Narrows the ranges of a and b by `a kind b` holding; false when no values satisfy it (the edge is never taken). */
function narrow(state: State, kind: ir.BinaryOp, av: ir.VReg, bv: ir.VReg): boolean {
  const a = get(state, av), b = get(state, bv);
  let na = a, nb = b;
  switch (kind) {
    case 'lts': na = { lo: a.lo, hi: Math.min(a.hi, b.hi - 1) }; nb = { lo: Math.max(b.lo, a.lo + 1), hi: b.hi }; break;
    case 'les': na = { lo: a.lo, hi: Math.min(a.hi, b.hi) }; nb = { lo: Math.max(b.lo, a.lo), hi: b.hi }; break;
    case 'gts': case 'ges': case 'gtu': case 'geu': return narrow(state, MIRROR[kind]!, bv, av);
    case 'eq': na = nb = { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) }; break;
    case 'ne':
      if (b.lo === b.hi && a.lo === b.lo) na = { lo: a.lo + 1, hi: a.hi };
      else if (b.lo === b.hi && a.hi === b.lo) na = { lo: a.lo, hi: a.hi - 1 };
      break;
    case 'ltu': case 'leu':
      // a <u b with b >= 0 throughout: a is below b as a signed number too, and not negative
      if (nonNegative(b)) {
        na = { lo: Math.max(a.lo, 0), hi: Math.min(a.hi, kind === 'ltu' ? b.hi - 1 : b.hi) };
        if (nonNegative(a)) nb = { lo: Math.max(b.lo, kind === 'ltu' ? a.lo + 1 : a.lo), hi: b.hi };
      }
      break;
    default: return true;
  }
  if (na.lo > na.hi || nb.lo > nb.hi) return false;
  if (av === bv) return true;
  state.set(av, na);
  state.set(bv, nb);
  return true;
}

/**
 * Widening with thresholds: a growing bound jumps to the next constant of the function (or one off it),
 * else to the end of int32. `k < 40` then bounds k by 39 before `k + 1` could overflow.
 */
function widening(f: ir.Function): { above(x: number): number; below(x: number): number } {
  const set = new Set<number>([MIN, MAX]);
  for (const b of f.blocks) for (const i of b.instrs) {
    if (i.op === 'const') for (const c of [i.value - 1, i.value, i.value + 1]) if (c >= MIN && c <= MAX) set.add(c);
  }
  const sorted = [...set].sort((a, b) => a - b);
  return {
    above: x => sorted.find(c => c >= x)!,
    below: x => { for (let k = sorted.length - 1; k >= 0; k--) if (sorted[k] <= x) return sorted[k]; return MIN; },
  };
}

/**
 * For each loop header (the target of a back edge of a depth-first search from the entry), the registers
 * defined in its natural loops: the only ones that can grow by going around them.
 */
function loopDefinitions(f: ir.Function): (Set<ir.VReg> | null)[] {
  const n = f.blocks.length;
  const result: (Set<ir.VReg> | null)[] = Array.from({ length: n }, () => null);
  const predecessors: number[][] = Array.from({ length: n }, () => []);
  f.blocks.forEach((b, bi) => { for (const s of ir.successors(b.term)) predecessors[s].push(bi); });
  const state = new Uint8Array(n); // 0 unvisited, 1 on the stack, 2 done
  const stack: [number, number][] = [[0, 0]];
  state[0] = 1;
  const backEdges: [number, number][] = [];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const succ = ir.successors(f.blocks[top[0]].term);
    if (top[1] === succ.length) { state[top[0]] = 2; stack.pop(); continue; }
    const s = succ[top[1]++];
    if (state[s] === 1) backEdges.push([top[0], s]);
    else if (state[s] === 0) { state[s] = 1; stack.push([s, 0]); }
  }
  for (const [tail, head] of backEdges) {
    const body = new Set<number>([head]), work = [tail];
    while (work.length > 0) {
      const b = work.pop()!;
      if (body.has(b)) continue;
      body.add(b);
      work.push(...predecessors[b]);
    }
    const defined = result[head] ?? (result[head] = new Set());
    for (const b of body) for (const i of f.blocks[b].instrs) {
      const d = ir.definedRegister(i);
      if (d !== null) defined.add(d);
    }
  }
  return result;
}

/** The comparison a block's branch reads, when its operands still hold the compared values at the block's end. */
function comparisonOf(b: ir.Block): Comparison | null {
  if (b.term.op !== 'branch') return null;
  for (let k = b.instrs.length - 1; k >= 0; k--) {
    const i = b.instrs[k];
    if (ir.definedRegister(i) !== b.term.cond) continue;
    if (i.op !== 'binary' || NEGATION[i.kind] === undefined) return null;
    const redefined = b.instrs.slice(k + 1).some(j => {
      const d = ir.definedRegister(j);
      return d === i.a || d === i.b;
    });
    return redefined ? null : i;
  }
  return null;
}

function decideFunction(f: ir.Function): void {
  const n = f.blocks.length;
  const entry: (State | null)[] = Array.from({ length: n }, () => null);
  const updates = new Int32Array(n);
  const thresholds = widening(f);
  const loopDefined = loopDefinitions(f);
  entry[0] = new Map();
  const exitOf = (bi: number): State => {
    const state = new Map(entry[bi]!);
    for (const i of f.blocks[bi].instrs) transfer(i, state);
    return state;
  };
  /** Merges `incoming` into block s's entry; whether it changed. */
  const merge = (s: number, incoming: State): boolean => {
    const old = entry[s];
    if (old === null) { entry[s] = incoming; updates[s]++; return true; }
    const next: State = new Map();
    let changed = false;
    const widenAll = updates[s] >= WIDEN_EVERYTHING_AFTER;
    const widenLoop = updates[s] >= WIDEN_AFTER ? loopDefined[s] : null;
    for (const [v, o] of old) {
      const r = incoming.get(v);
      if (r === undefined) { changed = true; continue; } // any int32 on the new path
      let h = hull(o, r);
      if (widenAll || widenLoop?.has(v)) {
        h = { lo: h.lo < o.lo ? thresholds.below(h.lo) : h.lo, hi: h.hi > o.hi ? thresholds.above(h.hi) : h.hi };
      }
      if (h.lo !== o.lo || h.hi !== o.hi) changed = true;
      if (h.lo !== MIN || h.hi !== MAX) next.set(v, h);
    }
    if (changed) { entry[s] = next; updates[s]++; }
    return changed;
  };
  const work = new Set<number>([0]);
  while (work.size > 0) {
    const bi = Math.min(...work);
    work.delete(bi);
    const b = f.blocks[bi];
    const out = exitOf(bi);
    const cmp = comparisonOf(b);
    for (const s of ir.successors(b.term)) {
      const edge = new Map(out);
      if (cmp && b.term.op === 'branch' && b.term.ifTrue !== b.term.ifFalse) {
        const kind = s === b.term.ifTrue ? cmp.kind : NEGATION[cmp.kind]!;
        if (!narrow(edge, kind, cmp.a, cmp.b)) continue; // never taken
      }
      if (merge(s, edge)) work.add(s);
    }
  }
  f.blocks.forEach((b, bi) => {
    const cmp = comparisonOf(b);
    if (entry[bi] === null || cmp === null || b.term.op !== 'branch' || b.term.ifTrue === b.term.ifFalse) return;
    const out = exitOf(bi);
    let outcome = decide(cmp.kind, get(out, cmp.a), get(out, cmp.b));
    // a side no values can take: the comparison always goes the other way
    if (outcome === null && !narrow(new Map(out), cmp.kind, cmp.a, cmp.b)) outcome = false;
    if (outcome === null && !narrow(new Map(out), NEGATION[cmp.kind]!, cmp.a, cmp.b)) outcome = true;
    if (outcome !== null) b.term = { op: 'jump', target: outcome ? b.term.ifTrue : b.term.ifFalse };
  });
}
