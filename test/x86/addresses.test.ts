// Contract: compiler/x86/addresses.ts on IR text: an address with a constant base read by several accesses
// (or by one not right after it) is recomputed before each, so every access folds it (fusion.ts); an index
// redefined in between, or an address read by something else than an access, keeps the address as it is.
// (test/ir/o2-histogram.ir runs the same shape natively at -O2.)

import test from "ava";
import type { Function as IrFunction } from "../../compiler/ir.ts";
import { parseFunction } from "../../compiler/parse.ts";
import { printFunction } from "../../compiler/print.ts";
import { rematerializeAddresses } from "../../compiler/x86/addresses.ts";
import { allocateRegisters } from "../../compiler/x86/regalloc.ts";
import { findFusions } from "../../compiler/x86/fusion.ts";

const body = (f: IrFunction): string[] =>
  printFunction(f).split("\n").filter(l => l.startsWith("  ")).map(l => l.trim());

test("an incremented table entry: the address is recomputed at the load and at the store, both fold", t => {
  const f = rematerializeAddresses(parseFunction(`
function f(v0) {
b0:
  v1 = const 4096
  v2 = const 2
  v3 = const 1
  v4 = shl v0, v2
  v5 = add v1, v4
  v6 = load.u32 [v5]
  v7 = add v6, v3
  store.32 [v5], v7
  return
}`));
  t.deepEqual(body(f), [
    "v1 = const 4096", "v2 = const 2", "v3 = const 1",
    "v8 = shl v0, v2", "v9 = add v1, v8", "v6 = load.u32 [v9]", "v7 = add v6, v3",
    "v10 = shl v0, v2", "v11 = add v1, v10", "store.32 [v11], v7", "return",
  ]);
  const found = findFusions(f, allocateRegisters(f));
  t.true(found.addresses.has(9) && found.addresses.has(11));
});

test("an index redefined between the address and an access keeps the address", t => {
  const text = `
function f(v0) {
b0:
  v1 = const 4096
  v2 = const 1
  v3 = add v1, v0
  v4 = load.u32 [v3]
  v0 = add v0, v2
  store.32 [v3], v4
  return
}`;
  const f = rematerializeAddresses(parseFunction(text));
  // the load (before the redefinition) gets its own address; the store reads the original
  t.deepEqual(body(f), [
    "v1 = const 4096", "v2 = const 1", "v3 = add v1, v0", "v5 = add v1, v0", "v4 = load.u32 [v5]",
    "v0 = add v0, v2", "store.32 [v3], v4", "return",
  ]);
});

test("an address also read as a value stays", t => {
  const f = rematerializeAddresses(parseFunction(`
function f(v0) -> i32 {
b0:
  v1 = const 4096
  v2 = add v1, v0
  v3 = load.u32 [v2]
  store.32 [v2], v3
  return v2
}`));
  t.deepEqual(body(f), ["v1 = const 4096", "v2 = add v1, v0", "v3 = load.u32 [v2]", "store.32 [v2], v3", "return v2"]);
});
