// What every bench/codegen/NAME.c sees: fixed-width types, output, and the timestamp read.
#ifndef BENCH_RUNTIME_H
#define BENCH_RUNTIME_H
typedef unsigned char uint8_t;
typedef signed char int8_t;
typedef unsigned short uint16_t;
typedef short int16_t;
typedef unsigned int uint32_t;
typedef int int32_t;

void print_u32(uint32_t x);
void print_i32(int32_t x);

// Low 32 bits of the time-stamp counter; under qemu -icount shift=0,sleep=off it counts instructions.
static inline uint32_t rdtsc(void) { return (uint32_t)__builtin_ia32_rdtsc(); }

// The measured function: never inlined, and no interprocedural analysis (so gcc cannot prove it pure
// and move the call across the timestamp reads). Helpers it calls may be inlined into it.
#define MEASURED __attribute__((noinline, noipa))
#endif
