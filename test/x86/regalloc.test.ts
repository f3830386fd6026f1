// Contract: the register allocator's live ranges (compiler/x86/regalloc.ts) and live-range splitting around
// loops (compiler/x86/split.ts): a vreg's register is shared across its holes, a vreg live through a loop that
// does not touch it is carried across by a spilled copy (one store before the loop, one load after) and keeps
// a register outside; each program booted in QEMU computes what the same function computes in JavaScript.
import test from "ava";
import { parseFunction } from "../../compiler/parse.ts";
import { allocateRegisters } from "../../compiler/x86/regalloc.ts";
import { splitAroundLoops } from "../../compiler/x86/split.ts";
import { checkModuleAllocation } from "../../compiler/x86/lower.ts";
import type { Function as IrFunction } from "../../compiler/ir.ts";
import { compileAndBoot, programModule, putHex } from "./helpers.ts";

const hex = (x: number) => (x >>> 0).toString(16).padStart(8, "0");

/** The listing of one function, split at its `; block N` lines: [prologue, block 0, block 1, ...]. */
function blocksOf(listing: string, name: string): string[] {
  const start = listing.indexOf(`\n${name}:\n`);
  const end = listing.indexOf("\n\n", start);
  return listing.slice(start, end === -1 ? undefined : end).split(/\n {2}; block \d+/);
}

/** Frame accesses (esp- or ebp-relative memory operands) in a piece of listing. */
const frameAccesses = (code: string): string[] => code.split("\n").filter(l => /\[(esp|ebp)[+\-\]]/.test(l));

// crc32's loop: v1 is read by the add and the shift, then redefined from the shift's result; between its last
// read and its redefinition it is dead, so the shift's result v5 takes v1's register (no copy back).
const HOLE = `function crc(v0) -> i32 {
b0:
  v1 = const -1
  v2 = const 0
  jump b1
b1:
  v3 = lts v2, v0
  branch v3, b2, b3
b2:
  v6 = add v1, v2
  v4 = const 8
  v5 = shru v1, v4
  v1 = xor v5, v6
  v7 = const 1
  v2 = add v2, v7
  jump b1
b3:
  return v1
}`;

function crc(n: number): number {
  let v1 = -1;
  for (let v2 = 0; v2 < n; v2++) v1 = ((v1 >>> 8) ^ (v1 + v2)) | 0;
  return v1;
}

test("a vreg's register is shared across its holes: the shift's result takes the loop value's register", async t => {
  const f = parseFunction(HOLE);
  const alloc = allocateRegisters(f);
  t.truthy(alloc.registers.get(1));
  t.is(alloc.registers.get(5), alloc.registers.get(1));
  t.true(alloc.from[1] < alloc.from[5] && alloc.to[5] < alloc.to[1], "v5's interval lies inside v1's");
  const module = programModule(main => {
    for (const n of [0, 1, 7, 100]) putHex(main, main.call("crc", [main.constant(n)]));
  }, [f]);
  t.deepEqual(checkModuleAllocation(module), []);
  const r = await compileAndBoot(module, "regalloc-hole");
  t.is(r.exitCode, 0);
  t.is(r.serial, [0, 1, 7, 100].map(n => hex(crc(n)) + "\n").join(""));
  // the loop body: no register-to-register copy, since v5 and v1 share a register
  const loop = blocksOf(r.image.listing, "crc")[3];
  t.notRegex(loop, /\bmov\s+e[a-z]{2},e[a-z]{2}\b/);
});

// v2 = v0 * v1 is read before and after a loop that never touches it, and the loop keeps seven values live at
// once (v0, v1, v3, v4, t1..t3: all seven registers of a frameless function).
const SPANNING = `function span(v0, v1) -> i32 {
b0:
  v2 = mul v0, v1
  v3 = const 0
  v4 = add v2, v0
  jump b1
b1:
  v5 = lts v3, v1
  branch v5, b2, b3
b2:
  v6 = add v3, v0
  v7 = mul v3, v1
  v8 = xor v6, v7
  v9 = add v6, v7
  v9 = add v9, v8
  v4 = add v4, v9
  v10 = const 1
  v3 = add v3, v10
  jump b1
b3:
  v11 = add v4, v2
  v11 = xor v11, v2
  v11 = mul v11, v2
  return v11
}`;

function span(a: number, b: number): number {
  const v2 = Math.imul(a, b);
  let v4 = (v2 + a) | 0;
  for (let i = 0; i < b; i++) {
    const t1 = (i + a) | 0, t2 = Math.imul(i, b);
    v4 = (v4 + (((t1 + t2) | 0) + (t1 ^ t2) | 0)) | 0;
  }
  return Math.imul(((v4 + v2) | 0) ^ v2, v2);
}

test("a vreg live through a loop that does not touch it is split: stored before the loop, reloaded after", async t => {
  const f: IrFunction = parseFunction(SPANNING);
  const split = splitAroundLoops(f);
  t.is(split.vregCount, f.vregCount + 1);
  const s = f.vregCount;
  t.deepEqual(split.blocks[0].instrs.at(-1), { op: "copy", dst: s, src: 2 });
  t.deepEqual(split.blocks[3].instrs[0], { op: "copy", dst: 2, src: s });
  const cases: [number, number][] = [[3, 0], [3, 5], [-7, 40], [123456, 9]];
  const module = programModule(main => {
    for (const [a, b] of cases) putHex(main, main.call("span", [main.constant(a), main.constant(b)]));
  }, [f]);
  t.deepEqual(checkModuleAllocation(module), []);
  const r = await compileAndBoot(module, "regalloc-split");
  t.is(r.exitCode, 0);
  t.is(r.serial, cases.map(([a, b]) => hex(span(a, b)) + "\n").join(""));
  // blocks: [prologue, b0, b1, b2, b3]; the loop (b1, b2) touches no frame slot, the copy is one store in b0
  // and one load in b3, and v2's reads after the loop are from a register
  const [prologue, b0, b1, b2, b3] = blocksOf(r.image.listing, "span");
  t.deepEqual(frameAccesses(b1), []);
  t.deepEqual(frameAccesses(b2), []);
  t.is(frameAccesses(b0).filter(l => /mov\s+\[/.test(l)).length, 1, b0);
  // (b3 ends with the epilogue: the callee-saved registers the prologue saved are restored)
  const saved = frameAccesses(prologue).filter(l => /mov\s+\[esp[^\]]*\],e[a-z]{2}$/.test(l)).length;
  const reloads = frameAccesses(b3).slice(0, -saved);
  t.is(reloads.length, 1, b3);
  t.regex(reloads[0], /mov\s+e[a-z]{2},\[/);
});

test("no split where a later read of the value is reachable without passing the loop's exit", t => {
  // b4 (after the loop) is also reached straight from b0: s would be undefined on that path
  const f = parseFunction(`function g(v0, v1) -> i32 {
b0:
  v2 = mul v0, v1
  v3 = const 0
  branch v0, b1, b4
b1:
  jump b2
b2:
  v5 = lts v3, v1
  branch v5, b3, b4
b3:
  v10 = const 1
  v3 = add v3, v10
  jump b2
b4:
  v11 = add v3, v2
  return v11
}`);
  t.is(splitAroundLoops(f), f);
});
