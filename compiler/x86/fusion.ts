// Contract: the fusions of the x86 back end (-O2): patterns of IR instructions in one block whose code
// one lowering rule emits together, in fewer machine instructions. Requires: the function's register
// allocation (a fused result must be read exactly once, and not be a constant). Guarantees: each
// instruction a fusion `skip`s emits no code of its own; the rule of the instruction it fuses into (or
// of the block's terminator) emits it, reading the skipped instruction's operands where it would have
// read its result, so those operands stay live up to that rule (nothing emitted in between: only
// constants, which emit nothing, may stand between the instructions of a pattern).
//
// Every fusion has one interface: `find` looks for its pattern in a block and records each instance in
// Fusions, both what its rule needs (the table of that fusion) and which instructions it skips. What the
// code of an instruction reads, for the allocation checker (`uses`), follows from what was fused into
// it. To add a fusion: a find below, its table in Fusions, its rule in lower.ts reading the table.

import type { Function as IrFunction, Block, Instr, VReg } from "../ir.ts";
import { definedRegister, usedRegisters, successors } from "../ir.ts";
import { isConstant, type Allocation } from "./regalloc.ts";
import { isComparison } from "./conditions.ts";

type Binary = Extract<Instr, { op: "binary" }>;
type Load = Extract<Instr, { op: "load" }>;
type Store = Extract<Instr, { op: "store" }>;
type Select = Extract<Instr, { op: "select" }>;
type Call = Extract<Instr, { op: "call" }>;
type Intrinsic = Extract<Instr, { op: "intrinsic" }>;

/** An address computed right before its only load or store: that access's memory operand instead. */
interface AddressFold { base: VReg; index: VReg | null; scale: 1 | 2 | 4 | 8; displacement: number }

/**
 * `switch (value)` as a table: the block ids `targets[value - low]` for value in [low, low + targets.length),
 * `otherwise` for every other value (also the holes of the table).
 */
export interface JumpTable { value: VReg; low: number; targets: number[]; otherwise: number; checked: boolean }

/** What emits a skipped instruction's code: the rule of another instruction, or (a Block) its terminator's. */
type Consumer = Instr | Block;

/** What the fusions found in one function, for the rules that emit them and for the checker. */
export class Fusions {
  /** Address registers computed as base + index*scale right before their only load/store (addressFolds). */
  readonly addresses = new Map<VReg, AddressFold>();
  /** 32-bit loads read only by the comparison (or crc32Word) right after them, by result (loadFolds). */
  readonly loads = new Map<VReg, Load>();
  /** Adds of a shifted register (by 1..3) and a register or constant: one `lea r, [b + x*2^k]` (scaledAdds). */
  readonly scaledAdds = new Map<Binary, { index: VReg; scale: 2 | 4 | 8; other: VReg }>();
  /** ALU ops (and mul) with a 32-bit load as an operand, read only by them: `op r, [a + k]` (aluLoadFolds). */
  readonly aluLoads = new Map<Binary, { load: Load; other: VReg }>();
  /** `and` results read only by a comparison with 0 right after them, by result: `test x, y` (testFolds). */
  readonly tests = new Map<VReg, Binary>();
  /** Ors of x shifted left and right by counts adding up to 32: `rol x, count` (rotates), by the or. */
  readonly rotates = new Map<Binary, { x: VReg; count: VReg }>();
  /** Comparisons read only by the select right after them: the select compares itself (selectFusions). */
  readonly selects = new Map<Select, Binary>();
  /** The comparison a block's branch alone reads: cmp + jcc (branchFusions). */
  readonly branches = new Map<Block, Binary>();
  /** A 32-bit store of `op(load of the same word, b)`: one `op [mem], b` (readModifyWrites), by store. */
  readonly readModifyWrites = new Map<Store, Binary>();
  /** A self-call whose result the block returns: the terminator reuses the frame and jumps (tailCalls). */
  readonly tailCalls = new Map<Block, Call>();
  /** A chain of equality tests of one value whose head's terminator jumps through a table (jumpTables). */
  readonly jumpTables = new Map<Block, JumpTable>();
  /** The chain's other blocks: reached only through the head, they emit nothing (not even their terminator). */
  readonly silentBlocks = new Set<Block>();
  private readonly consumers = new Map<Instr, Consumer>();
  private readonly fused = new Map<Consumer, Instr[]>();

  /** `instr` emits no code of its own: the rule of `consumer` emits it. */
  skip(instr: Instr, consumer: Consumer): void {
    this.consumers.set(instr, consumer);
    const list = this.fused.get(consumer);
    if (list) list.push(instr);
    else this.fused.set(consumer, [instr]);
  }

  /** Whether `instr` emits no code of its own. */
  skips(instr: Instr): boolean { return this.consumers.has(instr); }

  /** What emits a skipped instruction's code. */
  consumerOf(instr: Instr): Consumer | undefined { return this.consumers.get(instr); }

  /**
   * The vregs the code of `consumer` reads, from those it reads itself (`own`: an instruction's used
   * registers, a block's terminator's): for the result of an instruction fused into it, that
   * instruction's operands, recursively (a folded load's address registers in place of its result).
   */
  uses(consumer: Consumer, own: readonly VReg[]): VReg[] {
    const fused = this.fused.get(consumer);
    if (!fused) return [...own];
    // no fused result is ever in a register: not the consumer's operand, nor another fused instruction's
    const results = new Set(fused.map(definedRegister));
    return [...own, ...fused.flatMap(i => this.uses(i, usedRegisters(i)))].filter(v => !results.has(v));
  }
}

/** A fusion: `find` records its instances in `block` (the fusions listed before it in FUSIONS have run). */
interface Fusion { find(f: IrFunction, alloc: Allocation, block: Block, found: Fusions): void }

// ---- compare + branch ----------------------------------------------------------------------------
// A comparison whose only reader is the branch that ends its block fuses into cmp + jcc: the branch reads
// it only once in the function, or it is not live out of the block (tail duplication copies a latch's
// `c = lts i, n; branch c` into each block that jumped to it, one register defined and read in each).

const branchFusions: Fusion = {
  find(f, alloc, block, found) {
    const last = block.instrs[block.instrs.length - 1];
    if (last?.op !== "binary" || !isComparison(last.kind) || block.term.op !== "branch") return;
    if (block.term.cond !== last.dst || isConstant(alloc, last.dst)) return;
    const liveOut = alloc.liveAfter[f.blocks.indexOf(block)]?.[block.instrs.length];
    if (alloc.useCounts[last.dst] !== 1 && (liveOut === undefined || liveOut.has(last.dst))) return;
    if (found.skips(last)) return;
    found.branches.set(block, last);
    found.skip(last, block);
  },
};

// ---- read-modify-write ---------------------------------------------------------------------------
// `t = load.32 [a + k]`, `u = op t, b` (op: add sub and or xor; b not t), `store.32 [a + k], u`, each
// result read only by the next, nothing but constants in between: one `op dword [a + k], b` (a
// counter's `histogram[i]++`). The load and the op emit nothing; the store's rule does it all, reading
// a (or its folded base and index) and b there.

const RMW_OPS = new Set<string>(["add", "sub", "and", "or", "xor"]);

const readModifyWrites: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    const constant = (i: Instr) => (i.op === "const" || i.op === "globalAddress") && isConstant(alloc, i.dst);
    /** The next instruction after `from` that is not a constant's definition (which emits nothing). */
    const next = (from: number): number => {
      let k = from + 1;
      while (k < instrs.length && constant(instrs[k])) k++;
      return k;
    };
    for (let j = 0; j < instrs.length; j++) {
      const load = instrs[j];
      if (load.op !== "load" || load.width !== 4 || alloc.useCounts[load.dst] !== 1) continue;
      if (isConstant(alloc, load.dst)) continue;
      const p = next(j), q = next(p);
      const op = instrs[p], store = instrs[q];
      if (op?.op !== "binary" || !RMW_OPS.has(op.kind) || op.a !== load.dst || op.b === load.dst) continue;
      if (alloc.useCounts[op.dst] !== 1 || isConstant(alloc, op.dst) || op.dst === load.address) continue;
      if (store?.op !== "store" || store.width !== 4 || store.value !== op.dst) continue;
      if (store.address !== load.address || store.offset !== load.offset || load.dst === load.address) continue;
      if (found.skips(load) || found.skips(op)) continue;
      found.readModifyWrites.set(store, op);
      found.skip(load, store);
      found.skip(op, store);
    }
  },
};

// ---- addressing modes ----------------------------------------------------------------------------
// `t = shl i, k` (k = 1..3) and `a = add b, t`, each read only by the next, and `a` read only by one
// load or store later in the block, become that access's memory operand [b + i*2^k + offset]; with no
// shift, [b + t + offset]. Neither b nor i may be redefined in between (they are read at the access).

const addressFolds: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    // Only instructions that emit nothing (definitions of constant vregs) may stand between the shift,
    // the add and the access: then no register the allocator freed after the add can have been reused.
    const adjacent = (from: number, to: number): boolean => {
      for (let k = from + 1; k < to; k++) {
        const i = instrs[k];
        if ((i.op !== "const" && i.op !== "globalAddress") || !isConstant(alloc, i.dst)) return false;
      }
      return true;
    };
    const definitionBefore = (r: VReg, before: number): number => {
      for (let k = before - 1; k >= 0; k--) if (definedRegister(instrs[k]) === r) return k;
      return -1;
    };
    for (let j = 0; j < instrs.length; j++) {
      const access = instrs[j];
      if (access.op !== "load" && access.op !== "store") continue;
      const address = access.address;
      if (access.op === "store" && access.value === address) continue;
      if (access.op === "load" && found.skips(access)) continue; // a read-modify-write's: its store folds the address
      const rmw = access.op === "store" ? found.readModifyWrites.get(access) : undefined;
      if (alloc.useCounts[address] !== (rmw ? 2 : 1) || isConstant(alloc, address)) continue;
      const p = definitionBefore(address, j);
      // between the address and the access only constants, or a read-modify-write's load and op (no code)
      const quiet = (k: number) => adjacent(k - 1, k + 1) || found.consumerOf(instrs[k]) === access;
      if (p < 0 || (rmw ? !instrs.slice(p + 1, j).every((_, k) => quiet(p + 1 + k)) : !adjacent(p, j))) continue;
      const add = instrs[p];
      if (add.op !== "binary" || add.kind !== "add" || add.a === address || add.b === address) continue;
      // a constant (an address) is the base, which becomes the displacement: [i + 0x102004]
      const constantA = isConstant(alloc, add.a) || !isConstant(alloc, add.b);
      const base = constantA ? add.a : add.b;
      let index = constantA ? add.b : add.a, scale: 1 | 2 | 4 | 8 = 1, shift: Instr | null = null;
      const scaled = index;
      const q = definitionBefore(scaled, p);
      const candidate = q >= 0 ? instrs[q] : null;
      if (candidate?.op === "binary" && candidate.kind === "shl" && adjacent(q, p) && alloc.useCounts[scaled] === 1
        && !isConstant(alloc, scaled)) {
        const k = alloc.constants.get(candidate.b);
        if (k !== undefined && k >= 1 && k <= 3 && candidate.a !== scaled) {
          index = candidate.a; scale = (1 << k) as 2 | 4 | 8; shift = candidate;
        }
      }
      const constantIndex = alloc.constants.get(index);
      if (constantIndex !== undefined) {
        found.addresses.set(address, { base, index: null, scale: 1, displacement: Math.imul(constantIndex, scale) });
      } else found.addresses.set(address, { base, index, scale, displacement: 0 });
      found.skip(add, access);
      if (shift) found.skip(shift, add);
    }
  },
};

// ---- loads into comparisons ----------------------------------------------------------------------
// `t = load.32 [a + k]` read only by the comparison right after it (constants emit nothing in between)
// becomes that comparison's memory operand: `cmp r, [a + k]` (a bounds check: `cmp i, [array - 4]`);
// the same for the word of a crc32Word (`crc32 r, [a + k]`). A load compared with a constant is
// `cmp dword/byte [a + k], imm` (n-queens' `rowUsed[row] !== 0`: `cmp byte [edi + rowUsed], 0`).

const loadFolds: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    for (let j = 1; j < instrs.length; j++) {
      const compare = instrs[j];
      const folds = compare.op === "binary" ? isComparison(compare.kind) && compare.a !== compare.b
        : compare.op === "intrinsic" && compare.name === "crc32Word" && compare.args[0] !== compare.args[1];
      if (!folds) continue;
      const b = compare.op === "binary" ? compare.b : (compare as Intrinsic).args[1];
      let q = j - 1;
      while (q >= 0 && (instrs[q].op === "const" || instrs[q].op === "globalAddress")
        && isConstant(alloc, (instrs[q] as { dst: VReg }).dst)) q--;
      const load = q >= 0 ? instrs[q] : null;
      if (load?.op !== "load" || load.dst === load.address) continue;
      if (alloc.useCounts[load.dst] !== 1 || isConstant(alloc, load.dst) || found.skips(load)) continue;
      const immediate = compare.op === "binary" && comparesWithImmediate(alloc, found, compare, load);
      if (load.dst === b ? load.width !== 4 : !immediate) continue;
      found.loads.set(load.dst, load);
      found.skip(load, compare);
    }
  },
};

const UNSIGNED_OR_EQUALITY = new Set<string>(["eq", "ne", "ltu", "leu", "gtu", "geu"]);
const SIGNED_OR_EQUALITY = new Set<string>(["eq", "ne", "lts", "les", "gts", "ges"]);

/**
 * Whether `compare` (a load's value against a constant) may be `cmp size [a + k], imm`: a 32-bit load
 * against any constant; a byte against one in its range, with the comparisons a byte compare decides
 * alike (zero-extended: equality and unsigned; sign-extended: equality and signed). Every register of
 * the address is in a register (no scratch needed: the comparison may stand where all of them are live).
 */
function comparesWithImmediate(alloc: Allocation, found: Fusions, compare: Binary, load: Load): boolean {
  if (compare.a !== load.dst || compare.b === load.dst || !isConstant(alloc, compare.b)) return false;
  if (load.width === 1) {
    const k = alloc.constants.get(compare.b);
    if (k === undefined) return false;
    const fits = load.signed ? k >= -128 && k <= 127 && SIGNED_OR_EQUALITY.has(compare.kind)
      : k >= 0 && k <= 255 && UNSIGNED_OR_EQUALITY.has(compare.kind);
    if (!fits) return false;
  } else if (load.width !== 4) return false;
  const fold = found.addresses.get(load.address);
  const parts = fold ? [fold.base, ...(fold.index === null ? [] : [fold.index])] : [load.address];
  return parts.every(v => isConstant(alloc, v) || alloc.registers.has(v));
}

// ---- and + test ----------------------------------------------------------------------------------
// `t = and x, y` (y a register or a constant) read only by the comparison of t with the constant 0 right
// after it (constants in between): that comparison is `test x, y`, which sets ZF and SF from x & y and
// clears CF and OF, the flags `cmp t, 0` would give; the and emits nothing (bit-ops' `(x & 0xffff0000)
// === 0`: `test edi, 0xffff0000; jne`, where mov, and, test were three). As with the other folds nothing
// is emitted in between, so x's and y's registers still hold them at the comparison.

const testFolds: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    for (let j = 1; j < instrs.length; j++) {
      const compare = instrs[j];
      if (compare.op !== "binary" || !isComparison(compare.kind) || compare.a === compare.b) continue;
      if (alloc.constants.get(compare.b) !== 0 || isConstant(alloc, compare.a)) continue;
      let q = j - 1;
      while (q >= 0 && (instrs[q].op === "const" || instrs[q].op === "globalAddress")
        && isConstant(alloc, (instrs[q] as { dst: VReg }).dst)) q--;
      const and = q >= 0 ? instrs[q] : null;
      if (and?.op !== "binary" || and.kind !== "and" || and.dst !== compare.a || found.skips(and)) continue;
      if (alloc.useCounts[and.dst] !== 1 || and.a === and.dst || and.b === and.dst) continue;
      if (alloc.addresses.has(and.dst)) continue;
      // x & k with the constant either side; a register y (x, or a constant k, may be anywhere)
      const [x, y] = isConstant(alloc, and.a) ? [and.b, and.a] : [and.a, and.b];
      if (isConstant(alloc, x) || (!isConstant(alloc, y) && !alloc.registers.has(y))) continue;
      if (alloc.constants.get(y) === undefined && isConstant(alloc, y)) continue; // a data address: no immediate
      found.tests.set(and.dst, and);
      found.skip(and, compare);
    }
  },
};

// ---- rotates -------------------------------------------------------------------------------------
// `p = shl x, a`, `q = shru x, b`, `r = or p, q` (either order, p and q read only by the or) where the
// counts add up to 0 mod 32 is `rol x, a` (the hash programs' `(x << c) | (x >>> (32 - c))`): constants
// a and b with (a + b) & 31 = 0, or registers a = `and n, 31` (or n itself) and b = `and (sub k, n), 31`
// (or `sub k, n`) with k = 0 mod 32; x86's rol takes its count mod 32 as the IR's shifts do, and a count
// of 0 gives x, as the or of x with itself does. The shifts emit nothing; so do the count's and and sub
// when the pattern reads them alone and they stand right before it (the rule then reads n in cl).
// Nothing is emitted from the first skipped instruction to the or (constants and the pattern only), so
// x's and the count's registers still hold them there.

const rotates: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    const quiet = (i: Instr) => (i.op === "const" || i.op === "globalAddress") && isConstant(alloc, i.dst);
    const definition = (v: VReg, before: number): number => {
      for (let k = before - 1; k >= 0; k--) if (definedRegister(instrs[k]) === v) return k;
      return -1;
    };
    /** The binary `kind` defining v (read once, before `before`, not yet fused), with its index. */
    const single = (v: VReg, before: number, kind: string): { at: number; i: Binary } | null => {
      const at = definition(v, before), i = at >= 0 ? instrs[at] : null;
      if (i?.op !== "binary" || i.kind !== kind || alloc.useCounts[v] !== 1 || isConstant(alloc, v)) return null;
      if (found.skips(i) || i.a === v || i.b === v) return null;
      return { at, i };
    };
    const masked = (v: VReg, before: number) => {
      const and = single(v, before, "and");
      return and && alloc.constants.get(and.i.b) === 31 ? and : null;
    };
    for (let j = 2; j < instrs.length; j++) {
      const or = instrs[j];
      if (or.op !== "binary" || or.kind !== "or" || or.a === or.b || found.skips(or)) continue;
      if (isConstant(alloc, or.dst) || alloc.addresses.has(or.dst)) continue;
      const left = single(or.a, j, "shl") ?? single(or.b, j, "shl");
      const right = single(or.a, j, "shru") ?? single(or.b, j, "shru");
      if (!left || !right || left.i.a !== right.i.a || isConstant(alloc, left.i.a)) continue;
      const x = left.i.a;
      if (x === left.i.dst || x === right.i.dst) continue;
      const ka = alloc.constants.get(left.i.b), kb = alloc.constants.get(right.i.b);
      const skipped: { at: number; i: Binary }[] = [left, right];
      let count = left.i.b;
      if (ka !== undefined || kb !== undefined) {
        if (ka === undefined || kb === undefined || ((ka + kb) & 31) !== 0) continue;
      } else {
        // a = n or `and n, 31`; b = `sub k, n` or `and (sub k, n), 31`, k = 0 mod 32
        const maskA = masked(left.i.b, left.at), n = maskA ? maskA.i.a : left.i.b;
        const maskB = masked(right.i.b, right.at);
        const sub = single(maskB ? maskB.i.a : right.i.b, maskB ? maskB.at : right.at, "sub");
        const k = sub ? alloc.constants.get(sub.i.a) : undefined;
        if (!sub || k === undefined || (k & 31) !== 0 || sub.i.b !== n || isConstant(alloc, n)) continue;
        const counts = [...(maskA ? [maskA] : []), ...(maskB ? [maskB] : []), sub];
        // the count's instructions go too when only constants and the pattern stand between them and the or
        const members = new Set([...skipped, ...counts].map(d => d.i as Instr));
        const first = Math.min(...counts.map(d => d.at));
        if (instrs.slice(first, j).every(i => members.has(i) || quiet(i)) && !counts.some(d => d.i.dst === n)) {
          skipped.push(...counts);
          count = n;
        }
      }
      const members = new Set(skipped.map(d => d.i as Instr));
      const first = Math.min(...skipped.map(d => d.at));
      if (!instrs.slice(first, j).every(i => members.has(i) || quiet(i))) continue;
      // x and the count stay where they are up to the or: no skipped instruction may define them
      if (skipped.some(d => d.i.dst === x || d.i.dst === count)) continue;
      found.rotates.set(or, { x, count });
      for (const d of skipped) found.skip(d.i, or);
    }
  },
};

// ---- scaled adds ----------------------------------------------------------------------------------
// `t = shl x, k` (k = 1..3) read only by the add right after it (constants in between), `u = add t, y`
// (y a register or a constant), u not an address folded into an access: one `lea u, [y + x*2^k]`
// (heapsort's `root * 2 + 1`: `lea edx, [eax*2 + 1]`, where mov, shl, add were three). Only with u, x
// and a register y in registers. Nothing is emitted between the shift and the add, so x's register
// still holds x there (as for an address fold).

const scaledAdds: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    for (let j = 1; j < instrs.length; j++) {
      const add = instrs[j];
      if (add.op !== "binary" || add.kind !== "add" || found.skips(add) || add.a === add.b) continue;
      if (isConstant(alloc, add.dst) || alloc.addresses.has(add.dst) || !alloc.registers.has(add.dst)) continue;
      let q = j - 1;
      while (q >= 0 && (instrs[q].op === "const" || instrs[q].op === "globalAddress")
        && isConstant(alloc, (instrs[q] as { dst: VReg }).dst)) q--;
      const shift = q >= 0 ? instrs[q] : null;
      if (shift?.op !== "binary" || shift.kind !== "shl" || found.skips(shift)) continue;
      const t = shift.dst;
      if ((add.a !== t && add.b !== t) || alloc.useCounts[t] !== 1 || isConstant(alloc, t) || shift.a === t) continue;
      const k = alloc.constants.get(shift.b);
      if (k === undefined || k < 1 || k > 3 || !alloc.registers.has(shift.a)) continue;
      const other = add.a === t ? add.b : add.a;
      if (!isConstant(alloc, other) && !alloc.registers.has(other)) continue;
      found.scaledAdds.set(add, { index: shift.a, scale: (1 << k) as 2 | 4 | 8, other });
      found.skip(shift, add);
    }
  },
};

// ---- loads into ALU operations -------------------------------------------------------------------
// `t = load.32 [a + k]` read only by the add, sub, and, or, xor or mul right after it (constants in
// between), as its second operand (or either, the op commutative): `op r, [a + k]` with r the result's
// register, the other operand moved there first (crc32's `xor ecx, [ebx*4 + table]`). Only when the result
// has a register, every register of the address is there (none spilled, no scratch needed) and the move
// of the other operand cannot overwrite the address: the result's register is none of the address's, or
// already holds the other operand.

const ALU_LOAD_OPS = new Set<string>(["add", "sub", "and", "or", "xor", "mul"]);

const aluLoadFolds: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    for (let j = 1; j < instrs.length; j++) {
      const op = instrs[j];
      if (op.op !== "binary" || !ALU_LOAD_OPS.has(op.kind) || op.a === op.b || found.skips(op)) continue;
      if (isConstant(alloc, op.dst) || alloc.addresses.has(op.dst)) continue;
      const target = alloc.registers.get(op.dst);
      if (target === undefined) continue;
      let q = j - 1;
      while (q >= 0 && (instrs[q].op === "const" || instrs[q].op === "globalAddress")
        && isConstant(alloc, (instrs[q] as { dst: VReg }).dst)) q--;
      const load = q >= 0 ? instrs[q] : null;
      if (load?.op !== "load" || load.width !== 4 || load.dst === load.address) continue;
      if (load.dst !== op.b && !(load.dst === op.a && op.kind !== "sub")) continue;
      if (alloc.useCounts[load.dst] !== 1 || isConstant(alloc, load.dst) || found.skips(load)) continue;
      const other = load.dst === op.b ? op.a : op.b;
      const fold = found.addresses.get(load.address);
      const parts = fold ? [fold.base, ...(fold.index === null ? [] : [fold.index])] : [load.address];
      const safe = parts.every(v => isConstant(alloc, v) || (alloc.registers.has(v)
        && (alloc.registers.get(v) !== target || alloc.registers.get(other) === target)));
      if (!safe) continue;
      found.aluLoads.set(op, { load, other });
      found.skip(load, op);
    }
  },
};

// ---- comparisons into selects --------------------------------------------------------------------
// A comparison read only by the select right after it (constants emit nothing in between) is not
// materialized: the select compares and uses the matching cmovcc (`cmp a, b; mov r, f; cmovl r, t`).
// As with compare + branch, the comparison's operands are then read at the select; nothing emitted
// in between can have reused their registers.

const selectFusions: Fusion = {
  find(_f, alloc, block, found) {
    const instrs = block.instrs;
    for (let j = 1; j < instrs.length; j++) {
      const select = instrs[j];
      if (select.op !== "select") continue;
      let q = j - 1;
      while (q >= 0 && instrs[q].op === "const" && alloc.constants.has((instrs[q] as { dst: VReg }).dst)) q--;
      const compare = q >= 0 ? instrs[q] : null;
      if (compare?.op !== "binary" || !isComparison(compare.kind) || compare.dst !== select.cond) continue;
      if (alloc.useCounts[compare.dst] !== 1 || alloc.constants.has(compare.dst) || found.skips(compare)) continue;
      found.selects.set(select, compare);
      found.skip(compare, select);
    }
  },
};

// ---- tail calls ----------------------------------------------------------------------------------
// A self-recursive `return f(args)` reuses the frame: the arguments are written over the function's own
// incoming arguments, then `leave; jmp f`: the recursion runs in constant stack and f returns straight
// to the original caller. Only in functions without frame slots, so no argument can point into the
// frame being released, and only for calls to the function itself, so that backtraces (kernel panics)
// still name every distinct function on the way.

const tailCalls: Fusion = {
  find(f, _alloc, block, found) {
    const last = block.instrs[block.instrs.length - 1];
    if (last?.op !== "call" || block.term.op !== "return" || f.slots.length > 0) return;
    if (block.term.value !== last.dst || last.func !== f.name) return;
    found.tailCalls.set(block, last);
    found.skip(last, block);
  },
};

// ---- jump tables ---------------------------------------------------------------------------------
// A `switch` lowers to a chain of blocks, each testing `eq x, k` (or `ne`) of the same x against a
// constant and branching to its case, else to the next test. When the head's test is the last code of
// its block (constants may follow) and each later test is alone in a block whose only predecessor is the
// previous test, the comparisons fuse into the head's terminator: a bounds check and an indirect jump
// through a table in .rodata (lower.ts, lowerJumpTable), whose words the linker fills with the targets'
// addresses. The chain's other blocks then emit nothing: only the head reaches them, and the table goes
// straight to where they would have led, with every register as it was at the head's end (the
// allocation checker, walking them as empty code, sees exactly that). Only for a dense chain: at least
// JUMP_TABLE_MIN_CASES distinct values whose range is at most JUMP_TABLE_MAX_SPREAD times their number
// (the rest of the range goes to the chain's last `else`); a sparse switch keeps its compares. A value that
// every definition bounds to 0..max (boundedMax: a byte load, an `and` with a constant) gets a table of all
// max + 1 entries and no bounds check.

const JUMP_TABLE_MIN_CASES = 4;
const JUMP_TABLE_MAX_SPREAD = 3;
const JUMP_TABLE_MAX_ENTRIES = 1024;
/** A bounded value's table (below) covers its whole range, 0 to its largest value, up to this many entries. */
const BOUNDED_TABLE_MAX_ENTRIES = 256;

/**
 * The largest value `x` can hold when every definition of it bounds it from 0 (an unsigned byte load:
 * 255; `and` with a constant K >= 0: K), else null (a parameter, or any other definition). Such a value
 * needs no bounds check before its table when the table covers 0..max: `switch (load8(pc))`, an
 * interpreter's dispatch, is `movzx` and `jmp [table + index*4]`.
 */
function boundedMax(f: IrFunction, alloc: Allocation, x: VReg): number | null {
  if (x < f.params) return null;
  let max = -1;
  for (const b of f.blocks) for (const i of b.instrs) {
    if (definedRegister(i) !== x) continue;
    let bound: number | undefined;
    if (i.op === "load" && i.width === 1 && !i.signed) bound = 255;
    if (i.op === "binary" && i.kind === "and") bound = alloc.constants.get(i.a) ?? alloc.constants.get(i.b);
    if (bound === undefined || bound < 0) return null;
    max = Math.max(max, bound);
  }
  return max < 0 ? null : max;
}

/** A block's test `x == k` (its last non-constant instruction, read only by its branch), with where each side goes. */
interface Test { x: VReg; k: number; compare: Binary; match: number; next: number; at: number }

function testOf(alloc: Allocation, block: Block): Test | null {
  if (block.term.op !== "branch") return null;
  let at = block.instrs.length - 1;
  while (at >= 0 && block.instrs[at].op === "const" && isConstant(alloc, (block.instrs[at] as { dst: VReg }).dst)) at--;
  const compare = block.instrs[at];
  if (compare?.op !== "binary" || (compare.kind !== "eq" && compare.kind !== "ne")) return null;
  if (block.term.cond !== compare.dst || alloc.useCounts[compare.dst] !== 1) return null;
  if (isConstant(alloc, compare.dst)) return null;
  const ka = alloc.constants.get(compare.a), kb = alloc.constants.get(compare.b);
  if ((ka === undefined) === (kb === undefined)) return null; // one operand a constant, the other not
  const [x, k] = kb !== undefined ? [compare.a, kb] : [compare.b, ka!];
  if (compare.dst === x) return null;
  const { ifTrue, ifFalse } = block.term;
  if (ifTrue === ifFalse) return null;
  return compare.kind === "eq" ? { x, k, compare, match: ifTrue, next: ifFalse, at }
    : { x, k, compare, match: ifFalse, next: ifTrue, at };
}

function findJumpTables(f: IrFunction, alloc: Allocation, found: Fusions): void {
  const predecessors = new Int32Array(f.blocks.length);
  for (const b of f.blocks) for (const s of new Set(successors(b.term))) predecessors[s]++;
  const tests = f.blocks.map(b => testOf(alloc, b));
  // a later test of a chain: only the test and constants in it, reached only from the previous test of the same x
  const continues = (test: Test, b: number): boolean => {
    const t = tests[b];
    if (t === null || t.x !== test.x || predecessors[b] !== 1 || b === 0) return false;
    return f.blocks[b].instrs.every(i => i === t.compare || (i.op === "const" && isConstant(alloc, i.dst)));
  };
  const continuation = new Set<number>();
  tests.forEach(t => { if (t && continues(t, t.next)) continuation.add(t.next); });
  tests.forEach((head, h) => {
    if (head === null || continuation.has(h) || isConstant(alloc, head.x)) return;
    const cases = new Map<number, number>(), chain: number[] = [];
    let test = head, b = h;
    for (;;) {
      if (!cases.has(test.k)) cases.set(test.k, test.match);
      if (!continues(test, test.next) || test.next === h || chain.includes(test.next)) break;
      chain.push(b = test.next);
      test = tests[b]!;
    }
    if (cases.size < JUMP_TABLE_MIN_CASES) return;
    const values = [...cases.keys()];
    const low = Math.min(...values), spread = Math.max(...values) - low + 1;
    if (spread > JUMP_TABLE_MAX_SPREAD * cases.size || spread > JUMP_TABLE_MAX_ENTRIES) return;
    const max = boundedMax(f, alloc, head.x);
    if (low >= 0 && max !== null && max < BOUNDED_TABLE_MAX_ENTRIES) {
      // every value the table can see has its entry (cases above max cannot match): no bounds check
      const targets = Array.from({ length: max + 1 }, (_, k) => cases.get(k) ?? test.next);
      found.jumpTables.set(f.blocks[h], { value: head.x, low: 0, targets, otherwise: test.next, checked: false });
    } else {
      const targets = Array.from({ length: spread }, (_, k) => cases.get(low + k) ?? test.next);
      found.jumpTables.set(f.blocks[h], { value: head.x, low, targets, otherwise: test.next, checked: true });
    }
    found.skip(head.compare, f.blocks[h]);
    for (const c of chain) {
      found.silentBlocks.add(f.blocks[c]);
      for (const i of f.blocks[c].instrs) if (i.op !== "const") found.skip(i, f.blocks[h]);
    }
  });
}

/** Every fusion, in the order they look at a block. */
const FUSIONS: readonly Fusion[] = [
  branchFusions, readModifyWrites, addressFolds, loadFolds, testFolds, rotates, aluLoadFolds, scaledAdds,
  selectFusions, tailCalls,
];

/** The fusions of f under its register allocation. */
export function findFusions(f: IrFunction, alloc: Allocation): Fusions {
  const found = new Fusions();
  findJumpTables(f, alloc, found);
  for (const block of f.blocks) {
    if (found.silentBlocks.has(block)) continue;
    for (const fusion of FUSIONS) fusion.find(f, alloc, block, found);
  }
  return found;
}
