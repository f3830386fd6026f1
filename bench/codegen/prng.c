// Pseudo-random number generators: 50,000 draws each from xorshift32, a 32-bit LCG and a
// multiply-with-carry generator (16-bit halves), binned into a 256-bucket histogram, then a
// weighted sum of the histogram. DSL twin: prng.ts.
#include "c-runtime/runtime.h"

static uint32_t histogram[256];

MEASURED static uint32_t bench(void) {
  for (int32_t i = 0; i < 256; i++) histogram[i] = 0;
  uint32_t x = 2463534242u;
  uint32_t lcg = 1;
  uint32_t z = 362436069;
  uint32_t w = 521288629;
  for (int32_t i = 0; i < 50000; i++) {
    x = x ^ (x << 13);
    x = x ^ (x >> 17);
    x = x ^ (x << 5);
    lcg = lcg * 22695477u + 1;
    z = 36969u * (z & 65535) + (z >> 16);
    w = 18000u * (w & 65535) + (w >> 16);
    const uint32_t mwc = (z << 16) + w;
    histogram[x >> 24]++;
    histogram[(lcg >> 16) & 255]++;
    histogram[mwc & 255]++;
  }
  uint32_t sum = 0;
  for (int32_t i = 0; i < 256; i++) sum = sum + histogram[i] * (uint32_t)(i + 1) + (histogram[i] >> 3);
  return sum ^ x ^ lcg;
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
