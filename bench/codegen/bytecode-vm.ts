// expect: 4161737344
// A bytecode interpreter loop: a stack machine (switch dispatch) runs a program that sums
// (i * i) ^ i for i = 4000 down to 1, about 60,000 bytecodes. C twin: bytecode-vm.c, line for line.
import { i32, u32, print, rdtsc } from "dsl";

const enum Op { Halt, Push, Load, Store, Add, Sub, Mul, Xor, JumpIfZero, Jump, Dup }

// r0 = 0; r1 = 4000; while (r1 != 0) { r0 = r0 + ((r1 * r1) ^ r1); r1 = r1 - 1; } push r0; halt
const program: i32[] = [
  Op.Push, 0, Op.Store, 0,
  Op.Push, 4000, Op.Store, 1,
  Op.Load, 1, Op.JumpIfZero, 35,
  Op.Load, 0, Op.Load, 1, Op.Dup, Op.Mul, Op.Load, 1, Op.Xor, Op.Add, Op.Store, 0,
  Op.Load, 1, Op.Push, 1, Op.Sub, Op.Store, 1,
  Op.Jump, 8,
  Op.Halt, Op.Halt,
  Op.Load, 0, Op.Halt,
];

const stack = new Int32Array(64);
const registers = new Int32Array(4);

function run(): i32 {
  let pc: i32 = 0;
  let sp: i32 = 0;
  while (true) {
    const op: i32 = program[pc++];
    switch (op) {
      case Op.Halt: return sp > 0 ? stack[sp - 1] : 0;
      case Op.Push: stack[sp++] = program[pc++]; break;
      case Op.Load: stack[sp++] = registers[program[pc++]]; break;
      case Op.Store: registers[program[pc++]] = stack[--sp]; break;
      case Op.Add: sp--; stack[sp - 1] = (stack[sp - 1] + stack[sp]) | 0; break;
      case Op.Sub: sp--; stack[sp - 1] = (stack[sp - 1] - stack[sp]) | 0; break;
      case Op.Mul: sp--; stack[sp - 1] = Math.imul(stack[sp - 1], stack[sp]); break;
      case Op.Xor: sp--; stack[sp - 1] = stack[sp - 1] ^ stack[sp]; break;
      case Op.JumpIfZero: { const target: i32 = program[pc++]; if (stack[--sp] === 0) pc = target; break; }
      case Op.Jump: pc = program[pc]; break;
      case Op.Dup: stack[sp] = stack[sp - 1]; sp++; break;
      default: return -1;
    }
  }
}

function bench(): u32 {
  return run();
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
