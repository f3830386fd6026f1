// expect: 3628800
// expect: 5050
// expect: 21
// expect: 1401
// A tiny stack machine: programs are module-level i32[] bytecode; the interpreter loop is a switch.
// Computes 10! with a loop, the sum 1..100, and gcd by subtraction.
import { i32, print, panic } from "dsl";

const enum Op { Halt, Push, Load, Store, Add, Sub, Mul, Less, JumpIfZero, Jump, Print, Dup, Swap, Pop }

// r0 = 1; r1 = 10; while (0 < r1) { r0 = r0 * r1; r1 = r1 - 1; } print r0
const factorialProgram: i32[] = [
  Op.Push, 1, Op.Store, 0,
  Op.Push, 10, Op.Store, 1,
  Op.Push, 0, Op.Load, 1, Op.Less, Op.JumpIfZero, 32,
  Op.Load, 0, Op.Load, 1, Op.Mul, Op.Store, 0,
  Op.Load, 1, Op.Push, 1, Op.Sub, Op.Store, 1,
  Op.Jump, 8,
  Op.Halt,
  Op.Load, 0, Op.Print, Op.Halt,
];

// sum = 0; i = 100; do { sum += i; i-- } while (i != 0), kept on the stack: [sum, i]
const sumProgram: i32[] = [
  Op.Push, 0, Op.Push, 100,
  Op.Dup, Op.JumpIfZero, 20,
  Op.Dup, Op.Store, 0, Op.Swap, Op.Load, 0, Op.Add, Op.Swap, Op.Push, 1, Op.Sub, Op.Jump, 4,
  Op.Pop, Op.Halt,
];

// gcd(a, b) by repeated subtraction: registers 0 and 1
const gcdProgram: i32[] = [
  Op.Push, 1071, Op.Store, 0, Op.Push, 462, Op.Store, 1,
  Op.Load, 0, Op.Load, 1, Op.Sub, Op.JumpIfZero, 40,
  Op.Load, 0, Op.Load, 1, Op.Less, Op.JumpIfZero, 31,
  Op.Load, 1, Op.Load, 0, Op.Sub, Op.Store, 1, Op.Jump, 8,
  Op.Load, 0, Op.Load, 1, Op.Sub, Op.Store, 0, Op.Jump, 8,
  Op.Load, 0, Op.Print, Op.Halt,
];

const stack = new Int32Array(64);
const registers = new Int32Array(4);
let stackPointer: i32 = 0;
let executed: i32 = 0;

function push(value: i32): void { stack[stackPointer++] = value; }
function pop(): i32 { return stack[--stackPointer]; }

function run(code: i32[]): i32 {
  let pc: i32 = 0;
  stackPointer = 0;
  while (true) {
    executed++;
    const op: i32 = code[pc++];
    switch (op) {
      case Op.Halt: return stackPointer > 0 ? stack[stackPointer - 1] : 0;
      case Op.Push: push(code[pc++]); break;
      case Op.Load: push(registers[code[pc++]]); break;
      case Op.Store: registers[code[pc++]] = pop(); break;
      case Op.Add: { const b: i32 = pop(); push((pop() + b) | 0); break; }
      case Op.Sub: { const b: i32 = pop(); push((pop() - b) | 0); break; }
      case Op.Mul: { const b: i32 = pop(); push(Math.imul(pop(), b)); break; }
      case Op.Less: { const b: i32 = pop(); push(pop() < b ? 1 : 0); break; }
      case Op.JumpIfZero: { const target: i32 = code[pc++]; if (pop() === 0) pc = target; break; }
      case Op.Jump: pc = code[pc]; break;
      case Op.Print: print(pop()); break;
      case Op.Dup: { const v: i32 = pop(); push(v); push(v); break; }
      case Op.Swap: { const b: i32 = pop(); const a: i32 = pop(); push(b); push(a); break; }
      case Op.Pop: pop(); break;
      default: panic("bad opcode");
    }
  }
}

export function main(): i32 {
  run(factorialProgram);
  print(run(sumProgram));
  run(gcdProgram);
  print(executed);
  return 0;
}
