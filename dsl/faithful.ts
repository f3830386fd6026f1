// The DSL's Node runtime in faithful mode (dsl/README.md, "Running under Node"): what the TypeScript
// back end (compiler/typescript/emit.ts) imports instead of "dsl". It is dsl/index.ts with:
//  - panic and exit that stop the program by throwing ProgramStop (so that a harness can run many
//    programs in one process);
//  - the helpers the emitted code calls where JavaScript would differ from the DSL: integer division and
//    remainder (truncating, trapping on zero), bounds-checked indexes, narrow struct-field stores;
//  - runProgram(main): calls main() and reports a trap, a panic, exit() or a stack overflow as the
//    compiled program does: its message on stderr and exit status 101 (exit(n): n & 255).
// Contract: every value the emitted code hands to these helpers is canonical for its DSL type (an i32 a
// number in -2^31..2^31-1, a u32 in 0..2^32-1, a u8 in 0..255 ...); every result is canonical too.
import { TRAP_NAMES, TRAP_DIVIDE_BY_ZERO, TRAP_BOUNDS } from '../compiler/ir.ts';
import { i8, u8, i16, u16, i32, u32 } from './index.ts';

export * from './index.ts';

/** How a program stops before main() returns: a trap, a panic or exit(); status and stderr as compiled. */
export class ProgramStop extends Error {
  constructor(readonly status: number, readonly stderr: string) { super(stderr.trim() || `exit ${status}`); }
}

/** The message of a stack overflow (the interpreter's and the native program runner's contain it too). */
export const STACK_OVERFLOW = 'trap: stack overflow';

function trap(kind: number): never { throw new ProgramStop(101, `trap: ${TRAP_NAMES[kind]}\n`); }

/** panic(message) in function `where`: `panic: MESSAGE (in FUNCTION)`, status 101. */
export function panicIn(message: string, where: string): never {
  throw new ProgramStop(101, `panic: ${message} (in ${where})\n`);
}
export function panic(message: string): never { return panicIn(message, '?'); }
export function exit(status: number): never { throw new ProgramStop(status & 255, ''); }

/** Runs a program's main(): its status (main() & 255), or how it stopped. Output has gone to process.stdout. */
export function runProgram(main: () => unknown): { status: number; stderr: string } {
  try {
    return { status: Number(main()) & 255, stderr: '' };
  } catch (e) {
    if (e instanceof ProgramStop) return { status: e.status, stderr: e.stderr };
    // V8 reports exhausting its stack as a RangeError; compiled code hits its guard (or the interpreter its limit).
    if (e instanceof RangeError && /call stack/.test(e.message)) return { status: 101, stderr: `${STACK_OVERFLOW}\n` };
    throw e;
  }
}

// ---- what the emitted code calls ------------------------------------------------------------------
/** `a / b` of i32: truncated toward zero; INT_MIN / -1 wraps to INT_MIN; a zero divisor traps. */
export function divideSigned(a: number, b: number): number {
  if ((b | 0) === 0) trap(TRAP_DIVIDE_BY_ZERO);
  return ((a | 0) / (b | 0)) | 0;
}
/** `a / b` of u32 (operands re-read as u32: a mixed-sign division is done in the operation's type). */
export function divideUnsigned(a: number, b: number): number {
  if ((b | 0) === 0) trap(TRAP_DIVIDE_BY_ZERO);
  return Math.trunc((a >>> 0) / (b >>> 0)) >>> 0;
}
/** `a % b` of i32: the sign of the dividend; INT_MIN % -1 is 0; a zero divisor traps. */
export function remainderSigned(a: number, b: number): number {
  if ((b | 0) === 0) trap(TRAP_DIVIDE_BY_ZERO);
  return ((a | 0) % (b | 0)) | 0;
}
export function remainderUnsigned(a: number, b: number): number {
  if ((b | 0) === 0) trap(TRAP_DIVIDE_BY_ZERO);
  return ((a >>> 0) % (b >>> 0)) >>> 0;
}
/** An index of `array` (typed array, T[] or struct array): itself when in 0..length-1, else a trap. */
export function index(array: { length: number }, i: number): number {
  if (!(i >= 0 && i < array.length)) trap(TRAP_BOUNDS);
  return i;
}
/** s.charCodeAt(i), bounds-checked as compiled code does. */
export function charCodeAt(s: string, i: number): number { return s.charCodeAt(index(s, i)); }
/** The first of two values, both evaluated in order: `x++` is first(x, x = x + 1). */
export function first(value: number, _after: unknown): number { return value; }

const CONVERSIONS = { i8, u8, i16, u16, i32, u32 };
/** A store into an integer struct field wraps to its type (a typed-array element wraps by itself); returns `value`. */
export function storeField(object: object, field: string, value: number, type: keyof typeof CONVERSIONS): number {
  (object as Record<string, number>)[field] = CONVERSIONS[type](value);
  return value;
}
