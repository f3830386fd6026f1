// Contract: the x86 condition codes of the IR's comparisons (SDM Vol. 1, Appendix B.1), one table from
// which the lowering rules build their setcc, jcc and cmovcc opcodes (rules.ts) and by which the fusions
// know a comparison (fusion.ts). Every comparison op of the IR has exactly one row.

import { Code } from "iced-x86";
import type { BinaryOp } from "../ir.ts";

// [the comparison, its condition code when it holds, when it does not]
const CONDITIONS: [BinaryOp, string, string][] = [
  ["eq", "e", "ne"], ["ne", "ne", "e"],
  ["lts", "l", "ge"], ["les", "le", "g"], ["gts", "g", "le"], ["ges", "ge", "l"],
  ["ltu", "b", "ae"], ["leu", "be", "a"], ["gtu", "a", "be"], ["geu", "ae", "b"],
];

/** The iced-x86 Code named `name` (Je_rel32_32, Cmovl_r32_rm32, Setb_rm8, ...). */
export const codeNamed = (name: string): Code => {
  const code = (Code as unknown as Record<string, Code>)[name];
  if (code === undefined) throw new Error(`x86 lowering: no iced-x86 Code ${name}`);
  return code;
};

/** One opcode table over the comparisons, from the condition codes of each. */
export const byCondition = <T>(make: (holds: string, fails: string) => T): Partial<Record<BinaryOp, T>> =>
  Object.fromEntries(CONDITIONS.map(([kind, holds, fails]) => [kind, make(holds, fails)]));

const COMPARISONS = new Set(CONDITIONS.map(([kind]) => kind));

/** Whether `kind` is a comparison (0 or 1, from the flags of one cmp). */
export const isComparison = (kind: BinaryOp): boolean => COMPARISONS.has(kind);
