// Contract: a branch on a comparison whose outcome is already known on every path to it (a bounds
// check repeated, a loop test implied by the test before it, an index masked below the length) becomes
// a jump to the side it always takes.
//
// Facts are comparisons known true: `kind a b` over operand keys (a register, or a constant by value:
// a register defined once by `const`). Forward dataflow over the CFG, intersected where paths meet: the
// edge to a branch's true side adds `kind a b`, the edge to its false side adds the negation; defining
// a register kills every fact that names it (the IR is not SSA). A fact implies others: `x <u c1`
// gives `x <u c2` for every c2 >= c1 (so an index checked against a longer array's length is known in
// bounds for a shorter one's only when it is), `x <=u c` gives `x <u c + 1`, and `x <s c` with x
// non-negative gives `x <u c`. Besides the facts, values: a register defined once by `and x, c`
// (c >= 0) is at most c, by `remu x, c` below c, by `shru x, k` below 2^(32-k): `table[h & 255]` of a
// 256-entry table needs no check. Non-negative registers: those values, and induction variables
// whose every definition is a constant >= 0, a copy of a non-negative register, or a non-negative
// register plus a constant k >= 0 where a fact bounds it by INT_MAX - k (no wrap): the `i` of
// `for (let i = 0; i < n; i++)`; also x + 1 where any fact bounds x by `<s` (x < INT_MAX).
// Array lengths: a register defined once by a load of a length word (`load.s32 [vA - 4]`, ir.ts
// ARRAY_HEADER) is `len(vA)` in a fact or a check when nothing between its load and the comparison
// (and the block's end, for the fact of an edge) may write memory or redefine vA; a memory write kills
// every length fact (leaving `x <s *` of `x <s len`), redefining vA kills those of len(vA). So a loop
// test `i <s a.length` (reloaded each iteration) and a check `i <u a.length` in the body meet, and
// `0 <= i <s b`, or `0 <= i <s n` with `n <=s b` (or `n <s b`), gives `i <u b`: `for (let i = 0; i <
// a.length; i++) a[i]`, and `if (n > a.length) return; for (let i = 0; i < n; i++) a[i]`, need no
// check. A length load whose word an earlier load read on every path with no write since cannot fault:
// once unread (its checks gone), it goes, with the comparisons that read it. Expressions: a register
// defined once, in the comparison's block, by a pure operation that cannot trap, none of whose registers
// is redefined up to where the fact must hold, is also named by its expression (`e(add,v34,v0)`, up to
// three deep); a branch gives its fact over these names too, and a comparison is decided by either, so
// `row + column <u 15` checked in one block holds for `row + column` computed again in a later one.
// Redefining a register kills the facts whose expressions name it. Copies: a block ending with `d = copy
// s` (neither redefined after it) gives its branch's facts over s also over d, and over d also over s:
// `t = sp - 1; sp = copy t` with `t - 1 <u 64` checked makes `sp - 1` in the next block known in bounds.
// Requires: a verified Module. Guarantees: the same behaviour; the comparison stays (dce removes it
// when nothing else reads it; those of a removed length load go here) and the side never taken becomes
// unreachable (simplify-cfg removes it).
import * as ir from '../ir.ts';

type Kind = ir.BinaryOp;
const NEGATION: Partial<Record<Kind, Kind>> = {
  eq: 'ne', ne: 'eq', lts: 'ges', ges: 'lts', les: 'gts', gts: 'les', ltu: 'geu', geu: 'ltu', leu: 'gtu', gtu: 'leu',
};
/** a kind b == b MIRROR[kind] a */
const MIRROR: Partial<Record<Kind, Kind>> = {
  eq: 'eq', ne: 'ne', lts: 'gts', gts: 'lts', les: 'ges', ges: 'les', ltu: 'gtu', gtu: 'ltu', leu: 'geu', geu: 'leu',
};

export function eliminateRedundantChecks(m: ir.Module): ir.Module {
  for (const f of m.functions) simplifyFunction(f);
  return m;
}

function simplifyFunction(f: ir.Function): void {
  const constants = ir.singleDefinitionConstants(f);
  const lengths = lengthLoads(f);
  const key = (v: ir.VReg): string => constants.has(v) ? `#${constants.get(v)! | 0}` : `v${v}`;
  /**
   * v's key in a comparison at `at` in block b whose fact must hold up to `until`: a length register loaded
   * in b before `at`, with no memory write and no redefinition of the array register from the load to
   * `until`, is the length of its array, `len(vA)`; any other register is itself.
   */
  const keyIn = (b: ir.Block, at: number, until: number) => (v: ir.VReg): string => {
    const array = lengths.get(v);
    if (array === undefined) return key(v);
    let load = -1;
    for (let k = at - 1; k >= 0 && load < 0; k--) if (ir.definedRegister(b.instrs[k]) === v) load = k;
    if (load < 0) return key(v);
    for (let k = load + 1; k < until; k++) {
      const i = b.instrs[k];
      if (ir.propertiesOf(i).sideEffects || ir.definedRegister(i) === array) return key(v);
    }
    return `len(v${array})`;
  };
  const definitions = new Int32Array(f.vregCount);
  for (const b of f.blocks) {
    for (const i of b.instrs) { const d = ir.definedRegister(i); if (d !== null) definitions[d]++; }
  }
  /**
   * v's value as an expression over the registers it was computed from, in a comparison at `at` in block b
   * whose fact must hold up to `until`: v defined once, in b before `at`, by a pure operation that cannot
   * trap, none of whose registers is redefined from there to `until` (`e(add,v34,v0)`, nested up to three
   * deep, commutative operands in order); otherwise v's plain key.
   */
  const expressionIn = (b: ir.Block, at: number, until: number, depth = 0) => (v: ir.VReg): string => {
    const plain = keyIn(b, at, until)(v);
    if (plain !== `v${v}` || definitions[v] !== 1 || v < f.params || depth >= 3) return plain;
    let def = -1;
    for (let k = at - 1; k >= 0 && def < 0; k--) if (ir.definedRegister(b.instrs[k]) === v) def = k;
    const i = def >= 0 ? b.instrs[def] : null;
    if (i?.op !== 'binary' || !ir.OPS[i.kind].pure || ir.OPS[i.kind].mayTrap || i.a === v || i.b === v) return plain;
    for (let k = def + 1; k < until; k++) {
      const d = ir.definedRegister(b.instrs[k]);
      if (d !== null && (d === i.a || d === i.b)) return plain;
    }
    const operands = [i.a, i.b].map(expressionIn(b, def, until, depth + 1));
    if (ir.OPS[i.kind].commutative) operands.sort();
    return `e(${i.kind},${operands.join(',')})`;
  };
  const names = (facts: Set<string>, v: ir.VReg): string[] => {
    // v itself, its length len(vA), or v among the registers of an expression
    const named = new RegExp(`(^|[(,])v${v}($|[),])`);
    return [...facts].filter(x => { const [, a, b] = x.split(' '); return named.test(a) || named.test(b); });
  };
  const kill = (facts: Set<string>, v: ir.VReg | null) => { if (v !== null && !constants.has(v)) for (const x of names(facts, v)) facts.delete(x); };
  /** What i kills: the facts naming the register it defines; after a possible memory write, every length's. */
  const killBy = (facts: Set<string>, i: ir.Instr) => {
    kill(facts, ir.definedRegister(i));
    if (!ir.propertiesOf(i).sideEffects) return;
    for (const x of [...facts]) {
      if (!x.includes('len(')) continue;
      facts.delete(x);
      // x <s (a length) still says x <s something, so x + 1 cannot wrap (valueFacts)
      const [kind, p, q] = x.split(' ');
      if (kind === 'lts' && !p.startsWith('len(')) facts.add(`lts ${p} *`);
      else if (kind === 'gts' && !q.startsWith('len(')) facts.add(`lts ${q} *`);
    }
  };

  /** The comparison a block's branch reads: the last definition of the condition in the block, if it is one. */
  const comparisonOf = (b: ir.Block): { at: number; instr: Extract<ir.Instr, { op: 'binary' }> } | null => {
    if (b.term.op !== 'branch') return null;
    for (let k = b.instrs.length - 1; k >= 0; k--) {
      const i = b.instrs[k];
      if (ir.definedRegister(i) !== b.term.cond) continue;
      return i.op === 'binary' && NEGATION[i.kind] !== undefined ? { at: k, instr: i } : null;
    }
    return null;
  };

  /** The pairs [d, s] of the copies `d = copy s` of b after which neither d nor s is redefined in b. */
  const endCopies = (b: ir.Block): [ir.VReg, ir.VReg][] => b.instrs.flatMap((i, k) => {
    if (i.op !== 'copy' || i.dst === i.src || constants.has(i.src)) return [];
    const later = b.instrs.slice(k + 1)
      .some(j => { const d = ir.definedRegister(j); return d === i.dst || d === i.src; });
    return later ? [] : [[i.dst, i.src] as [ir.VReg, ir.VReg]];
  });
  /** A fact over one register of a copy pair, stated over the other (each register named in it, one at a time). */
  const aliased = (fact: string, copies: [ir.VReg, ir.VReg][]): string[] => copies.flatMap(([d, s]) => [[s, d], [d, s]]
    .map(([from, to]) => fact.replace(new RegExp(`(^|[ (,])v${from}(?=$|[ ),])`, 'g'), `$1v${to}`))
    .filter(y => y !== fact));

  // ---- dataflow: facts at each block's entry (null: not reached yet) ----
  const n = f.blocks.length;
  const entry: (Set<string> | null)[] = Array.from({ length: n }, () => null);
  entry[0] = new Set();
  const transfer = (b: ir.Block, facts: Set<string>, upTo: number): Set<string> => {
    const out = new Set(facts);
    for (let k = 0; k < upTo; k++) killBy(out, b.instrs[k]);
    return out;
  };
  const edgeFacts = (b: ir.Block, out: Set<string>): Map<number, Set<string>> => {
    const edges = new Map<number, Set<string>>();
    for (const s of ir.successors(b.term)) edges.set(s, new Set(out));
    const cmp = comparisonOf(b);
    if (cmp && b.term.op === 'branch' && b.term.ifTrue !== b.term.ifFalse) {
      const { kind, a, b: right } = cmp.instr;
      // the operands must still hold the compared values at the end of the block
      const redefined = b.instrs.slice(cmp.at + 1).some(i => { const d = ir.definedRegister(i); return d === a || d === right; });
      if (!redefined) {
        const k = keyIn(b, cmp.at, b.instrs.length), e = expressionIn(b, cmp.at, b.instrs.length);
        edges.get(b.term.ifTrue)!.add(`${kind} ${k(a)} ${k(right)}`);
        edges.get(b.term.ifFalse)!.add(`${NEGATION[kind]!} ${k(a)} ${k(right)}`);
        // the same fact over the values' expressions: a check of `row + col` computed again in a later block
        if (e(a) !== k(a) || e(right) !== k(right)) {
          edges.get(b.term.ifTrue)!.add(`${kind} ${e(a)} ${e(right)}`);
          edges.get(b.term.ifFalse)!.add(`${NEGATION[kind]!} ${e(a)} ${e(right)}`);
        }
        // and over the copies the block ends with: `d = copy s`, neither redefined after it, so d and s hold
        // one value at the block's end (bytecode-vm's `sp--`, `sp - 1` checked: `sp - 1` computed again)
        const copies = endCopies(b);
        for (const s of [b.term.ifTrue, b.term.ifFalse]) {
          const facts = edges.get(s)!;
          for (const x of [...facts].filter(x => !out.has(x))) for (const y of aliased(x, copies)) facts.add(y);
        }
      }
    }
    return edges;
  };
  for (let changed = true; changed;) {
    changed = false;
    f.blocks.forEach((b, bi) => {
      const facts = entry[bi];
      if (facts === null) return;
      for (const [s, edge] of edgeFacts(b, transfer(b, facts, b.instrs.length))) {
        const old = entry[s];
        const next = old === null ? edge : new Set([...old].filter(x => edge.has(x)));
        if (old === null || next.size !== old.size) { entry[s] = next; changed = true; }
      }
    });
  }

  const values = valueFacts(f, constants, entry, transfer);

  // ---- rewrite: a branch whose comparison is known becomes a jump ----
  f.blocks.forEach((b, bi) => {
    const facts = entry[bi];
    const cmp = comparisonOf(b);
    if (facts === null || cmp === null || b.term.op !== 'branch') return;
    const known = transfer(b, facts, cmp.at);
    const { kind, a, b: right } = cmp.instr;
    const holds = (k: Kind) => implied(known, values, k, a, right, keyIn(b, cmp.at, cmp.at))
      || implied(known, values, k, a, right, expressionIn(b, cmp.at, cmp.at));
    const outcome = holds(kind) ? true : holds(NEGATION[kind]!) ? false : null;
    if (outcome === null) return;
    b.term = { op: 'jump', target: outcome ? b.term.ifTrue : b.term.ifFalse };
  });

  // ---- a length load repeated (an earlier load of the word on every path, no write since) cannot fault:
  // once the checks that read it are gone, it goes with them ----
  const repeated = new Set<ir.Instr>();
  f.blocks.forEach((b, bi) => {
    const facts = entry[bi];
    if (facts === null) return;
    b.instrs.forEach((i, k) => {
      const array = lengths.get(ir.definedRegister(i) ?? -1);
      if (i.op !== 'load' || array === undefined) return;
      const known = `len(v${array})`;
      if ([...transfer(b, facts, k)].some(x => x.split(' ').includes(known))) repeated.add(i);
    });
  });
  const repeatedLengths = new Set([...repeated].map(i => ir.definedRegister(i)!));
  const readsRepeated = (i: ir.Instr) => i.op === 'binary' && ir.isSpeculatable(i)
    && (repeatedLengths.has(i.a) || repeatedLengths.has(i.b));
  removeUnused(f, i => repeated.has(i) || readsRepeated(i));
}

/** Removes the instructions `removable` allows whose results nothing reads (again, until none is left). */
function removeUnused(f: ir.Function, removable: (i: ir.Instr) => boolean): void {
  const uses = new Int32Array(f.vregCount);
  for (const b of f.blocks) {
    for (const i of b.instrs) for (const u of ir.usedRegisters(i)) uses[u]++;
    for (const u of ir.terminatorUses(b.term)) uses[u]++;
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const b of f.blocks) {
      b.instrs = b.instrs.filter(i => {
        const d = ir.definedRegister(i);
        if (d === null || uses[d] > 0 || !removable(i)) return true;
        for (const u of ir.usedRegisters(i)) uses[u]--;
        changed = true;
        return false;
      });
    }
  }
}

const isConstantKey = (k: string) => k.startsWith('#');
const valueOf = (k: string) => Number(k.slice(1));

interface ValueFacts {
  /** The largest unsigned value of a register defined once by and/remu/shru with a constant. */
  maximum: Map<ir.VReg, number>;
  /** Registers never negative (as i32). */
  nonNegative: Set<ir.VReg>;
}

/** Whether `a kind b` follows from the facts (directly, mirrored, or by the implications in the contract). */
function implied(facts: Set<string>, values: ValueFacts, kind: Kind, av: ir.VReg, bv: ir.VReg, key: (v: ir.VReg) => string): boolean {
  const a = key(av), b = key(bv);
  if (facts.has(`${kind} ${a} ${b}`) || facts.has(`${MIRROR[kind]} ${b} ${a}`)) return true;
  if (kind !== 'ltu') return false;
  if (!isConstantKey(b)) {
    // 0 <= a <s b, or 0 <= a <s n <=s b (n <= an array's length, say): a <u b
    if (!(values.nonNegative.has(av) || facts.has(`ges ${a} #0`) || facts.has(`les #0 ${a}`))) return false;
    const below = (x: string, y: string) => facts.has(`lts ${x} ${y}`) || facts.has(`gts ${y} ${x}`);
    const atMost = (x: string, y: string) => facts.has(`les ${x} ${y}`) || facts.has(`ges ${y} ${x}`);
    if (below(a, b)) return true;
    for (const x of facts) {
      const [k, p, q] = x.split(' ');
      const n = k === 'lts' && p === a ? q : k === 'gts' && q === a ? p : null;
      if (n !== null && n !== a && (atMost(n, b) || below(n, b))) return true;
    }
    return false;
  }
  const bound = valueOf(b) >>> 0;
  const max = values.maximum.get(av);
  if (max !== undefined && max < bound) return true;
  const nonNegative = values.nonNegative.has(av) || facts.has(`ges ${a} #0`) || facts.has(`les #0 ${a}`);
  for (const x of facts) {
    const [k, p, q] = x.split(' ');
    if (p !== a || !isConstantKey(q)) continue;
    const c = valueOf(q);
    if (k === 'ltu' && (c >>> 0) <= bound) return true;
    if (k === 'leu' && (c >>> 0) < bound) return true;
    // signed: 0 <= x < c (c >= 0) means x <u c
    if (k === 'lts' && c >= 0 && c <= bound && nonNegative) return true;
    if (k === 'les' && c >= 0 && c < bound && nonNegative) return true;
  }
  return false;
}

type Definition = { instr: ir.Instr; block: number; at: number };

/** Value ranges of single definitions and non-negative induction variables (see the contract). */
function valueFacts(f: ir.Function, constants: Map<ir.VReg, number>, entry: (Set<string> | null)[],
  transfer: (b: ir.Block, facts: Set<string>, upTo: number) => Set<string>): ValueFacts {
  const defs: Definition[][] = Array.from({ length: f.vregCount }, () => []);
  f.blocks.forEach((b, bi) => b.instrs.forEach((instr, at) => { const d = ir.definedRegister(instr); if (d !== null) defs[d].push({ instr, block: bi, at }); }));
  const maximum = new Map<ir.VReg, number>();
  for (let v = f.params; v < f.vregCount; v++) {
    if (defs[v].length !== 1) continue;
    const i = defs[v][0].instr;
    if (i.op !== 'binary') continue;
    const ca = constants.get(i.a), cb = constants.get(i.b);
    if (i.kind === 'and' && cb !== undefined && cb >= 0) maximum.set(v, cb);
    else if (i.kind === 'and' && ca !== undefined && ca >= 0) maximum.set(v, ca);
    else if (i.kind === 'remu' && cb !== undefined && cb !== 0) maximum.set(v, (cb >>> 0) - 1);
    else if (i.kind === 'shru' && cb !== undefined && (cb & 31) !== 0) maximum.set(v, 2 ** (32 - (cb & 31)) - 1);
  }
  // Non-negative: an optimistic fixpoint (assume every defined non-parameter, drop those with a
  // definition that may give a negative value, until nothing changes).
  const nonNegative = new Set<ir.VReg>();
  for (let v = f.params; v < f.vregCount; v++) if (defs[v].length > 0) nonNegative.add(v);
  const factsAt = (d: Definition) => { const e = entry[d.block]; return e === null ? null : transfer(f.blocks[d.block], e, d.at); };
  const safe = (v: ir.VReg, d: Definition): boolean => {
    const i = d.instr;
    if (i.op === 'const') return i.value >= 0;
    if (maximum.has(v)) return maximum.get(v)! <= 0x7fffffff;
    if (i.op === 'copy') return nonNegative.has(i.src);
    if (i.op !== 'binary' || i.kind !== 'add') return false;
    // x + k with x non-negative and bounded by a fact where the sum is computed: no wrap
    const k = constants.get(i.b);
    if (k === undefined || k < 0 || !nonNegative.has(i.a)) return false;
    const facts = factsAt(d);
    if (facts === null) return true; // never reached
    // the bound may be on the register x is a copy of (x = copy y earlier in the block, y not redefined since)
    const names = new Set([`v${i.a}`]);
    const block = f.blocks[d.block].instrs;
    for (let k = d.at - 1; k >= 0; k--) {
      const earlier = block[k];
      if (ir.definedRegister(earlier) !== i.a) continue;
      if (earlier.op === 'copy' && !block.slice(k + 1, d.at).some(j => ir.definedRegister(j) === earlier.src)) names.add(`v${earlier.src}`);
      break;
    }
    for (const x of facts) {
      const [kind, p, q] = x.split(' ');
      // x <s anything: x < INT_MAX, so x + 1 cannot wrap
      if (kind === 'lts' && names.has(p) && k === 1) return true;
      if (!names.has(p) || !isConstantKey(q)) continue;
      const c = valueOf(q);
      if ((kind === 'lts' || kind === 'les') && c <= 0x7fffffff - k) return true;
      if ((kind === 'ltu' || kind === 'leu') && (c >>> 0) <= 0x7fffffff - k) return true;
    }
    return false;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const v of [...nonNegative]) {
      if (!defs[v].every(d => safe(v, d))) { nonNegative.delete(v); changed = true; }
    }
  }
  return { maximum, nonNegative };
}

/**
 * Length registers: each defined once, by a 4-byte load of the word before an array's (or string's)
 * elements, `load.s32 [vA - 4]` (ir.ts ARRAY_HEADER), mapped to vA.
 */
function lengthLoads(f: ir.Function): Map<ir.VReg, ir.VReg> {
  const definitions = new Int32Array(f.vregCount);
  const loads = new Map<ir.VReg, ir.VReg>();
  for (const b of f.blocks) for (const i of b.instrs) {
    const d = ir.definedRegister(i);
    if (d === null) continue;
    definitions[d]++;
    if (i.op === 'load' && i.width === 4 && i.offset === -ir.ARRAY_HEADER && i.address !== d) loads.set(d, i.address);
  }
  for (const v of [...loads.keys()]) if (definitions[v] !== 1 || v < f.params) loads.delete(v);
  return loads;
}
