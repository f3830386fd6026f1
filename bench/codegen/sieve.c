// Sieve of Eratosthenes below 100,000: the count of primes times 2^20 plus the low bits of their sum.
// DSL twin: sieve.ts.
#include "c-runtime/runtime.h"

#define LIMIT 100000
static uint8_t composite[100000];

static uint32_t sieve(void) {
  for (int32_t i = 0; i < LIMIT; i++) composite[i] = 0;
  uint32_t count = 0;
  uint32_t sum = 0;
  for (int32_t i = 2; i < LIMIT; i++) {
    if (composite[i] != 0) continue;
    count++;
    sum = sum + (uint32_t)i;
    for (int32_t j = i * 2; j < LIMIT; j += i) composite[j] = 1;
  }
  return (count << 20) ^ sum;
}

MEASURED static uint32_t bench(void) {
  return sieve();
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
