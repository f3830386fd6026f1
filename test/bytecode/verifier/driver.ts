// The kernel's bytecode verifier (kernel-src/bytecode-verify.ts) as a program, for its tests
// (test/bytecode/verifier*.test.ts): verifies each image the harness (harness.ts) put into `images`
// before the run and prints a line per image: "index error functionIndex offset reason".
import { i32, u32, print, write, addressOf, load32 } from "dsl";
import { verifyBytecode } from "../../../kernel-src/bytecode-verify.ts";
import { verdict, bytecodeErrorName } from "../../../kernel-src/bytecode-reader.ts";

/**
 * Filled by the harness: u32 count, then per image u32 length (what the verifier is told), u32 stored
 * (the bytes that follow, padded to 4; fewer than length only to test the size limit), the bytes.
 */
const images = new Uint8Array(0x200000);
/** The bytes the verifier may read now (the harness's read check, harness.ts instrumentReads, asks). */
let readableStart: u32 = 0;
let readableEnd: u32 = 0;

export function main(): i32 {
  let at = addressOf(images);
  const count = load32(at);
  at += 4;
  for (let i: u32 = 0; i < count; i++) {
    const length = load32(at), stored = load32(at + 4);
    at += 8;
    readableStart = at;
    readableEnd = at + stored;
    const error = verifyBytecode(at, length);
    write(i); write(" "); write(error); write(" "); write(verdict.functionIndex); write(" "); write(verdict.offset);
    write(" ");
    print(bytecodeErrorName(error));
    at += u32((stored + 3) & ~3);
  }
  return 0;
}
