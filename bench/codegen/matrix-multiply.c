// Integer matrix multiply C = A x B, 40 x 40, row-major in flat int32 arrays (64,000 multiply-adds),
// then a wrapping sum of C. DSL twin: matrix-multiply.ts.
#include "c-runtime/runtime.h"

#define SIZE 40
static int32_t a[1600];
static int32_t b[1600];
static int32_t c[1600];

static void fill(void) {
  for (int32_t i = 0; i < SIZE; i++) {
    for (int32_t j = 0; j < SIZE; j++) {
      a[i * SIZE + j] = ((i * 7 + j * 3) % 19) - 9;
      b[i * SIZE + j] = ((i * 5 + j * 11) % 23) - 11;
    }
  }
}

static void multiply(void) {
  for (int32_t i = 0; i < SIZE; i++) {
    for (int32_t j = 0; j < SIZE; j++) {
      int32_t sum = 0;
      for (int32_t k = 0; k < SIZE; k++) sum = (int32_t)((uint32_t)sum + (uint32_t)(a[i * SIZE + k] * b[k * SIZE + j]));
      c[i * SIZE + j] = sum;
    }
  }
}

MEASURED static uint32_t bench(void) {
  multiply();
  uint32_t check = 0;
  for (int32_t i = 0; i < SIZE * SIZE; i++) check = check * 31u + (uint32_t)c[i];
  return check;
}

int main(void) {
  fill();
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
