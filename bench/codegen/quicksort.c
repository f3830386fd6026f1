// Recursive quicksort (Hoare partition, middle pivot) of 10,000 LCG values, then a position-weighted
// sum that also checks the order. DSL twin: quicksort.ts.
#include "c-runtime/runtime.h"

#define N 10000
static int32_t values[10000];

static void fill(void) {
  uint32_t state = 12345;
  for (int32_t i = 0; i < N; i++) {
    state = state * 1664525u + 1013904223u;
    values[i] = (state >> 8) & 0xfffff;
  }
}

static void quicksort(int32_t lo, int32_t hi) {
  if (lo >= hi) return;
  const int32_t pivot = values[(lo + hi) >> 1];
  int32_t i = lo - 1;
  int32_t j = hi + 1;
  while (1) {
    do { i++; } while (values[i] < pivot);
    do { j--; } while (values[j] > pivot);
    if (i >= j) break;
    const int32_t t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  quicksort(lo, j);
  quicksort(j + 1, hi);
}

MEASURED static uint32_t bench(void) {
  quicksort(0, N - 1);
  uint32_t sum = 0;
  for (int32_t i = 0; i < N; i++) {
    if (i > 0 && values[i - 1] > values[i]) return 0;
    sum = sum + (uint32_t)values[i] * (uint32_t)(i + 1);
  }
  return sum;
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
