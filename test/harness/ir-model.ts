// An independent BigInt model of the IR's integer ops, written from the comments of compiler/ir.ts and
// sharing no code with the compiler: the oracle of the interpreter's ops (test/bytecode/ops.test.ts)
// and of constant folding (test/compiler/fold.test.ts). Division by zero is the caller's business.
import type { BinaryOp, UnaryOp } from "../../compiler/ir.ts";

const s32 = (x: bigint): number => Number(BigInt.asIntN(32, x));
const u32 = (x: number): bigint => BigInt.asUintN(32, BigInt(x));

/** The model: written from the comments of compiler/ir.ts, sharing no code with the interpreter. */
export function binaryModel(kind: BinaryOp, a: number, b: number): number {
  const A = BigInt(a), B = BigInt(b), count = BigInt(b & 31);
  switch (kind) {
    case "add": return s32(A + B);
    case "sub": return s32(A - B);
    case "mul": return s32(A * B);
    case "mulhs": return s32((A * B) >> 32n);
    case "mulhu": return s32((u32(a) * u32(b)) >> 32n);
    case "divs": return s32(A / B);        // BigInt division truncates toward zero; INT_MIN / -1 wraps
    case "rems": return s32(A % B);        // sign of the dividend; INT_MIN % -1 = 0
    case "divu": return s32(u32(a) / u32(b));
    case "remu": return s32(u32(a) % u32(b));
    case "and": return s32(A & B);
    case "or": return s32(A | B);
    case "xor": return s32(A ^ B);
    case "shl": return s32(A << count);
    case "shrs": return s32(A >> count);
    case "shru": return s32(u32(a) >> count);
    case "eq": return a === b ? 1 : 0;
    case "ne": return a !== b ? 1 : 0;
    case "lts": return a < b ? 1 : 0;
    case "les": return a <= b ? 1 : 0;
    case "gts": return a > b ? 1 : 0;
    case "ges": return a >= b ? 1 : 0;
    case "ltu": return u32(a) < u32(b) ? 1 : 0;
    case "leu": return u32(a) <= u32(b) ? 1 : 0;
    case "gtu": return u32(a) > u32(b) ? 1 : 0;
    case "geu": return u32(a) >= u32(b) ? 1 : 0;
  }
}

export function unaryModel(kind: UnaryOp, a: number): number {
  return kind === "neg" ? s32(-BigInt(a)) : s32(~BigInt(a));
}
