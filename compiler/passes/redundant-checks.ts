// Contract: a branch on a comparison whose outcome is already known on every path to it (a bounds
// check repeated, a loop test implied by the test before it) becomes a jump to the side it always takes.
//
// Facts are comparisons known true: `kind a b` over operand keys (a register, or a constant by value:
// a register defined once by `const`). Forward dataflow over the CFG, intersected where paths meet: the
// edge to a branch's true side adds `kind a b`, the edge to its false side adds the negation; defining
// a register kills every fact that names it (the IR is not SSA). A fact implies others: `x <u c1`
// gives `x <u c2` for every c2 >= c1 (so an index checked against a longer array's length is known in
// bounds for a shorter one's only when it is), `x <=u c` gives `x <u c + 1`, and `x <s c` with `x >=s 0`
// gives `x <u c` for c >= 0. Requires: a verified Module. Guarantees: the same behaviour; the
// comparison stays (dce removes it when nothing else reads it) and the side never taken becomes
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
  const key = (v: ir.VReg): string => constants.has(v) ? `#${constants.get(v)! | 0}` : `v${v}`;
  const fact = (kind: Kind, a: ir.VReg, b: ir.VReg): string => `${kind} ${key(a)} ${key(b)}`;
  const names = (facts: Set<string>, v: ir.VReg): string[] => {
    const k = `v${v}`;
    return [...facts].filter(x => { const [, a, b] = x.split(' '); return a === k || b === k; });
  };
  const kill = (facts: Set<string>, v: ir.VReg | null) => { if (v !== null && !constants.has(v)) for (const x of names(facts, v)) facts.delete(x); };

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

  // ---- dataflow: facts at each block's entry (null: not reached yet) ----
  const n = f.blocks.length;
  const entry: (Set<string> | null)[] = Array.from({ length: n }, () => null);
  entry[0] = new Set();
  const transfer = (b: ir.Block, facts: Set<string>, upTo: number): Set<string> => {
    const out = new Set(facts);
    for (let k = 0; k < upTo; k++) kill(out, ir.definedRegister(b.instrs[k]));
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
        edges.get(b.term.ifTrue)!.add(fact(kind, a, right));
        edges.get(b.term.ifFalse)!.add(fact(NEGATION[kind]!, a, right));
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

  // ---- rewrite: a branch whose comparison is known becomes a jump ----
  f.blocks.forEach((b, bi) => {
    const facts = entry[bi];
    const cmp = comparisonOf(b);
    if (facts === null || cmp === null || b.term.op !== 'branch') return;
    const known = transfer(b, facts, cmp.at);
    const { kind, a, b: right } = cmp.instr;
    const outcome = holds(known, kind, key(a), key(right)) ? true : holds(known, NEGATION[kind]!, key(a), key(right)) ? false : null;
    if (outcome === null) return;
    b.term = { op: 'jump', target: outcome ? b.term.ifTrue : b.term.ifFalse };
  });
}

const isConstantKey = (k: string) => k.startsWith('#');
const valueOf = (k: string) => Number(k.slice(1));

/** Whether `a kind b` follows from the facts (directly, mirrored, or by the implications in the contract). */
function holds(facts: Set<string>, kind: Kind, a: string, b: string): boolean {
  if (facts.has(`${kind} ${a} ${b}`) || facts.has(`${MIRROR[kind]} ${b} ${a}`)) return true;
  if (kind === 'ltu' && isConstantKey(b)) {
    const bound = valueOf(b) >>> 0;
    for (const x of facts) {
      const [k, p, q] = x.split(' ');
      if (p !== a || !isConstantKey(q)) continue;
      const c = valueOf(q);
      if (k === 'ltu' && (c >>> 0) <= bound) return true;
      if (k === 'leu' && (c >>> 0) < bound) return true;
      // signed: 0 <= x < c (c >= 0) means x <u c
      if (k === 'lts' && c >= 0 && c <= bound && (facts.has(`ges ${a} #0`) || facts.has(`les #0 ${a}`))) return true;
    }
  }
  return false;
}
