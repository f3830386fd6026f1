// Contract: address arithmetic recomputed at each access, so that each one folds into its memory operand
// (fusion.ts, addressFolds, takes an address read by one access only). Requires: a verified IR function at
// -O2, before register allocation. Guarantees: a copy of the function computing the same values, in which
// an address `a = add base, t` (t = `shl x, k`, k = 1..3, or any index) with a constant base (a data
// symbol's address, fusion's displacement) that loads and stores of its block read (several, or one not
// right after it) is computed again right before each of them from fresh registers (`histogram[i]++`
// is `mov eax, [ecx*4 + 0x104104]; add eax, 1; mov [ecx*4 + 0x104104], eax`, not a pointer kept in a
// register); the original is dropped
// when nothing else reads it. Only where the index (x) is not redefined between the address and the access.
// The register holding x then lives up to the last access instead of the pointer: no more registers.

import type { Function as IrFunction, Instr, VReg } from "../ir.ts";
import { definedRegister, usedRegisters, terminatorUses } from "../ir.ts";
import { constantDefinitions } from "./regalloc.ts";

type Binary = Extract<Instr, { op: "binary" }>;

export function rematerializeAddresses(f: IrFunction): IrFunction {
  const { constants, addresses } = constantDefinitions(f);
  const isConstant = (v: VReg) => constants.has(v) || addresses.has(v);
  const uses = new Int32Array(f.vregCount), accessUses = new Int32Array(f.vregCount);
  for (const b of f.blocks) {
    for (const i of b.instrs) {
      for (const u of usedRegisters(i)) uses[u]++;
      const access = i.op === "load" || (i.op === "store" && i.value !== i.address);
      if (access) accessUses[i.address]++;
    }
    for (const u of terminatorUses(b.term)) uses[u]++;
  }
  let vregCount = f.vregCount;
  let changed = false;
  const blocks = f.blocks.map(b => {
    // the addresses of this block worth recomputing: defined here, read by several accesses
    const definedAt = new Map<VReg, number>();
    const out: Instr[] = [];
    const remade = new Map<VReg, number>(); // address -> accesses rewritten
    b.instrs.forEach((i, k) => {
      const d = definedRegister(i);
      // (an access right after its only address folds as it is)
      const access = i.op === "load" || i.op === "store" ? i : null;
      const alone = access !== null && accessUses[access.address] === 1 && definedAt.get(access.address) === k - 1;
      if (access !== null && definedAt.has(access.address) && !alone) {
        const plan = addressPlan(b.instrs, definedAt.get(access.address)!, k, constants, isConstant, uses);
        if (plan) {
          const fresh: Instr[] = [];
          let index = plan.add.a === plan.base ? plan.add.b : plan.add.a;
          if (plan.shift) {
            const scaled = vregCount++;
            fresh.push({ ...plan.shift, dst: scaled });
            index = scaled;
          }
          const address = vregCount++;
          fresh.push({ op: "binary", kind: "add", dst: address, a: plan.base, b: index });
          out.push(...fresh, { ...access, address });
          remade.set(access.address, (remade.get(access.address) ?? 0) + 1);
          changed = true;
          if (d !== null) definedAt.delete(d);
          return;
        }
      }
      out.push(i);
      if (d === null) return;
      for (const [a, at] of definedAt) if (usedRegisters(b.instrs[at]).includes(d) || a === d) definedAt.delete(a);
      if (i.op === "binary" && i.kind === "add" && accessUses[d] > 0 && accessUses[d] === uses[d]) definedAt.set(d, k);
    });
    // an address every reader of which now computes its own is dropped (its shift too, when only it read that)
    const dropped = new Set<Instr>();
    for (const [a, n] of remade) {
      if (n !== uses[a]) continue;
      const at = b.instrs.findIndex(i => definedRegister(i) === a);
      const add = b.instrs[at] as Binary;
      dropped.add(add);
      for (const operand of [add.a, add.b]) {
        const shift = b.instrs.slice(0, at).reverse().find(i => definedRegister(i) === operand);
        const scaled = shift?.op === "binary" && shift.kind === "shl" && uses[operand] === 1 && !isConstant(operand);
        if (scaled) dropped.add(shift);
      }
    }
    return { ...b, instrs: out.filter(i => !dropped.has(i)) };
  });
  return changed ? { ...f, vregCount, blocks } : f;
}

interface Plan { add: Binary; base: VReg; shift: Binary | null }

/**
 * How to recompute the address defined at `at` for the access at `k`: `add base, t` with a constant
 * base, t a shift by 1..3 defined just before (then recomputed too) or any other register; null when
 * an operand read is redefined in between (or is defined more than once in a way we cannot see).
 */
function addressPlan(instrs: Instr[], at: number, k: number, constants: Map<VReg, number>,
  isConstant: (v: VReg) => boolean, uses: Int32Array): Plan | null {
  const add = instrs[at];
  if (add.op !== "binary" || add.kind !== "add") return null;
  const base = isConstant(add.a) ? add.a : isConstant(add.b) ? add.b : null;
  if (base === null) return null;
  const index = base === add.a ? add.b : add.a;
  if (isConstant(index)) return null;
  const between = instrs.slice(at + 1, k);
  const redefined = (v: VReg) => between.some(i => definedRegister(i) === v);
  if (redefined(index)) return null;
  // the shift that scaled the index, when it is the instruction right before the add and only the add reads it
  const previous = at > 0 ? instrs[at - 1] : null;
  if (previous?.op === "binary" && previous.kind === "shl" && previous.dst === index && uses[index] === 1
    && [1, 2, 3].includes(constants.get(previous.b) ?? 0) && previous.a !== index && !redefined(previous.a)) {
    return { add, base, shift: previous };
  }
  return { add, base, shift: null };
}
