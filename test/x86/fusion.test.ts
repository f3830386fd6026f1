// Contract: the x86 fusions (compiler/x86/fusion.ts) on IR text: which instructions each fusion skips,
// the table its rule reads, and what the fused code reads (`uses`, the allocation checker's input), with
// the patterns that must not fuse (a result read twice, an operand redefined in between).

import test from "ava";
import type { Block, Function as IrFunction, VReg } from "../../compiler/ir.ts";
import { usedRegisters, terminatorUses } from "../../compiler/ir.ts";
import { parseFunction } from "../../compiler/parse.ts";
import { allocateRegisters, isConstant } from "../../compiler/x86/regalloc.ts";
import { findFusions, type Fusions } from "../../compiler/x86/fusion.ts";

function fusionsOf(text: string): { f: IrFunction; found: Fusions; constant: (v: VReg) => boolean } {
  const f = parseFunction(text);
  const alloc = allocateRegisters(f);
  return { f, found: findFusions(f, alloc), constant: v => isConstant(alloc, v) };
}

/** The non-constant vregs the code of block b's instruction k (k = instrs.length: its terminator) reads. */
function uses(t: ReturnType<typeof fusionsOf>, b: number, k: number): VReg[] {
  const block: Block = t.f.blocks[b];
  const read = k < block.instrs.length
    ? t.found.uses(block.instrs[k], usedRegisters(block.instrs[k]))
    : t.found.uses(block, terminatorUses(block.term));
  return [...new Set(read.filter(v => !t.constant(v)))].sort((x, y) => x - y);
}

const skipped = (t: ReturnType<typeof fusionsOf>, b: number): number[] =>
  t.f.blocks[b].instrs.flatMap((i, k) => (t.found.skips(i) ? [k] : []));

test("a scaled index, its load and the bounds compare all fuse into the branch", t => {
  const x = fusionsOf(`
function f(v0, v1, v2) -> i32 {
b0:
  v3 = const 2
  v4 = shl v1, v3
  v5 = add v0, v4
  v6 = load.u32 [v5]
  v7 = ltu v2, v6
  branch v7, b1, b2
b1:
  return v2
b2:
  return v1
}`);
  t.deepEqual(skipped(x, 0), [1, 2, 3, 4]);
  t.deepEqual(x.found.addresses.get(5), { base: 0, index: 1, scale: 4, displacement: 0 });
  t.is<unknown, unknown>(x.found.loads.get(6), x.f.blocks[0].instrs[3]);
  t.is<unknown, unknown>(x.found.branches.get(x.f.blocks[0]), x.f.blocks[0].instrs[4]);
  // the branch's code reads the compare's operands, the folded load's base and index in place of v6
  t.deepEqual(uses(x, 0, 5), [0, 1, 2]);
});

test("a compare read by a select fuses into it; one read twice does not", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = lts v0, v1
  v3 = select v2, v0, v1
  v4 = gtu v0, v1
  v5 = select v4, v1, v0
  v6 = add v5, v4
  v7 = add v3, v6
  return v7
}`);
  t.deepEqual(skipped(x, 0), [0]);
  t.is<unknown, unknown>(x.found.selects.get(x.f.blocks[0].instrs[1] as never), x.f.blocks[0].instrs[0]);
  t.false(x.found.selects.has(x.f.blocks[0].instrs[3] as never));
  t.deepEqual(uses(x, 0, 1), [0, 1]);
  t.deepEqual(uses(x, 0, 3), [0, 1, 4]);
});

test("an address whose base is redefined before the access is not folded", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = add v0, v1
  v0 = const 0
  v3 = load.u32 [v2]
  return v3
}`);
  t.deepEqual(skipped(x, 0), []);
  t.is(x.found.addresses.size, 0);
  t.deepEqual(uses(x, 0, 2), [2]);
});

test("a self-call the block returns is lowered with the terminator, a void one too", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  branch v0, b1, b2
b1:
  v2 = call f(v1, v0)
  return v2
b2:
  return v1
}`);
  t.deepEqual(skipped(x, 1), [0]);
  t.is<unknown, unknown>(x.found.tailCalls.get(x.f.blocks[1]), x.f.blocks[1].instrs[0]);
  t.deepEqual(uses(x, 1, 1), [0, 1]);
  const y = fusionsOf(`
function g(v0) {
b0:
  branch v0, b1, b2
b1:
  call g(v0)
  return
b2:
  return
}`);
  t.deepEqual(skipped(y, 1), [0]);
  // `return` reads nothing itself; its code passes the call's argument
  t.deepEqual(uses(y, 1, 1), [0]);
});

/** `switch (v0)` as the front end lowers it: a test block per case value, then the default's block. */
function chain(values: number[], options: { ne?: number; extraPredecessorOf?: number } = {}): string {
  const n = values.length, out = ["function f(v0, v1) -> i32 {", "b0:"];
  if (options.extraPredecessorOf !== undefined) out.push(`  branch v1, b${options.extraPredecessorOf}, b1`, "b1:");
  const base = options.extraPredecessorOf !== undefined ? 1 : 0;
  values.forEach((k, i) => {
    if (i > 0) out.push(`b${base + i}:`);
    const kind = i === options.ne ? "ne" : "eq";
    const [hit, miss] = [`b${base + n + i}`, `b${base + i + 1 === base + n ? base + 2 * n : base + i + 1}`];
    out.push(`  v${10 + i} = const ${k}`, `  v${30 + i} = ${kind} v0, v${10 + i}`,
      `  branch v${30 + i}, ${kind === "eq" ? hit : miss}, ${kind === "eq" ? miss : hit}`);
  });
  values.forEach((_, i) => out.push(`b${base + n + i}:`, `  v${50 + i} = const ${i}`, `  return v${50 + i}`));
  out.push(`b${base + 2 * n}:`, "  return v1", "}");
  return out.join("\n");
}

test("a dense chain of equality tests becomes a jump table; its later tests emit nothing", t => {
  const x = fusionsOf(chain([3, 4, 6, 5, 8]));
  const table = x.found.jumpTables.get(x.f.blocks[0]);
  // 3..8: the hole at 7 goes where the chain's last test fails (the default's block, b10)
  t.deepEqual(table, { value: 0, low: 3, targets: [5, 6, 8, 7, 10, 9], otherwise: 10, checked: true });
  for (let b = 1; b < 5; b++) t.true(x.found.silentBlocks.has(x.f.blocks[b]), `b${b}`);
  t.deepEqual(skipped(x, 0), [1]);
  t.deepEqual(uses(x, 0, 2), [0]);
  // a `ne` test (its true side goes on) is the same test
  const y = fusionsOf(chain([0, 1, 2, 3], { ne: 2 }));
  t.deepEqual(y.found.jumpTables.get(y.f.blocks[0])?.targets, [4, 5, 6, 7]);
});

/** The jump table of the function's first block. */
function tableOf(ir: string) {
  const x = fusionsOf(ir);
  return x.found.jumpTables.get(x.f.blocks[0]);
}

/** chain(values) switching on v2, which the lines `define` give a value first. */
function chainOf(define: string[], values: number[]): string {
  return chain(values).replace(/ = (eq|ne) v0, /g, " = $1 v2, ").replace("b0:\n", `b0:\n${define.join("\n")}\n`);
}

test("a switch on a byte load or a masked value covers its whole range and needs no bounds check", t => {
  // v2 = load.u8: 0..255, every entry in the table; the cases' blocks b5..b9, the rest the default's b10
  const byte = fusionsOf(chainOf(["  v2 = load.u8 [v1]"], [3, 4, 6, 5, 8]));
  const table = byte.found.jumpTables.get(byte.f.blocks[0]);
  t.is(table?.checked, false);
  t.is(table?.low, 0);
  t.is(table?.targets.length, 256);
  t.deepEqual(table?.targets.slice(0, 10), [10, 10, 10, 5, 6, 8, 7, 10, 9, 10]);
  t.true(table?.targets.slice(10).every(b => b === 10));
  // and with a constant: 0..7
  const masked = fusionsOf(chainOf(["  v3 = const 7", "  v2 = and v0, v3"], [0, 1, 2, 3]));
  t.deepEqual(masked.found.jumpTables.get(masked.f.blocks[0]), { value: 2, low: 0, targets: [4, 5, 6, 7, 8, 8, 8, 8],
    otherwise: 8, checked: false });
  // a signed byte, a parameter, a mask above 255 or a second, unbounded definition: checked as before
  for (const define of [["  v2 = load.s8 [v1]"], ["  v3 = const 511", "  v2 = and v0, v3"],
    ["  v2 = load.u8 [v1]", "  v2 = add v2, v1"]]) {
    t.is(tableOf(chainOf(define, [0, 1, 2, 3]))?.checked, true, define.join("; "));
  }
  t.is(tableOf(chain([0, 1, 2, 3]))?.checked, true);
});

test("a sparse, short or shared chain keeps its compares", t => {
  const sparse = fusionsOf(chain([1, 100, 10000, 1000000]));
  t.is(sparse.found.jumpTables.size, 0);
  t.is(sparse.found.branches.size, 4);
  t.is(fusionsOf(chain([0, 1, 2])).found.jumpTables.size, 0);
  // the third test has a second predecessor: the chain ends before it and is too short from either head
  const shared = fusionsOf(chain([0, 1, 2, 3, 4], { extraPredecessorOf: 3 }));
  t.is(shared.found.jumpTables.size, 0);
  t.is(shared.found.silentBlocks.size, 0);
});

test("a load, an op of it and a store of the result to the same word fuse into one op on memory", t => {
  const x = fusionsOf(`
function f(v0, v1, v2) {
b0:
  v3 = const 2
  v4 = shl v1, v3
  v5 = add v0, v4
  v6 = load.u32 [v5]
  v7 = const 1
  v8 = add v6, v7
  store.32 [v5], v8
  v9 = load.u32 [v0 + 8]
  v10 = xor v9, v2
  store.32 [v0 + 8], v10
  v11 = load.u32 [v0 + 12]
  v12 = sub v11, v2
  store.32 [v0 + 16], v12
  return
}`);
  // histogram[v1]++: the address folds into the store, which reads only v0 and v1
  t.deepEqual(skipped(x, 0), [1, 2, 3, 5, 7, 8]);
  t.is<unknown, unknown>(x.found.readModifyWrites.get(x.f.blocks[0].instrs[6] as never), x.f.blocks[0].instrs[5]);
  t.deepEqual(x.found.addresses.get(5), { base: 0, index: 1, scale: 4, displacement: 0 });
  t.deepEqual(uses(x, 0, 6), [0, 1]);
  t.deepEqual(uses(x, 0, 9), [0, 2]);
  // another word: a plain load, op and store
  t.is(x.found.readModifyWrites.size, 2);
  t.deepEqual(uses(x, 0, 12), [0, 12]);
});

test("a load read only by the ALU op right after it is that op's memory operand; one read twice is not", t => {
  const x = fusionsOf(`
function f(v0, v1, v2) -> i32 {
b0:
  v3 = const 2
  v4 = shl v1, v3
  v5 = add v0, v4
  v6 = load.u32 [v5]
  v7 = xor v2, v6
  v8 = load.u32 [v0 + 8]
  v9 = add v8, v7
  v10 = load.u32 [v0 + 12]
  v11 = sub v10, v9
  v12 = load.u32 [v0 + 16]
  v13 = mul v11, v12
  v14 = and v13, v12
  return v14
}`);
  const op = (k: number) => x.f.blocks[0].instrs[k] as never;
  // crc32's `xor ecx, [esi*4 + table]`: the address folds into the load, the load into the xor
  t.deepEqual(x.found.aluLoads.get(op(4)), { load: x.f.blocks[0].instrs[3], other: 2 });
  t.deepEqual(uses(x, 0, 4), [0, 1, 2]);
  // commutative: the load as the first operand
  t.deepEqual(x.found.aluLoads.get(op(6)), { load: x.f.blocks[0].instrs[5], other: 7 });
  t.deepEqual(uses(x, 0, 6), [0, 7]);
  // sub is not: its load stays; v12, read by the mul and the and, stays too
  t.is(x.found.aluLoads.get(op(8)), undefined);
  t.is(x.found.aluLoads.get(op(10)), undefined);
  t.deepEqual(skipped(x, 0), [1, 2, 3, 5]);
});

test("a comparison defined in two blocks, each read only by its own branch, fuses in both; one live out not", t => {
  // tail duplication's latch: `v2 = lts v0, v1; branch v2` in the head and again in the body
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = lts v0, v1
  branch v2, b1, b2
b1:
  v3 = const 1
  v0 = add v0, v3
  v2 = lts v0, v1
  branch v2, b1, b2
b2:
  return v0
}`);
  t.is<unknown, unknown>(x.found.branches.get(x.f.blocks[0]), x.f.blocks[0].instrs[0]);
  t.is<unknown, unknown>(x.found.branches.get(x.f.blocks[1]), x.f.blocks[1].instrs[2]);
  const kept = fusionsOf(`
function g(v0, v1) -> i32 {
b0:
  v2 = lts v0, v1
  branch v2, b1, b2
b1:
  return v2
b2:
  return v1
}`);
  t.is(kept.found.branches.size, 0);
});

test("a load compared with a constant is cmp [mem], imm: a word against any, a byte against one in its range", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = const 0
  v3 = load.u8 [v0 + 4]
  v4 = ne v3, v2
  branch v4, b1, b2
b1:
  v5 = const 300
  v6 = load.u32 [v0 + 8]
  v7 = lts v6, v5
  branch v7, b3, b2
b2:
  v8 = const 200
  v9 = load.u8 [v0 + 5]
  v10 = lts v9, v8
  branch v10, b3, b4
b3:
  v11 = const 300
  v12 = load.u8 [v0 + 6]
  v13 = eq v12, v11
  branch v13, b4, b5
b4:
  return v1
b5:
  return v0
}`);
  const load = (b: number, k: number) => x.f.blocks[b].instrs[k];
  // rowUsed[row] !== 0: cmp byte [v0 + 4], 0; a word against 300
  t.is<unknown, unknown>(x.found.loads.get(3), load(0, 1));
  t.is<unknown, unknown>(x.found.loads.get(6), load(1, 1));
  t.deepEqual(uses(x, 0, 3), [0]);
  // a zero-extended byte compared signed, or against a constant it cannot equal, stays a load
  t.is(x.found.loads.get(9), undefined);
  t.is(x.found.loads.get(12), undefined);
});

test("a shift by 1 to 3 read only by the add right after it is one lea with it", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = const 1
  v3 = shl v0, v2
  v4 = add v3, v2
  v5 = const 3
  v6 = shl v1, v5
  v7 = add v4, v6
  v8 = const 4
  v9 = shl v7, v8
  v10 = add v9, v1
  v11 = shl v10, v2
  v12 = add v11, v11
  return v12
}`);
  const op = (k: number) => x.f.blocks[0].instrs[k] as never;
  // root * 2 + 1: lea r, [v0*2 + 1]; v4 + v1*8: lea r, [v4 + v1*8]
  t.deepEqual(x.found.scaledAdds.get(op(2)), { index: 0, scale: 2, other: 2 });
  t.deepEqual(x.found.scaledAdds.get(op(5)), { index: 1, scale: 8, other: 4 });
  t.deepEqual(uses(x, 0, 5), [1, 4]);
  // a shift by 4 has no scale; a shift read twice stays
  t.is(x.found.scaledAdds.get(op(8)), undefined);
  t.is(x.found.scaledAdds.get(op(10)), undefined);
  t.deepEqual(skipped(x, 0), [1, 4]);
});

test("an and compared with 0 right after it is test x, y; one read twice, or compared with 1, is not", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = const -65536
  v3 = const 0
  v4 = and v0, v2
  v5 = eq v4, v3
  branch v5, b1, b2
b1:
  v6 = and v2, v1
  v7 = lts v6, v3
  v8 = select v7, v0, v1
  return v8
b2:
  v9 = and v0, v1
  v10 = ne v9, v3
  v11 = select v10, v9, v1
  v12 = const 1
  v13 = and v0, v1
  v14 = eq v13, v12
  v15 = select v14, v0, v11
  return v15
}`);
  const op = (b: number, k: number) => x.f.blocks[b].instrs[k] as never;
  // (x & 0xffff0000) === 0: test v0, 0xffff0000 in the branch; the constant on the left too
  t.is<unknown, unknown>(x.found.tests.get(4), op(0, 2));
  t.is<unknown, unknown>(x.found.tests.get(6), op(1, 0));
  t.deepEqual(uses(x, 0, 4), [0]);
  t.deepEqual(uses(x, 1, 2), [0, 1]);
  // v9 is also the select's operand; v13 is compared with 1
  t.is(x.found.tests.get(9), undefined);
  t.is(x.found.tests.get(13), undefined);
});

test("shifts left and right of one value by counts adding up to 32, or'ed, are one rol", t => {
  const x = fusionsOf(`
function f(v0, v1) -> i32 {
b0:
  v2 = const 31
  v3 = const 32
  v4 = and v1, v2
  v5 = sub v3, v1
  v6 = and v5, v2
  v7 = shl v0, v4
  v8 = shru v0, v6
  v9 = or v7, v8
  v10 = const 16
  v11 = shru v9, v10
  v12 = shl v9, v10
  v13 = or v11, v12
  v14 = const 15
  v15 = shru v13, v14
  v16 = shl v13, v10
  v17 = or v15, v16
  v18 = shl v17, v1
  v19 = sub v3, v0
  v20 = shru v17, v19
  v21 = or v18, v20
  return v21
}`);
  const op = (k: number) => x.f.blocks[0].instrs[k] as never;
  // rotateLeft(x, n): the shifts, the count's two ands and its sub emit nothing; the rule reads x and n
  t.deepEqual(x.found.rotates.get(op(7)), { x: 0, count: 1 });
  t.deepEqual(uses(x, 0, 7), [0, 1]);
  // (x >>> 16) | (x << 16): rol x, 16
  t.deepEqual(x.found.rotates.get(op(11)), { x: 9, count: 10 });
  // 15 + 16 is not 32; (x << n) | (x >>> (32 - m)) with m not n is no rotate
  t.is(x.found.rotates.get(op(15)), undefined);
  t.is(x.found.rotates.get(op(20)), undefined);
  t.deepEqual(skipped(x, 0), [2, 3, 4, 5, 6, 9, 10]);
});
