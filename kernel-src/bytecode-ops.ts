// The internal opcodes of pre-decoded bytecode (issue 18, docs/bytecode.md "Pre-decoding"): what
// bytecode-decode.ts writes and bytecode-interp.ts runs. Dense from 0, so that the interpreter's one
// `switch` over them is a jump table (compiler/x86/fusion.ts jumpTables), each operation and width an
// opcode of its own, and superinstructions: two IR instructions of one block, the second reading the first's
// result, run by one dispatch. A superinstruction does exactly what the two do in order: the first's result
// is still written to its register, then the second reads its operands from the register file.
// Layouts (u32 words; r: a register's byte offset in the register file, pc: a code address):
//   I_BINARY + k          dst:r a:r b:r            k = opcode - OP_BINARY_BASE (format.ts BINARY_OPS order)
//   I_LOAD + j            dst:r address:r offset   j = opcode - OP_LOAD_BASE (load32s and load32u alike)
//   I_STORE + j           address:r offset value:r j = opcode - OP_STORE_BASE
//   I_NEG, I_NOT          dst:r a:r
//   I_CONST               dst:r value              (also globalAddress and functionAddress, resolved)
//   I_COPY                dst:r src:r
//   I_SLOT                dst:r frameOffset
//   I_SELECT              dst:r cond:r ifTrue:r ifFalse:r
//   I_CALL                dst:r|NO_REGISTER function argc args:r*
//   I_CALL_INDIRECT       dst:r|NO_REGISTER target:r argc args:r*
//   I_INTRINSIC           dst:r|NO_REGISTER number argc args:r*
//   I_HYPERCALL           dst:r|NO_REGISTER number argc args:r*   intrinsic `hypercall` (number and argc 5 kept)
//   I_TRAP                kind
//   I_JUMP                target:pc cost
//   I_BRANCH              cond:r ifTrue:pc ifFalse:pc cost
//   I_RETURN              value:r|NO_REGISTER cost
//   I_UNREACHABLE
//   I_FUEL                cost                     (no IR instruction: see below)
// The fuel (bytecode-interp.ts run): `cost` is the count of dispatches (instructions, superinstructions, the
// terminator itself) since the block's start or its last I_FUEL, charged when it runs; the decoder puts an
// I_FUEL after every FUEL_CHUNK dispatches of a longer block, so no straight line runs uncharged longer.
// Superinstructions:
//   I_COMPARE_BRANCH + c  dst:r a:r b:r ifTrue:pc ifFalse:pc cost   compare (c = k - BINARY_EQ), branch on dst
//   I_ADD_LOAD + j        t:r a:r b:r dst:r offset             t = a + b, then load j of [t + offset]
//   I_ADD_STORE + j       t:r a:r b:r offset value:r           t = a + b, then store j of value at [t + offset]
//   I_SHIFT_ADD           t:r a:r b:r dst:r other:r            t = a << b, then dst = other + t
//   I_MUL_ADD             t:r a:r b:r dst:r other:r            t = a * b, then dst = other + t
//   I_SHIFT_ADD_LOAD32    t:r a:r b:r d:r other:r dst:r offset  I_SHIFT_ADD, then dst = load32 [d + offset]
//   I_SHIFT_ADD_STORE32   t:r a:r b:r d:r other:r offset value:r I_SHIFT_ADD, then store32 [d + offset] value
//   I_SHRU_AND            t:r a:r b:r dst:r other:r            t = a >>> b, then dst = other & t
//   I_CONST_ADD, I_CONST_SUB   c:r value dst:r a:r b:r         c = value, then dst = a + b (a - b)
//   I_CONST_CONST         dst:r value dst2:r value2                two consts
//   I_ADD_LTS_BRANCH, I_ADD_LTU_BRANCH   t:r a:r b:r dst:r x:r y:r ifTrue:pc ifFalse:pc cost
//                                        t = a + b, then dst = x < y (signed, unsigned), branch on dst
import { u32 } from "dsl";

export const I_BINARY: u32 = 0;          // 25 of them
export const I_LOAD: u32 = 25;           // 6
export const I_STORE: u32 = 31;          // 3
export const I_NEG: u32 = 34;
export const I_NOT: u32 = 35;
export const I_CONST: u32 = 36;
export const I_COPY: u32 = 37;
export const I_SLOT: u32 = 38;
export const I_SELECT: u32 = 39;
export const I_CALL: u32 = 40;
export const I_CALL_INDIRECT: u32 = 41;
export const I_INTRINSIC: u32 = 42;
export const I_TRAP: u32 = 43;
export const I_JUMP: u32 = 44;
export const I_BRANCH: u32 = 45;
export const I_RETURN: u32 = 46;
export const I_UNREACHABLE: u32 = 47;
export const I_COMPARE_BRANCH: u32 = 48; // 10: eq ne lts les gts ges ltu leu gtu geu
export const I_ADD_LOAD: u32 = 58;       // 6
export const I_ADD_STORE: u32 = 64;      // 3
export const I_SHIFT_ADD: u32 = 67;
export const I_FUEL: u32 = 68;
export const I_CONST_CONST: u32 = 69;
export const I_ADD_LTS_BRANCH: u32 = 70;
export const I_ADD_LTU_BRANCH: u32 = 71;
export const I_MUL_ADD: u32 = 72;
export const I_SHIFT_ADD_LOAD32: u32 = 73;
export const I_SHIFT_ADD_STORE32: u32 = 74;
export const I_SHRU_AND: u32 = 75;
export const I_CONST_ADD: u32 = 76;
export const I_CONST_SUB: u32 = 77;
export const I_HYPERCALL: u32 = 78;
/** Dispatches of a block at most between two charges of the fuel. */
export const FUEL_CHUNK: u32 = 64;

/** Binary kinds (opcode - OP_BINARY_BASE) the decoder and the interpreter name. */
export const BINARY_ADD: u32 = 0;
export const BINARY_MUL: u32 = 2;
export const BINARY_SUB: u32 = 1;
export const BINARY_AND: u32 = 7;
export const BINARY_SHL: u32 = 10;
export const BINARY_SHRU: u32 = 12;
export const BINARY_EQ: u32 = 13;        // the comparisons: BINARY_EQ .. BINARY_GEU
export const BINARY_LTS: u32 = 15;
export const BINARY_LTU: u32 = 19;
export const BINARY_GEU: u32 = 22;
