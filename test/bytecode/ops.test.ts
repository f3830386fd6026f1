// Every binary and unary op of the IR against an independent BigInt model of ir.ts's semantics.

import test from "ava";
import { OPS } from "../../compiler/ir.ts";
import { BINARY_OPS } from "../../compiler/bytecode/format.ts";
import { mainModule, run, report } from "./helpers.ts";
import { binaryModel, unaryModel } from "../harness/ir-model.ts";

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;
const VALUES = [0, 1, -1, INT_MIN, INT_MAX, 7, -7, 2, -2, 31, 32, 33, 0x55555555, -0x12345679, 0x10000, 255];

for (const kind of BINARY_OPS) {
  test(`binary ${kind} matches the model on interesting values`, (t) => {
    const expected: number[] = [];
    const labels: string[] = [];
    const module = mainModule((f) => {
      for (const a of VALUES) {
        for (const b of VALUES) {
          if (OPS[kind].mayTrap && b === 0) continue; // traps: see the trap tests
          report(f, f.binary(kind, f.constant(a), f.constant(b)));
          expected.push(binaryModel(kind, a, b));
          labels.push(`${kind}(${a}, ${b})`);
        }
      }
    });
    const result = run(module);
    t.is(result.error, undefined);
    t.is(result.values.length, expected.length);
    for (let i = 0; i < expected.length; i++) t.is(result.values[i], expected[i], labels[i]);
  });
}

test("the division edge cases ir.ts names", (t) => {
  const result = run(mainModule((f) => {
    report(f, f.binary("divs", f.constant(INT_MIN), f.constant(-1)));
    report(f, f.binary("rems", f.constant(INT_MIN), f.constant(-1)));
    report(f, f.binary("divs", f.constant(-7), f.constant(2)));
    report(f, f.binary("rems", f.constant(-7), f.constant(2)));
    report(f, f.binary("divu", f.constant(-1), f.constant(2)));
    report(f, f.binary("remu", f.constant(-1), f.constant(10)));
  }));
  t.deepEqual(result.values, [INT_MIN, 0, -3, -1, 0x7fffffff, 5]);
});

test("shift counts are taken modulo 32", (t) => {
  const result = run(mainModule((f) => {
    for (const count of [0, 31, 32, 33, -1]) {
      report(f, f.binary("shl", f.constant(1), f.constant(count)));
      report(f, f.binary("shrs", f.constant(INT_MIN), f.constant(count)));
      report(f, f.binary("shru", f.constant(INT_MIN), f.constant(count)));
    }
  }));
  t.deepEqual(result.values, [
    1, INT_MIN, INT_MIN,
    INT_MIN, -1, 1,
    1, INT_MIN, INT_MIN,
    2, -0x40000000, 0x40000000,
    INT_MIN, -1, 1,
  ]);
});

for (const kind of ["neg", "not"] as const) {
  test(`unary ${kind} matches the model`, (t) => {
    const result = run(mainModule((f) => {
      for (const a of VALUES) report(f, f.unary(kind, f.constant(a)));
    }));
    t.deepEqual(result.values, VALUES.map((a) => unaryModel(kind, a)));
  });
}

test("select takes ifTrue when the condition is not 0, ifFalse when it is 0; it may write an operand", (t) => {
  const result = run(mainModule((f) => {
    const yes = f.constant(11), no = f.constant(22);
    for (const c of [0, 1, -1, -0x80000000, 2]) report(f, f.select(f.constant(c), yes, no));
    const x = f.constant(3);
    f.emit({ op: "select", dst: x, cond: x, ifTrue: no, ifFalse: x });
    report(f, x);
  }));
  t.deepEqual(result.values, [22, 11, 11, 11, 11, 22]);
});

test("an op may write one of its own operands; copy copies", (t) => {
  const result = run(mainModule((f) => {
    const x = f.constant(5);
    f.emit({ op: "binary", kind: "mul", dst: x, a: x, b: x });
    f.emit({ op: "unary", kind: "neg", dst: x, a: x });
    report(f, x);
    const y = f.newReg();
    f.copy(y, x);
    f.emit({ op: "const", dst: x, value: 1 });
    report(f, y);
    report(f, x);
  }));
  t.deepEqual(result.values, [-25, -25, 1]);
});
