// Checksums and hashes over a 16 KiB buffer: Adler-32 (with the modulo taken every 4,096 bytes) and
// 32-bit FNV-1a, then combined. DSL twin: hashes.ts.
#include "c-runtime/runtime.h"

#define SIZE 16384
static uint8_t buffer[16384];

static void fill(void) {
  uint32_t state = 42;
  for (int32_t i = 0; i < SIZE; i++) {
    state = state * 1664525u + 1013904223u;
    buffer[i] = (uint8_t)(state >> 24);
  }
}

static uint32_t adler32(int32_t length) {
  uint32_t a = 1;
  uint32_t b = 0;
  int32_t i = 0;
  while (i < length) {
    const int32_t chunkEnd = length < i + 4096 ? length : i + 4096;
    while (i < chunkEnd) {
      a = a + buffer[i];
      b = b + a;
      i++;
    }
    a = a % 65521;
    b = b % 65521;
  }
  return (b << 16) | a;
}

static uint32_t fnv1a(int32_t length) {
  uint32_t hash = 2166136261u;
  for (int32_t i = 0; i < length; i++) hash = (hash ^ buffer[i]) * 16777619u;
  return hash;
}

MEASURED static uint32_t bench(void) {
  return adler32(SIZE) ^ fnv1a(SIZE);
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
