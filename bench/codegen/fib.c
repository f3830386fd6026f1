// Recursion-heavy: the naive Fibonacci recursion, fib(25) (242,785 calls). DSL twin: fib.ts.
#include "c-runtime/runtime.h"

static int32_t fib(int32_t n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

MEASURED static uint32_t bench(void) {
  return fib(25);
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
