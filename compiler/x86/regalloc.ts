// Contract: register allocation for one IR function (linear scan over live intervals, Poletto & Sarkar).
// Requires: a verified IR function (non-SSA: a vreg may be defined more than once). Guarantees: each vreg
// is either a constant (defined once, by `const`: used as an immediate, never stored), in one of the
// callee-saved registers ebx/esi/edi for its whole lifetime, or in its frame home; two vregs whose
// lifetimes overlap never share a register. eax/ecx/edx stay scratch for the lowering rules.
//
// Lifetimes are single intervals over the linear order of instructions (blocks in index order): from
// the first position where the vreg is defined, used or live on block entry, to the last such position
// (live-out extends to the block end). That is conservative across loops: a vreg live around a back
// edge covers the whole loop.

import { Register } from "iced-x86";
import type { Function as IrFunction, VReg } from "../ir.ts";
import { definedRegister, usedRegisters, terminatorUses, successors } from "../ir.ts";

/** The registers vregs may live in: callee-saved, so they survive calls with no extra code. */
export const ALLOCATABLE = [Register.EBX, Register.ESI, Register.EDI] as const;

export interface Allocation {
  /** vreg -> register, for vregs that live in a register. */
  registers: Map<VReg, Register>;
  /** vreg -> constant value, for vregs defined once by `const` (never params). */
  constants: Map<VReg, number>;
  /** Callee-saved registers this function uses (saved in the prologue, restored before returns). */
  used: Register[];
  /** How many times each vreg is read (by instructions and terminators). */
  useCounts: Int32Array;
}

export function constantsOf(f: IrFunction): Map<VReg, number> {
  const defs = new Int32Array(f.vregCount);
  const constants = new Map<VReg, number>();
  for (const b of f.blocks) for (const i of b.instrs) {
    const d = definedRegister(i);
    if (d === null) continue;
    defs[d]++;
    if (i.op === 'const') constants.set(d, i.value);
  }
  for (const v of [...constants.keys()]) if (defs[v] !== 1 || v < f.params) constants.delete(v);
  return constants;
}

export function allocateRegisters(f: IrFunction, enabled = true): Allocation {
  const constants = constantsOf(f);
  const useCounts = new Int32Array(f.vregCount);
  for (const b of f.blocks) {
    for (const i of b.instrs) for (const u of usedRegisters(i)) useCounts[u]++;
    for (const u of terminatorUses(b.term)) useCounts[u]++;
  }
  const registers = new Map<VReg, Register>();
  if (!enabled) return { registers, constants, used: [], useCounts };

  // ---- positions: block b spans [start[b], end[b]]; instruction k of the function at 2k+1 ----
  const start: number[] = [], end: number[] = [];
  let position = 0;
  for (const b of f.blocks) {
    start.push(position);
    position += 2 * b.instrs.length + 2; // each instruction, then the terminator
    end.push(position - 1);
  }

  // ---- liveness (backward dataflow over blocks) ----
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
      for (const s of successors(f.blocks[bi].term)) for (const v of liveIn[s]) if (!out.has(v)) { out.add(v); changed = true; }
      const inn = liveIn[bi];
      for (const v of uses[bi]) if (!inn.has(v)) { inn.add(v); changed = true; }
      for (const v of out) if (!defs[bi].has(v) && !inn.has(v)) { inn.add(v); changed = true; }
    }
  }

  // ---- intervals ----
  const from = new Int32Array(f.vregCount).fill(0x7fffffff), to = new Int32Array(f.vregCount).fill(-1);
  const touch = (v: VReg, p: number) => { if (p < from[v]) from[v] = p; if (p > to[v]) to[v] = p; };
  for (let p = 0; p < f.params; p++) touch(p, -1); // parameters arrive on entry
  f.blocks.forEach((b, bi) => {
    for (const v of liveIn[bi]) touch(v, start[bi]);
    for (const v of liveOut[bi]) touch(v, end[bi]);
    let p = start[bi] + 1;
    for (const i of b.instrs) {
      for (const u of usedRegisters(i)) touch(u, p);
      const d = definedRegister(i);
      if (d !== null) touch(d, p + 1);
      p += 2;
    }
    for (const u of terminatorUses(b.term)) touch(u, p);
  });

  // ---- linear scan: the candidates are vregs with a lifetime that are not constants ----
  const candidates: VReg[] = [];
  for (let v = 0; v < f.vregCount; v++) if (to[v] >= 0 && !constants.has(v)) candidates.push(v);
  candidates.sort((a, b) => from[a] - from[b] || a - b);
  const active: VReg[] = []; // sorted by increasing end
  const free: Register[] = [...ALLOCATABLE];
  const usedSet = new Set<Register>();
  // A vreg read more often is worth more; spill the active interval that ends last (ties: the cheaper one).
  for (const v of candidates) {
    while (active.length && to[active[0]] < from[v]) free.push(registers.get(active.shift()!)!);
    if (free.length) {
      const r = free.shift()!;
      registers.set(v, r);
      usedSet.add(r);
      insertByEnd(active, v, to);
      continue;
    }
    const last = active[active.length - 1];
    if (to[last] > to[v] && useCounts[last] <= useCounts[v] * 2) {
      const r = registers.get(last)!;
      registers.delete(last);
      active.pop();
      registers.set(v, r);
      insertByEnd(active, v, to);
    }
  }
  const used = ALLOCATABLE.filter(r => usedSet.has(r));
  return { registers, constants, used, useCounts };
}

function insertByEnd(active: VReg[], v: VReg, to: Int32Array): void {
  let i = active.length;
  while (i > 0 && to[active[i - 1]] > to[v]) i--;
  active.splice(i, 0, v);
}
