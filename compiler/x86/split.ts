// Contract: live-range splitting around loops, for the x86 register allocator (compiler/x86/regalloc.ts).
// Requires: a verified IR function (non-SSA). Guarantees: a function that computes the same thing, where each
// vreg v that is live through a loop but neither read nor written inside it is carried across the loop by a
// new vreg s: `s = copy v` at the end of the loop's preheader, `v = copy s` at the start of every exit block
// v is live into. v is then dead inside the loop: its live ranges have a hole there, so the allocator may give
// v's register to the loop's values, while s, read and written once outside the loop, is the cheapest
// value to spill (one store before the loop, one load after). Without register pressure s takes v's register
// (its copy partner) and both copies emit nothing.
//
// A loop is the natural loop of a back edge t -> h (h at or before t in block order, h reaching t): h and
// every block that reaches t without passing h. It is split only where that is provably safe: h has exactly
// one predecessor outside the loop, P, whose only successor is h (every entry passes P's end), and every
// block outside the loop that an exit edge reaches with v live into it has only loop blocks as predecessors
// (every path from the loop to a later read of v passes one of the reloads, and s holds v's value there,
// since v is not written in the loop). Constants and link-time addresses (one definition, no register) are
// never split. Loops are taken outermost first; a vreg split around a loop is not split again inside it.

import type { Function as IrFunction, Instr, VReg } from "../ir.ts";
import { definedRegister, usedRegisters, terminatorUses, successors } from "../ir.ts";
import { blockLiveness, liveIntervals } from "./regalloc.ts";

/** The natural loop of each back edge, merged per header, outermost (largest) first. */
function naturalLoops(f: IrFunction, predecessors: number[][]): { header: number; body: Set<number> }[] {
  const byHeader = new Map<number, Set<number>>();
  f.blocks.forEach((b, t) => {
    for (const h of successors(b.term)) {
      if (h > t) continue;
      const body = byHeader.get(h) ?? new Set([h]);
      byHeader.set(h, body);
      const work = [t];
      while (work.length) {
        const x = work.pop()!;
        if (body.has(x)) continue;
        body.add(x);
        for (const p of predecessors[x]) work.push(p);
      }
    }
  });
  return [...byHeader].map(([header, body]) => ({ header, body })).sort((a, b) => b.body.size - a.body.size);
}

/** f with the loop-spanning vregs it can split carried across their loops by new vregs (see the contract). */
export function splitAroundLoops(f: IrFunction): IrFunction {
  const predecessors: number[][] = f.blocks.map(() => []);
  f.blocks.forEach((b, i) => { for (const s of successors(b.term)) predecessors[s].push(i); });
  const loops = naturalLoops(f, predecessors);
  if (loops.length === 0) return f;
  const { liveIn } = blockLiveness(f);
  const intervals = liveIntervals(f);
  // the blocks each vreg is read or written in
  const touched: Set<number>[] = Array.from({ length: f.vregCount }, () => new Set());
  f.blocks.forEach((b, bi) => {
    for (const i of b.instrs) {
      for (const u of usedRegisters(i)) touched[u].add(bi);
      const d = definedRegister(i);
      if (d !== null) touched[d].add(bi);
    }
    for (const u of terminatorUses(b.term)) touched[u].add(bi);
  });
  const atEnd: Instr[][] = f.blocks.map(() => []), atStart: Instr[][] = f.blocks.map(() => []);
  const split = new Map<VReg, Set<number>>(); // vreg -> the body of the loop it was split around
  let vregCount = f.vregCount;
  for (const { header, body } of loops) {
    if (body.has(0)) continue; // the function's entry enters the loop without passing a preheader
    const outside = predecessors[header].filter(p => !body.has(p));
    if (outside.length !== 1) continue;
    const preheader = outside[0];
    if (successors(f.blocks[preheader].term).some(s => s !== header)) continue;
    if ([...body].some(b => b !== header && predecessors[b].some(p => !body.has(p)))) continue;
    const exits = new Set<number>();
    for (const b of body) for (const s of successors(f.blocks[b].term)) if (!body.has(s)) exits.add(s);
    for (const v of liveIn[header]) {
      if (intervals.constants.has(v) || intervals.addresses.has(v)) continue;
      if ([...body].some(b => touched[v].has(b))) continue;
      const outer = split.get(v);
      if (outer && [...body].every(b => outer.has(b))) continue;
      const reloads = [...exits].filter(x => liveIn[x].has(v));
      if (reloads.some(x => predecessors[x].some(p => !body.has(p)))) continue;
      const s = vregCount++;
      atEnd[preheader].push({ op: "copy", dst: s, src: v });
      for (const x of reloads) atStart[x].push({ op: "copy", dst: v, src: s });
      split.set(v, body);
    }
  }
  if (vregCount === f.vregCount) return f;
  const blocks = f.blocks.map((b, bi) => ({ ...b, instrs: [...atStart[bi], ...b.instrs, ...atEnd[bi]] }));
  return { ...f, vregCount, blocks };
}
