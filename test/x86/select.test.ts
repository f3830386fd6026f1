// Contract: the x86 lowering of `select` (cmov, compiler/x86/rules.ts "select: cmov"), run natively in QEMU at -O0 and
// -O2 against a JavaScript model: a plain condition, a fused comparison of each kind, constant arms, a destination that
// shares ifTrue's, ifFalse's or cond's register, and values left in memory by register pressure; the allocation checker
// agrees.

import test from "ava";
import type { BinaryOp, Function as IrFunction, VReg } from "../../compiler/ir.ts";
import { compileToImage } from "../../compiler/link/index.ts";
import { checkModuleAllocation } from "../../compiler/x86/lower.ts";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import { runModule } from "../../compiler/bytecode/interpreter.ts";
import { programModule, boot, writeImage, testFunction, putHex } from "./helpers.ts";
import type { FunctionBuilder } from "../../compiler/builder.ts";

const INT_MIN = -0x80000000, INT_MAX = 0x7fffffff;
const VALUES = [0, 1, -1, INT_MIN, INT_MAX, 7, -7];
const u = (x: number) => x >>> 0;
const hex = (x: number) => u(x).toString(16).padStart(8, "0");
const COMPARE: Partial<Record<BinaryOp, (a: number, b: number) => boolean>> = {
  eq: (a, b) => a === b, ne: (a, b) => a !== b, lts: (a, b) => a < b, les: (a, b) => a <= b, gts: (a, b) => a > b, ges: (a, b) => a >= b,
  ltu: (a, b) => u(a) < u(b), leu: (a, b) => u(a) <= u(b), gtu: (a, b) => u(a) > u(b), geu: (a, b) => u(a) >= u(b),
};

/** A function of `params` parameters whose body `body` builds; returns its name. */
function fn(name: string, params: number, body: (f: FunctionBuilder, p: VReg[]) => VReg): IrFunction {
  const f = testFunction(name, params, true);
  f.ret(body(f, Array.from({ length: params }, (_, i) => f.param(i))));
  return f.finish();
}
const select = (f: FunctionBuilder, cond: VReg, ifTrue: VReg, ifFalse: VReg, dst = f.newReg()): VReg => {
  f.emit({ op: "select", dst, cond, ifTrue, ifFalse });
  return dst;
};

const CASES: { f: IrFunction; model: (...x: number[]) => number; args: number }[] = [
  { f: fn("plain", 3, (f, [c, a, b]) => select(f, c, a, b)), model: (c, a, b) => (c !== 0 ? a : b), args: 3 },
  { f: fn("orValue", 2, (f, [c, a]) => select(f, c, c, a)), model: (c, a) => (c !== 0 ? c : a), args: 2 },
  { f: fn("intoTrue", 3, (f, [c, a, b]) => select(f, c, a, b, a)), model: (c, a, b) => (c !== 0 ? a : b), args: 3 },
  { f: fn("intoFalse", 3, (f, [c, a, b]) => select(f, c, a, b, b)), model: (c, a, b) => (c !== 0 ? a : b), args: 3 },
  { f: fn("intoCond", 3, (f, [c, a, b]) => select(f, c, a, b, c)), model: (c, a, b) => (c !== 0 ? a : b), args: 3 },
  { f: fn("constTrue", 2, (f, [c, b]) => select(f, c, f.constant(-5), b)),
    model: (c, b) => (c !== 0 ? -5 : b), args: 2 },
  { f: fn("constFalse", 2, (f, [c, a]) => select(f, c, a, f.constant(INT_MIN))),
    model: (c, a) => (c !== 0 ? a : INT_MIN), args: 2 },
  { f: fn("condZero", 2, (f, [a, b]) => select(f, f.constant(0), a, b)), model: (_a, b) => b, args: 2 },
  { f: fn("condOne", 2, (f, [a, b]) => select(f, f.constant(1), a, b, b)), model: (a) => a, args: 2 },
  { f: fn("constBoth", 1, (f, [c]) => select(f, c, f.constant(100), f.constant(-100))),
    model: (c) => (c !== 0 ? 100 : -100), args: 1 },
  ...Object.keys(COMPARE).map((kind) => ({
    f: fn(`min_${kind}`, 2, (f, [a, b]) => select(f, f.binary(kind as BinaryOp, a, b), a, b)),
    model: (a: number, b: number) => (COMPARE[kind as BinaryOp]!(a, b) ? a : b), args: 2,
  })),
  { f: fn("clampHigh", 1, (f, [a]) => select(f, f.binary("gts", a, f.constant(7)), f.constant(7), a, a)),
    model: (a) => (a > 7 ? 7 : a), args: 1 },
  { f: fn("againstZero", 2, (f, [a, b]) => select(f, f.binary("lts", a, f.constant(0)), f.unary("neg", a), b)),
    model: (a, b) => (a < 0 ? -a | 0 : b), args: 2 },
  {
    // eight values live across the select and a call: most of them in memory
    f: fn("pressure", 8, (f, p) => {
      const s = select(f, f.binary("ltu", p[0], p[1]), p[2], p[3]);
      f.call("identity", [s]);
      const t = select(f, p[4], p[5], p[6]);
      let sum = f.binary("xor", s, f.binary("mul", t, f.constant(3)));
      for (const v of p) sum = f.binary("add", sum, v);
      return sum;
    }),
    model: (...p: number[]) => {
      const s = u(p[0]) < u(p[1]) ? p[2] : p[3], t = p[4] !== 0 ? p[5] : p[6];
      return p.reduce((sum, v) => (sum + v) | 0, s ^ Math.imul(t, 3));
    },
    args: 8,
  },
];

function selectModule(): { module: ReturnType<typeof programModule>; expected: string[] } {
  const expected: string[] = [];
  const identity = fn("identity", 1, (_f, [x]) => x);
  const module = programModule((main) => {
    for (const c of CASES) {
      for (let k = 0; k < VALUES.length; k++) {
        const args = Array.from({ length: c.args }, (_, i) => VALUES[(k + 3 * i) % VALUES.length]);
        putHex(main, main.call(c.f.name, args.map((v) => main.constant(v))));
        expected.push(hex(c.model(...args)));
      }
    }
  }, [...CASES.map((c) => c.f), identity]);
  return { module, expected };
}

for (const registerAllocation of [false, true]) {
  test(`select runs natively like the model (${registerAllocation ? "-O2 allocation" : "-O0 homes"})`, async (t) => {
    const { module, expected } = selectModule();
    const r = await boot(writeImage(compileToImage(module, { registerAllocation }), `select-${registerAllocation}`));
    t.false(r.timedOut);
    t.is(r.exitCode, 0, r.serial.slice(-200));
    t.deepEqual(r.serial.split("\n").slice(0, -1), expected);
  });
}

test("select: the interpreter agrees with the model and the allocation passes the checker", (t) => {
  const { module, expected } = selectModule();
  encodeModule(module);
  const out = runModule(module).serial.split("\n").slice(0, -1);
  t.deepEqual(out, expected);
  t.deepEqual(checkModuleAllocation(module), []);
});
