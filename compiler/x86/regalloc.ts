// Contract: register allocation for one IR function (linear scan over live ranges, Poletto & Sarkar, with the
// lifetime holes of Traub et al.'s second-chance binpacking).
// Requires: a verified IR function (non-SSA: a vreg may be defined more than once). Guarantees: each vreg
// is either a constant (defined once, by `const`: used as an immediate, never stored), in one of the six
// (seven with ebp) allocatable registers wherever it is live, or in its frame home; two vregs live at a common
// position never share a register; no vreg is given a register the caller forbade for it (`forbidden`).
//
// A vreg's interval runs over the linear order of instructions (blocks in index order) from the first position
// where it is defined, used or live on block entry to the last such position (live-out extends to the block
// end); its live ranges are that interval less its holes, the positions where it is dead (after its last read
// before a redefinition; across a loop that never reads it, once compiler/x86/split.ts has moved its value into
// a copy there). Two vregs may share a register when their ranges are disjoint, even if one's interval contains
// the other's: crc32's `crc >>> 8` takes crc's register between crc's last read and its redefinition. Instruction
// k of a block is at position start + 2k + 1 (its uses), its definition at start + 2k + 2; the terminator's uses
// at start + 2n + 1.
//
// Live-range splitting is done before allocation, in the IR (compiler/x86/split.ts): a vreg live through a loop
// that neither reads nor writes it is copied to a new vreg before the loop and back after it, so it has a hole
// over the loop; the copy, read and written once outside the loop, is the cheapest interval to spill when the
// loop needs the register (one store before the loop, one load after), and otherwise takes the same register
// (its copy partner) and emits nothing. So a vreg no longer holds one register or its home throughout.
//
// The callee-saved ebx/esi/edi (and ebp, in a function without a frame pointer) survive calls with no extra code. The
// caller-saved eax/ecx/edx are also lowering's scratch registers: the caller (compiler/x86/lower.ts, allocateFunction)
// forbids a vreg a scratch register wherever the code of an instruction inside its interval writes that register, and
// allocates again until nothing conflicts.
//
// Spill costs: each read or write of a vreg counts 10^loopDepth (loops found from the back edges of the
// block order), divided by the interval's length; when no register is free, the cheapest of the new
// interval and, for each register it may take, the vregs holding it whose ranges meet the new one's (summed)
// goes to memory, for its whole lifetime. Copies are coalesced by preference: a vreg whose copy partner's
// register no vreg live with it holds takes that register, so the copy emits nothing;
// likewise the result of a two-address op prefers the register of its first operand (of either, when commutative),
// and a returned value eax.

import { Register } from "iced-x86";
import type { Function as IrFunction, Instr, VReg } from "../ir.ts";
import { OPS, definedRegister, usedRegisters, terminatorUses, successors } from "../ir.ts";

/** Ops whose x86 rules compute in the destination's register (`op dst, b`): the result prefers a's register. */
const TWO_ADDRESS = new Set<string>(['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shrs', 'shru', 'neg', 'not']);

/** Callee-saved registers: values in them survive calls. */
const CALLEE_SAVED = [Register.EBX, Register.ESI, Register.EDI] as const;
/**
 * Caller-saved registers, also the lowering rules' scratch: given only to intervals no instruction clobbers them in.
 */
export const SCRATCH = [Register.EAX, Register.ECX, Register.EDX] as const;
/** Every register a vreg may live in, in order of preference. */
export const ALLOCATABLE = [...SCRATCH, ...CALLEE_SAVED] as const;
/** In a function without a frame pointer ebp is a seventh register (callee-saved, last in preference). */
export const ALLOCATABLE_WITH_EBP = [...ALLOCATABLE, Register.EBP] as const;

export interface Allocation {
  /** vreg -> register, for vregs that live in a register. */
  registers: Map<VReg, Register>;
  /** vreg -> constant value, for vregs defined once by `const` (never params). */
  constants: Map<VReg, number>;
  /**
   * vreg -> data symbol + offset, for vregs defined once by `globalAddress`, or once by an add or sub of
   * such a vreg and a constant (never params): a link-time constant, an imm32 or disp32 wherever it is
   * read (`cmp ecx, [0x102000]`, `mov eax, [0x102004 + ecx*4]`).
   */
  addresses: Map<VReg, AddressConstant>;
  /** Callee-saved registers this function uses (saved in the prologue, restored before returns). */
  used: Register[];
  /** How many times each vreg is read (by instructions and terminators). */
  useCounts: Int32Array;
  /** Live interval of each vreg in positions (see the contract); from > to for a vreg with no lifetime. */
  from: Int32Array;
  to: Int32Array;
  /**
   * Live ranges of each vreg (see liveRanges: sorted [from, to] pairs, flattened): its interval less its holes,
   * where another vreg may hold its register. Empty at -O0.
   */
  ranges: number[][];
  /** Position of each block's first instruction's uses minus one (the block's entry). */
  blockStart: number[];
  /** The vregs live after each instruction of each block (the last entry: live out of the block). */
  liveAfter: Set<VReg>[][];
}

/** Whether v is a constant (a `const`, a link-time address): no code where it is defined, an immediate where read. */
export function isConstant(alloc: Allocation, v: VReg): boolean {
  return alloc.constants.has(v) || alloc.addresses.has(v);
}

/** Registers each vreg must not be given: vreg -> set of registers. */
export type Forbidden = Map<VReg, Set<Register>>;

interface AddressConstant { symbol: string; offset: number }

/**
 * The vregs defined exactly once (never parameters): by `const` (constants), by `globalAddress`, or by
 * `add`/`sub` of an address and a constant (addresses: found to a fixpoint, chains are short).
 */
function singleDefinitions(f: IrFunction): { constants: Map<VReg, number>; addresses: Map<VReg, AddressConstant> } {
  const defs = new Int32Array(f.vregCount);
  const constants = new Map<VReg, number>();
  const addresses = new Map<VReg, AddressConstant>();
  const sums: Extract<Instr, { op: 'binary' }>[] = [];
  for (const b of f.blocks) for (const i of b.instrs) {
    const d = definedRegister(i);
    if (d === null) continue;
    defs[d]++;
    if (i.op === 'const') constants.set(d, i.value);
    else if (i.op === 'globalAddress') addresses.set(d, { symbol: i.symbol, offset: 0 });
    else if (i.op === 'binary' && (i.kind === 'add' || i.kind === 'sub')) sums.push(i);
  }
  const single = (v: VReg) => defs[v] === 1 && v >= f.params;
  for (const v of [...constants.keys()]) if (!single(v)) constants.delete(v);
  for (const v of [...addresses.keys()]) if (!single(v)) addresses.delete(v);
  for (let changed = true; changed;) {
    changed = false;
    for (const i of sums) {
      if (addresses.has(i.dst) || !single(i.dst)) continue;
      const base = addresses.get(i.a) ?? (i.kind === 'add' ? addresses.get(i.b) : undefined);
      const k = addresses.has(i.a) ? constants.get(i.b) : constants.get(i.a);
      if (base === undefined || k === undefined) continue;
      addresses.set(i.dst, { symbol: base.symbol, offset: (base.offset + (i.kind === 'add' ? k : -k)) | 0 });
      changed = true;
    }
  }
  return { constants, addresses };
}

/** Loop depth of each block: the number of back edges (t -> h, h <= t in block order) whose span [h, t] holds it. */
function loopDepths(f: IrFunction): Int32Array {
  const depth = new Int32Array(f.blocks.length);
  f.blocks.forEach((b, t) => {
    for (const h of successors(b.term)) if (h <= t) for (let k = h; k <= t; k++) depth[k]++;
  });
  return depth;
}

/** The vregs live on entry to and on exit from each block (backward dataflow over blocks). */
export function blockLiveness(f: IrFunction): { liveIn: Set<VReg>[]; liveOut: Set<VReg>[] } {
  const n = f.blocks.length;
  const uses: Set<VReg>[] = [], defs: Set<VReg>[] = [];
  for (const b of f.blocks) {
    const u = new Set<VReg>(), d = new Set<VReg>();
    for (const i of b.instrs) {
      for (const r of usedRegisters(i)) if (!d.has(r)) u.add(r);
      const def = definedRegister(i);
      if (def !== null) d.add(def);
    }
    for (const r of terminatorUses(b.term)) if (!d.has(r)) u.add(r);
    uses.push(u); defs.push(d);
  }
  const liveIn: Set<VReg>[] = Array.from({ length: n }, () => new Set());
  const liveOut: Set<VReg>[] = Array.from({ length: n }, () => new Set());
  let changed = true;
  while (changed) {
    changed = false;
    for (let bi = n - 1; bi >= 0; bi--) {
      const out = liveOut[bi];
      for (const s of successors(f.blocks[bi].term)) {
        for (const v of liveIn[s]) if (!out.has(v)) { out.add(v); changed = true; }
      }
      const inn = liveIn[bi];
      for (const v of uses[bi]) if (!inn.has(v)) { inn.add(v); changed = true; }
      for (const v of out) if (!defs[bi].has(v) && !inn.has(v)) { inn.add(v); changed = true; }
    }
  }
  return { liveIn, liveOut };
}

/** The live intervals alone (no vreg gets a register). */
export function liveIntervals(f: IrFunction): Allocation { return allocateRegisters(f, { scan: false }); }

/** What allocateRegisters computes, and under which constraints. */
interface AllocationOptions {
  /** false (-O0): no liveness and no registers, every vreg in its frame home (default true). */
  liveness?: boolean;
  /** false: the live intervals alone, no linear scan (default true). */
  scan?: boolean;
  /** Registers each vreg must not be given. */
  forbidden?: Forbidden;
  /** The registers to hand out, in order of preference (default ALLOCATABLE). */
  allocatable?: readonly Register[];
}

export function allocateRegisters(f: IrFunction, options: AllocationOptions = {}): Allocation {
  const { liveness = true, scan = true, forbidden = new Map(), allocatable = ALLOCATABLE } = options;
  const { constants, addresses } = singleDefinitions(f);
  const useCounts = new Int32Array(f.vregCount);
  for (const b of f.blocks) {
    for (const i of b.instrs) for (const u of usedRegisters(i)) useCounts[u]++;
    for (const u of terminatorUses(b.term)) useCounts[u]++;
  }
  const registers = new Map<VReg, Register>();
  const from = new Int32Array(f.vregCount).fill(0x7fffffff), to = new Int32Array(f.vregCount).fill(-1);

  // ---- positions: block b spans [start[b], end[b]]; instruction k of the block at start + 2k + 1 ----
  const start: number[] = [], end: number[] = [];
  let position = 0;
  for (const b of f.blocks) {
    start.push(position);
    position += 2 * b.instrs.length + 2; // each instruction, then the terminator
    end.push(position - 1);
  }
  if (!liveness) {
    return {
      registers, constants, addresses: new Map(), used: [], useCounts, from, to, ranges: [], blockStart: start,
      liveAfter: [],
    };
  }

  // ---- liveness (backward dataflow over blocks) ----
  const { liveIn, liveOut } = blockLiveness(f);

  // ---- intervals, spill weights (10^depth per read or write) and copy partners ----
  const depth = loopDepths(f);
  const weight = new Float64Array(f.vregCount);
  const partners: VReg[][] = Array.from({ length: f.vregCount }, () => []);
  const returned = new Set<VReg>(); // the values of return terminators: they leave in eax
  const touch = (v: VReg, p: number) => { if (p < from[v]) from[v] = p; if (p > to[v]) to[v] = p; };
  for (let p = 0; p < f.params; p++) touch(p, -1); // parameters arrive on entry
  f.blocks.forEach((b, bi) => {
    const w = Math.pow(10, Math.min(depth[bi], 6));
    for (const v of liveIn[bi]) touch(v, start[bi]);
    for (const v of liveOut[bi]) touch(v, end[bi]);
    let p = start[bi] + 1;
    for (const i of b.instrs) {
      for (const u of usedRegisters(i)) { touch(u, p); weight[u] += w; }
      const d = definedRegister(i);
      if (d !== null) { touch(d, p + 1); weight[d] += w; }
      if (i.op === 'copy') { partners[i.dst].push(i.src); partners[i.src].push(i.dst); }
      else if ((i.op === 'binary' || i.op === 'unary') && TWO_ADDRESS.has(i.kind)) {
        // two-address code: a result in its first operand's register (that operand dying here) needs no mov
        partners[i.dst].push(i.a);
        if (i.op === 'binary' && OPS[i.kind].commutative) partners[i.dst].push(i.b);
      }
      p += 2;
    }
    for (const u of terminatorUses(b.term)) { touch(u, p); weight[u] += w; }
    if (b.term.op === 'return' && b.term.value !== null) returned.add(b.term.value);
  });

  // ---- liveness after each instruction (backward through each block from its live-out set) ----
  const liveAfter = f.blocks.map((b, bi) => {
    const after: Set<VReg>[] = new Array(b.instrs.length + 1);
    const live = new Set(liveOut[bi]);
    after[b.instrs.length] = new Set(live);
    for (const u of terminatorUses(b.term)) live.add(u);
    for (let k = b.instrs.length - 1; k >= 0; k--) {
      after[k] = new Set(live);
      const d = definedRegister(b.instrs[k]);
      if (d !== null) live.delete(d);
      for (const u of usedRegisters(b.instrs[k])) live.add(u);
    }
    return after;
  });
  // ---- live ranges: each vreg's interval less its holes (positions where it is dead) ----
  const ranges = liveRanges(f, start, end, liveOut);
  if (!scan) {
    return { registers, constants, addresses, used: [], useCounts, from, to, ranges, blockStart: start, liveAfter };
  }

  // ---- linear scan: the candidates are vregs with a lifetime that are not constants ----
  const candidates: VReg[] = [];
  for (let v = 0; v < f.vregCount; v++) if (to[v] >= 0 && !constants.has(v) && !addresses.has(v)) candidates.push(v);
  candidates.sort((a, b) => from[a] - from[b] || a - b);
  // the vregs given each register whose intervals have not ended before the current candidate's start
  const holders = new Map<Register, VReg[]>(allocatable.map(r => [r, []]));
  const usedSet = new Set<Register>();
  const allowed = (v: VReg, r: Register): boolean => !forbidden.get(v)?.has(r);
  // the holders of r whose live ranges meet v's (v may take r when there are none)
  const conflicting = (v: VReg, r: Register): VReg[] => holders.get(r)!.filter(w => overlaps(ranges[v], ranges[w]));
  const available = (v: VReg, r: Register): boolean => allowed(v, r) && conflicting(v, r).length === 0;
  const assign = (v: VReg, r: Register) => { registers.set(v, r); usedSet.add(r); holders.get(r)!.push(v); };
  for (const v of candidates) {
    for (const [r, list] of holders) holders.set(r, list.filter(w => to[w] >= from[v]));
    // a returned value's eax, a copy partner's register (coalescing), then the first available register
    let choice: Register | undefined;
    if (returned.has(v) && holders.has(Register.EAX) && available(v, Register.EAX)) choice = Register.EAX;
    for (const p of choice === undefined ? partners[v] : []) {
      const r = registers.get(p);
      if (r !== undefined && holders.has(r) && available(v, r)) { choice = r; break; }
    }
    // (first one that copy partners still to come may take too, so their copies can emit nothing)
    const later = partners[v].filter(p => from[p] > from[v]);
    if (choice === undefined) {
      for (const r of allocatable) if (available(v, r) && later.every(p => allowed(p, r))) { choice = r; break; }
    }
    if (choice === undefined) for (const r of allocatable) if (available(v, r)) { choice = r; break; }
    if (choice !== undefined) { assign(v, choice); continue; }
    // no register: the cheapest of v and the holders of a register v may take, whose ranges meet v's, goes to
    // memory (cost: weight per position covered, so a long interval read rarely gives way to a short busy one)
    const cost = (x: VReg) => weight[x] / (to[x] - from[x] + 1);
    let victims: VReg[] = [], victimRegister: Register | undefined, cheapest = cost(v);
    for (const r of allocatable) {
      if (!allowed(v, r)) continue;
      const them = conflicting(v, r);
      const c = them.reduce((sum, w) => sum + cost(w), 0);
      if (c < cheapest) { cheapest = c; victims = them; victimRegister = r; }
    }
    if (victimRegister === undefined) continue;
    for (const w of victims) registers.delete(w);
    holders.set(victimRegister, holders.get(victimRegister)!.filter(w => !victims.includes(w)));
    assign(v, victimRegister);
  }
  const used = [...CALLEE_SAVED, Register.EBP].filter(r => usedSet.has(r));
  return { registers, constants, addresses, used, useCounts, from, to, ranges, blockStart: start, liveAfter };
}

/**
 * Each vreg's live ranges: sorted, disjoint [from, to] pairs of positions (flattened), whose union is the
 * positions where the vreg is live (between a definition or block entry and a read) or being defined. Between
 * them are its holes, where another vreg may hold its register. Parameters also cover position -1 (entry).
 */
function liveRanges(f: IrFunction, start: number[], end: number[], liveOut: Set<VReg>[]): number[][] {
  const pieces: number[][] = Array.from({ length: f.vregCount }, () => []);
  for (let p = 0; p < f.params; p++) pieces[p].push(-1, -1);
  f.blocks.forEach((b, bi) => {
    // backward through the block: open[v] is where v's range ends for a read below the current point
    const open = new Map<VReg, number>();
    for (const v of liveOut[bi]) open.set(v, end[bi]);
    let p = start[bi] + 2 * b.instrs.length + 1;
    for (const u of terminatorUses(b.term)) if (!open.has(u)) open.set(u, p);
    for (let k = b.instrs.length - 1; k >= 0; k--) {
      p -= 2;
      const d = definedRegister(b.instrs[k]);
      if (d !== null) {
        pieces[d].push(p + 1, open.get(d) ?? p + 1);
        open.delete(d);
      }
      for (const u of usedRegisters(b.instrs[k])) if (!open.has(u)) open.set(u, p);
    }
    for (const [v, e] of open) pieces[v].push(start[bi], e); // live on entry
  });
  return pieces.map(list => {
    const pairs: [number, number][] = [];
    for (let i = 0; i < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
    pairs.sort((a, b) => a[0] - b[0]);
    const merged: number[] = [];
    for (const [a, b] of pairs) {
      const last = merged.length - 1;
      if (last > 0 && a <= merged[last] + 1) merged[last] = Math.max(merged[last], b);
      else merged.push(a, b);
    }
    return merged;
  });
}

/** Whether two sorted range lists share a position. */
function overlaps(a: number[], b: number[]): boolean {
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    if (a[i + 1] < b[j]) i += 2;
    else if (b[j + 1] < a[i]) j += 2;
    else return true;
  }
  return false;
}
