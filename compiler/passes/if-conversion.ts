// Contract: if-conversion: a branch whose arms compute a few cheap values and meet again becomes straight-line code
// ending in `select`. The shapes: a diamond (both arms jump to one join) or a triangle (one arm jumps to the other
// successor); each arm holds at most MAX_ARM_COST operations that cannot trap or touch memory (const, copy, symbol
// and slot addresses, select, unary ops, binary ops but division); per branch at most MAX_SELECTS
// registers that an arm defines and the join reads. Requires: a verified Module. Guarantees: the same
// values (both arms run, into fresh registers, then one `select` per such register); no load, store,
// call or division runs that did not before; the arms are left empty and unreachable (simplify-cfg
// drops them, and runs after each conversion so that nested conditionals convert from the inside out).
import * as ir from '../ir.ts';
import { simplifyFunction } from './simplify-cfg.ts';

/**
 * Operations an arm may hold, not counting consts, copies and symbol addresses (immediates or nothing once allocated).
 */
const MAX_ARM_COST = 3;
/** Registers that may be merged by selects for one branch. */
const MAX_SELECTS = 1;
/** Instructions an arm may hold in all. */
const MAX_ARM_INSTRUCTIONS = 8;

export function convertIfs(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    // one branch at a time: the merged block may complete an enclosing diamond (nested conditionals)
    while (convertOne(f)) simplifyFunction(f);
  }
  return m;
}

/** An arm's instructions if it may run unconditionally: few, cheap, and none that can trap or touch memory. */
function armOf(b: ir.Block): ir.Instr[] | null {
  if (b.instrs.length > MAX_ARM_INSTRUCTIONS || !b.instrs.every(ir.isSpeculatable)) return null;
  const cost = b.instrs.filter(i => ir.propertiesOf(i).cost !== 'free').length;
  return cost <= MAX_ARM_COST ? b.instrs : null;
}

/** Converts the first convertible branch of f; returns whether it found one. */
function convertOne(f: ir.Function): boolean {
  const predecessors = new Array<number>(f.blocks.length).fill(0);
  for (const b of f.blocks) for (const s of new Set(ir.successors(b.term))) predecessors[s]++;
  const constants = ir.singleDefinitionConstants(f);
  let liveIn: Set<number>[] | null = null;
  for (const b of f.blocks) {
    const t = b.term;
    if (t.op !== 'branch' || t.ifTrue === t.ifFalse || t.ifTrue === b.id || t.ifFalse === b.id || constants.has(t.cond)) continue;
    const yes = f.blocks[t.ifTrue], no = f.blocks[t.ifFalse];
    const joinOf = (arm: ir.Block) => (arm.term.op === 'jump' && predecessors[arm.id] === 1 && arm.id !== 0 ? arm.term.target : -1);
    // diamond: both arms jump to one join; triangle: one arm jumps to the other successor
    let join = -1, armTrue: ir.Block | null = null, armFalse: ir.Block | null = null;
    if (joinOf(yes) >= 0 && joinOf(yes) === joinOf(no)) { join = joinOf(yes); armTrue = yes; armFalse = no; }
    else if (joinOf(yes) === no.id) { join = no.id; armTrue = yes; }
    else if (joinOf(no) === yes.id) { join = yes.id; armFalse = no; }
    if (join < 0 || join === b.id || join === yes.id && armTrue !== null || join === no.id && armFalse !== null) continue;
    const trueInstrs = armTrue ? armOf(armTrue) : [], falseInstrs = armFalse ? armOf(armFalse) : [];
    if (trueInstrs === null || falseInstrs === null) continue;
    liveIn ??= liveness(f);
    const merged = new Set<number>();
    for (const i of [...trueInstrs, ...falseInstrs]) { const d = ir.definedRegister(i); if (d !== null && liveIn[join].has(d)) merged.add(d); }
    if (merged.size > MAX_SELECTS || merged.has(t.cond)) continue;
    // both arms, each into fresh registers (renamed as they are defined), then one select per merged register
    const rename = (instrs: ir.Instr[]): { code: ir.Instr[]; final: Map<number, number> } => {
      const final = new Map<number, number>();
      const code = instrs.map(i => {
        const fresh = f.vregCount++;
        return ir.mapDefs(ir.mapUses(i, r => final.get(r) ?? r), d => { final.set(d, fresh); return fresh; });
      });
      return { code, final };
    };
    const onTrue = rename(trueInstrs), onFalse = rename(falseInstrs);
    const selects: ir.Instr[] = [...merged].map(r => ({ op: 'select', dst: r, cond: t.cond, ifTrue: onTrue.final.get(r) ?? r, ifFalse: onFalse.final.get(r) ?? r }));
    // the arms go before the comparison that computes the condition when they do not read it, so the
    // comparison stays right before its select (the x86 back end fuses the two into cmp; cmovcc)
    const last = b.instrs[b.instrs.length - 1];
    // an arm's value the selects do not read is not computed (its register is fresh: nothing else reads it)
    const needed = new Set(selects.flatMap(ir.usedRegisters));
    const armCode = [...onTrue.code, ...onFalse.code].reverse().filter(i => {
      if (!needed.has(ir.definedRegister(i)!)) return false;
      for (const u of ir.usedRegisters(i)) needed.add(u);
      return true;
    }).reverse();
    const beforeCompare = last !== undefined && ir.definedRegister(last) === t.cond && selects.length === 1 &&
      !armCode.some(i => ir.usedRegisters(i).includes(t.cond)) && !ir.usedRegisters(last).includes(t.cond);
    if (beforeCompare) b.instrs.splice(b.instrs.length - 1, 0, ...armCode);
    else b.instrs.push(...armCode);
    b.instrs.push(...selects);
    b.term = { op: 'jump', target: join };
    for (const arm of [armTrue, armFalse]) if (arm) { arm.instrs = []; arm.term = { op: 'unreachable' }; }
    return true;
  }
  return false;
}

/** The registers live on entry to each block (backward dataflow). */
function liveness(f: ir.Function): Set<number>[] {
  const uses: Set<number>[] = [], defs: Set<number>[] = [];
  for (const b of f.blocks) {
    const u = new Set<number>(), d = new Set<number>();
    for (const i of b.instrs) {
      for (const r of ir.usedRegisters(i)) if (!d.has(r)) u.add(r);
      const def = ir.definedRegister(i);
      if (def !== null) d.add(def);
    }
    for (const r of ir.terminatorUses(b.term)) if (!d.has(r)) u.add(r);
    uses.push(u); defs.push(d);
  }
  const liveIn = f.blocks.map((_, k) => new Set(uses[k]));
  let changed = true;
  while (changed) {
    changed = false;
    for (let k = f.blocks.length - 1; k >= 0; k--) {
      for (const s of ir.successors(f.blocks[k].term)) for (const r of liveIn[s]) {
        if (!defs[k].has(r) && !liveIn[k].has(r)) { liveIn[k].add(r); changed = true; }
      }
    }
  }
  return liveIn;
}
