// Sinking to the use: a value read once, by a later instruction (or the terminator) of its own block, is
// computed right before that reader, so the x86 back end can fuse the two (compiler/x86/fusion.ts): an
// address into its load or store's memory operand, a load into the ALU operation that reads it (`xor ecx,
// [ebx*4 + table]`), a comparison into its branch (cmp + jcc) or select (cmov). Which instructions move:
// pure ones that cannot trap (not constants nor operations on constants alone, which emit nothing,
// nor divisions), and 32-bit-or-narrower
// loads, these only past pure instructions (never past another load, a store, a call or an intrinsic:
// memory and devices see the same accesses in the same order). Nothing moves past a redefinition of one of
// its operands or of its result, nor past a read of its result (there is none: it is read once), nor in
// between its reader and a comparison, a load (for a comparison) or a shift (for an add) right before it
// that only the reader reads: their folds want them adjacent. Then an operation whose operand is read again
// between it and its reader moves right after that read (afterOperandReads: the operand may die at it), unless
// that read is glued to the next instruction (an address to its load or store too).
// Requires: a verified Module (non-SSA). Guarantees: the same values and the same memory accesses in the
// same order; only the position of the moved instructions within their block changes.
import * as ir from '../ir.ts';

const opcodeOf = (i: ir.Instr): ir.Opcode => (i.op === 'binary' || i.op === 'unary' ? i.kind : i.op);

/** Pure, cannot trap, emits code (constants and link-time addresses do not: nothing to gain). */
const movablePure = (i: ir.Instr): boolean => {
  const props = ir.OPS[opcodeOf(i)];
  return props.pure && !props.mayTrap && i.op !== 'const' && i.op !== 'globalAddress' && i.op !== 'functionAddress'
    && i.op !== 'copy';
};

const COMPARISONS = new Set<string>(['eq', 'ne', 'lts', 'les', 'gts', 'ges', 'ltu', 'leu', 'gtu', 'geu']);
const isComparison = (i: ir.Instr): boolean => i.op === 'binary' && COMPARISONS.has(i.kind);

export function sinkToUses(m: ir.Module): ir.Module {
  for (const f of m.functions) sinkFunction(f);
  return m;
}

function sinkFunction(f: ir.Function): void {
  const defs = new Int32Array(f.vregCount), uses = new Int32Array(f.vregCount);
  for (let p = 0; p < f.params; p++) defs[p]++;
  for (const b of f.blocks) {
    for (const i of b.instrs) {
      const d = ir.definedRegister(i);
      if (d !== null) defs[d]++;
      for (const u of ir.usedRegisters(i)) uses[u]++;
    }
    for (const u of ir.terminatorUses(b.term)) uses[u]++;
  }
  // values of constants alone (an array's address + 4): link-time constants for the back end, no code
  const constant = new Set<ir.VReg>();
  for (const b of f.blocks) {
    for (const i of b.instrs) {
      const d = ir.definedRegister(i);
      if (d === null || defs[d] !== 1) continue;
      if (i.op === 'const' || i.op === 'globalAddress' || i.op === 'functionAddress'
        || (i.op === 'binary' && constant.has(i.a) && constant.has(i.b))) constant.add(d);
    }
  }
  for (const b of f.blocks) {
    const instrs = b.instrs;
    for (let k = instrs.length - 2; k >= 0; k--) {
      const i = instrs[k];
      const load = i.op === 'load';
      if (!load && !movablePure(i)) continue;
      if (constant.has(ir.definedRegister(i)!)) continue;
      const t = ir.definedRegister(i);
      if (t === null || defs[t] !== 1 || uses[t] !== 1) continue;
      const operands = new Set(ir.usedRegisters(i));
      if (operands.has(t)) continue;
      // the reader: a later instruction of the block, or the terminator (then the block's end)
      let to = -1;
      for (let j = k + 1; j < instrs.length && to < 0; j++) if (ir.usedRegisters(instrs[j]).includes(t)) to = j;
      if (to < 0) {
        if (!ir.terminatorUses(b.term).includes(t)) continue;
        to = instrs.length;
      }
      let blocked = false;
      for (let j = k + 1; j < to && !blocked; j++) {
        const between = instrs[j], d = ir.definedRegister(between);
        if (d !== null && (operands.has(d) || d === t)) blocked = true;
        else if (load && !movablePure(between) && between.op !== 'const' && between.op !== 'copy'
          && between.op !== 'globalAddress' && between.op !== 'functionAddress') blocked = true;
      }
      // not between the reader and an instruction glued to it (a value it alone reads, computed right before
      // it: a comparison for its select or branch, a load for its comparison, a shift for its add): before
      // that one instead
      const reads = (at: number): ir.VReg[] =>
        (at === instrs.length ? ir.terminatorUses(b.term) : ir.usedRegisters(instrs[at]));
      while (to - 1 > k) {
        const glued = instrs[to - 1], d = ir.definedRegister(glued);
        if (d === null || uses[d] !== 1 || !reads(to).includes(d)) break;
        const reader = to < instrs.length ? instrs[to] : null;
        const scaled = glued.op === 'binary' && glued.kind === 'shl'
          && reader?.op === 'binary' && reader.kind === 'add';
        const forComparison = glued.op === 'load' && reader !== null && isComparison(reader);
        const gluedKind = isComparison(glued) || forComparison || scaled;
        if (!gluedKind) break;
        to--;
      }
      if (blocked || to === k + 1) continue;
      instrs.splice(k, 1);
      instrs.splice(to - 1, 0, i);
    }
    afterOperandReads(b, defs, uses);
  }
}

/**
 * A pure operation read once, later in its block, whose operand is read again between it and its reader,
 * moves right after the last of those reads: the operand may then die at it and give it its register
 * (crc32's `t = crc >>> 8` after `crc ^ data[i]`: `shr eax, 8` in crc's own register, no copy). Not past a
 * redefinition of its operands, and not in between an instruction and its reader glued to it.
 */
function afterOperandReads(b: ir.Block, defs: Int32Array, uses: Int32Array): void {
  const instrs = b.instrs;
  for (let k = instrs.length - 2; k >= 0; k--) {
    const i = instrs[k];
    const t = ir.definedRegister(i);
    if (!movablePure(i) || t === null || defs[t] !== 1 || uses[t] !== 1) continue;
    const operands = new Set(ir.usedRegisters(i));
    if (operands.has(t)) continue;
    let last = -1;
    for (let j = k + 1; j < instrs.length; j++) {
      const reads = ir.usedRegisters(instrs[j]), d = ir.definedRegister(instrs[j]);
      if (reads.includes(t)) break;
      if (d !== null && (operands.has(d) || d === t)) { last = -1; break; }
      if (reads.some(r => operands.has(r))) last = j;
    }
    if (last < 0) continue;
    const before = instrs[last], next = instrs[last + 1], d = ir.definedRegister(before);
    if (next === undefined) continue;
    if (d !== null && uses[d] === 1 && ir.usedRegisters(next).includes(d) && (isComparison(before)
      || (before.op === 'load' && isComparison(next))
      || (before.op === 'binary' && before.kind === 'shl' && next.op === 'binary' && next.kind === 'add')
      || (before.op === 'binary' && before.kind === 'add' && (next.op === 'load' || next.op === 'store')
        && next.address === d))) continue;
    instrs.splice(k, 1);
    instrs.splice(last, 0, i);
  }
}
