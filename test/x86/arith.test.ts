// Contract: every IR binary and unary op, run natively in QEMU on interesting values, matches a JavaScript model of
// ir.ts's semantics.

import test from "ava";
import { OPS, type BinaryOp, type UnaryOp } from "../../compiler/ir.ts";
import { compileAndBoot, programModule, putHex, putc } from "./helpers.ts";

const INT_MIN = -0x80000000, INT_MAX = 0x7fffffff;
const VALUES = [0, 1, -1, INT_MIN, INT_MAX, 7, -7, 31, 32, 33, 0x12345678, -0x5555];

const u = (x: number) => x >>> 0;
const b = (x: boolean) => (x ? 1 : 0);

/** The reference semantics of ir.ts (division by zero is tested separately: it traps). */
const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (x, y) => (x + y) | 0,
  sub: (x, y) => (x - y) | 0,
  mul: (x, y) => Math.imul(x, y),
  mulhs: (x, y) => Number(BigInt.asIntN(32, (BigInt(x) * BigInt(y)) >> 32n)),
  mulhu: (x, y) => Number(BigInt.asIntN(32, (BigInt(u(x)) * BigInt(u(y))) >> 32n)),
  divs: (x, y) => (y === -1 ? -x | 0 : Math.trunc(x / y) | 0),
  rems: (x, y) => (y === -1 ? 0 : x % y | 0),
  divu: (x, y) => Math.floor(u(x) / u(y)) | 0,
  remu: (x, y) => u(x) % u(y) | 0,
  and: (x, y) => x & y, or: (x, y) => x | y, xor: (x, y) => x ^ y,
  shl: (x, y) => x << (y & 31), shrs: (x, y) => x >> (y & 31), shru: (x, y) => (x >>> (y & 31)) | 0,
  eq: (x, y) => b(x === y), ne: (x, y) => b(x !== y),
  lts: (x, y) => b(x < y), les: (x, y) => b(x <= y), gts: (x, y) => b(x > y), ges: (x, y) => b(x >= y),
  ltu: (x, y) => b(u(x) < u(y)), leu: (x, y) => b(u(x) <= u(y)), gtu: (x, y) => b(u(x) > u(y)), geu: (x, y) => b(u(x) >= u(y)),
};
const UNARY: Record<UnaryOp, (a: number) => number> = { neg: (x) => -x | 0, not: (x) => ~x };
const hex = (x: number) => u(x).toString(16).padStart(8, "0");

test("binary and unary ops match the reference semantics on interesting values", async (t) => {
  const expected: string[] = [];
  const labels: string[] = [];
  const module = programModule((main) => {
    const regs = VALUES.map((v) => main.constant(v));
    for (const op of Object.keys(BINARY) as BinaryOp[]) {
      VALUES.forEach((x, i) => VALUES.forEach((y, j) => {
        if (OPS[op].mayTrap && y === 0) return;
        putHex(main, main.binary(op, regs[i], regs[j]));
        expected.push(hex(BINARY[op](x, y)));
        labels.push(`${op}(${x}, ${y})`);
      }));
    }
    for (const op of Object.keys(UNARY) as UnaryOp[]) {
      VALUES.forEach((x, i) => {
        putHex(main, main.unary(op, regs[i]));
        expected.push(hex(UNARY[op](x)));
        labels.push(`${op}(${x})`);
      });
    }
  });
  const r = await compileAndBoot(module, "arith");
  t.false(r.timedOut);
  t.is(r.exitCode, 0, r.serial.slice(-200));
  const got = r.serial.split("\n").slice(0, -1);
  t.is(got.length, expected.length);
  const mismatches = labels.filter((_, k) => got[k] !== expected[k]).map((l) => `${l}: got ${got[labels.indexOf(l)]}`);
  t.deepEqual(mismatches, []);
});

test("comparisons as branch conditions and constants at the int32 limits", async (t) => {
  // if (a <s b) putc('<') else putc('>='), for a few pairs where signed and unsigned order differ
  const pairs: [number, number][] = [[-1, 1], [1, -1], [INT_MIN, INT_MAX], [INT_MAX, INT_MIN], [5, 5]];
  let expected = "";
  const module = programModule((main) => {
    for (const [x, y] of pairs) {
      for (const op of ["lts", "ltu"] as const) {
        const yes = main.newBlock(), no = main.newBlock(), join = main.newBlock();
        main.branch(main.binary(op, main.constant(x), main.constant(y)), yes, no);
        main.switchTo(yes); putc(main, "Y".charCodeAt(0)); main.jump(join);
        main.switchTo(no); putc(main, "N".charCodeAt(0)); main.jump(join);
        main.switchTo(join);
        expected += BINARY[op](x, y) ? "Y" : "N";
      }
    }
  });
  const r = await compileAndBoot(module, "branches");
  t.is(r.exitCode, 0);
  t.is(r.serial, expected);
});
