// Heapsort (sift-down, no recursion) of 10,000 xorshift32 values as u32, then a position-weighted sum
// that also checks the order. DSL twin: heapsort.ts.
#include "c-runtime/runtime.h"

#define N 10000
static uint32_t keys[10000];

static void fill(void) {
  uint32_t x = 88172645;
  for (int32_t i = 0; i < N; i++) {
    x = x ^ (x << 13);
    x = x ^ (x >> 17);
    x = x ^ (x << 5);
    keys[i] = x;
  }
}

static void siftDown(int32_t start, int32_t end) {
  int32_t root = start;
  while (root * 2 + 1 <= end) {
    int32_t child = root * 2 + 1;
    if (child + 1 <= end && keys[child] < keys[child + 1]) child++;
    if (keys[root] >= keys[child]) return;
    const uint32_t t = keys[root];
    keys[root] = keys[child];
    keys[child] = t;
    root = child;
  }
}

static void heapsort(int32_t count) {
  for (int32_t start = (count - 2) >> 1; start >= 0; start--) siftDown(start, count - 1);
  for (int32_t end = count - 1; end > 0; end--) {
    const uint32_t t = keys[end];
    keys[end] = keys[0];
    keys[0] = t;
    siftDown(0, end - 1);
  }
}

MEASURED static uint32_t bench(void) {
  heapsort(N);
  uint32_t sum = 0;
  for (int32_t i = 0; i < N; i++) {
    if (i > 0 && keys[i - 1] > keys[i]) return 0;
    sum = sum + (keys[i] >> 16) * (uint32_t)(i + 1);
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
