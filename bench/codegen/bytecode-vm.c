// A bytecode interpreter loop: a stack machine (switch dispatch) runs a program that sums
// (i * i) ^ i for i = 4000 down to 1, about 60,000 bytecodes. DSL twin: bytecode-vm.ts.
#include "c-runtime/runtime.h"

enum Op { Halt, Push, Load, Store, Add, Sub, Mul, Xor, JumpIfZero, Jump, Dup };

// r0 = 0; r1 = 4000; while (r1 != 0) { r0 = r0 + ((r1 * r1) ^ r1); r1 = r1 - 1; } push r0; halt
static const int32_t program[] = {
  Push, 0, Store, 0,
  Push, 4000, Store, 1,
  Load, 1, JumpIfZero, 35,
  Load, 0, Load, 1, Dup, Mul, Load, 1, Xor, Add, Store, 0,
  Load, 1, Push, 1, Sub, Store, 1,
  Jump, 8,
  Halt, Halt,
  Load, 0, Halt,
};

static int32_t stack[64];
static int32_t registers[4];

static int32_t run(void) {
  int32_t pc = 0;
  int32_t sp = 0;
  while (1) {
    const int32_t op = program[pc++];
    switch (op) {
      case Halt: return sp > 0 ? stack[sp - 1] : 0;
      case Push: stack[sp++] = program[pc++]; break;
      case Load: stack[sp++] = registers[program[pc++]]; break;
      case Store: registers[program[pc++]] = stack[--sp]; break;
      case Add: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] + (uint32_t)stack[sp]); break;
      case Sub: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] - (uint32_t)stack[sp]); break;
      case Mul: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] * (uint32_t)stack[sp]); break;
      case Xor: sp--; stack[sp - 1] = stack[sp - 1] ^ stack[sp]; break;
      case JumpIfZero: { const int32_t target = program[pc++]; if (stack[--sp] == 0) pc = target; break; }
      case Jump: pc = program[pc]; break;
      case Dup: stack[sp] = stack[sp - 1]; sp++; break;
      default: return -1;
    }
  }
}

MEASURED static uint32_t bench(void) {
  return run();
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
